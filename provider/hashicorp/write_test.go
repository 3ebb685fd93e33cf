package hashicorp_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/internal/marker"
	"github.com/envdrift/envdrift/internal/testserver/vaultkv"
	"github.com/envdrift/envdrift/provider"
	"github.com/envdrift/envdrift/provider/hashicorp"
	"github.com/envdrift/envdrift/provider/providertest"
)

func writer(t *testing.T, s hashicorp.Settings) provider.Writer {
	t.Helper()
	return open(t, s, provider.Options{}).(provider.Writer)
}

func storedFields(t *testing.T, s *vaultkv.Server, ns, mount, path string) map[string]any {
	t.Helper()
	versions := s.Versions(ns, mount, path)
	require.NotEmpty(t, versions)
	var m map[string]any
	require.NoError(t, json.Unmarshal(versions[len(versions)-1], &m))
	return m
}

func TestPut_WritesTheFieldsFetchReadsBack(t *testing.T) {
	s := startServer(t)
	p := writer(t, hashicorp.Settings{})
	ctx := context.Background()
	for _, tc := range []struct {
		name, value string
		fields      map[string]any
	}{
		{"bare", providertest.Key, map[string]any{"value": providertest.Key}},
		{"labelled", "DOTENV_PRIVATE_KEY_PRODUCTION=" + providertest.Key, map[string]any{"DOTENV_PRIVATE_KEY_PRODUCTION": providertest.Key}},
		{"object", `{"DOTENV_PRIVATE_KEY_CI":"` + providertest.Key + `","DOTENV_PRIVATE_KEY_PRODUCTION":"` + providertest.Key + `"}`,
			map[string]any{"DOTENV_PRIVATE_KEY_CI": providertest.Key, "DOTENV_PRIVATE_KEY_PRODUCTION": providertest.Key}},
		{"pretty object stays text", "{\n  \"a\": \"b\"\n}", map[string]any{"value": "{\n  \"a\": \"b\"\n}"}},
		{"keys file", "#/--- header\nDOTENV_PRIVATE_KEY=" + providertest.Key + "\n", map[string]any{"value": "#/--- header\nDOTENV_PRIVATE_KEY=" + providertest.Key + "\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "shape-" + tc.name
			_, err := p.Put(ctx, provider.Ref{Name: name}, provider.PutRequest{Value: []byte(tc.value), Create: true})
			require.NoError(t, err)
			assert.Equal(t, tc.fields, storedFields(t, s, "", vaultkv.DefaultMount, name))
			got, err := p.(provider.Provider).Fetch(ctx, provider.Ref{Name: name})
			require.NoError(t, err)
			assert.Equal(t, tc.value, string(got.Value), "Fetch must return what Put wrote")
		})
	}
}

func TestPut_UpdateKeepsTheSecretsOtherFields(t *testing.T) {
	s := startServer(t)
	_, err := s.PutData("", vaultkv.DefaultMount, "app", map[string]any{"value": "old", "owner": "team-a"})
	require.NoError(t, err)
	p := writer(t, hashicorp.Settings{})
	cur, err := p.Current(context.Background(), provider.Ref{Name: "app"})
	require.NoError(t, err)
	res, err := p.Put(context.Background(), provider.Ref{Name: "app"}, provider.PutRequest{Value: []byte(providertest.Key), Version: cur.Version})
	require.NoError(t, err)
	assert.True(t, res.Checked)
	assert.Equal(t, "2", res.Version)
	assert.Equal(t, map[string]any{"value": providertest.Key, "owner": "team-a"}, storedFields(t, s, "", vaultkv.DefaultMount, "app"))
}

func TestPut_RefusesAFieldThatTheOtherFieldsWouldHide(t *testing.T) {
	s := startServer(t)
	_, err := s.PutData("", vaultkv.DefaultMount, "app", map[string]any{"value": "old", "note": "x"})
	require.NoError(t, err)
	p := writer(t, hashicorp.Settings{})
	before := s.Writes()
	// A "value" field wins over DOTENV_PRIVATE_KEY fields when read, so
	// adding one would not change what the secret reads as.
	_, err = p.Put(context.Background(), provider.Ref{Name: "app"}, provider.PutRequest{Value: []byte("DOTENV_PRIVATE_KEY=" + providertest.Key)})
	require.ErrorIs(t, err, provider.ErrInvalid)
	assert.Contains(t, err.Error(), "note, value")
	assert.NotContains(t, err.Error(), providertest.Key)
	assert.Equal(t, before, s.Writes(), "nothing is written")
}

