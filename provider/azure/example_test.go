package azure_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/envdrift/envdrift/provider"
	"github.com/envdrift/envdrift/provider/azure"
)

// Reading a dotenvx key from the default vault and from a second vault by
// name. Credentials come from DefaultAzureCredential (az login, environment
// variables, workload or managed identity). This example needs a real Key
// Vault, so it is compiled but not run.
func Example() {
	p, err := azure.New(&azure.Settings{
		VaultURL: "https://my-keyvault.vault.azure.net/",
	}, provider.Options{Timeout: 10 * time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()

	// The default vault (vault_url).
	sec, err := p.Fetch(ctx, provider.Ref{Name: "myapp-production-key"})
	switch {
	case errors.Is(err, provider.ErrNotFound):
		fmt.Println("no such secret:", err)
	case errors.Is(err, provider.ErrUnauthenticated), errors.Is(err, provider.ErrPermissionDenied):
		var pe *provider.Error
		errors.As(err, &pe)
		fmt.Println(pe.Message, "—", pe.Hint)
	case err != nil:
		fmt.Println(err)
	default:
		fmt.Println("got", len(sec.Value), "bytes, version", sec.Version)
	}

	// vault_name "team-b" reads https://team-b.vault.azure.net/.
	if _, err := p.Fetch(ctx, provider.Ref{Vault: "team-b", Name: "myapp-staging-key"}); err != nil {
		fmt.Println(err)
	}
}
