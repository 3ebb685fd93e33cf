package azure_test

import (
	"context"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/provider"
	"github.com/envdrift/envdrift/provider/azure"
)

func TestRegistered(t *testing.T) {
	d, lerr := provider.Default().Lookup(azure.Name)
	require.NoError(t, lerr)
	assert.IsType(t, &azure.Settings{}, d.NewSettings())
	p, err := d.Open(context.Background(), nil, provider.Options{URL: "https://kv1.vault.azure.net"})
	require.NoError(t, err)
	assert.IsType(t, &azure.Provider{}, p)
}

func TestNew_SettingsPrecedenceAndDefaults(t *testing.T) {
	cases := []struct {
		name       string
		settings   azure.Settings
		opts       provider.Options
		wantURL    string
		wantSuffix string
	}{
		{"nothing configured", azure.Settings{}, provider.Options{}, "", "vault.azure.net"},
		{"vault_url", azure.Settings{VaultURL: "https://My-KeyVault.vault.azure.net"}, provider.Options{},
			"https://my-keyvault.vault.azure.net/", "vault.azure.net"},
		{"--vault-url wins over vault_url", azure.Settings{VaultURL: "https://a.vault.azure.net/"},
			provider.Options{URL: "https://b.vault.azure.net/"}, "https://b.vault.azure.net/", "vault.azure.net"},
		{"suffix derived from a sovereign vault_url", azure.Settings{VaultURL: "https://kv.vault.azure.cn/"}, provider.Options{},
			"https://kv.vault.azure.cn/", "vault.azure.cn"},
		{"suffix derived from --vault-url", azure.Settings{VaultURL: "https://kv.vault.azure.net/"},
			provider.Options{URL: "https://kv.vault.usgovcloudapi.net/"}, "https://kv.vault.usgovcloudapi.net/", "vault.usgovcloudapi.net"},
		{"suffix with a port from an emulator URL", azure.Settings{VaultURL: "https://default.localhost:8443"}, provider.Options{},
			"https://default.localhost:8443/", "localhost:8443"},
		{"IP address vault_url keeps the public suffix", azure.Settings{VaultURL: "https://127.0.0.1:8443/"}, provider.Options{},
			"https://127.0.0.1:8443/", "vault.azure.net"},
		{"explicit suffix wins over the derived one", azure.Settings{VaultURL: "https://kv.vault.azure.net/", VaultDNSSuffix: ".vault.azure.cn"},
			provider.Options{}, "https://kv.vault.azure.net/", "vault.azure.cn"},
		{"path prefix kept for gateways", azure.Settings{VaultURL: "https://gw.example.com/kv/team-a"}, provider.Options{},
			"https://gw.example.com/kv/team-a/", "example.com"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := c.settings
			p, err := azure.New(&s, c.opts)
			require.NoError(t, err)
			assert.Equal(t, c.wantURL, p.DefaultVaultURL())
			assert.Equal(t, c.wantSuffix, p.DNSSuffix())
		})
	}
}

func TestNew_InvalidSettings(t *testing.T) {
	for _, c := range []struct {
		name string
		s    azure.Settings
		opts provider.Options
		want string
	}{
		{"plain http", azure.Settings{VaultURL: "http://kv.vault.azure.net/"}, provider.Options{}, "https"},
		{"no scheme", azure.Settings{VaultURL: "kv.vault.azure.net"}, provider.Options{}, "vault_url"},
		{"bad --vault-url", azure.Settings{}, provider.Options{URL: "https://"}, "--vault-url"},
		{"query", azure.Settings{VaultURL: "https://kv.vault.azure.net/?x=1"}, provider.Options{}, "query"},
		{"a secret's URL", azure.Settings{VaultURL: "https://kv.vault.azure.net/secrets/app-key/0123"}, provider.Options{}, "secret's URL"},
		{"suffix with a scheme", azure.Settings{VaultDNSSuffix: "https://vault.azure.cn"}, provider.Options{}, "vault_dns_suffix"},
		{"suffix with a path", azure.Settings{VaultDNSSuffix: "vault.azure.cn/x"}, provider.Options{}, "vault_dns_suffix"},
		{"suffix that is an IP", azure.Settings{VaultDNSSuffix: "127.0.0.1"}, provider.Options{}, "IP"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := c.s
			_, err := azure.New(&s, c.opts)
			assert.ErrorIs(t, err, provider.ErrInvalid)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

func TestVaultURL_NamesRoute(t *testing.T) {
	p, err := azure.New(&azure.Settings{VaultURL: "https://main.vault.azure.net/"}, provider.Options{})
	require.NoError(t, err)
	for name, want := range map[string]string{
		"":                              "https://main.vault.azure.net/",
		"main":                          "https://main.vault.azure.net/",
		"Team-B":                        "https://team-b.vault.azure.net/",
		"abc":                           "https://abc.vault.azure.net/",
		"a23456789012345678901234"[:24]: "https://a23456789012345678901234.vault.azure.net/",
	} {
		got, err := p.VaultURL(name)
		require.NoError(t, err, name)
		assert.Equal(t, want, got, name)
	}
	for _, bad := range []string{"ab", "a234567890123456789012345", "-ab", "9ab", "ab-", "a--b", "a.b.c", "a/b", "https://x.vault.azure.net"} {
		_, err := p.VaultURL(bad)
		assert.ErrorIs(t, err, provider.ErrInvalid, bad)
	}

	emu, err := azure.New(&azure.Settings{VaultURL: "https://default.localhost:8443/"}, provider.Options{})
	require.NoError(t, err)
	got, err := emu.VaultURL("other")
	require.NoError(t, err)
	assert.Equal(t, "https://other.localhost:8443/", got)
}

func TestFetch_NoVaultConfigured(t *testing.T) {
	p, err := azure.New(&azure.Settings{}, provider.Options{})
	require.NoError(t, err)
	_, err = p.Fetch(context.Background(), provider.Ref{Name: "k"})
	assert.ErrorIs(t, err, provider.ErrInvalid)
	assert.Contains(t, err.Error(), "vault_url")
	assert.Contains(t, err.Error(), "secret k")
}

func TestSettings_DecodeFromTOML(t *testing.T) {
	var s azure.Settings
	md, err := toml.Decode(`
vault_url = "https://kv.vault.azure.cn/"
vault_dns_suffix = "vault.azure.cn"
disable_challenge_resource_verification = true
`, &s)
	require.NoError(t, err)
	assert.Empty(t, md.Undecoded())
	assert.Equal(t, azure.Settings{
		VaultURL:                             "https://kv.vault.azure.cn/",
		VaultDNSSuffix:                       "vault.azure.cn",
		DisableChallengeResourceVerification: true,
	}, s)
}

func TestNotices_WarnWhenVerificationIsOff(t *testing.T) {
	on, err := azure.New(&azure.Settings{VaultURL: "https://kv.vault.azure.net/"}, provider.Options{})
	require.NoError(t, err)
	var _ provider.Noticer = on
	assert.Empty(t, on.Notices())
	off, err := azure.New(&azure.Settings{VaultURL: "https://127.0.0.1:8443/", DisableChallengeResourceVerification: true}, provider.Options{})
	require.NoError(t, err)
	require.Len(t, off.Notices(), 1)
	assert.Contains(t, off.Notices()[0], "disable_challenge_resource_verification")
}
