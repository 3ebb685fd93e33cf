package envdrift

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/envdrift/envdrift/dotenvx"
	"github.com/envdrift/envdrift/provider"
)

// ErrNoLocalKey: Push found no key for the mapping's env file in the
// folder's keys file, so there is nothing to publish.
var ErrNoLocalKey = errors.New("no local key to publish")

// Push publishes each selected mapping's local key — the key for its env
// file in the folder's keys file — to the mapping's vault secret. It is the
// write side of Sync, and the safest one it can be:
//
//   - Pairing first: a key that does not derive the env file's
//     DOTENV_PUBLIC_KEY* is never published (ErrMispaired).
//   - Create-only by default: a missing secret is created, with envdrift's
//     ownership marker and the key's public key in its metadata. A secret
//     that already holds the same key, in any accepted shape, is left alone
//     (skipped, no new version). A secret holding another key is an error
//     (ErrMismatch) unless Options.Update is set and a rule makes the
//     replacement safe: the vault's key no longer pairs with the env file
//     (the file was re-encrypted with the local key: a rotation), or the
//     secret carries envdrift's marker. The row says which rule allowed it.
//   - The shape the secret already has is kept (a bare key, NAME=key, a
//     JSON field, a multi-key .env.keys text: every other field and line
//     stays); a new secret gets Config.PushFormat.
//   - Conflicts: where the store has a conditional write (Vault KV v2's
//     check-and-set, create-only creates) it is used with the version read;
//     elsewhere the secret is read back after the write, and a value that is
//     not the one written is reported as changed by someone else
//     (provider.ErrConflict).
//   - Nothing is ever deleted: earlier values stay in the store's history.
//   - Options.DryRun reads and reports the plan ("would create", "would
//     update, because …") and sends no write.
//
// A folder with no env file is skipped, as in Sync. Rows come in
// configuration order with Sync's actions; the error is non-nil only when
// the whole run could not proceed.
func (s *Syncer) Push(ctx context.Context) (*Result, error) {
	ps := s.newProviderSet()
	rep := newReporterLock(s.opts.Reporter)
	ps.onRequest = rep.request
	n := len(s.mappings)
	rows := make([]*Row, n)
	envKeys := make([]envKey, n)
	s.prepareAll(rows, envKeys)
	s.applyVaultOverrides(ctx, ps, rows)

	// Rows that share a secret are pushed one after another, each seeing
	// the one before it; distinct secrets are pushed concurrently.
	completed := make(chan int, n)
	order := s.groupBySecret(rows, func(i int) bool { return rows[i].Action != actionPending }, completed)
	verb := "push"
	if s.opts.DryRun {
		verb = "push (dry run)"
	}
	rep.start(s.plan(ctx, ps, verb, n, order))
	reported := make(chan struct{})
	go func() {
		defer close(reported)
		reportRows(rows, completed, rep)
	}()
	g := new(errgroup.Group)
	g.SetLimit(s.concurrency())
	for _, j := range order {
		g.Go(func() error {
			for _, i := range j.rows {
				started := time.Now()
				s.pushSafely(ctx, ps, rows[i], envKeys[i], j.key)
				rows[i].Duration = time.Since(started)
				completed <- i
			}
			return nil
		})
	}
	_ = g.Wait()
	<-reported
	return s.finish(ctx, rows, ps.close())
}

// pushSafely is pushRow that turns a panic into an error row.
func (s *Syncer) pushSafely(ctx context.Context, ps *providerSet, row *Row, declared envKey, k fetchKey) {
	defer func() {
		if v := recover(); v != nil {
			s.fail(row, newPanicError("the push of "+row.Folder, v))
		}
	}()
	if err := s.pushRow(ctx, ps, row, declared, k); err != nil {
		s.fail(row, err)
	}
}

// pushRow publishes one row's local key, following Push's rules.
func (s *Syncer) pushRow(ctx context.Context, ps *providerSet, row *Row, declared envKey, k fetchKey) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	key, err := s.localKey(row)
	if err != nil {
		return err
	}
	row.Key = &key
	row.LocalPublicKey = key.publicKeys()[0]
	if err := checkPairing(key, row.EnvFile, declared, "the local key"); err != nil {
		return err
	}
	w, err := ps.writer(ctx, k.provider)
	if err != nil {
		return err
	}
	cur, err := ps.current(ctx, w, k.provider, "read current", k.ref)
	switch {
	case errors.Is(err, provider.ErrNotFound):
		return s.create(ctx, ps, w, row, key, k)
	case err != nil:
		return err
	}
	return s.replace(ctx, ps, w, row, key, declared, cur, k)
}

