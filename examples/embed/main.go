// Command embed shows how a Go service uses envdrift at start-up: it fetches
// its dotenvx key from the vault, keeps it in memory only (no .env.keys file
// is written), and decrypts its encrypted .env file with it — no Node.js, no
// key on disk.
//
// Run it from the repository root against the quickstart:
//
//	go run ./examples/embed
//	go run ./examples/embed -config examples/quickstart/envdrift.toml -service services/web
//
// It prints the names of the variables it loaded, never their values.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"slices"
	"time"

	"github.com/envdrift/envdrift"
	"github.com/envdrift/envdrift/dotenvx"

	// Link only the provider this service uses. A service on AWS would
	// import provider/aws instead.
	_ "github.com/envdrift/envdrift/provider/file"
)

func main() {
	configPath := flag.String("config", "examples/quickstart/envdrift.toml", "envdrift configuration")
	service := flag.String("service", "services/api", "folder of the service to start")
	flag.Parse()

	env, err := loadEnv(*configPath, *service)
	if err != nil {
		log.Fatalf("start-up: %v", err)
	}
	names := make([]string, 0, len(env))
	for name := range env {
		names = append(names, name)
	}
	slices.Sort(names)
	fmt.Printf("%s started with %d variables from its encrypted env file:\n", *service, len(names))
	for _, n := range names {
		fmt.Printf("  %s\n", n)
	}
}

// loadEnv fetches the service's keys into memory and decrypts each of its
// env files with them.
func loadEnv(configPath, service string) (map[string]string, error) {
	cfg, err := envdrift.Load(configPath)
	if err != nil {
		return nil, err
	}
	// Keep only this service's mappings, and never write a key to disk.
	var mine []envdrift.Mapping
	for _, m := range cfg.Mappings {
		if m.FolderPath == service {
			m.EphemeralKeys = true
			mine = append(mine, m)
		}
	}
	if len(mine) == 0 {
		return nil, fmt.Errorf("%s has no mapping for %s", configPath, service)
	}
	cfg.Mappings = mine

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := envdrift.New(cfg, envdrift.Options{})
	if err != nil {
		return nil, err
	}
	res, err := s.Sync(ctx)
	if err != nil {
		return nil, err
	}
	if err := res.Err(); err != nil {
		for _, r := range res.Rows {
			if r.Failed() {
				fmt.Fprintf(os.Stderr, "%s: %s\n", r.Secret, r.Message)
			}
		}
		return nil, err
	}

	env := map[string]string{}
	for _, r := range res.Rows {
		if r.Key == nil {
			return nil, errors.New(r.Folder + ": " + r.Message)
		}
		f, err := dotenvx.ReadFile(r.EnvFile)
		if err != nil {
			return nil, err
		}
		vars, err := f.Decrypt(r.Key.PrivateKeys())
		if err != nil {
			return nil, err
		}
		for k, v := range vars {
			env[k] = v
		}
	}
	return env, nil
}
