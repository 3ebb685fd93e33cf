package hashicorp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/envdrift/envdrift/provider"
)

// hintLogin is the action for every unauthenticated error.
const hintLogin = "set VAULT_TOKEN or run `vault login`"

// StatusError is the cause of errors built from a Vault HTTP answer; it
// carries the status code only (Vault's messages are in the
// [provider.Error] message).
type StatusError struct{ Code int }

// Error names the HTTP status.
func (e *StatusError) Error() string { return fmt.Sprintf("Vault answered HTTP %d", e.Code) }

// newErr builds a provider error, scrubbing the token from the text in case
// a server or proxy echoed it.
func (p *Provider) newErr(kind error, ref provider.Ref, msg string, cause error, hint string) *provider.Error {
	return provider.NewError(kind, Name, ref, p.redact(msg), cause).WithHint(p.redact(hint))
}

func (p *Provider) redact(s string) string {
	if len(p.token) >= 4 {
		s = strings.ReplaceAll(s, p.token, "[redacted token]")
	}
	p.secretsMu.Lock()
	defer p.secretsMu.Unlock()
	for _, c := range p.secrets {
		if len(c) >= 4 {
			s = strings.ReplaceAll(s, c, "[redacted]")
		}
	}
	return s
}

// addSecret records a credential (a secret ID, a JWT, a login token) that
// no message may carry.
func (p *Provider) addSecret(v string) {
	p.secretsMu.Lock()
	defer p.secretsMu.Unlock()
	p.secrets = append(p.secrets, v)
}

// vaultText turns Vault's "errors" into one line. Vault often sends a
// go-multierror rendering ("2 errors occurred:\n\t* permission denied\n\t*
// invalid token\n\n"); its items are kept, the framing dropped.
func vaultText(errs []string) string {
	var items []string
	for _, e := range errs {
		lines := strings.Split(strings.TrimSpace(e), "\n")
		if len(lines) > 1 && strings.HasSuffix(strings.TrimSpace(lines[0]), "occurred:") {
			lines = lines[1:]
		}
		for _, l := range lines {
			l = strings.TrimSpace(l)
			l = strings.TrimSpace(strings.TrimPrefix(l, "* "))
			if l != "" {
				items = append(items, l)
			}
		}
	}
	return strings.Join(items, "; ")
}

// describe is "<path>: <status> <text>[: <Vault's errors>]".
func (r *reply) describe() string {
	msg := fmt.Sprintf("%s: %d %s", r.path, r.status, http.StatusText(r.status))
	if t := vaultText(r.errs); t != "" {
		msg += ": " + t
	} else if r.raw {
		ct := r.contentType
		if ct == "" {
			ct = "unknown content type"
		}
		msg += fmt.Sprintf(": the body (%s) is not Vault's JSON; a proxy or load balancer may have answered", ct)
	}
	return msg
}

func (r *reply) mentions(s string) bool {
	return strings.Contains(strings.ToLower(strings.Join(r.errs, "\n")), s)
}

// transportError classifies a failure to get any answer. The endpoint
// failed, not the path: the messages name Vault's address and not apiPath,
// so that every secret a dead Vault fails reads the same (the row names
// its secret), and the failure is explained once.
func (p *Provider) transportError(ctx context.Context, ref provider.Ref, apiPath string, err error) *provider.Error {
	if cerr := ctx.Err(); cerr != nil {
		what := "cancelled"
		if errors.Is(cerr, context.DeadlineExceeded) {
			what = "deadline exceeded"
		}
		return p.newErr(provider.ErrUnavailable, ref, apiPath+": "+what+" before Vault answered", cerr, "")
	}
	inner := err
	var ue *url.Error
	if errors.As(err, &ue) {
		inner = ue.Err
	}
	addr := p.address()
	if errors.Is(err, context.DeadlineExceeded) && p.throttledRecently() {
		// The client spent the request's time retrying 429 answers.
		return p.newErr(provider.ErrThrottled, ref,
			fmt.Sprintf("Vault at %s kept answering 429 (rate limit quota exceeded) until the request timeout", addr), err,
			"Vault's rate limit quota was exceeded: lower --concurrency or ask the Vault operators to raise the quota")
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return p.newErr(provider.ErrUnavailable, ref,
			fmt.Sprintf("no answer from Vault at %s within the request timeout", addr), err,
			"raise --timeout (or VAULT_CLIENT_TIMEOUT), or check the network path to Vault")
	}
	if e := p.tlsError(ref, addr, inner, err); e != nil {
		return e
	}
	return p.newErr(provider.ErrUnavailable, ref,
		fmt.Sprintf("cannot reach Vault at %s: %v", addr, inner), err,
		"check url in [vault.hashicorp], --vault-url or VAULT_ADDR, and that Vault is running")
}

