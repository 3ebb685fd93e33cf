package aws_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/internal/testserver/awssm"
	"github.com/envdrift/envdrift/provider"
	awsp "github.com/envdrift/envdrift/provider/aws"
)

var _ provider.BatchFetcher = (*awsp.Provider)(nil)

// seed stores n secrets "<prefix>-i" = "<region>:<i>" in region and returns
// refs to them (Vault "" for the default region).
func seed(srv *awssm.Server, vault, prefix string, n int) []provider.Ref {
	region := vault
	if region == "" {
		region = awssm.DefaultRegion
	}
	refs := make([]provider.Ref, n)
	for i := range n {
		name := fmt.Sprintf("%s-%d", prefix, i)
		srv.Put(region, name, []byte(fmt.Sprintf("%s:%d", region, i)))
		refs[i] = provider.Ref{Vault: vault, Name: name}
	}
	return refs
}

func TestFetchBatch_45SecretsInTwoRegions(t *testing.T) {
	srv := startServer(t)
	refs := append(seed(srv, "", "app", 23), seed(srv, otherRegion, "svc", 22)...)
	// Interleave the regions: grouping must not depend on input order.
	mixed := make([]provider.Ref, 0, len(refs))
	for i := range 23 {
		mixed = append(mixed, refs[i])
		if 23+i < len(refs) {
			mixed = append(mixed, refs[23+i])
		}
	}
	p := newProvider(t, awsp.Settings{}, provider.Options{})
	res := p.FetchBatch(ctx(t), mixed)
	require.Len(t, res, 45)
	for i, r := range res {
		require.NoError(t, r.Err, mixed[i].String())
		region := mixed[i].Vault
		if region == "" {
			region = awssm.DefaultRegion
		}
		var n int
		_, err := fmt.Sscanf(mixed[i].Name[4:], "%d", &n)
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("%s:%d", region, n), string(r.Secret.Value), mixed[i].String())
		assert.NotEmpty(t, r.Secret.Version)
	}
	ops := srv.Ops()
	assert.Equal(t, 4, ops["BatchGetSecretValue"], "23 = 20+3 and 22 = 20+2 secrets: four batch calls")
	assert.Zero(t, ops["GetSecretValue"])
	assert.NoError(t, p.BatchFallback())
	assert.Empty(t, p.Notices())
}

func TestFetchBatch_FollowsNextToken(t *testing.T) {
	srv := startServer(t)
	srv.SetBatchPageSize(7)
	refs := seed(srv, "", "paged", 20)
	p := newProvider(t, awsp.Settings{}, provider.Options{})
	res := p.FetchBatch(ctx(t), refs)
	for i, r := range res {
		require.NoError(t, r.Err)
		assert.Equal(t, fmt.Sprintf("%s:%d", awssm.DefaultRegion, i), string(r.Secret.Value))
	}
	ops := srv.Ops()
	assert.Equal(t, 3, ops["BatchGetSecretValue"], "20 ids at 7 per page: three pages")
	assert.Zero(t, ops["GetSecretValue"])
}

func TestFetchBatch_PerSecretErrors(t *testing.T) {
	srv := startServer(t)
	refs := seed(srv, "", "ok", 3)
	srv.Put("", "denied", []byte("x"))
	srv.Deny("", "denied")
	srv.Put("", "kms", []byte("x"))
	srv.FailDecryption("", "kms")
	srv.PutBinary("", "junk", []byte{0xff, 0x00, 0xfe, 0x81})
	refs = append(refs,
		provider.Ref{Name: "missing"},
		provider.Ref{Name: "denied"},
		provider.Ref{Name: "kms"},
		provider.Ref{Name: "junk"},
		provider.Ref{Vault: "not a region", Name: "x"},
		provider.Ref{Name: ""},
	)
	p := newProvider(t, awsp.Settings{}, provider.Options{})
	res := p.FetchBatch(ctx(t), refs)
	for i := range 3 {
		require.NoError(t, res[i].Err)
	}
	want := []struct {
		kind     error
		contains string
		hint     string
	}{
		{provider.ErrNotFound, "ResourceNotFoundException: Secrets Manager can't find the specified secret.", awssm.DefaultRegion},
		{provider.ErrPermissionDenied, "AccessDeniedException", "secretsmanager:GetSecretValue on arn:aws:secretsmanager:" + awssm.DefaultRegion + ":" + awssm.AccountID + ":secret:denied-*"},
		{provider.ErrPermissionDenied, "DecryptionFailure", "kms:Decrypt"},
		{provider.ErrInvalid, "not UTF-8", "secret-string"},
		{provider.ErrInvalid, "not an AWS region", "region"},
		{provider.ErrInvalid, "empty secret name", "secret_name"},
	}
	for j, w := range want {
		r := res[3+j]
		require.ErrorIs(t, r.Err, w.kind, refs[3+j].String())
		assert.Contains(t, r.Err.Error(), w.contains)
		pe := providerError(t, r.Err)
		assert.Equal(t, refs[3+j], pe.Ref, "each error names its own secret")
		assert.Contains(t, pe.Hint, w.hint)
	}
	ops := srv.Ops()
	assert.Equal(t, 1, ops["BatchGetSecretValue"])
	assert.Zero(t, ops["GetSecretValue"], "per-secret errors come from the batch response")
}