func TestPut_CreateFillsAPathWhoseLatestVersionWasDeleted(t *testing.T) {
	s := startServer(t)
	for _, destroy := range []bool{false, true} {
		name := map[bool]string{false: "deleted", true: "destroyed"}[destroy]
		put(t, s, "", vaultkv.DefaultMount, name, "old")
		if destroy {
			s.DestroyLatest("", vaultkv.DefaultMount, name)
		} else {
			s.DeleteLatest("", vaultkv.DefaultMount, name)
		}
		p := writer(t, hashicorp.Settings{})
		_, err := p.Current(context.Background(), provider.Ref{Name: name})
		require.ErrorIs(t, err, provider.ErrNotFound, "a deleted latest version holds no value")
		res, err := p.Put(context.Background(), provider.Ref{Name: name}, provider.PutRequest{Value: []byte(providertest.Key), Create: true})
		require.NoError(t, err, name)
		assert.True(t, res.Checked)
		assert.Equal(t, "2", res.Version)
	}
}

func TestPut_MarkerKeepsOtherCustomMetadata(t *testing.T) {
	s := startServer(t)
	c := adminClient(t, s.URL(), s.Token())
	p := writer(t, hashicorp.Settings{})
	ctx := context.Background()
	_, err := p.Put(ctx, provider.Ref{Name: "app"}, provider.PutRequest{Value: []byte(providertest.Key), Create: true})
	require.NoError(t, err)
	_, err = c.Logical().WriteWithContext(ctx, "secret/metadata/app", map[string]any{"custom_metadata": map[string]any{"owner": "team-a"}})
	require.NoError(t, err)
	_, err = p.Put(ctx, provider.Ref{Name: "app"}, provider.PutRequest{Value: []byte(providertest.Key), Mark: true, PublicKey: providertest.PublicKey})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"owner": "team-a", provider.MarkerKey: marker.Value, provider.PublicKeyTag: providertest.PublicKey},
		s.CustomMetadata("", vaultkv.DefaultMount, "app"))

	// Marking again with nothing new sends no metadata write.
	before := s.Ops()[vaultkv.OpKVv2MetadataWrite]
	_, err = p.Put(ctx, provider.Ref{Name: "app"}, provider.PutRequest{Value: []byte(providertest.Key), Mark: true, PublicKey: providertest.PublicKey})
	require.NoError(t, err)
	assert.Equal(t, before, s.Ops()[vaultkv.OpKVv2MetadataWrite])
}

func TestPut_HonoursTheNamespace(t *testing.T) {
	s := startServer(t)
	s.Mount("team-a", "secret", 2)
	p := writer(t, hashicorp.Settings{Namespace: "team-a"})
	_, err := p.Put(context.Background(), provider.Ref{Name: "app"}, provider.PutRequest{Value: []byte(providertest.Key), Create: true, Mark: true})
	require.NoError(t, err)
	assert.NotEmpty(t, s.Versions("team-a", "secret", "app"), "the write lands in the namespace")
	assert.Empty(t, s.Versions("", "secret", "app"), "and not in the root namespace")
	assert.Equal(t, marker.Value, s.CustomMetadata("team-a", "secret", "app")[provider.MarkerKey])
}

func TestPut_DeniedWriteNamesThePolicyAPushNeeds(t *testing.T) {
	s := startServer(t)
	s.Mount("", "kv", 1)
	put(t, s, "", vaultkv.DefaultMount, "app", "old")
	put(t, s, "", "kv", "app", "old")
	s.DenyWrite("", vaultkv.DefaultMount, "app")
	s.DenyWrite("", "kv", "app")
	p := writer(t, hashicorp.Settings{})
	_, err := p.Put(context.Background(), provider.Ref{Name: "app"}, provider.PutRequest{Value: []byte(providertest.Key)})
	require.ErrorIs(t, err, provider.ErrPermissionDenied)
	assert.Contains(t, hintOf(t, err), `path "secret/data/app" { capabilities = ["create", "read", "update"] }`)
	assert.Contains(t, hintOf(t, err), `path "secret/metadata/app"`)
	_, err = p.Put(context.Background(), provider.Ref{Vault: "kv", Name: "app"}, provider.PutRequest{Value: []byte(providertest.Key)})
	require.ErrorIs(t, err, provider.ErrPermissionDenied)
	assert.Contains(t, hintOf(t, err), `path "kv/app" { capabilities = ["create", "read", "update"] }`)
}

func TestPut_RefusesValuesThatAreNotText(t *testing.T) {
	s := startServer(t)
	p := writer(t, hashicorp.Settings{})
	before := s.Writes()
	_, err := p.Put(context.Background(), provider.Ref{Name: "app"}, provider.PutRequest{Value: []byte{0xff, 0xfe, 'k'}, Create: true})
	assert.ErrorIs(t, err, provider.ErrInvalid)
	assert.Equal(t, before, s.Writes())
}
