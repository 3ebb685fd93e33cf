package hashicorp_test

import (
	"context"
	"fmt"

	"github.com/envdrift/envdrift/internal/testserver/vaultkv"
	"github.com/envdrift/envdrift/provider"
	"github.com/envdrift/envdrift/provider/hashicorp"
)

// Example reads a dotenvx key from a KV v2 mount. A local Vault stands in
// for a real one; against a real Vault, leave URL and Token empty and let
// VAULT_ADDR and VAULT_TOKEN (or ~/.vault-token) supply them.
func Example() {
	vault, err := vaultkv.Start()
	if err != nil {
		panic(err)
	}
	defer vault.Close()
	// vault kv put -mount=secret myapp/prod DOTENV_PRIVATE_KEY_PRODUCTION=…
	_, _ = vault.PutData("", "secret", "myapp/prod", map[string]any{
		"DOTENV_PRIVATE_KEY_PRODUCTION": "9f2c1d8e7b6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa00112233",
	})

	d, _ := provider.Default().Lookup(hashicorp.Name) // registered by importing the package
	p, err := d.Open(context.Background(),
		&hashicorp.Settings{URL: vault.URL(), Mount: "secret"}, // [vault.hashicorp] url, mount
		provider.Options{Token: vault.Token()})                 // --token
	if err != nil {
		panic(err)
	}
	sec, err := p.Fetch(context.Background(), provider.Ref{Name: "myapp/prod"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(sec.Value))
	fmt.Println("version", sec.Version)

	_, err = p.Fetch(context.Background(), provider.Ref{Vault: "secret", Name: "myapp/staging"})
	fmt.Println(provider.KindOf(err))
	// Output:
	// DOTENV_PRIVATE_KEY_PRODUCTION=9f2c1d8e7b6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa00112233
	// version 1
	// not_found
}
