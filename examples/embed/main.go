// Command embed shows how a Go service starts with its secrets and no key on
// disk: envdrift.LoadEnv fetches the service's dotenvx key from the vault
// into memory, checks that it pairs with the env file, decrypts the file
// natively (no Node.js) and returns its variables; envdrift.ApplyEnv puts
// them in the process environment, the environment winning as with
// `dotenvx run`.
//
// Run it from the repository root against the quickstart:
//
//	go run ./examples/embed
//	go run ./examples/embed -service services/web -environment staging
//
// It prints the names of the variables it loaded, never their values.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"maps"
	"slices"
	"time"

	"github.com/envdrift/envdrift"
	// Link only the provider this service uses. A service on AWS would
	// import provider/aws instead.
	_ "github.com/envdrift/envdrift/provider/file"
)

func main() {
	config := flag.String("config", "examples/quickstart/envdrift.toml", "envdrift configuration")
	service := flag.String("service", "services/api", "folder of the service to start")
	environment := flag.String("environment", "", "which env file, when the folder has several")
	flag.Parse()

	// The service's start-up: one call for the environment, one to apply it.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	env, err := envdrift.LoadEnv(ctx, *config, *service, envdrift.LoadOption{Environment: *environment})
	if err != nil {
		log.Fatalf("start-up: %v", err)
	}
	if err := envdrift.ApplyEnv(env, false); err != nil {
		log.Fatalf("start-up: %v", err)
	}

	fmt.Printf("%s started with %d variables from its encrypted env file:\n", *service, len(env))
	for _, name := range slices.Sorted(maps.Keys(env)) {
		fmt.Printf("  %s\n", name)
	}
}