// tlsError names the cause of a failed TLS handshake, each with its own
// remedy; nil when err is not one.
func (p *Provider) tlsError(ref provider.Ref, addr string, inner, err error) *provider.Error {
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var unknownCA x509.UnknownAuthorityError
	var record tls.RecordHeaderError
	mk := func(msg, hint string) *provider.Error {
		return p.newErr(provider.ErrUnavailable, ref, "TLS: "+msg, err, hint)
	}
	switch {
	case errors.As(err, &hostErr):
		return mk(fmt.Sprintf("Vault's certificate at %s is not for this host name: %v", addr, hostErr),
			"use a host name the certificate names in url / VAULT_ADDR, or set VAULT_TLS_SERVER_NAME to one of them")
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return mk(fmt.Sprintf("Vault's certificate at %s has expired or is not yet valid: %v", addr, invalid),
			"the Vault operators must renew the certificate; if it is current, check this machine's clock")
	case errors.As(err, &unknownCA):
		return mk(fmt.Sprintf("Vault's certificate at %s is signed by an authority this machine does not trust: %v", addr, unknownCA),
			"set VAULT_CACERT (or VAULT_CAPATH) to the CA that signed Vault's certificate")
	case errors.As(err, &invalid):
		return mk(fmt.Sprintf("cannot verify Vault's certificate at %s: %v", addr, invalid),
			"check Vault's certificate chain, and VAULT_CACERT / VAULT_CAPATH")
	case errors.As(err, &record), strings.Contains(inner.Error(), "server gave HTTP response to HTTPS client"):
		return mk(fmt.Sprintf("the server at %s does not speak TLS (it answered in plaintext)", addr),
			"use an http:// url / VAULT_ADDR for a Vault listener without TLS (tls_disable = true)")
	case strings.Contains(inner.Error(), "x509:") || strings.Contains(inner.Error(), "tls:"):
		return mk(fmt.Sprintf("handshake with %s failed: %v", addr, inner),
			"check Vault's certificate, VAULT_CACERT / VAULT_CAPATH and VAULT_TLS_SERVER_NAME")
	}
	return nil
}

// plainToTLS reports whether a non-Vault 400 is Go's (and so Vault's)
// answer to plaintext HTTP sent to its TLS listener.
func plainToTLS(r *reply) bool {
	return r.status == http.StatusBadRequest && strings.Contains(r.rawText, "Client sent an HTTP request to an HTTPS server")
}

// statusError classifies an HTTP error status other than 403 and 404.
func (p *Provider) statusError(ref provider.Ref, r *reply) *provider.Error {
	cause := &StatusError{Code: r.status}
	msg := r.describe()
	switch {
	case plainToTLS(r):
		return p.newErr(provider.ErrUnavailable, ref,
			fmt.Sprintf("%s: the Vault listener at %s speaks TLS, but the address says http://", r.path, p.address()), cause,
			"use an https:// url / VAULT_ADDR (and VAULT_CACERT if its certificate is not from a public CA)")
	case r.status == http.StatusTooManyRequests:
		return p.newErr(provider.ErrThrottled, ref, msg, cause,
			"Vault's rate limit quota was exceeded: lower --concurrency or ask the Vault operators to raise the quota")
	case r.status == http.StatusUnauthorized:
		return p.newErr(provider.ErrUnauthenticated, ref, msg, cause, hintLogin)
	case r.status >= 500 || r.status == http.StatusPreconditionFailed:
		hint := ""
		switch {
		case r.mentions("sealed"):
			hint = "Vault is sealed: an operator must unseal it (`vault operator unseal`)"
		case r.mentions("standby"):
			hint = "this node is a standby: point url / VAULT_ADDR at the active node or the cluster's load balancer"
		}
		return p.newErr(provider.ErrUnavailable, ref, msg, cause, hint)
	case r.status >= 300 && r.status < 400:
		return p.newErr(provider.ErrUnavailable, ref, msg+" (too many redirects)", cause, "point url / VAULT_ADDR at the active Vault node")
	case r.status == http.StatusMethodNotAllowed:
		return p.newErr(provider.ErrInvalid, ref, msg, cause,
			"check that vault_name / mount names a KV secrets engine mount")
	default:
		return p.newErr(provider.ErrInvalid, ref, msg, cause, "")
	}
}