// localKey reads the row's key from the folder's keys file.
func (s *Syncer) localKey(row *Row) (Key, error) {
	kf, err := readKeysFile(row.KeysFile)
	if err != nil {
		return Key{}, err
	}
	base := filepath.Base(row.KeysFile)
	if !kf.exists {
		return Key{}, fmt.Errorf("%w: %s has no %s (dotenvx encrypt writes it)", ErrNoLocalKey, row.Folder, base)
	}
	value, ok := kf.lookup(row.KeyName)
	if !ok {
		return Key{}, fmt.Errorf("%w: %s in %s has no %s", ErrNoLocalKey, base, row.Folder, row.KeyName)
	}
	key, err := ParseKey(value)
	if err != nil {
		return Key{}, fmt.Errorf("%w: %s in %s in %s is not a valid key (%d chars)", ErrNoLocalKey, row.KeyName, base, row.Folder, len(value))
	}
	return key, nil
}

// create publishes key as a new secret.
func (s *Syncer) create(ctx context.Context, ps *providerSet, w provider.Writer, row *Row, key Key, k fetchKey) error {
	payload, err := newPayload(s.cfg.PushFormat, row.KeyName, key)
	if err != nil {
		return err
	}
	if s.opts.DryRun {
		row.Action = ActionCreated
		row.Message = fmt.Sprintf("would create %s with %s", row.Secret, row.KeyName)
		return nil
	}
	req := provider.PutRequest{Value: payload, Create: true, Mark: true, PublicKey: row.LocalPublicKey}
	if err := s.put(ctx, ps, w, k, req); err != nil {
		return err
	}
	row.Action = ActionCreated
	row.Message = fmt.Sprintf("created %s with %s", row.Secret, row.KeyName)
	return nil
}

// replace handles a secret that exists: in step, refused, or updated under
// a rule that makes it safe.
func (s *Syncer) replace(ctx context.Context, ps *providerSet, w provider.Writer, row *Row, key Key, declared envKey, cur provider.Current, k fetchKey) error {
	vaultKey, perr := parseSecret(cur.Value, row.KeyName)
	if perr == nil {
		row.VaultPublicKey = vaultKey.publicKeys()[0]
		if vaultKey.equal(key) {
			row.Action, row.Reason = ActionSkipped, reasonInSync
			row.Message = "the vault already holds this key"
			return nil
		}
	}
	held := "another value"
	if perr == nil {
		held = "another key (public " + dotenvx.ShortPublicKey(row.VaultPublicKey) + ")"
	}
	if !s.opts.Update {
		return fmt.Errorf("%w: the vault holds %s; use Options.Update to replace it", ErrMismatch, held)
	}
	var rule string
	switch {
	case perr == nil && declared.name != "" && checkPairing(vaultKey, row.EnvFile, declared, "the vault key") != nil:
		rule = "the vault's key no longer pairs with " + filepath.Base(row.EnvFile) + " (a rotation)"
	case cur.Marked:
		rule = "the secret carries envdrift's marker"
	default:
		return fmt.Errorf("%w: the vault holds %s that still pairs with %s, and the secret has no envdrift marker: refusing to replace it",
			ErrMismatch, held, filepath.Base(row.EnvFile))
	}
	payload, ok, err := reshape(cur.Value, row.KeyName, key, filepath.Base(row.EnvFile))
	if err != nil {
		return err
	}
	if !ok {
		if payload, err = newPayload(s.cfg.PushFormat, row.KeyName, key); err != nil {
			return err
		}
	}
	if s.opts.DryRun {
		row.Action = ActionUpdated
		row.Message = "would replace " + held + ": " + rule
		return nil
	}
	req := provider.PutRequest{Value: payload, Version: cur.Version, Mark: cur.Marked, PublicKey: row.LocalPublicKey}
	if err := s.put(ctx, ps, w, k, req); err != nil {
		return err
	}
	row.Action = ActionUpdated
	row.Message = "replaced " + held + ": " + rule
	return nil
}

// put writes req and, when the store could not apply the condition
// atomically, reads the secret back: a value other than the one written
// means someone else changed it at the same time.
func (s *Syncer) put(ctx context.Context, ps *providerSet, w provider.Writer, k fetchKey, req provider.PutRequest) error {
	res, err := ps.put(ctx, w, k.provider, k.ref, req)
	if err != nil {
		if errors.Is(err, provider.ErrConflict) {
			return fmt.Errorf("changed by someone else between envdrift's read and write; nothing was replaced: %w", err)
		}
		if res.Version != "" {
			return fmt.Errorf("the key was written (version %s) but its metadata was not: %w", res.Version, err)
		}
		return err
	}
	if res.Checked {
		return nil
	}
	back, err := ps.current(ctx, w, k.provider, "read back", k.ref)
	if err != nil {
		return fmt.Errorf("written, but reading it back failed: %w", err)
	}
	if !bytes.Equal(back.Value, req.Value) {
		return provider.NewError(provider.ErrConflict, k.provider, k.ref,
			"changed by someone else: the value read back is not the one envdrift wrote", nil).
			WithHint("push again to see the secret's current state")
	}
	return nil
}
