package hashicorp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	vault "github.com/hashicorp/vault/api"

	"github.com/envdrift/envdrift/internal/limits"
	"github.com/envdrift/envdrift/provider"
)

// maxResponseBody bounds how much of a response is read. JSON escaping can
// make a body several times larger than the value it carries; the value
// itself is held to limits.MaxSecretSize.
const maxResponseBody = 8 * limits.MaxSecretSize

// mountInfo is what envdrift knows about one KV mount.
type mountInfo struct {
	mount    string
	version  int  // 1 or 2
	explicit bool // from kv_version rather than detected
	// hint, set when the lookup failed, words the error's hint for the
	// secret name of each fetch that shares the failure.
	hint func(name string) string
}

// reply is one answer from Vault.
type reply struct {
	path        string // API path without /v1/, for messages
	status      int
	body        []byte   // the body (2xx, or a JSON error body such as KV v2's deleted-version 404)
	errs        []string // Vault's "errors" for non-2xx answers
	raw         bool     // a non-2xx body that was not Vault's JSON
	rawText     string   // a short such body, to recognise, never to show
	contentType string
}

// get performs GET /v1/<apiPath>. A non-nil error is a transport failure
// (already classified); HTTP error statuses come back in the reply.
func (p *Provider) get(ctx context.Context, ref provider.Ref, apiPath string) (*reply, *provider.Error) {
	return p.send(ctx, ref, apiPath, func() (*vault.Response, error) {
		return p.client.Logical().ReadRawWithContext(ctx, apiPath)
	})
}

// send performs one request to apiPath with do. A non-nil error is a
// transport failure (already classified); HTTP error statuses come back in
// the reply.
func (p *Provider) send(ctx context.Context, ref provider.Ref, apiPath string, do func() (*vault.Response, error)) (*reply, *provider.Error) {
	resp, err := do()
	if resp != nil && resp.Body != nil {
		defer resp.Body.Close()
	}
	r := &reply{path: apiPath}
	var re *vault.ResponseError
	switch {
	case err != nil && errors.As(err, &re):
		r.status, r.errs, r.raw = re.StatusCode, re.Errors, re.RawError
		if r.raw {
			if len(re.Errors) > 0 && len(re.Errors[0]) < 200 {
				r.rawText = re.Errors[0] // only matched, never shown
			}
			r.errs = nil // never echo a body that is not Vault's: a proxy page may reflect headers
		}
	case err != nil:
		return nil, p.transportError(ctx, ref, apiPath, err)
	case resp == nil:
		return nil, p.newErr(provider.ErrUnavailable, ref, apiPath+": no response from Vault", nil, "")
	default:
		r.status = resp.StatusCode
	}
	if resp != nil && resp.Body != nil {
		r.contentType = resp.Header.Get("Content-Type")
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody+1))
		if rerr != nil {
			return nil, p.transportError(ctx, ref, apiPath, rerr)
		}
		if len(body) > maxResponseBody {
			return nil, p.newErr(provider.ErrInvalid, ref,
				fmt.Sprintf("%s: the response is larger than %d bytes; envdrift refuses secrets over %d bytes",
					apiPath, maxResponseBody, limits.MaxSecretSize), nil, "")
		}
		r.body = body
	}
	if nsErr := p.namespaceAnswer(ref, r); nsErr != nil {
		return nil, nsErr
	}
	return r, nil
}

// mountInfo returns the KV version of mount, detecting it once per mount.
func (p *Provider) mountInfo(ctx context.Context, ref provider.Ref, mount, name string) (mountInfo, error) {
	if v := p.settings.KVVersion; v != 0 {
		return mountInfo{mount: mount, version: v, explicit: true}, nil
	}
	for {
		p.mu.Lock()
		f, found := p.versions[mount]
		if !found {
			f = newFlight[mountInfo]()
			p.versions[mount] = f
		}
		p.mu.Unlock()
		if !found {
			info, perr := p.detect(ctx, ref, mount)
			if perr != nil {
				f.err = perr
				p.mu.Lock()
				delete(p.versions, mount) // forget failures: a later fetch tries again
				p.mu.Unlock()
			}
			f.val = info
			close(f.done)
			if perr != nil {
				return mountInfo{}, p.ownHint(withRef(perr, ref), info, name)
			}
			return info, nil
		}
		info, err, ok := f.wait(ctx)
		if !ok {
			return mountInfo{}, p.transportError(ctx, ref, "sys/internal/ui/mounts/"+mount, err)
		}
		if err == nil {
			return info, nil
		}
		// Another caller's detection failed. If only its context ended, try
		// again ourselves; otherwise its answer is ours too: Vault answers
		// the lookup per mount (whether the token may do anything under
		// it), and the error names the mount, never a secret.
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			continue
		}
		var pe *provider.Error
		if errors.As(err, &pe) {
			return mountInfo{}, p.ownHint(withRef(pe, ref), info, name)
		}
		return mountInfo{}, err
	}
}

