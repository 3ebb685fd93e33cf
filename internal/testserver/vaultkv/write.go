package vaultkv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// The write side of KV v2 as Vault's kv plugin answers it: check-and-set
// on data writes, and the metadata endpoint with custom_metadata.

// Limits Vault puts on custom_metadata.
const (
	maxCustomMetadataKeys        = 64
	maxCustomMetadataKeyLength   = 128
	maxCustomMetadataValueLength = 512
)

// Messages of a failed check-and-set, as Vault words them (HTTP 400).
const (
	MsgCASMismatch = "check-and-set parameter did not match the current version"
	msgCASParse    = "error parsing check-and-set parameter"
)

// DenyWrite makes writes of the secret (data, and for KV v2 its metadata)
// fail with Vault's policy denial (403), as a policy that grants read but
// not create or update on the path does. Reads are unaffected.
func (s *Server) DenyWrite(namespace, mount, path string) {
	s.Base.DenyWrite(VaultKey(namespace, mount), strings.Trim(path, "/"))
}

// refuseWrite answers a write of a path whose writes are denied with
// Vault's policy denial, and reports whether it did.
func (s *Server) refuseWrite(w http.ResponseWriter, vk, p string) bool {
	if !s.WriteDenied(vk, p) {
		return false
	}
	writeErrors(w, http.StatusForbidden, "1 error occurred:\n\t* permission denied\n\n")
	return true
}

// Writes returns how many write requests (KV v1 and v2 writes, metadata
// writes, deletes and destroys) the server has received.
func (s *Server) Writes() int {
	return s.Count(OpKVv1Write, OpKVv1Delete, OpKVv2Write, OpKVv2Delete, OpKVv2Destroy, OpKVv2MetadataWrite)
}

// Versions returns the fields of every version of a KV v2 secret, oldest
// first, as JSON objects.
func (s *Server) Versions(namespace, mount, path string) []json.RawMessage {
	vk, p := VaultKey(namespace, mount), strings.Trim(path, "/")
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.meta[secretKey{vk, p}]
	if m == nil {
		if sec, ok := s.Get(vk, p); ok && len(sec.Value) > 0 {
			return []json.RawMessage{fields(sec.Value)}
		}
		return nil
	}
	out := make([]json.RawMessage, len(m.data))
	for i, d := range m.data {
		out[i] = fields(d)
	}
	return out
}

// CustomMetadata returns a KV v2 secret's custom_metadata (nil when none).
func (s *Server) CustomMetadata(namespace, mount, path string) map[string]string {
	return s.customMetadata(VaultKey(namespace, mount), strings.Trim(path, "/"))
}

func (s *Server) customMetadata(vk, p string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.meta[secretKey{vk, p}]; m != nil {
		return maps.Clone(m.custom)
	}
	return nil
}

// currentVersion is the version a check-and-set compares with: 0 for a
// secret with no version.
func (s *Server) currentVersion(vk, p string) int {
	s.mu.Lock()
	m := s.meta[secretKey{vk, p}]
	v := 0
	if m != nil {
		v = m.version
	}
	s.mu.Unlock()
	if m == nil {
		if sec, ok := s.Get(vk, p); ok && len(sec.Value) > 0 {
			return 1 // stored through Base.Put, served as version 1
		}
	}
	return v
}

// checkAndSet validates a write's options.cas against the secret's
// current version. It returns Vault's message when the write must be
// refused, "" when it may go ahead. The caller holds s.writeMu.
func (s *Server) checkAndSet(vk, p string, raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return ""
	}
	var cas int
	if err := json.Unmarshal(raw, &cas); err != nil {
		var str string
		if json.Unmarshal(raw, &str) != nil {
			return msgCASParse
		}
		n, err := strconv.Atoi(str)
		if err != nil {
			return msgCASParse
		}
		cas = n
	}
	if cas != s.currentVersion(vk, p) {
		return MsgCASMismatch
	}
	return ""
}

