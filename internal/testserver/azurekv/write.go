package azurekv

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"time"
)

// Secrets and their versions: GET (latest or a given version) and PUT
// /secrets/{name} with tags and contentType, as Key Vault's Set Secret takes
// them; every PUT makes a new version, and the earlier ones stay. A secret
// can be write-protected (DenyWrite: 403 on PUT only) or soft-deleted
// (SoftDelete: GET is 404, PUT is 409 Conflict with the inner code
// ObjectIsDeletedButRecoverable, as in a vault with soft delete).

// Limits on tags: Key Vault allows 15 tags per secret, names of up to 512
// characters and values of up to 256.
const (
	maxTags        = 15
	maxTagName     = 512
	maxTagValue    = 256
	deletedMessage = "Secret %s is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged."
)

// SetSecret stores value as a new version of vault/name ("" is the default
// vault) and returns the version id. It is what a PUT /secrets/{name}
// without tags does.
func (s *Server) SetSecret(vault, name string, value []byte) string {
	if vault == "" {
		vault = DefaultVault
	}
	return s.setVersion(vault, name, value, nil, "").id
}

// SetSecretWithTags stores value as a new version of vault/name carrying
// tags and a content type, as a PUT /secrets/{name} with them does, and
// returns the version id.
func (s *Server) SetSecretWithTags(vault, name string, value []byte, tags map[string]string, contentType string) string {
	if vault == "" {
		vault = DefaultVault
	}
	return s.setVersion(vault, name, value, tags, contentType).id
}

func (s *Server) setVersion(vault, name string, value []byte, tags map[string]string, contentType string) version {
	v := version{id: newID(16), value: append([]byte(nil), value...), created: time.Now(), tags: maps.Clone(tags), contentType: contentType}
	s.mu.Lock()
	k := secretKey{vault, name}
	s.history[k] = append(s.history[k], v)
	delete(s.softDeleted, k)
	s.mu.Unlock()
	prev, _ := s.Get(vault, name)
	s.Put(vault, name, value)
	if prev.Denied {
		s.Deny(vault, name)
	}
	return v
}

// Versions returns the values of every version of vault/name ("" is the
// default vault), oldest first.
func (s *Server) Versions(vault, name string) [][]byte {
	if vault == "" {
		vault = DefaultVault
	}
	sec, ok := s.Get(vault, name)
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [][]byte
	for _, v := range s.history[secretKey{vault, name}] {
		out = append(out, append([]byte(nil), v.value...))
	}
	if ok && sec.Value != nil && (len(out) == 0 || string(out[len(out)-1]) != string(sec.Value)) {
		out = append(out, append([]byte(nil), sec.Value...)) // stored through Base.Put
	}
	return out
}

// Tags returns the tags of the latest version of vault/name.
func (s *Server) Tags(vault, name string) map[string]string {
	if vault == "" {
		vault = DefaultVault
	}
	sec, _ := s.Get(vault, name)
	v := s.latestVersion(vault, name, sec.Value)
	if v.tags == nil {
		return map[string]string{}
	}
	return v.tags
}

// SoftDelete deletes vault/name as a vault with soft delete does: reads are
// 404 and a PUT is 409 Conflict (ObjectIsDeletedButRecoverable) until the
// secret is recovered or purged.
func (s *Server) SoftDelete(vault, name string) {
	if vault == "" {
		vault = DefaultVault
	}
	s.mu.Lock()
	s.softDeleted[secretKey{vault, name}] = true
	s.mu.Unlock()
	s.Delete(vault, name)
}

// Writes returns how many PUT /secrets/{name} requests the vaults received.
func (s *Server) Writes() int { return s.Count("SetSecret") }