// ownHint gives a shared mount lookup failure the hint for this fetch's
// secret name.
func (p *Provider) ownHint(e *provider.Error, info mountInfo, name string) *provider.Error {
	if info.hint != nil {
		e.Hint = p.redact(info.hint(name))
	}
	return e
}

// detect asks Vault about mount as the vault CLI does, but for the mount
// rather than a secret's path: Vault's answer depends only on the mount
// (and whether the token's policies allow anything under it), so one
// answer serves every secret of the mount and names none of them.
func (p *Provider) detect(ctx context.Context, ref provider.Ref, mount string) (mountInfo, *provider.Error) {
	apiPath := "sys/internal/ui/mounts/" + mount
	r, perr := p.get(ctx, ref, apiPath)
	if perr != nil {
		return mountInfo{}, perr
	}
	switch {
	case r.status == 404:
		// Vault before 0.10 has no such endpoint and no KV v2: the vault
		// CLI assumes version 1 here too.
		return mountInfo{mount: mount, version: 1}, nil
	case r.status == 403:
		e := p.denied(ctx, ref, r, mount, "", 0)
		info := mountInfo{}
		if errors.Is(e, provider.ErrPermissionDenied) {
			info.hint = func(name string) string { return p.lookupDeniedHint(mount, name) }
		}
		return info, e
	case r.status < 200 || r.status > 299:
		return mountInfo{}, p.statusError(ref, r)
	}
	var env struct {
		Data *struct {
			Type    string         `json:"type"`
			Path    string         `json:"path"`
			Options map[string]any `json:"options"`
		} `json:"data"`
	}
	if err := decodeJSON(r.body, &env); err != nil || env.Data == nil {
		return mountInfo{}, p.unparseable(ref, r)
	}
	d := env.Data
	if d.Type != "" && d.Type != "kv" && d.Type != "generic" {
		return mountInfo{}, p.newErr(provider.ErrInvalid, ref,
			fmt.Sprintf("mount %q is a %q secrets engine, not KV", mount, d.Type), nil,
			"set vault_name (or mount in [vault.hashicorp]) to a KV mount; `vault secrets list` shows the mounts")
	}
	if got := strings.Trim(d.Path, "/"); got != "" && got != mount && !strings.HasSuffix(got, "/"+mount) &&
		strings.HasPrefix(mount, got+"/") {
		rest := strings.TrimPrefix(mount, got+"/")
		hint := func(name string) string {
			return fmt.Sprintf("set vault_name (or mount) to %q and put %q in front of the secret name (%s/%s)", got, rest, rest, name)
		}
		return mountInfo{hint: hint}, p.newErr(provider.ErrInvalid, ref,
			fmt.Sprintf("%q is not a mount: the KV mount is %q", mount, got), nil, hint("<name>"))
	}
	version := 1
	if v, ok := d.Options["version"]; ok && fmt.Sprint(v) == "2" {
		version = 2
	}
	return mountInfo{mount: mount, version: version}, nil
}

// read fetches the latest value of name in the mount.
func (p *Provider) read(ctx context.Context, ref provider.Ref, info mountInfo, name string) (provider.Secret, error) {
	st, err := p.readState(ctx, ref, info, name, "")
	if err != nil {
		return provider.Secret{}, err
	}
	if st.gone != nil {
		return provider.Secret{}, st.gone
	}
	return p.value(ref, st)
}

// kvState is a secret as one read found it.
type kvState struct {
	apiPath string
	// fields are the secret's fields; nil when it has no live value.
	fields map[string]json.RawMessage
	// version is the KV v2 version read (the current one, even when it
	// was deleted or destroyed); 0 for KV v1 and for a secret that never
	// had a version.
	version int
	// custom is the KV v2 custom_metadata.
	custom map[string]string
	// gone explains why there is no live value (a ErrNotFound error).
	gone *provider.Error
}

