package envdrift

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/provider"
)

func TestErrorKind_AProviderTimeoutIsUnavailableARunDeadlineIsCancelled(t *testing.T) {
	timeout := provider.NewError(provider.ErrUnavailable, "aws", provider.Ref{Name: "k"}, "no answer within 300ms", context.DeadlineExceeded)
	assert.Equal(t, "unavailable", errorKind(timeout))
	assert.Equal(t, "unavailable", errorKind(fmt.Errorf("wrapped: %w", timeout)))
	assert.Equal(t, "cancelled", errorKind(fmt.Errorf("not written: %w", context.DeadlineExceeded)))
	assert.Equal(t, "cancelled", errorKind(fmt.Errorf("lock: %w", context.Canceled)))
	interrupted := provider.NewError(provider.ErrUnavailable, "aws", provider.Ref{Name: "k"}, "cancelled", context.Canceled)
	assert.Equal(t, "cancelled", errorKind(interrupted), "Ctrl-C during a request is a cancellation")
}

// panicky is a provider whose every call panics with a value that holds a
// key, to check that a recovered panic never shows its value.
type panicky struct {
	mode  string // "fetch", "error", "nil", "batch"
	value string // the secret the panic value carries
}

type panickySettings struct {
	Mode  string `toml:"mode"`
	Value string `toml:"value"`
}

type panickyBatch struct{ *panicky }

// panickyDriver returns the driver of the "panicky" test provider.
func panickyDriver() provider.Driver {
	return provider.NewDriver("panicky", func(_ context.Context, s *panickySettings, _ provider.Options) (provider.Provider, error) {
		p := &panicky{mode: s.Mode, value: s.Value}
		switch s.Mode {
		case "open":
			panic("cannot open with " + s.Value)
		case "batch":
			return panickyBatch{p}, nil
		}
		return p, nil
	})
}

func (p *panicky) Fetch(context.Context, provider.Ref) (provider.Secret, error) {
	switch p.mode {
	case "error":
		panic(fmt.Errorf("decoding %s failed", p.value))
	case "nil":
		var m map[string]*provider.Secret
		return *m[p.value], nil // nil dereference
	}
	panic("unexpected key " + p.value)
}

func (p panickyBatch) FetchBatch(context.Context, []provider.Ref) []provider.Result {
	panic([]string{"batch", p.value})
}

// panickyDecrypter panics while checking one folder.
type panickyDecrypter struct{ folder string }

func (d panickyDecrypter) CheckDecryption(_ context.Context, envFile string, key Key) Check {
	if strings.Contains(envFile, d.folder) {
		panic("key " + key.Reveal() + " does not decrypt")
	}
	return Check{Status: CheckPassed}
}

func TestSync_APanicBecomesAnErrorRowThatNeverShowsThePanicValue(t *testing.T) {
	for _, mode := range []string{"fetch", "error", "nil", "batch", "open", "decrypter"} {
		t.Run(mode, func(t *testing.T) {
			w := newWorld(t)
			secret := newKey(t)
			ok := w.service("ok", ".env.production")
			w.vault.set("ok-key", ok.Hex())
			w.mapping("ok-key", "ok")
			for _, folder := range []string{"p1", "p2"} {
				k := w.service(folder, ".env.production")
				w.vault.set(folder+"-key", k.Hex())
				w.mapping(folder+"-key", folder, func(m *Mapping) {
					if mode != "decrypter" {
						m.Provider = "panicky"
					}
				})
			}
			w.cfg.Settings["panicky"] = &panickySettings{Mode: mode, Value: secret}
			w.reg.Register(panickyDriver())
			opts := Options{}
			if mode == "decrypter" {
				opts.Decrypter = panickyDecrypter{folder: "p1"}
				secret = w.vault.secrets["p1-key"]
			}
			res := w.sync(opts)

			assert.Equal(t, ActionCreated, res.Rows[0].Action, "the healthy mapping is unaffected: %s", res.Rows[0].Message)
			failed := []*Row{res.Rows[1], res.Rows[2]}
			if mode == "decrypter" {
				assert.Equal(t, ActionCreated, res.Rows[2].Action)
				assert.Equal(t, ActionError, res.Rows[1].Action)
				failed = failed[:1]
			}
			for _, row := range failed {
				assert.Equal(t, ActionError, row.Action, row.Message)
				assert.ErrorIs(t, row.Err, errPanic)
				assert.Equal(t, "panic", row.ErrorKind)
				assert.Contains(t, row.Message, "panicked")
				assert.Contains(t, row.Message, "safety_test.go:", "the message says where the panic happened")
				var pe *panicError
				require.ErrorAs(t, row.Err, &pe)
				assert.NotEmpty(t, pe.Type)
				for i := 0; i+8 <= len(secret); i++ {
					assert.NotContains(t, row.Message, secret[i:i+8])
				}
			}
			assert.Error(t, res.Err())
		})
	}
}

