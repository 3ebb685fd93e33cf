package hashicorp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	vault "github.com/hashicorp/vault/api"

	"github.com/envdrift/envdrift/internal/marker"
	"github.com/envdrift/envdrift/provider"
)

var _ provider.Writer = (*Provider)(nil)

// casMismatch is the error Vault's KV v2 engine answers a check-and-set
// that names another version with (HTTP 400).
const casMismatch = "check-and-set parameter did not match the current version"

// Current reads the secret as Fetch does, with its version (KV v2) and
// the custom_metadata envdrift records (KV v2; KV v1 has no metadata, so
// Marked is false and PublicKey "" there).
func (p *Provider) Current(ctx context.Context, ref provider.Ref) (provider.Current, error) {
	info, name, err := p.prepare(ctx, ref)
	if err != nil {
		return provider.Current{}, err
	}
	st, err := p.readState(ctx, ref, info, name, "")
	if err != nil {
		return provider.Current{}, err
	}
	if st.gone != nil {
		return provider.Current{}, st.gone
	}
	sec, err := p.value(ref, st)
	if err != nil {
		return provider.Current{}, err
	}
	return provider.Current{
		Secret:    sec,
		Marked:    st.custom[provider.MarkerKey] == marker.Value,
		PublicKey: st.custom[provider.PublicKeyTag],
	}, nil
}

// Put writes req.Value as the secret's fields, so that Fetch returns it
// byte for byte afterwards:
//
//   - a JSON object in the form Fetch returns for a secret of several
//     fields (compact, keys sorted) becomes those fields;
//   - a single line DOTENV_PRIVATE_KEY…=key becomes that one field;
//   - anything else becomes the field "value".
//
// On an update the secret's other fields are kept, unless keeping them
// would change what Fetch returns (then Put fails with ErrInvalid and
// writes nothing). Values that are not UTF-8 text are refused: KV fields
// are JSON strings.
//
// KV v2: every write is a check-and-set. A create sends cas=0, so it fails
// with ErrConflict when the secret exists (a path whose latest version was
// deleted or destroyed holds no value, and may be created at that version);
// an update sends cas=req.Version, and fails with ErrConflict when the
// secret has moved on. PutResult.Checked is true for both. An update
// without Version checks against the version Put itself read, and reports
// Checked false. With req.Mark or req.PublicKey, Put then records them in
// the secret's custom_metadata through <mount>/metadata/<path>, keeping the
// other keys there; if that fails after the value was written, the error
// says so and the result names the version written.
//
// KV v1 has neither versions nor metadata: a create reads first and fails
// with ErrConflict if the secret exists, but not atomically, and an update
// overwrites; Checked is false, and Mark and PublicKey are not recorded.
func (p *Provider) Put(ctx context.Context, ref provider.Ref, req provider.PutRequest) (provider.PutResult, error) {
	info, name, err := p.prepare(ctx, ref)
	if err != nil {
		return provider.PutResult{}, err
	}
	want, whole, ferr := fieldsFor(req.Value)
	if ferr != nil {
		return provider.PutResult{}, p.newErr(provider.ErrInvalid, ref, ferr.Error(), nil, "")
	}
	if info.version == 2 {
		return p.putV2(ctx, ref, info, name, req, want, whole)
	}
	return p.putV1(ctx, ref, info, name, req, want, whole)
}

func (p *Provider) putV1(ctx context.Context, ref provider.Ref, info mountInfo, name string, req provider.PutRequest, want map[string]json.RawMessage, whole bool) (provider.PutResult, error) {
	st, err := p.readState(ctx, ref, info, name, "")
	if err != nil {
		return provider.PutResult{}, err
	}
	if req.Create && st.fields != nil {
		return provider.PutResult{}, p.newErr(provider.ErrConflict, ref,
			fmt.Sprintf("%s already exists (KV v1: checked by reading first, not atomically)", st.apiPath), nil, "")
	}
	fields, perr := p.merge(ref, st, want, whole, req)
	if perr != nil {
		return provider.PutResult{}, perr
	}
	body := make(map[string]any, len(fields))
	for k, v := range fields {
		body[k] = v
	}
	if _, perr := p.write(ctx, ref, info, name, st.apiPath, body); perr != nil {
		return provider.PutResult{}, perr
	}
	return provider.PutResult{}, nil
}

