package azure

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNames_KeyVaultRules(t *testing.T) {
	for name, ok := range map[string]bool{
		"kv1": true, "my-keyvault": true, "a" + strings.Repeat("b", 23): true,
		"ab": false, "a" + strings.Repeat("b", 24): false, "1kv": false, "kv-": false,
		"k--v": false, "k_v": false, "kv.example": false, "": false,
	} {
		assert.Equal(t, ok, validVaultName(name), name)
	}
	for name, ok := range map[string]bool{
		"api-key": true, "A1": true, strings.Repeat("x", 127): true,
		"": false, strings.Repeat("x", 128): false, "api_key": false, "a/b": false, "ключ": false,
	} {
		assert.Equal(t, ok, validSecretName(name), name)
	}
}