func TestFetchBatch_DeniedFallsBackToSinglesOnceAndRemembers(t *testing.T) {
	srv := startServer(t)
	srv.DenyBatch(true)
	refs := append(seed(srv, "", "a", 25), seed(srv, otherRegion, "b", 5)...)
	p := newProvider(t, awsp.Settings{}, provider.Options{})

	res := p.FetchBatch(ctx(t), refs)
	for i, r := range res {
		require.NoError(t, r.Err, refs[i].String())
	}
	ops := srv.Ops()
	assert.Equal(t, 1, ops["BatchGetSecretValue"], "one refused batch call, then singles")
	assert.Equal(t, 30, ops["GetSecretValue"])

	fb := p.BatchFallback()
	require.Error(t, fb)
	assert.ErrorIs(t, fb, provider.ErrPermissionDenied)
	assert.Contains(t, fb.Error(), "AccessDeniedException")
	assert.Contains(t, providerError(t, fb).Hint, "secretsmanager:BatchGetSecretValue")
	require.Len(t, p.Notices(), 1)
	assert.Contains(t, p.Notices()[0], "secretsmanager:BatchGetSecretValue")

	res = p.FetchBatch(ctx(t), refs)
	for _, r := range res {
		require.NoError(t, r.Err)
	}
	ops = srv.Ops()
	assert.Equal(t, 1, ops["BatchGetSecretValue"], "the fallback is remembered for the provider's lifetime")
	assert.Equal(t, 60, ops["GetSecretValue"])
}

func TestFetchBatch_DuplicatesAreReadOnce(t *testing.T) {
	srv := startServer(t)
	refs := seed(srv, "", "d", 2)
	refs = append(refs, refs[0], refs[1], refs[0])
	p := newProvider(t, awsp.Settings{}, provider.Options{})
	res := p.FetchBatch(ctx(t), refs)
	for i, r := range res {
		require.NoError(t, r.Err)
		assert.Equal(t, fmt.Sprintf("%s:%d", awssm.DefaultRegion, i%2), string(r.Secret.Value))
	}
	res[0].Secret.Value[0] = 'X'
	assert.NotEqual(t, res[0].Secret.Value, res[2].Secret.Value, "results do not share buffers")
	assert.Equal(t, 1, srv.Ops()["BatchGetSecretValue"])
}

func TestFetchBatch_OneSecretUsesGetSecretValue(t *testing.T) {
	srv := startServer(t)
	refs := append(seed(srv, "", "one", 1), seed(srv, otherRegion, "two", 1)...)
	p := newProvider(t, awsp.Settings{}, provider.Options{})
	res := p.FetchBatch(ctx(t), refs)
	for _, r := range res {
		require.NoError(t, r.Err)
	}
	ops := srv.Ops()
	assert.Zero(t, ops["BatchGetSecretValue"])
	assert.Equal(t, 2, ops["GetSecretValue"])
}

func TestFetchBatch_ARNsAreMatched(t *testing.T) {
	srv := startServer(t)
	srv.Put(otherRegion, "x/full", []byte("full"))
	srv.Put(otherRegion, "x/partial", []byte("partial"))
	srv.Put(otherRegion, "x/name", []byte("name"))
	full := srv.ARN(otherRegion, "x/full")
	partialFull := srv.ARN(otherRegion, "x/partial")
	refs := []provider.Ref{
		{Name: full},
		{Name: partialFull[:len(partialFull)-7]},
		{Vault: otherRegion, Name: "x/name"},
	}
	p := newProvider(t, awsp.Settings{}, provider.Options{})
	res := p.FetchBatch(ctx(t), refs)
	for i, want := range []string{"full", "partial", "name"} {
		require.NoError(t, res[i].Err)
		assert.Equal(t, want, string(res[i].Secret.Value))
	}
	ops := srv.Ops()
	assert.Equal(t, 1, ops["BatchGetSecretValue"], "ARNs of a region batch with names of that region")
	assert.Zero(t, ops["GetSecretValue"])
}

func TestFetchBatch_ServiceFailureAppliesToTheChunk(t *testing.T) {
	srv := startServer(t)
	refs := seed(srv, "", "f", 4)
	p := newProvider(t, awsp.Settings{}, provider.Options{})
	srv.FailWith("batch backend down")
	res := p.FetchBatch(ctx(t), refs)
	for i, r := range res {
		require.ErrorIs(t, r.Err, provider.ErrUnavailable)
		assert.Contains(t, r.Err.Error(), "batch backend down")
		assert.Equal(t, refs[i], providerError(t, r.Err).Ref)
	}
	assert.NoError(t, p.BatchFallback(), "a server error is not a reason to stop batching")
}