func (p *Provider) putV2(ctx context.Context, ref provider.Ref, info mountInfo, name string, req provider.PutRequest, want map[string]json.RawMessage, whole bool) (provider.PutResult, error) {
	apiPath := info.mount + "/data/" + name
	st := kvState{apiPath: apiPath}
	cas := 0
	if !req.Create {
		var err error
		if st, err = p.readState(ctx, ref, info, name, req.Version); err != nil {
			return provider.PutResult{}, err
		}
		cas = st.version
		if req.Version != "" {
			n, aerr := strconv.Atoi(req.Version)
			if aerr != nil || n < 0 {
				return provider.PutResult{}, p.newErr(provider.ErrInvalid, ref,
					fmt.Sprintf("version %q is not a KV v2 version number", req.Version), nil, "")
			}
			cas = n
		}
	}
	fields, perr := p.merge(ref, st, want, whole, req)
	if perr != nil {
		return provider.PutResult{}, perr
	}
	body := map[string]any{"options": map[string]any{"cas": cas}, "data": fields}
	sec, perr := p.write(ctx, ref, info, name, apiPath, body)
	if perr != nil && errors.Is(perr, provider.ErrConflict) && req.Create {
		// A create may fill a path whose latest version was deleted or
		// destroyed: it holds no value. Check-and-set against that version.
		gone, err := p.readState(ctx, ref, info, name, "")
		if err != nil {
			return provider.PutResult{}, err
		}
		if gone.gone != nil && gone.version > 0 {
			body["options"] = map[string]any{"cas": gone.version}
			sec, perr = p.write(ctx, ref, info, name, apiPath, body)
		}
	}
	if perr != nil {
		return provider.PutResult{}, perr
	}
	var out struct {
		Version        json.Number       `json:"version"`
		CustomMetadata map[string]string `json:"custom_metadata"`
	}
	if sec != nil && sec.Data != nil {
		raw, _ := json.Marshal(sec.Data)
		_ = decodeJSON(raw, &out)
	}
	res := provider.PutResult{Version: out.Version.String(), Checked: req.Create || req.Version != ""}
	if !req.Mark && req.PublicKey == "" {
		return res, nil
	}
	custom := maps.Clone(out.CustomMetadata)
	if custom == nil {
		custom = map[string]string{}
	}
	before := maps.Clone(custom)
	if req.Mark {
		custom[provider.MarkerKey] = marker.Value
	}
	if req.PublicKey != "" {
		custom[provider.PublicKeyTag] = req.PublicKey
	}
	if maps.Equal(before, custom) {
		return res, nil
	}
	metaPath := info.mount + "/metadata/" + name
	if _, perr := p.write(ctx, ref, info, name, metaPath, map[string]any{"custom_metadata": custom}); perr != nil {
		e := *perr
		e.Message = fmt.Sprintf("the value was written as version %s, but recording envdrift's marker and public key failed: %s", res.Version, perr.Message)
		return res, &e
	}
	return res, nil
}

// merge returns the fields to write: want alone for a create or a whole
// field set, else the secret's current fields with want on top, provided
// Fetch would still return req.Value.
func (p *Provider) merge(ref provider.Ref, st kvState, want map[string]json.RawMessage, whole bool, req provider.PutRequest) (map[string]json.RawMessage, *provider.Error) {
	if req.Create || whole || len(st.fields) == 0 {
		return want, nil
	}
	merged := maps.Clone(st.fields)
	maps.Copy(merged, want)
	if got, err := extractValue(merged); err != nil || !bytes.Equal(got, req.Value) {
		keys := slices.Sorted(maps.Keys(st.fields))
		return nil, p.newErr(provider.ErrInvalid, ref,
			fmt.Sprintf("%s: the secret's other fields (%s) would change how it reads if this value were added to them", st.apiPath, strings.Join(keys, ", ")), nil,
			"write the whole secret as one JSON object of fields, or move the other fields to another path")
	}
	return merged, nil
}

