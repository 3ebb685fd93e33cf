package vaultkv

import (
	"net/http"
	"strings"
	"time"
)

// Flavor is the kind of Vault-compatible server the test server answers
// as. It decides what sys/health reports and what the X-Vault-Namespace
// header does.
type Flavor int

// The flavors.
const (
	// VaultEnterprise honours namespaces; sys/health reports
	// "version": "1.21.0+ent" and "enterprise": true. A request for a
	// namespace that does not exist is refused with 404 {"errors":["namespace
	// not found"]} (see [Server.SetFlavor] for what is verified).
	VaultEnterprise Flavor = iota
	// VaultCommunity ignores the X-Vault-Namespace header, as Vault
	// Community Edition (OSS) does: every request is served from the root
	// namespace, whatever it names. sys/health reports "version": "1.21.0"
	// and "enterprise": false.
	VaultCommunity
	// OpenBao honours namespaces (OpenBao 2.3 and later) and answers an
	// unknown one with 404 {"errors":["namespace not found"]}; sys/health
	// reports "version": "2.4.1" and has no "enterprise" field.
	OpenBao
)

// MsgNamespaceNotFound is the answer to a request naming a namespace that
// does not exist (HTTP 404).
const MsgNamespaceNotFound = "namespace not found"

// MsgUnsupportedPath is the answer to a path no handler of a mount serves,
// e.g. sys/namespaces on a server without namespaces (HTTP 404).
const MsgUnsupportedPath = "1 error occurred:\n\t* unsupported path\n\n"

// SetFlavor sets what kind of server this one answers as (default
// [VaultEnterprise]).
//
// What is verified and what is not: OpenBao's 404 "namespace not found" for
// an unknown namespace was observed on OpenBao 2.3; Vault Community's
// ignoring of the header follows from its source (the namespace of every
// request is the root); that Vault Enterprise refuses an unknown namespace
// the way OpenBao does is an assumption, not an observation.
func (s *Server) SetFlavor(f Flavor) { s.flavor.Store(int32(f)) }

func (s *Server) getFlavor() Flavor { return Flavor(s.flavor.Load()) }

// AddNamespace creates namespace (and its parents). [Server.Mount] and
// [Server.EnableAuth] create the namespace they name too.
func (s *Server) AddNamespace(namespace string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addNamespaceLocked(normNS(namespace))
}

func (s *Server) addNamespaceLocked(ns string) {
	for ns != "" {
		s.namespaces[ns] = true
		i := strings.LastIndexByte(ns, '/')
		if i < 0 {
			break
		}
		ns = ns[:i]
	}
}

func (s *Server) namespaceExists(ns string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ns == "" || s.namespaces[ns]
}

// health serves GET sys/health for an active, unsealed node.
func (s *Server) health(req *request) {
	body := map[string]any{
		"initialized":                  true,
		"sealed":                       false,
		"standby":                      false,
		"performance_standby":          false,
		"replication_performance_mode": "disabled",
		"replication_dr_mode":          "disabled",
		"server_time_utc":              time.Now().Unix(),
		"cluster_name":                 "vault-cluster-envdrift",
		"cluster_id":                   "6c4bc5ef-1d8b-6d2b-5d4c-0a8e2f8b8c11",
	}
	switch s.getFlavor() {
	case VaultEnterprise:
		body["version"], body["enterprise"] = "1.21.0+ent", true
		body["echo_duration_ms"], body["clock_skew_ms"], body["replication_primary_canary_age_ms"] = 0, 0, 0
	case VaultCommunity:
		body["version"], body["enterprise"] = "1.21.0", false
		body["echo_duration_ms"], body["clock_skew_ms"], body["replication_primary_canary_age_ms"] = 0, 0, 0
	case OpenBao:
		body["version"] = "2.4.1"
	}
	writeJSON(req.w, http.StatusOK, body)
}

// builtinMounts are the mounts every namespace has besides the KV mounts,
// with their type.
var builtinMounts = map[string]string{"cubbyhole": "cubbyhole", "identity": "identity", "sys": "system"}

func builtinMount(p string) (mount, kind string, ok bool) {
	head, _, _ := strings.Cut(p, "/")
	kind, ok = builtinMounts[head]
	return head, kind, ok
}
