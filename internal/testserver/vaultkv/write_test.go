package vaultkv_test

import (
	"context"
	"net/http"
	"testing"

	vault "github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/internal/testserver/vaultkv"
)

func TestKVv2CheckAndSetThroughTheOfficialClient(t *testing.T) {
	s := start(t, false)
	kv := client(t, s).KVv2(vaultkv.DefaultMount)
	ctx := context.Background()

	_, err := kv.Put(ctx, "app", map[string]any{"value": "one"}, vault.WithCheckAndSet(0))
	require.NoError(t, err, "cas=0 creates a secret that does not exist")
	_, err = kv.Put(ctx, "app", map[string]any{"value": "two"}, vault.WithCheckAndSet(0))
	re := respErr(t, err)
	assert.Equal(t, http.StatusBadRequest, re.StatusCode)
	assert.Equal(t, []string{vaultkv.MsgCASMismatch}, re.Errors)

	got, err := kv.Put(ctx, "app", map[string]any{"value": "two"}, vault.WithCheckAndSet(1))
	require.NoError(t, err)
	assert.Equal(t, 2, got.VersionMetadata.Version)
	_, err = kv.Put(ctx, "app", map[string]any{"value": "three"}, vault.WithCheckAndSet(1))
	assert.Equal(t, http.StatusBadRequest, respErr(t, err).StatusCode, "a stale cas is refused")

	old, err := kv.GetVersion(ctx, "app", 1)
	require.NoError(t, err)
	assert.Equal(t, "one", old.Data["value"], "earlier versions stay readable")
	assert.Len(t, s.Versions("", vaultkv.DefaultMount, "app"), 2)

	// A value stored straight into the server is version 1.
	_, err = s.PutValue("", vaultkv.DefaultMount, "direct", "x")
	require.NoError(t, err)
	_, err = kv.Put(ctx, "direct", map[string]any{"value": "y"}, vault.WithCheckAndSet(1))
	require.NoError(t, err)
}

func TestKVv2CustomMetadataThroughTheOfficialClient(t *testing.T) {
	s := start(t, false)
	kv := client(t, s).KVv2(vaultkv.DefaultMount)
	ctx := context.Background()
	_, err := kv.Put(ctx, "app", map[string]any{"value": "one"})
	require.NoError(t, err)
	require.NoError(t, kv.PutMetadata(ctx, "app", vault.KVMetadataPutInput{CustomMetadata: map[string]any{"managed-by": "envdrift"}}))
	md, err := kv.GetMetadata(ctx, "app")
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"managed-by": "envdrift"}, md.CustomMetadata)
	assert.Equal(t, 1, md.CurrentVersion)

	sec, err := kv.Get(ctx, "app")
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"managed-by": "envdrift"}, sec.CustomMetadata, "reads carry the custom metadata")
	assert.Equal(t, map[string]string{"managed-by": "envdrift"}, s.CustomMetadata("", vaultkv.DefaultMount, "app"))

	long := make([]byte, 513)
	for i := range long {
		long[i] = 'a'
	}
	err = kv.PutMetadata(ctx, "app", vault.KVMetadataPutInput{CustomMetadata: map[string]any{"k": string(long)}})
	re := respErr(t, err)
	assert.Equal(t, http.StatusBadRequest, re.StatusCode)
	assert.Contains(t, re.Error(), "custom_metadata validation failed")
}

func TestDenyWriteRefusesWritesButNotReads(t *testing.T) {
	s := start(t, false)
	c := client(t, s)
	ctx := context.Background()
	_, err := s.PutValue("", vaultkv.DefaultMount, "app", "one")
	require.NoError(t, err)
	s.DenyWrite("", vaultkv.DefaultMount, "app")
	before := s.Writes()
	_, err = c.KVv2(vaultkv.DefaultMount).Put(ctx, "app", map[string]any{"value": "two"})
	assert.Equal(t, http.StatusForbidden, respErr(t, err).StatusCode)
	err = c.KVv2(vaultkv.DefaultMount).PutMetadata(ctx, "app", vault.KVMetadataPutInput{})
	assert.Equal(t, http.StatusForbidden, respErr(t, err).StatusCode)
	sec, err := c.KVv2(vaultkv.DefaultMount).Get(ctx, "app")
	require.NoError(t, err)
	assert.Equal(t, "one", sec.Data["value"])
	assert.Equal(t, before+2, s.Writes(), "refused writes are still write requests")
}