// unparseable reports a 2xx answer that is not a Vault response. The body
// is never shown: it may hold the secret, or a page that reflects headers.
func (p *Provider) unparseable(ref provider.Ref, r *reply) *provider.Error {
	ct := r.contentType
	if ct == "" {
		ct = "no content type"
	}
	return p.newErr(provider.ErrUnavailable, ref,
		fmt.Sprintf("%s: %d, but the body (%s) is not a Vault JSON response (truncated, or not from Vault)", r.path, r.status, ct),
		&StatusError{Code: r.status},
		"check that url / VAULT_ADDR points at Vault's API and not at a proxy or a login page")
}

// notFound explains a 404 on a secret read.
func (p *Provider) notFound(ref provider.Ref, r *reply, info mountInfo, name string) *provider.Error {
	cause := &StatusError{Code: r.status}
	var env struct {
		Data *struct {
			Metadata *kv2Metadata `json:"metadata"`
		} `json:"data"`
		Warnings []string `json:"warnings"`
	}
	_ = decodeJSON(r.body, &env)
	if info.version == 2 && env.Data != nil && env.Data.Metadata != nil && env.Data.Metadata.gone() {
		return p.deletedVersion(ref, r, info, name, env.Data.Metadata)
	}
	msg := fmt.Sprintf("%s: 404 Not Found: no secret %q in KV v%d mount %q", r.path, name, info.version, info.mount)
	if t := vaultText(r.errs); t != "" {
		msg += ": " + t
	}
	if ns := p.namespace(); ns != "" {
		msg += fmt.Sprintf(" (namespace %q)", ns)
	}
	hints := []string{fmt.Sprintf("check the secret name (a path inside mount %q) and vault_name; `vault kv list -mount=%s` lists its secrets", info.mount, info.mount)}
	for _, w := range env.Warnings {
		if strings.Contains(w, "versioned K/V") {
			msg += ": Vault warns: " + w
			hints = []string{fmt.Sprintf("mount %q is KV v2: set kv_version = 2 in [vault.hashicorp], or remove kv_version to detect it", info.mount)}
		}
	}
	if info.explicit && info.version == 2 {
		hints = append(hints, fmt.Sprintf("if mount %q is KV v1, set kv_version = 1 or remove it", info.mount))
	}
	if strings.HasPrefix(name, info.mount+"/") {
		hints = append(hints, fmt.Sprintf("the name is relative to the mount: try %q", strings.TrimPrefix(name, info.mount+"/")))
	}
	if info.version == 2 && strings.HasPrefix(name, "data/") {
		hints = append(hints, fmt.Sprintf("the name excludes the API's data/ segment: try %q", strings.TrimPrefix(name, "data/")))
	}
	return p.newErr(provider.ErrNotFound, ref, msg, cause, strings.Join(hints, "; "))
}

func (p *Provider) deletedVersion(ref provider.Ref, r *reply, info mountInfo, name string, m *kv2Metadata) *provider.Error {
	v := m.Version.String()
	if m.Destroyed {
		return p.newErr(provider.ErrNotFound, ref,
			fmt.Sprintf("%s: the latest version (%s) of %q was destroyed", r.path, v, name), &StatusError{Code: 404},
			fmt.Sprintf("write a new version: `vault kv put -mount=%s %s value=…`", info.mount, name))
	}
	return p.newErr(provider.ErrNotFound, ref,
		fmt.Sprintf("%s: the latest version (%s) of %q was deleted at %s", r.path, v, name, m.DeletionTime), &StatusError{Code: 404},
		fmt.Sprintf("restore it with `vault kv undelete -mount=%s -versions=%s %s`, or write a new version", info.mount, v, name))
}

