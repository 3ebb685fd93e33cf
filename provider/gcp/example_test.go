package gcp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"time"

	"github.com/envdrift/envdrift/provider"
	"github.com/envdrift/envdrift/provider/gcp"
)

// Fetch a dotenvx key from Secret Manager with Application Default
// Credentials (`gcloud auth application-default login` on a laptop, workload
// identity federation in CI). The example needs a real project, so it only
// compiles here.
func Example() {
	d, _ := provider.Default().Lookup(gcp.Name) // registered by importing provider/gcp
	p, err := d.Open(context.Background(), &gcp.Settings{ProjectID: "my-gcp-project"}, provider.Options{Timeout: 10 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer p.(io.Closer).Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// vault_name selects another project for one mapping.
	sec, err := p.Fetch(ctx, provider.Ref{Vault: "shared-secrets-prod", Name: "myapp-dotenvx-key"})
	var pe *provider.Error
	switch {
	case errors.Is(err, provider.ErrNotFound):
		fmt.Println("no such secret:", err)
	case errors.As(err, &pe):
		fmt.Printf("%s: %s\nhint: %s\n", provider.KindOf(pe), pe.Message, pe.Hint)
	case err == nil:
		fmt.Printf("version %s, %d bytes\n", sec.Version, len(sec.Value))
	}
}