// fieldsFor maps a payload to KV fields from which extractValue gives the
// payload back; whole reports that they are the secret's complete field set.
func fieldsFor(value []byte) (fields map[string]json.RawMessage, whole bool, err error) {
	if !utf8.Valid(value) {
		return nil, false, fmt.Errorf("the value (%d bytes) is not UTF-8 text; Vault KV fields hold text", len(value))
	}
	if t := bytes.TrimSpace(value); len(t) > 0 && t[0] == '{' {
		var obj map[string]json.RawMessage
		if decodeJSON(value, &obj) == nil && len(obj) > 0 {
			if got, err := extractValue(obj); err == nil && bytes.Equal(got, value) {
				return obj, true, nil
			}
		}
	}
	if k, v, ok := strings.Cut(string(value), "="); ok && strings.HasPrefix(k, "DOTENV_PRIVATE_KEY") &&
		!strings.ContainsAny(k, " \t\r\n\"") && !strings.ContainsAny(v, "\r\n") {
		raw, _ := json.Marshal(v)
		return map[string]json.RawMessage{k: raw}, false, nil
	}
	raw, _ := json.Marshal(string(value))
	return map[string]json.RawMessage{"value": raw}, false, nil
}

// write sends body to apiPath (PUT, as the vault CLI writes) and
// classifies a refusal. The body holds the secret: it never reaches an
// error.
func (p *Provider) write(ctx context.Context, ref provider.Ref, info mountInfo, name, apiPath string, body map[string]any) (*vault.Secret, *provider.Error) {
	sec, err := p.client.Logical().WriteWithContext(ctx, apiPath, body)
	if err == nil {
		return sec, nil
	}
	var re *vault.ResponseError
	if !errors.As(err, &re) {
		return nil, p.transportError(ctx, ref, apiPath, err)
	}
	r := &reply{path: apiPath, status: re.StatusCode, errs: re.Errors, raw: re.RawError}
	if r.raw {
		r.errs = nil
	}
	switch {
	case r.status == 400 && r.mentions(casMismatch):
		return nil, p.newErr(provider.ErrConflict, ref, r.describe(), &StatusError{Code: r.status},
			"the secret changed since it was read (check-and-set); read it again and retry")
	case r.status == 400 && r.mentions("check-and-set parameter required"):
		return nil, p.newErr(provider.ErrInvalid, ref, r.describe(), &StatusError{Code: r.status},
			"the mount or secret has cas_required set; envdrift sends cas on every KV v2 write, so this answer is unexpected")
	case r.status == 403:
		return nil, p.deniedWrite(ctx, ref, r, info.mount, name, info.version)
	}
	return nil, p.statusError(ref, r)
}

// deniedWrite classifies a 403 on a write, with the policy a push needs as
// the hint.
func (p *Provider) deniedWrite(ctx context.Context, ref provider.Ref, r *reply, mount, name string, version int) *provider.Error {
	e := p.denied(ctx, ref, r, mount, name, version)
	if !errors.Is(e, provider.ErrPermissionDenied) {
		return e
	}
	in := ""
	if ns := p.namespace(); ns != "" {
		in = fmt.Sprintf(" (policies of namespace %q)", ns)
	}
	if version == 2 {
		e.Hint = p.redact(fmt.Sprintf("to publish keys the token's policies%s must allow: path \"%s/data/%s\" { capabilities = [\"create\", \"read\", \"update\"] } "+
			"and, to record envdrift's marker, path \"%s/metadata/%s\" { capabilities = [\"create\", \"update\"] }", in, mount, name, mount, name))
	} else {
		e.Hint = p.redact(fmt.Sprintf("to publish keys the token's policies%s must allow: path \"%s/%s\" { capabilities = [\"create\", \"read\", \"update\"] }", in, mount, name))
	}
	return e
}