// readState reads name at version ("" = the latest; KV v2 only). A secret
// without a live value is not an error: its state says why in gone.
func (p *Provider) readState(ctx context.Context, ref provider.Ref, info mountInfo, name, version string) (kvState, error) {
	apiPath := info.mount + "/" + name
	if info.version == 2 {
		apiPath = info.mount + "/data/" + name
	}
	st := kvState{apiPath: apiPath}
	var r *reply
	var perr *provider.Error
	if version != "" {
		r, perr = p.send(ctx, ref, apiPath, func() (*vault.Response, error) {
			return p.client.Logical().ReadRawWithDataWithContext(ctx, apiPath, map[string][]string{"version": {version}})
		})
	} else {
		r, perr = p.get(ctx, ref, apiPath)
	}
	if perr != nil {
		return st, perr
	}
	switch {
	case r.status == 404:
		st.gone = p.notFound(ref, r, info, name)
		var env struct {
			Data *struct {
				Metadata *kv2Metadata `json:"metadata"`
			} `json:"data"`
		}
		if info.version == 2 && decodeJSON(r.body, &env) == nil && env.Data != nil && env.Data.Metadata != nil {
			st.version, _ = strconv.Atoi(env.Data.Metadata.Version.String())
			st.custom = env.Data.Metadata.CustomMetadata
		}
		return st, nil
	case r.status == 403:
		return st, p.denied(ctx, ref, r, info.mount, name, info.version)
	case r.status < 200 || r.status > 299:
		return st, p.statusError(ref, r)
	}

	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := decodeJSON(r.body, &env); err != nil {
		return st, p.unparseable(ref, r)
	}
	if info.version == 2 {
		var d struct {
			Data     map[string]json.RawMessage `json:"data"`
			Metadata *kv2Metadata               `json:"metadata"`
		}
		if err := decodeJSON(env.Data, &d); err != nil {
			return st, p.unparseable(ref, r)
		}
		if d.Metadata != nil {
			st.version, _ = strconv.Atoi(d.Metadata.Version.String())
			st.custom = d.Metadata.CustomMetadata
			if d.Metadata.gone() {
				st.gone = p.deletedVersion(ref, r, info, name, d.Metadata)
				return st, nil
			}
		}
		st.fields = d.Data
	} else if len(env.Data) > 0 && !bytes.Equal(env.Data, []byte("null")) {
		if err := decodeJSON(env.Data, &st.fields); err != nil {
			return st, p.unparseable(ref, r)
		}
	}
	return st, nil
}

// value turns a read's fields into the payload Fetch returns.
func (p *Provider) value(ref provider.Ref, st kvState) (provider.Secret, error) {
	value, err := extractValue(st.fields)
	if err != nil {
		return provider.Secret{}, p.newErr(provider.ErrInvalid, ref, st.apiPath+": "+err.Error(), nil,
			"store the key in a field named \"value\" or DOTENV_PRIVATE_KEY_<ENV>")
	}
	if len(value) > limits.MaxSecretSize {
		return provider.Secret{}, p.newErr(provider.ErrInvalid, ref,
			fmt.Sprintf("%s: the secret is %d bytes, larger than the %d-byte limit", st.apiPath, len(value), limits.MaxSecretSize), nil, "")
	}
	sec := provider.Secret{Value: value}
	if st.version > 0 {
		sec.Version = strconv.Itoa(st.version)
	}
	return sec, nil
}

type kv2Metadata struct {
	Version        json.Number       `json:"version"`
	CreatedTime    string            `json:"created_time"`
	DeletionTime   string            `json:"deletion_time"`
	Destroyed      bool              `json:"destroyed"`
	CustomMetadata map[string]string `json:"custom_metadata"`
}

func (m *kv2Metadata) gone() bool { return m.Destroyed || m.DeletionTime != "" }

// extractValue turns a KV secret's fields into the payload; see the package
// documentation.
func extractValue(fields map[string]json.RawMessage) ([]byte, error) {
	if len(fields) == 0 {
		return nil, errors.New("the secret has no fields")
	}
	if raw, ok := fields["value"]; ok {
		return fieldBytes(raw)
	}
	var keyFields []string
	for k := range fields {
		if strings.HasPrefix(k, "DOTENV_PRIVATE_KEY") {
			keyFields = append(keyFields, k)
		}
	}
	if len(keyFields) == 1 {
		if s, ok := jsonString(fields[keyFields[0]]); ok && !strings.ContainsAny(s, "\r\n") {
			return []byte(keyFields[0] + "=" + s), nil
		}
	}
	return marshalFields(fields)
}

// fieldBytes returns a string field as stored, any other JSON value as its
// JSON encoding.
func fieldBytes(raw json.RawMessage) ([]byte, error) {
	if s, ok := jsonString(raw); ok {
		return []byte(s), nil
	}
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, errors.New(`the field "value" is null`)
	}
	var v any
	if err := decodeJSON(raw, &v); err != nil {
		return nil, errors.New("a field holds malformed JSON")
	}
	return encodeJSON(v)
}

// marshalFields encodes the fields as one JSON object: keys sorted, numbers
// as Vault sent them, no HTML escaping.
func marshalFields(fields map[string]json.RawMessage) ([]byte, error) {
	obj := make(map[string]any, len(fields))
	for k, raw := range fields {
		var v any
		if err := decodeJSON(raw, &v); err != nil {
			return nil, errors.New("a field holds malformed JSON")
		}
		obj[k] = v
	}
	return encodeJSON(obj)
}

func encodeJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// jsonString decodes raw if it is a JSON string.
func jsonString(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}
