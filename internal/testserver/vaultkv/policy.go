package vaultkv

import (
	"net/http"
	"slices"
	"strings"
)

// The policy model: a token's policies are sets of path rules, and a rule's
// capabilities decide whether a request may go ahead, as Vault's ACLs do.
//
// Matching follows Vault's rules closely enough for envdrift's requests: a
// path is matched against every rule of every policy of the token; rules
// with the same pattern are merged; an exact pattern beats a glob, and of
// two globs the one with the longer literal prefix wins (fewer "+"
// segments on a tie). "*" at the end of a pattern matches any suffix, "+"
// matches one path segment. A "deny" capability refuses everything. The
// "root" policy allows everything.

// Capabilities a [Rule] can grant.
const (
	CapCreate = "create"
	CapRead   = "read"
	CapUpdate = "update"
	CapDelete = "delete"
	CapList   = "list"
	CapSudo   = "sudo"
	CapDeny   = "deny"
)

// Built-in policy names.
const (
	// PolicyRoot allows everything; the root token has it.
	PolicyRoot = "root"
	// PolicyDefault is (the part envdrift touches of) Vault's default
	// policy: a token may look itself up, renew and revoke itself, use
	// its cubbyhole and unwrap response-wrapped answers. It grants nothing
	// in a KV mount.
	PolicyDefault = "default"
	// PolicyAllKV is a test policy granting create, read, update, delete
	// and list on every path: the policy [Server.AddToken] gives.
	PolicyAllKV = "envdrift-test-all"
)

// PermissionDenied is the body of Vault's 403 for a request a token's
// policies do not allow, as Vault renders it (a go-multierror list).
const PermissionDenied = "1 error occurred:\n\t* permission denied\n\n"

// Rule is one path rule of a policy: `path "<Path>" { capabilities = [...] }`.
type Rule struct {
	Path         string
	Capabilities []string
}

// defaultPolicy is the part of Vault's default policy envdrift meets.
var defaultPolicy = []Rule{
	{Path: "auth/token/lookup-self", Capabilities: []string{CapRead}},
	{Path: "auth/token/renew-self", Capabilities: []string{CapUpdate}},
	{Path: "auth/token/revoke-self", Capabilities: []string{CapUpdate}},
	{Path: "sys/capabilities-self", Capabilities: []string{CapUpdate}},
	{Path: "cubbyhole/*", Capabilities: []string{CapCreate, CapRead, CapUpdate, CapDelete, CapList}},
	{Path: "sys/wrapping/wrap", Capabilities: []string{CapUpdate}},
	{Path: "sys/wrapping/lookup", Capabilities: []string{CapUpdate}},
	{Path: "sys/wrapping/unwrap", Capabilities: []string{CapUpdate}},
}

var allKVPolicy = []Rule{{Path: "*", Capabilities: []string{CapCreate, CapRead, CapUpdate, CapDelete, CapList}}}

// SetPolicy defines (or replaces) the policy name with rules. Policies are
// shared by every namespace; their paths are relative to the namespace of
// the request, as a policy written inside a namespace is.
func (s *Server) SetPolicy(name string, rules ...Rule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.policies[name] = slices.Clone(rules)
}

// AddTokenWithPolicies makes token valid with exactly the given policies
// (add [PolicyDefault] for Vault's usual default policy).
func (s *Server) AddTokenWithPolicies(token string, policies ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = tokenEntry{policies: slices.Clone(policies)}
}

// allowed reports whether a token with policies may use capability on path
// (relative to the request's namespace).
func (s *Server) allowed(policies []string, path, capability string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.Contains(policies, PolicyRoot) {
		return true
	}
	caps, ok := s.capabilitiesLocked(policies, path)
	if !ok || slices.Contains(caps, CapDeny) {
		return false
	}
	return slices.Contains(caps, capability)
}

// capabilitiesLocked returns the capabilities of the best matching pattern.
func (s *Server) capabilitiesLocked(policies []string, path string) ([]string, bool) {
	merged := map[string][]string{}
	for _, name := range policies {
		for _, r := range s.policies[name] {
			merged[r.Path] = append(merged[r.Path], r.Capabilities...)
		}
	}
	if caps, ok := merged[path]; ok {
		return caps, true
	}
	best, bestLen, bestPlus := "", -1, 0
	for pattern := range merged {
		if !globMatch(pattern, path) {
			continue
		}
		lit := literalPrefixLen(pattern)
		plus := strings.Count(pattern, "+")
		if lit > bestLen || (lit == bestLen && plus < bestPlus) || (lit == bestLen && plus == bestPlus && pattern < best) {
			best, bestLen, bestPlus = pattern, lit, plus
		}
	}
	if bestLen < 0 {
		return nil, false
	}
	return merged[best], true
}

// globMatch matches Vault's policy path patterns: "+" is one segment, a
// trailing "*" any suffix.
func globMatch(pattern, path string) bool {
	prefix, star := strings.CutSuffix(pattern, "*")
	if !star && !strings.Contains(pattern, "+") {
		return pattern == path
	}
	psegs := strings.Split(prefix, "/")
	for i, seg := range psegs {
		last := i == len(psegs)-1
		if last && star {
			// The final (possibly partial) segment is a prefix of the rest.
			return strings.HasPrefix(path, seg)
		}
		head, rest, found := strings.Cut(path, "/")
		if seg != "+" && seg != head {
			return false
		}
		if last {
			return !found
		}
		if !found {
			return false
		}
		path = rest
	}
	return path == ""
}

func literalPrefixLen(pattern string) int {
	if i := strings.IndexAny(pattern, "+*"); i >= 0 {
		return i
	}
	return len(pattern)
}

// hasMountAccess reports whether some rule of the policies gives a
// capability other than deny under mount (a path "<mount>/…"), which is
// what Vault asks before answering sys/internal/ui/mounts/<path>.
func (s *Server) hasMountAccess(policies []string, mount string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.Contains(policies, PolicyRoot) {
		return true
	}
	prefix := mount + "/"
	for _, name := range policies {
		for _, r := range s.policies[name] {
			if len(r.Capabilities) == 0 || slices.Contains(r.Capabilities, CapDeny) {
				continue
			}
			lit := r.Path[:literalPrefixLen(r.Path)]
			if strings.HasPrefix(r.Path, prefix) || (lit != r.Path && strings.HasPrefix(prefix, lit)) ||
				globMatch(r.Path, prefix) {
				return true
			}
		}
	}
	return false
}

// capabilityFor is the capability a request needs: read for GET, list for
// LIST (or GET ?list=true), delete for DELETE, and for writes create or
// update depending on whether the target exists.
func capabilityFor(r *http.Request, exists func() bool) string {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if r.URL.Query().Get("list") == "true" {
			return CapList
		}
		return CapRead
	case "LIST":
		return CapList
	case http.MethodDelete:
		return CapDelete
	default:
		if exists != nil && exists() {
			return CapUpdate
		}
		return CapCreate
	}
}
