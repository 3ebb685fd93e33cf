package hashicorp

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/envdrift/envdrift/provider"
)

// Namespaces: a namespace that does not exist, or a namespace sent to a
// server that ignores namespaces, must not end in "missing secret" or,
// worse, in the root namespace's secret being installed.
//
// Vault Community Edition (and OpenBao before 2.3) ignores X-Vault-Namespace
// and answers every request from its root namespace. Before the first
// request that carries a namespace, the provider asks sys/health (without
// the namespace; the endpoint needs no token) what the server is: a Vault
// whose health says "enterprise": false, or carries no "+ent"/"+prem" build
// suffix and no enterprise field, or an OpenBao before 2.3, cannot honour
// the namespace, and every fetch fails with an error that says so. A
// health check that gets no usable answer decides nothing.
//
// A server that honours namespaces answers a namespace that does not exist
// with 404 "namespace not found" (OpenBao; see the vaultkv test server for
// what is verified); that answer, on any request, is reported as the
// namespace missing, never as a missing secret.

// healthInfo is what sys/health tells about the server.
type healthInfo struct {
	Version    string `json:"version"`
	Enterprise *bool  `json:"enterprise"`
}

// ignoresNamespaces reports whether the server cannot honour a namespace,
// and a name for the server for messages.
func (h healthInfo) ignoresNamespaces() (bool, string) {
	v := h.Version
	ent := strings.Contains(v, "+ent") || strings.Contains(v, "+prem")
	switch {
	case h.Enterprise != nil && *h.Enterprise, ent:
		return false, "Vault " + v + " (Enterprise)"
	case h.Enterprise != nil:
		return true, "Vault " + v + " (Community Edition)"
	}
	major, minor := versionOf(v)
	switch {
	case major >= 2: // OpenBao: namespaces since 2.3
		return major == 2 && minor < 3, "OpenBao " + v
	case major >= 1 || (major == 0 && minor > 0):
		return true, "Vault " + v + " (Community Edition)"
	}
	return false, "" // no version: decide nothing
}

func versionOf(v string) (major, minor int) {
	v = strings.TrimPrefix(v, "v")
	if i := strings.IndexAny(v, "+-"); i >= 0 {
		v = v[:i]
	}
	parts := strings.Split(v, ".")
	if len(parts) < 2 {
		return -1, -1
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return -1, -1
	}
	return major, minor
}

// checkNamespace runs the health check once per provider when a namespace
// is set. A verdict is kept; a check cut short by its owner's context is
// forgotten.
func (p *Provider) checkNamespace(ctx context.Context, ref provider.Ref) error {
	if p.namespace() == "" {
		return nil
	}
	if perr := p.settleOnce(ctx, ref, &p.nsFlight, "sys/health", p.askHealth); perr != nil {
		return perr
	}
	return nil
}

// askHealth asks sys/health (without the namespace) whether the server can
// honour one. Only a definite "no" is an error.
func (p *Provider) askHealth(ctx context.Context) *provider.Error {
	c := p.client.WithNamespace("")
	resp, err := c.Logical().ReadRawWithDataWithContext(ctx, "sys/health", map[string][]string{
		// 200 whatever the node's state: only the body matters here.
		"standbyok": {"true"}, "perfstandbyok": {"true"}, "sealedcode": {"200"},
		"uninitcode": {"200"}, "drsecondarycode": {"200"}, "performancestandbycode": {"200"},
	})
	if resp != nil && resp.Body != nil {
		defer resp.Body.Close()
	}
	if err != nil || resp == nil || resp.StatusCode != http.StatusOK {
		return nil
	}
	var h healthInfo
	if err := resp.DecodeJSON(&h); err != nil {
		return nil
	}
	ignores, server := h.ignoresNamespaces()
	if !ignores {
		return nil
	}
	return p.newErr(provider.ErrInvalid, provider.Ref{},
		fmt.Sprintf("namespace %q is set (%s), but %s at %s does not support namespaces: it would ignore the namespace and answer from its root namespace",
			p.namespace(), p.namespaceSource(), server, p.address()), nil,
		fmt.Sprintf("remove namespace from [vault.hashicorp] (and unset VAULT_NAMESPACE) to read this server's secrets, or point url / VAULT_ADDR at the Vault Enterprise or HCP Vault server that has namespace %q", p.namespace()))
}

// namespaceSource names where the namespace came from.
func (p *Provider) namespaceSource() string {
	if strings.TrimSpace(p.settings.Namespace) != "" {
		return "namespace in [vault.hashicorp]"
	}
	return "VAULT_NAMESPACE"
}

// namespaceAnswer recognises the answer to a request for a namespace that
// does not exist, and reports it (and keeps it: every later fetch fails
// at once with it).
func (p *Provider) namespaceAnswer(ref provider.Ref, r *reply) *provider.Error {
	ns := p.namespace()
	if ns == "" || r.status != http.StatusNotFound || !r.mentions("namespace not found") {
		return nil
	}
	e := p.newErr(provider.ErrInvalid, provider.Ref{},
		fmt.Sprintf("namespace %q (%s) does not exist on the Vault server at %s: Vault answered %d: %s", ns, p.namespaceSource(), p.address(), r.status, vaultText(r.errs)),
		&StatusError{Code: r.status},
		"check namespace in [vault.hashicorp] / VAULT_NAMESPACE (a child namespace is written parent/child, e.g. admin/team-a); `vault namespace list` shows the namespaces your token can see")
	p.setAuthErr(e)
	return withRef(e, ref)
}