func (s *Server) kv2MetadataRead(w http.ResponseWriter, vk, p string) {
	s.mu.Lock()
	var m versionMeta
	mm := s.meta[secretKey{vk, p}]
	if mm != nil {
		m = *mm
		m.custom = maps.Clone(mm.custom)
	}
	s.mu.Unlock()
	sec, ok := s.Get(vk, p)
	if mm == nil && (!ok || len(sec.Value) == 0) {
		writeErrors(w, http.StatusNotFound)
		return
	}
	if sec.Denied {
		writeErrors(w, http.StatusForbidden, "1 error occurred:\n\t* permission denied\n\n")
		return
	}
	if mm == nil {
		m = versionMeta{version: 1, created: time.Now().UTC(), data: [][]byte{sec.Value}}
	}
	created := m.created.Format(time.RFC3339Nano)
	versions := map[string]any{}
	for i := range m.data {
		deletion, destroyed := "", false
		if i+1 == m.version {
			if !m.deleted.IsZero() {
				deletion = m.deleted.Format(time.RFC3339Nano)
			}
			destroyed = m.destroyed
		}
		versions[strconv.Itoa(i+1)] = map[string]any{"created_time": created, "deletion_time": deletion, "destroyed": destroyed}
	}
	oldest := 0
	if len(m.data) > 0 {
		oldest = 1
	}
	writeJSON(w, http.StatusOK, envelope(map[string]any{
		"cas_required":         false,
		"created_time":         created,
		"current_version":      m.version,
		"custom_metadata":      m.custom,
		"delete_version_after": "0s",
		"max_versions":         0,
		"oldest_version":       oldest,
		"updated_time":         created,
		"versions":             versions,
	}, nil))
}

func (s *Server) kv2MetadataWrite(w http.ResponseWriter, r *http.Request, vk, p string) {
	if s.refuseWrite(w, vk, p) {
		return
	}
	raw, ok := readObject(w, r)
	if !ok {
		return
	}
	var body struct {
		CustomMetadata map[string]any `json:"custom_metadata"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		writeErrors(w, http.StatusBadRequest, "custom_metadata validation failed: "+err.Error())
		return
	}
	if body.CustomMetadata == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	custom := make(map[string]string, len(body.CustomMetadata))
	for k, v := range body.CustomMetadata {
		switch v := v.(type) {
		case string:
			custom[k] = v
		case float64, bool:
			custom[k] = fmt.Sprint(v)
		default:
			writeErrors(w, http.StatusBadRequest, fmt.Sprintf("custom_metadata validation failed: '' expected type 'string', got unconvertible type '%T'", v))
			return
		}
	}
	if msg := validateCustomMetadata(custom); msg != "" {
		writeErrors(w, http.StatusBadRequest, msg)
		return
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	sec, live := s.Get(vk, p)
	s.mu.Lock()
	defer s.mu.Unlock()
	k := secretKey{vk, p}
	m := s.meta[k]
	if m == nil {
		m = &versionMeta{versionless: true, created: time.Now().UTC()}
		if live && len(sec.Value) > 0 {
			m = &versionMeta{version: 1, created: time.Now().UTC(), data: [][]byte{sec.Value}}
		}
		s.meta[k] = m
	}
	m.custom = custom
	w.WriteHeader(http.StatusNoContent)
}

// validateCustomMetadata applies Vault's limits and returns its message,
// "" when the map is acceptable.
func validateCustomMetadata(m map[string]string) string {
	const prefix = "custom_metadata validation failed"
	if len(m) > maxCustomMetadataKeys {
		return fmt.Sprintf("1 error occurred:\n\t* %s: payload must contain at most %d keys, provided %d\n\n", prefix, maxCustomMetadataKeys, len(m))
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []string
	for _, k := range keys {
		v := m[k]
		if n := len(k); n == 0 || n > maxCustomMetadataKeyLength {
			errs = append(errs, fmt.Sprintf("%s: length of key %q is %d but must be 0 < len(key) <= %d", prefix, k, n, maxCustomMetadataKeyLength))
		}
		if n := len(v); n == 0 || n > maxCustomMetadataValueLength {
			errs = append(errs, fmt.Sprintf("%s: length of value for key %q is %d but must be 0 < len(value) <= %d", prefix, k, n, maxCustomMetadataValueLength))
		}
		if !printable(k) {
			errs = append(errs, fmt.Sprintf("%s: key %q (%s) contains unprintable characters", prefix, k, k))
		}
		if !printable(v) {
			errs = append(errs, fmt.Sprintf("%s: value for key %q contains unprintable characters", prefix, k))
		}
	}
	if len(errs) == 0 {
		return ""
	}
	return fmt.Sprintf("%d error%s occurred:\n\t* %s\n\n", len(errs), map[bool]string{true: "", false: "s"}[len(errs) == 1], strings.Join(errs, "\n\t* "))
}

func printable(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0
}
