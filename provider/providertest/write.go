package providertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/internal/marker"
	"github.com/envdrift/envdrift/provider"
)

// PublicKey is the dotenvx public key of [Key], the value the write checks
// record as PublicKeyTag metadata.
const PublicKey = "03f76b5117e3bebe60b88b904aa66f1247cba5de8f5a2efd810d89fdee3bb9f107"

// WriteHarness is implemented by the harness of a store whose provider is a
// [provider.Writer]. It lets the write checks look at the store as the store
// holds it, not only through the provider under test. [Harness.CreateSecret]
// doubles as the way to change a secret behind the provider's back.
type WriteHarness interface {
	Harness
	// Conditional reports which writes the store applies atomically:
	// create (Put with Create refuses to replace an existing secret) and
	// update (Put with Version refuses when the secret has moved on). The
	// suite checks that Put's PutResult.Checked says the same.
	Conditional() (create, update bool)
	// Metadata returns the metadata the store holds for vault/name (tags,
	// annotations, custom metadata). A store without metadata returns
	// ErrUnsupported.
	Metadata(ctx context.Context, vault, name string) (map[string]string, error)
	// History returns the values the store keeps for vault/name, oldest
	// first. A store that keeps only the current value returns
	// ErrUnsupported.
	History(ctx context.Context, vault, name string) ([][]byte, error)
	// DenyWrite makes writes of vault/name fail as the store does for a
	// caller that may read the secret but not write it.
	DenyWrite(ctx context.Context, vault, name string) error
	// Writes returns how many write requests the store has received so
	// far, or -1 if it cannot tell.
	Writes() int
}

// newKey returns a random 64-hex-digit payload, distinct in every run.
func newKey(t *testing.T) []byte {
	t.Helper()
	var b [32]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	return []byte(hex.EncodeToString(b[:]))
}

// writeSuite holds what the write checks share.
type writeSuite struct {
	*suite
	h   WriteHarness
	run string // a suffix that keeps the names of one run apart from another's
	// condCreate and condUpdate are the harness's Conditional answer.
	condCreate, condUpdate bool
}

// name returns a secret name unique to this run: stores that outlive a test
// (a real endpoint, a server shared by -count=N runs) never see it twice.
func (w *writeSuite) name(base string) string { return "envdrift-w-" + base + "-" + w.run }

func (w *writeSuite) writer(t *testing.T) provider.Writer {
	t.Helper()
	return w.provider(t).(provider.Writer)
}