// denied classifies a 403. Vault answers 403 both for a rejected token and
// for a policy that does not allow the request; "invalid token" in the
// errors (current Vault) or a failed auth/token/lookup-self (checked once
// per provider) means the token. version is the mount's KV version, 0 when
// the 403 came from mount detection.
func (p *Provider) denied(ctx context.Context, ref provider.Ref, r *reply, mount, name string, version int) *provider.Error {
	cause := &StatusError{Code: r.status}
	msg := r.describe()
	rejected := r.mentions("invalid token")
	if !rejected {
		switch p.checkToken(ctx) {
		case tokenRejected:
			rejected = true
		case tokenValid, tokenUnknown:
		}
	}
	if rejected {
		return p.unauthenticated(ref, msg, cause)
	}
	if ctx.Err() != nil {
		return p.transportError(ctx, ref, r.path, ctx.Err())
	}
	in := ""
	if ns := p.namespace(); ns != "" {
		in = fmt.Sprintf(" (policies of namespace %q)", ns)
	}
	var hint string
	switch version {
	case 2:
		hint = fmt.Sprintf("the token's policies%s must allow: path \"%s/data/%s\" { capabilities = [\"read\"] }", in, mount, name)
	case 1:
		hint = fmt.Sprintf("the token's policies%s must allow: path \"%s/%s\" { capabilities = [\"read\"] }", in, mount, name)
	default:
		// The mount lookup: its answer serves every secret of the mount,
		// so nothing here names a secret.
		if ns := p.namespace(); ns != "" {
			msg += fmt.Sprintf(": mount %q does not exist in namespace %q (or the namespace does not exist), or the token may do nothing under it (Vault answers all alike)", mount, ns)
		} else {
			msg += fmt.Sprintf(": mount %q does not exist, or the token may do nothing under it (Vault answers both alike)", mount)
		}
		hint = p.lookupDeniedHint(mount, "*")
	}
	return p.newErr(provider.ErrPermissionDenied, ref, msg, cause, hint)
}

// lookupDeniedHint is the hint for a mount lookup Vault refused, for the
// secret name.
func (p *Provider) lookupDeniedHint(mount, name string) string {
	in := ""
	if ns := p.namespace(); ns != "" {
		in = fmt.Sprintf(" (policies of namespace %q)", ns)
	}
	return fmt.Sprintf("check vault_name / mount; a policy%s such as path \"%s/data/%s\" { capabilities = [\"read\"] } (KV v2; \"%s/%s\" for KV v1) allows the read; setting kv_version skips this mount lookup",
		in, mount, name, mount, name)
}

// unauthenticated reports (and caches) a rejected or missing token.
func (p *Provider) unauthenticated(ref provider.Ref, detail string, cause error) *provider.Error {
	var why string
	hint := hintLogin
	switch {
	case p.auth != nil && p.opts.Token == "":
		why = "Vault rejected the token of the " + p.auth.describe() + " (expired or revoked)"
		hint = "the login worked but its token no longer does: check the role's token_ttl and token_max_ttl"
	case p.token == "":
		why = "no Vault token: --token, VAULT_TOKEN and ~/.vault-token are all unset"
	default:
		why = "Vault rejected the token from " + p.tokenSrc + " (invalid, expired or revoked)"
	}
	if ns := p.namespace(); ns != "" {
		hint += fmt.Sprintf(" (for namespace %q)", ns)
	} else if p.token != "" {
		hint += "; a token issued in a namespace also needs namespace / VAULT_NAMESPACE"
	}
	p.setAuthErr(p.newErr(provider.ErrUnauthenticated, provider.Ref{}, why, cause, hint))
	return p.newErr(provider.ErrUnauthenticated, ref, why+": "+detail, cause, hint)
}

type tokenVerdict int

const (
	tokenUnknown tokenVerdict = iota
	tokenValid
	tokenRejected
)

// checkToken asks auth/token/lookup-self whether Vault accepts the token,
// once per provider: concurrent callers share the request, and a verdict is
// remembered while a failure to get one is not. The answer's body, which
// holds the token, is never read.
func (p *Provider) checkToken(ctx context.Context) tokenVerdict {
	p.mu.Lock()
	f := p.tokCheck
	owner := f == nil
	if owner {
		f = newFlight[tokenVerdict]()
		p.tokCheck = f
	}
	p.mu.Unlock()
	if !owner {
		v, _, _ := f.wait(ctx)
		return v
	}
	v := p.lookupSelf(ctx)
	f.val = v
	if v == tokenUnknown {
		p.mu.Lock()
		p.tokCheck = nil
		p.mu.Unlock()
	}
	close(f.done)
	return v
}

func (p *Provider) lookupSelf(ctx context.Context) tokenVerdict {
	resp, _ := p.client.Logical().ReadRawWithContext(ctx, "auth/token/lookup-self")
	if resp == nil {
		return tokenUnknown
	}
	if resp.Body != nil {
		resp.Body.Close()
	}
	switch s := resp.StatusCode; {
	case s >= 200 && s < 300:
		return tokenValid
	case s == http.StatusForbidden || s == http.StatusUnauthorized:
		return tokenRejected
	default:
		return tokenUnknown
	}
}

// throttledRecently reports whether Vault answered 429 within the last
// request timeout.
func (p *Provider) throttledRecently() bool {
	at := p.throttledAt.Load()
	timeout := p.opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return at != 0 && time.Since(time.Unix(0, at)) <= timeout+time.Second
}