// latestVersion returns the version holding value: the newest one set, or
// a stable one made up for a value stored through Base.Put.
func (s *Server) latestVersion(vault, name string, value []byte) version {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.history[secretKey{vault, name}]
	if n := len(h); n > 0 && string(h[n-1].value) == string(value) {
		v := h[n-1]
		v.tags = maps.Clone(v.tags)
		return v
	}
	sum := sha256.Sum256(value)
	return version{id: hex.EncodeToString(sum[:16]), value: value, created: time.Unix(0, 0)}
}

func (s *Server) findVersion(vault, name, id string) (version, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.history[secretKey{vault, name}] {
		if strings.EqualFold(v.id, id) {
			return v, true
		}
	}
	return version{}, false
}

func (s *Server) getSecret(w http.ResponseWriter, vault, name, ver, base string) {
	sec, ok := s.Get(vault, name)
	if ok && sec.Denied {
		forbidden(w, vault, name, "getSecret")
		return
	}
	if !ok {
		notFound(w, name)
		return
	}
	v := s.latestVersion(vault, name, sec.Value)
	if ver != "" && !strings.EqualFold(ver, v.id) {
		old, ok := s.findVersion(vault, name, ver)
		if !ok {
			notFound(w, name+"/"+ver)
			return
		}
		v = old
	}
	writeBundle(w, http.StatusOK, base, name, v)
}

func (s *Server) setSecret(w http.ResponseWriter, r *http.Request, vault, name, base string) {
	k := secretKey{vault, name}
	denied := s.WriteDenied(vault, name)
	s.mu.Lock()
	deleted := s.softDeleted[k]
	s.mu.Unlock()
	if sec, ok := s.Get(vault, name); denied || ok && sec.Denied {
		forbidden(w, vault, name, "setSecret")
		return
	}
	if deleted {
		kvError(w, http.StatusConflict, "Conflict", "ObjectIsDeletedButRecoverable", fmt.Sprintf(deletedMessage, name))
		return
	}
	var body struct {
		Value       *string            `json:"value"`
		Tags        map[string]*string `json:"tags"`
		ContentType string             `json:"contentType"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4*MaxValueSize)).Decode(&body); err != nil {
		kvError(w, http.StatusBadRequest, "BadParameter", "", "The request body is not valid JSON.")
		return
	}
	if body.Value == nil {
		kvError(w, http.StatusBadRequest, "BadParameter", "", "Property 'value' is required.")
		return
	}
	if len(*body.Value) > MaxValueSize {
		kvError(w, http.StatusBadRequest, "BadParameter", "", fmt.Sprintf("Secret value is too large. The maximum size is %d bytes.", MaxValueSize))
		return
	}
	if len(body.Tags) > maxTags {
		kvError(w, http.StatusBadRequest, "BadParameter", "", fmt.Sprintf("The number of tags exceeds the maximum of %d.", maxTags))
		return
	}
	tags := map[string]string{}
	for k, v := range body.Tags {
		val := ""
		if v != nil {
			val = *v
		}
		if len(k) > maxTagName || len(val) > maxTagValue {
			kvError(w, http.StatusBadRequest, "BadParameter", "", fmt.Sprintf("Tag %q is too long: tag names may have %d characters and values %d.", k, maxTagName, maxTagValue))
			return
		}
		tags[k] = val
	}
	v := s.setVersion(vault, name, []byte(*body.Value), tags, body.ContentType)
	writeBundle(w, http.StatusOK, base, name, v)
}

func writeBundle(w http.ResponseWriter, status int, base, name string, v version) {
	kvHeaders(w)
	tags := v.tags
	if tags == nil {
		tags = map[string]string{}
	}
	bundle := map[string]any{
		"value": string(v.value),
		"id":    base + "/secrets/" + name + "/" + v.id,
		"attributes": map[string]any{
			"enabled":         true,
			"created":         v.created.Unix(),
			"updated":         v.created.Unix(),
			"recoveryLevel":   "Recoverable+Purgeable",
			"recoverableDays": 90,
		},
		"tags": tags,
	}
	if v.contentType != "" {
		bundle["contentType"] = v.contentType
	}
	writeJSON(w, status, bundle)
}