// write runs the write checks when the provider is a Writer.
func (s *suite) write(t *testing.T) {
	p := s.provider(t)
	if _, ok := p.(provider.Writer); !ok {
		t.Skipf("%T does not implement provider.Writer: a read-only store has no write checks", p)
	}
	h, ok := s.h.(WriteHarness)
	if !ok {
		t.Fatalf("%T implements provider.Writer, but the harness %T does not implement providertest.WriteHarness, so its writes cannot be checked", p, s.h)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	w := &writeSuite{suite: s, h: h, run: hex.EncodeToString(b[:])}
	w.condCreate, w.condUpdate = h.Conditional()
	t.Run("CurrentOfMissingSecretIsNotFound", w.currentMissing)
	t.Run("CreateWhenAbsent", w.createWhenAbsent)
	t.Run("CreateOnlyRefusesExisting", w.createRefusesExisting)
	t.Run("ConcurrentCreatesOneWins", w.concurrentCreates)
	t.Run("StaleVersionIsConflict", w.staleVersion)
	t.Run("UpdateReplacesValueAndKeepsHistory", w.update)
	t.Run("MarkerAndPublicKeyRoundTrip", w.marker)
	t.Run("WriteRoutesByVaultName", w.routing)
	t.Run("NoSecretInWriteErrors", w.noLeak)
	t.Run("CancelledWrite", w.cancelled)
	t.Run("PermissionDeniedWrite", w.permissionDenied)
}

// fetch reads name from the default vault through a fresh read.
func (w *writeSuite) fetch(t *testing.T, p provider.Writer, name string) []byte {
	t.Helper()
	got, err := p.(provider.Provider).Fetch(ctx(t), provider.Ref{Name: name})
	require.NoError(t, err, "fetch %s", name)
	return got.Value
}

func (w *writeSuite) currentMissing(t *testing.T) {
	p := w.writer(t)
	name := w.name("missing")
	before := w.h.Writes()
	_, err := p.Current(ctx(t), provider.Ref{Name: name})
	require.Error(t, err)
	assert.ErrorIs(t, err, provider.ErrNotFound, "got %v", err)
	assert.Contains(t, err.Error(), name, "the error must name the secret")
	if before >= 0 {
		assert.Equal(t, before, w.h.Writes(), "Current must send no write request")
	}
}

func (w *writeSuite) createWhenAbsent(t *testing.T) {
	p := w.writer(t)
	name := w.name("create")
	value := []byte("DOTENV_PRIVATE_KEY_PRODUCTION=" + Key)
	before := w.h.Writes()
	res, err := p.Put(ctx(t), provider.Ref{Name: name}, provider.PutRequest{Value: value, Create: true})
	require.NoError(t, err)
	assert.Equal(t, w.condCreate, res.Checked, "Checked must say whether the store refused atomically to replace an existing secret")
	if before >= 0 {
		assert.Greater(t, w.h.Writes(), before, "a create is a write request")
	}
	assert.Equal(t, value, w.fetch(t, p, name), "the created value must read back byte for byte")

	mid := w.h.Writes()
	cur, err := p.Current(ctx(t), provider.Ref{Name: name})
	require.NoError(t, err)
	assert.Equal(t, value, cur.Value)
	if res.Version != "" {
		assert.Equal(t, res.Version, cur.Version, "Current must report the version Put created")
	}
	assert.False(t, cur.Marked, "a secret written without Mark carries no marker")
	assert.Empty(t, cur.PublicKey, "a secret written without PublicKey records none")
	if mid >= 0 {
		assert.Equal(t, mid, w.h.Writes(), "Current must send no write request")
	}
}

func (w *writeSuite) createRefusesExisting(t *testing.T) {
	p := w.writer(t)
	name := w.name("exists")
	old, value := newKey(t), newKey(t)
	require.NoError(t, w.h.CreateSecret(ctx(t), "", name, old))
	res, err := p.Put(ctx(t), provider.Ref{Name: name}, provider.PutRequest{Value: value, Create: true})
	if w.condCreate || err != nil {
		require.Error(t, err, "a create-only write must not replace an existing secret")
		assert.ErrorIs(t, err, provider.ErrConflict, "got %v", err)
		assert.Contains(t, err.Error(), name)
		assertNoLeak(t, err, value)
		assertNoLeak(t, err, old)
		assert.Equal(t, old, w.fetch(t, p, name), "a refused create leaves the secret as it was")
		return
	}
	// The store cannot refuse atomically, and this write went through: it
	// must say so, so that the caller reads back and reports the race.
	assert.False(t, res.Checked, "a store without a conditional create must report Checked=false")
}

func (w *writeSuite) concurrentCreates(t *testing.T) {
	if !w.condCreate {
		t.Skip("the store has no atomic create-only write: two racing creates cannot be told apart by the store")
	}
	p := w.writer(t)
	name := w.name("race")
	const n = 4
	values := make([][]byte, n)
	errs := make([]error, n)
	for i := range values {
		values[i] = newKey(t)
	}
	c := ctx(t)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Marked, as envdrift push creates secrets: GCP tells a secret
			// another push is creating from an abandoned empty one by it.
			_, errs[i] = p.Put(c, provider.Ref{Name: name}, provider.PutRequest{Value: values[i], Create: true, Mark: true, PublicKey: PublicKey})
		}()
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		if err == nil {
			assert.Equal(t, -1, winner, "two create-only writes both succeeded")
			winner = i
			continue
		}
		assert.ErrorIs(t, err, provider.ErrConflict, "a create that lost the race is a conflict, got %v", err)
		assertNoLeak(t, err, values[i])
	}
	require.NotEqual(t, -1, winner, "one of the racing creates must win")
	assert.Equal(t, values[winner], w.fetch(t, p, name), "the secret holds the winner's value")
}

func (w *writeSuite) staleVersion(t *testing.T) {
	p := w.writer(t)
	name := w.name("stale")
	v0, v1, v2 := newKey(t), newKey(t), newKey(t)
	require.NoError(t, w.h.CreateSecret(ctx(t), "", name, v0))
	cur, err := p.Current(ctx(t), provider.Ref{Name: name})
	require.NoError(t, err)
	require.Equal(t, v0, cur.Value)
	// Someone else writes between our read and our write.
	require.NoError(t, w.h.CreateSecret(ctx(t), "", name, v1))
	res, err := p.Put(ctx(t), provider.Ref{Name: name}, provider.PutRequest{Value: v2, Version: cur.Version})
	if !w.condUpdate {
		if err == nil {
			assert.False(t, res.Checked, "a store without conditional updates must report Checked=false")
		} else {
			assert.ErrorIs(t, err, provider.ErrConflict, "a write refused for a stale version is a conflict, got %v", err)
		}
		t.Skip("the store has no conditional update: the caller detects this race by reading back")
	}
	require.NotEmpty(t, cur.Version, "a store with conditional updates reports the version it read")
	require.Error(t, err, "a write naming a version that is no longer current must be refused")
	assert.ErrorIs(t, err, provider.ErrConflict, "got %v", err)
	assert.Contains(t, err.Error(), name)
	assertNoLeak(t, err, v2)
	assertNoLeak(t, err, v1)
	assert.Equal(t, v1, w.fetch(t, p, name), "the other writer's value stays")
}