func TestNewPanicError_NamesTheTypeAndTheFunctionThatPanicked(t *testing.T) {
	var pe *panicError
	func() {
		defer func() { pe = newPanicError("a test", recover()) }()
		var s []int
		_ = s[3]
	}()
	assert.Equal(t, "runtime.boundsError", pe.Type)
	assert.Contains(t, pe.Location, "TestNewPanicError_NamesTheTypeAndTheFunctionThatPanicked")
	assert.Contains(t, pe.Location, "safety_test.go:")
	assert.NotContains(t, pe.Error(), "index out of range", "not even a runtime error's text is shown")
}

func TestMergeKey_RefusesAKeysFileThatIsNotText(t *testing.T) {
	k := newKey(t)
	for name, tc := range map[string]struct {
		data string
		line string
	}{
		"zeroed by a crash": {strings.Repeat("\x00", 4096), "a NUL byte on line 1"},
		"NUL on line 3":     {"# a\nA=1\nB=\x00\n", "a NUL byte on line 3"},
		"invalid UTF-8":     {"# notes\n# caf\xc3\x28\nA=1\n", "invalid UTF-8 on line 2"},
		"binary junk":       {"PNG\r\n\x1a\n\x89\xff", "invalid UTF-8 on line 3"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := mergeKey([]byte(tc.data), prodName, k, ".env.production")
			require.ErrorIs(t, err, errKeysFileFormat)
			assert.Contains(t, err.Error(), "not a text file ("+tc.line+")")
		})
	}
	got, err := mergeKey([]byte("# café ✓\nA=1\n"), prodName, k, ".env.production")
	require.NoError(t, err, "UTF-8 text is fine")
	assert.True(t, strings.HasPrefix(string(got), "# café ✓\nA=1\n"))
}

func TestMergeKey_RefusesAnAppendThatWouldChangeTheLastLine(t *testing.T) {
	k := newKey(t)
	// "A:" at the end of a file is no assignment for dotenvx; with a line
	// ending after it, it is one (A=""). Appending would invent A.
	_, err := mergeKey([]byte("# notes\nA:"), prodName, k, ".env.production")
	require.ErrorIs(t, err, errKeysFileFormat)
	assert.Contains(t, err.Error(), "end the file with a newline")

	// The same with the key's own name: the file would assign it twice.
	_, err = mergeKey([]byte(prodName+":"), prodName, k, ".env.production")
	require.ErrorIs(t, err, errKeysFileFormat)

	got, err := mergeKey([]byte("# notes\nA=1"), prodName, k, ".env.production")
	require.NoError(t, err, "a last line that reads the same with a line ending is fine")
	assert.Equal(t, "# notes\nA=1\n\n# .env.production\n"+prodName+"="+k+"\n", string(got))
}

func TestMergeKey_OldMacLineEndingsAreLinesToo(t *testing.T) {
	k := newKey(t)
	data := "# team\rA=1\r" + prodName + "=old\rB=2\r"
	got, err := mergeKey([]byte(data), prodName, k, ".env.production")
	require.NoError(t, err)
	assert.Equal(t, "# team\rA=1\r"+prodName+"="+k+"\rB=2\r", string(got))

	// A stray CR before a block envdrift appended: the block is found again.
	first, err := mergeKey([]byte("\r0"), prodName, k, ".env.production")
	require.NoError(t, err)
	again, err := mergeKey(first, prodName, k, ".env.production")
	require.NoError(t, err)
	assert.Equal(t, string(first), string(again))
}

func TestMergeKey_NeverDropsAVariableThatSharesTheKeysLine(t *testing.T) {
	k := newKey(t)
	// U+2028 ends a line for dotenvx: B is a variable of its own.
	for _, data := range []string{prodName + "=\"old\"\u2028B=2\n", prodName + "='old'\u2029B=2\n"} {
		_, err := mergeKey([]byte(data), prodName, k, ".env.production")
		require.ErrorIs(t, err, errKeysFileFormat, "%q", data)
	}
	got, err := mergeKey([]byte(prodName+"=old #c\u2028B=2\n"), prodName, k, ".env.production")
	require.NoError(t, err, "a comment ends the value: the rest of the line is kept")
	assert.Equal(t, prodName+"="+k+" #c\u2028B=2\n", string(got))
}