func (w *writeSuite) update(t *testing.T) {
	p := w.writer(t)
	name := w.name("update")
	v0, v1 := newKey(t), newKey(t)
	_, err := p.Put(ctx(t), provider.Ref{Name: name}, provider.PutRequest{Value: v0, Create: true})
	require.NoError(t, err)
	cur, err := p.Current(ctx(t), provider.Ref{Name: name})
	require.NoError(t, err)
	res, err := p.Put(ctx(t), provider.Ref{Name: name}, provider.PutRequest{Value: v1, Version: cur.Version})
	require.NoError(t, err)
	assert.Equal(t, w.condUpdate, res.Checked, "Checked must say whether the store applied the version condition")
	assert.Equal(t, v1, w.fetch(t, p, name), "the update must be the value read from now on")
	after, err := p.Current(ctx(t), provider.Ref{Name: name})
	require.NoError(t, err)
	assert.Equal(t, v1, after.Value)
	if cur.Version != "" {
		assert.NotEqual(t, cur.Version, after.Version, "an update makes a new version")
	}
	if res.Version != "" {
		assert.Equal(t, res.Version, after.Version, "Current must report the version Put created")
	}

	// An unconditional update (no Version) replaces the value too.
	v2 := newKey(t)
	res, err = p.Put(ctx(t), provider.Ref{Name: name}, provider.PutRequest{Value: v2})
	require.NoError(t, err)
	assert.False(t, res.Checked, "a write without a condition cannot report one as checked")
	assert.Equal(t, v2, w.fetch(t, p, name))

	history, err := w.h.History(ctx(t), "", name)
	if errors.Is(err, ErrUnsupported) {
		t.Skipf("harness: %v (the store keeps no history)", err)
	}
	require.NoError(t, err)
	i0, i1, i2 := index(history, v0), index(history, v1), index(history, v2)
	assert.True(t, i0 >= 0 && i1 > i0 && i2 > i1, "earlier values stay in the store's history, in order (positions %d, %d, %d of %d)", i0, i1, i2, len(history))
}

func index(values [][]byte, v []byte) int {
	for i, x := range values {
		if string(x) == string(v) {
			return i
		}
	}
	return -1
}

func (w *writeSuite) marker(t *testing.T) {
	p := w.writer(t)
	name := w.name("marked")
	_, err := p.Put(ctx(t), provider.Ref{Name: name}, provider.PutRequest{Value: []byte(Key), Create: true, Mark: true, PublicKey: PublicKey})
	require.NoError(t, err)
	cur, err := p.Current(ctx(t), provider.Ref{Name: name})
	require.NoError(t, err)
	meta, err := w.h.Metadata(ctx(t), "", name)
	if errors.Is(err, ErrUnsupported) {
		// The store keeps no metadata: the provider must not claim any.
		assert.False(t, cur.Marked, "a store without metadata cannot report a marker")
		assert.Empty(t, cur.PublicKey, "a store without metadata cannot report a public key")
		t.Skipf("harness: %v (the store keeps no metadata)", err)
	}
	require.NoError(t, err)
	assert.True(t, cur.Marked, "Current must report the marker Put set")
	assert.Equal(t, PublicKey, cur.PublicKey, "Current must report the public key Put recorded")
	assert.Equal(t, marker.Value, meta[provider.MarkerKey], "the store must hold the marker as %s=%s", provider.MarkerKey, marker.Value)
	assert.Equal(t, PublicKey, meta[provider.PublicKeyTag], "the store must hold the public key under %s", provider.PublicKeyTag)

	// An update without Mark keeps the marker (nothing is ever removed);
	// an update with a new public key records it.
	rotated := "02" + strings.Repeat("ab", 32)
	_, err = p.Put(ctx(t), provider.Ref{Name: name}, provider.PutRequest{Value: newKey(t), Version: cur.Version, PublicKey: rotated})
	require.NoError(t, err)
	cur, err = p.Current(ctx(t), provider.Ref{Name: name})
	require.NoError(t, err)
	assert.True(t, cur.Marked, "an update without Mark must not remove the marker")
	assert.Equal(t, rotated, cur.PublicKey, "an update with a public key records the new one")

	// A secret someone else created carries no marker.
	other := w.name("unmarked")
	require.NoError(t, w.h.CreateSecret(ctx(t), "", other, newKey(t)))
	cur, err = p.Current(ctx(t), provider.Ref{Name: other})
	require.NoError(t, err)
	assert.False(t, cur.Marked)
	assert.Empty(t, cur.PublicKey)
}

func (w *writeSuite) routing(t *testing.T) {
	other := w.h.OtherVault()
	if other == "" {
		t.Skip("harness has no second vault")
	}
	p := w.writer(t)
	name := w.name("routed")
	value := newKey(t)
	_, err := p.Put(ctx(t), provider.Ref{Vault: other, Name: name}, provider.PutRequest{Value: value, Create: true})
	require.NoError(t, err)
	got, err := p.(provider.Provider).Fetch(ctx(t), provider.Ref{Vault: other, Name: name})
	require.NoError(t, err)
	assert.Equal(t, value, got.Value, "the write must land in the vault it names")
	_, err = p.(provider.Provider).Fetch(ctx(t), provider.Ref{Name: name})
	assert.ErrorIs(t, err, provider.ErrNotFound, "a write to another vault must not touch the default vault")
	cur, err := p.Current(ctx(t), provider.Ref{Vault: other, Name: name})
	require.NoError(t, err)
	assert.Equal(t, value, cur.Value)
}

func (w *writeSuite) noLeak(t *testing.T) {
	p := w.writer(t)
	name := w.name("leak")
	old, value := newKey(t), newKey(t)
	require.NoError(t, w.h.CreateSecret(ctx(t), "", name, old))
	ref := provider.Ref{Name: name}
	var errs []error
	if _, err := p.Put(ctx(t), ref, provider.PutRequest{Value: value, Create: true}); err != nil {
		errs = append(errs, err)
	}
	const msg = "conformance write backend exploded"
	if err := w.h.FailWith(msg); err == nil {
		_, perr := p.Put(ctx(t), ref, provider.PutRequest{Value: value})
		require.Error(t, perr, "a server error must fail the write")
		assert.Contains(t, perr.Error(), msg, "the store's own message must reach the user")
		assert.ErrorIs(t, perr, provider.ErrUnavailable, "got %v", perr)
		errs = append(errs, perr)
		_, cerr := p.Current(ctx(t), ref)
		require.Error(t, cerr)
		errs = append(errs, cerr)
		w.h.Reset()
	} else if !errors.Is(err, ErrUnsupported) {
		require.NoError(t, err)
	}
	if err := w.h.DenyWrite(ctx(t), "", name); err == nil {
		_, perr := p.Put(ctx(t), ref, provider.PutRequest{Value: value})
		require.Error(t, perr)
		errs = append(errs, perr)
	} else if !errors.Is(err, ErrUnsupported) {
		require.NoError(t, err)
	}
	if len(errs) == 0 {
		t.Skip("no write error could be provoked on this store")
	}
	for _, err := range errs {
		assertNoLeak(t, err, value)
		assertNoLeak(t, err, old)
	}
}

func (w *writeSuite) cancelled(t *testing.T) {
	p := w.writer(t)
	name := w.name("cancelled")
	c, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := p.Put(c, provider.Ref{Name: name}, provider.PutRequest{Value: []byte(Key), Create: true})
	require.Error(t, err, "a write with a cancelled context must fail")
	assert.True(t, errors.Is(err, context.Canceled) || errors.Is(err, provider.ErrUnavailable),
		"a cancelled write reports cancellation, got %v", err)
	_, err = p.Current(ctx(t), provider.Ref{Name: name})
	assert.ErrorIs(t, err, provider.ErrNotFound, "a write cancelled before it started must not create the secret")

	skipIfUnsupported(t, w.h.Stall())
	stopsPromptlyWhenCancelled(t, "write", func(c context.Context) error {
		_, err := p.Put(c, provider.Ref{Name: name}, provider.PutRequest{Value: []byte(Key), Create: true})
		return err
	})
}

func (w *writeSuite) permissionDenied(t *testing.T) {
	p := w.writer(t)
	name := w.name("readonly")
	old, value := newKey(t), newKey(t)
	require.NoError(t, w.h.CreateSecret(ctx(t), "", name, old))
	cur, err := p.Current(ctx(t), provider.Ref{Name: name})
	require.NoError(t, err)
	skipIfUnsupported(t, w.h.DenyWrite(ctx(t), "", name))
	_, err = p.Put(ctx(t), provider.Ref{Name: name}, provider.PutRequest{Value: value, Version: cur.Version})
	require.Error(t, err, "a write the caller may not make must fail")
	assert.ErrorIs(t, err, provider.ErrPermissionDenied, "got %v", err)
	assert.Contains(t, err.Error(), name)
	assertNoLeak(t, err, value)
	assertNoLeak(t, err, old)
	var pe *provider.Error
	if assert.ErrorAs(t, err, &pe) {
		assert.NotEmpty(t, pe.Hint, "a permission error must name the permission a push needs")
	}
	assert.Equal(t, old, w.fetch(t, p, name), "a refused write leaves the secret as it was")
}
