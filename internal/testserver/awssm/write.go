package awssm

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"slices"
	"time"

	"github.com/envdrift/envdrift/internal/testserver"
)

// The write side of the service: CreateSecret and PutSecretValue with
// ClientRequestToken idempotence, versions with the AWSCURRENT and
// AWSPREVIOUS staging labels, tags (CreateSecret Tags, TagResource,
// DescribeSecret), and write denials.

// Limits of the service.
const (
	maxTags        = 50
	maxTagKey      = 128
	maxTagValue    = 256
	minTokenLength = 32
	maxTokenLength = 64
	// MaxSecretSize is the service's limit on a secret value, 64 KiB.
	MaxSecretSize = 64 << 10
)

// Messages of the service's write errors.
const (
	msgVersionExists = "You can't modify an existing version, you can only create a new version."
	msgPendingDelete = "You can't create this secret because a secret with this name is already scheduled for deletion."
)

type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type version struct {
	id      string
	value   []byte
	binary  bool
	created time.Time
}

// secretState is what the server knows of a secret beyond its current
// value (which the embedded Base holds).
type secretState struct {
	versions          []*version // oldest first
	current, previous string     // the versions labelled AWSCURRENT and AWSPREVIOUS
	tags              []tag
	created, changed  time.Time
}

func (st *secretState) byID(id string) *version {
	for _, v := range st.versions {
		if v.id == id {
			return v
		}
	}
	return nil
}

func (st *secretState) add(v *version, makeCurrent bool) {
	st.versions = append(st.versions, v)
	st.changed = v.created
	if makeCurrent {
		if st.current != "" {
			st.previous = st.current
		}
		st.current = v.id
	}
}

func (st *secretState) stages(id string) []string {
	var out []string
	if id == st.current {
		out = append(out, "AWSCURRENT")
	}
	if id == st.previous {
		out = append(out, "AWSPREVIOUS")
	}
	return out
}

// stateLocked returns the state of region/name, bringing it in line with
// the Base: a value stored straight into the Base (Put, as tests do)
// becomes a new current version. The caller holds s.mu.
func (s *Server) stateLocked(region, name string, sec testserver.Secret) *secretState {
	k := secretKey{region, name}
	st := s.states[k]
	if st == nil {
		st = &secretState{created: s.started, changed: s.started}
		s.states[k] = st
	}
	cur := st.byID(st.current)
	if sec.Value != nil && (cur == nil || !bytes.Equal(cur.value, sec.Value) || cur.binary != sec.Binary) {
		st.add(&version{
			id:      versionID(region, name, sec.Value, len(st.versions)),
			value:   bytes.Clone(sec.Value),
			binary:  sec.Binary,
			created: time.Now().UTC(),
		}, true)
	}
	return st
}

// currentVersion returns the version AWSCURRENT labels.
func (s *Server) currentVersion(region, name string, sec testserver.Secret) *version {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stateLocked(region, name, sec)
	return st.byID(st.current)
}

// Versions returns the values of every version of region/name ("" =
// DefaultRegion), oldest first.
func (s *Server) Versions(region, name string) [][]byte {
	k := s.key(region, name)
	sec, ok := s.Get(k.region, k.name)
	if !ok {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stateLocked(k.region, k.name, sec)
	out := make([][]byte, len(st.versions))
	for i, v := range st.versions {
		out[i] = bytes.Clone(v.value)
	}
	return out
}

// Tags returns the tags of region/name ("" = DefaultRegion).
func (s *Server) Tags(region, name string) map[string]string {
	k := s.key(region, name)
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	if st := s.states[k]; st != nil {
		for _, t := range st.tags {
			out[t.Key] = t.Value
		}
	}
	return out
}

// Writes returns how many requests of operations that change secrets
// (CreateSecret, PutSecretValue, TagResource, DeleteSecret and the
// resource policy operations) the server has received.
func (s *Server) Writes() int {
	return s.Count("CreateSecret", "PutSecretValue", "UpdateSecret", "UpdateSecretVersionStage", "TagResource", "UntagResource",
		"DeleteSecret", "RestoreSecret", "PutResourcePolicy", "DeleteResourcePolicy")
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

type writeInput struct {
	Name               string   `json:"Name"`
	SecretID           string   `json:"SecretId"`
	SecretString       *string  `json:"SecretString"`
	SecretBinary       []byte   `json:"SecretBinary"`
	ClientRequestToken *string  `json:"ClientRequestToken"`
	Tags               []tag    `json:"Tags"`
	VersionStages      []string `json:"VersionStages"`
}

func (in writeInput) secret() (testserver.Secret, *apiError) {
	switch {
	case in.SecretString != nil && in.SecretBinary != nil:
		return testserver.Secret{}, clientErr("InvalidParameterException", "You can't specify both a binary secret value and a string secret value in the same secret.")
	case in.SecretBinary != nil:
		if len(in.SecretBinary) > MaxSecretSize {
			return testserver.Secret{}, sizeErr("secretBinary")
		}
		return testserver.Secret{Value: in.SecretBinary, Binary: true}, nil
	case in.SecretString != nil:
		if len(*in.SecretString) > MaxSecretSize {
			return testserver.Secret{}, sizeErr("secretString")
		}
		return testserver.Secret{Value: []byte(*in.SecretString)}, nil
	}
	return testserver.Secret{}, clientErr("InvalidRequestException", "You must provide either SecretString or SecretBinary.")
}

// sizeErr is the validation error for an oversized value. Like the service,
// it does not echo the value.
func sizeErr(field string) *apiError {
	return clientErr("ValidationException", fmt.Sprintf(
		"1 validation error detected: Value at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", field, MaxSecretSize))
}

// token validates ClientRequestToken: "" when absent.
func (in writeInput) token() (string, *apiError) {
	if in.ClientRequestToken == nil {
		return "", nil
	}
	t := *in.ClientRequestToken
	if len(t) < minTokenLength || len(t) > maxTokenLength {
		return "", clientErr("ValidationException", fmt.Sprintf(
			"1 validation error detected: Value '%s' at 'clientRequestToken' failed to satisfy constraint: Member must have length between %d and %d", t, minTokenLength, maxTokenLength))
	}
	return t, nil
}

func validateTags(tags []tag) *apiError {
	if len(tags) > maxTags {
		return clientErr("ValidationException", fmt.Sprintf("1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to %d", maxTags))
	}
	for _, t := range tags {
		if len(t.Key) < 1 || len(t.Key) > maxTagKey {
			return clientErr("ValidationException", fmt.Sprintf("1 validation error detected: Value '%s' at 'tags.member.key' failed to satisfy constraint: Member must have length between 1 and %d", t.Key, maxTagKey))
		}
		if len(t.Value) > maxTagValue {
			return clientErr("ValidationException", fmt.Sprintf("1 validation error detected: Value '%s' at 'tags.member.value' failed to satisfy constraint: Member must have length less than or equal to %d", t.Value, maxTagValue))
		}
		if len(t.Key) >= 4 && t.Key[:4] == "aws:" {
			return clientErr("InvalidParameterException", "Invalid tag key: tag keys starting with 'aws:' are reserved for AWS use.")
		}
	}
	return nil
}

func mergeTags(have, add []tag) []tag {
	out := slices.Clone(have)
	for _, t := range add {
		i := slices.IndexFunc(out, func(h tag) bool { return h.Key == t.Key })
		if i >= 0 {
			out[i] = t
		} else {
			out = append(out, t)
		}
	}
	return out
}

func (s *Server) createSecret(region string, body []byte) (any, *apiError) {
	var in writeInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.Name == "" || len(in.Name) > 512 || len(in.Name) >= 4 && in.Name[:4] == "arn:" {
		return nil, clientErr("ValidationException", "1 validation error detected: Value at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern")
	}
	token, e := in.token()
	if e != nil {
		return nil, e
	}
	if e := validateTags(in.Tags); e != nil {
		return nil, e
	}
	sec, e := in.secret()
	if e != nil {
		return nil, e
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	k := secretKey{region, in.Name}
	if s.WriteDenied(region, in.Name) {
		return nil, accessDenied("CreateSecret", "arn:aws:secretsmanager:"+region+":"+AccountID+":secret:"+in.Name)
	}
	s.mu.Lock()
	pending := s.deleted[k]
	s.mu.Unlock()
	if pending {
		return nil, clientErr("InvalidRequestException", msgPendingDelete)
	}
	if s.exists(region, in.Name) {
		// A retry of a create that succeeded (same token, same value) is
		// answered as the first call was.
		if token != "" {
			cur, _ := s.Get(region, in.Name)
			s.mu.Lock()
			v := s.stateLocked(region, in.Name, cur).byID(token)
			s.mu.Unlock()
			if v != nil && bytes.Equal(v.value, sec.Value) && v.binary == sec.Binary {
				return map[string]string{"ARN": s.ARN(region, in.Name), "Name": in.Name, "VersionId": v.id}, nil
			}
		}
		return nil, clientErr("ResourceExistsException", "The operation failed because the secret "+in.Name+" already exists.")
	}
	if token == "" {
		token = newUUID()
	}
	now := time.Now().UTC()
	s.mu.Lock()
	st := &secretState{created: now, tags: slices.Clone(in.Tags)}
	st.add(&version{id: token, value: bytes.Clone(sec.Value), binary: sec.Binary, created: now}, true)
	s.states[k] = st
	s.mu.Unlock()
	s.PutSecret(region, in.Name, sec)
	return map[string]string{"ARN": s.ARN(region, in.Name), "Name": in.Name, "VersionId": token}, nil
}

func (s *Server) putSecretValue(region string, body []byte) (any, *apiError) {
	var in writeInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	token, e := in.token()
	if e != nil {
		return nil, e
	}
	sec, e := in.secret()
	if e != nil {
		return nil, e
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	name, ok := s.resolve(region, in.SecretID)
	if !ok {
		return nil, notFound()
	}
	if s.WriteDenied(region, name) {
		return nil, accessDenied("PutSecretValue", s.ARN(region, name))
	}
	old, _ := s.Get(region, name)
	makeCurrent := in.VersionStages == nil || slices.Contains(in.VersionStages, "AWSCURRENT")
	s.mu.Lock()
	st := s.stateLocked(region, name, old)
	if token != "" {
		if v := st.byID(token); v != nil {
			s.mu.Unlock()
			if !bytes.Equal(v.value, sec.Value) || v.binary != sec.Binary {
				return nil, clientErr("ResourceExistsException", msgVersionExists)
			}
			// The same token and data: the retry of a call that succeeded.
			s.mu.Lock()
			stages := st.stages(v.id)
			s.mu.Unlock()
			return map[string]any{"ARN": s.ARN(region, name), "Name": name, "VersionId": v.id, "VersionStages": stages}, nil
		}
	} else {
		token = newUUID()
	}
	st.add(&version{id: token, value: bytes.Clone(sec.Value), binary: sec.Binary, created: time.Now().UTC()}, makeCurrent)
	stages := st.stages(token)
	s.mu.Unlock()
	if makeCurrent {
		sec.Denied = old.Denied
		s.Base.PutSecret(region, name, sec)
	}
	if stages == nil {
		stages = slices.Clone(in.VersionStages)
	}
	return map[string]any{"ARN": s.ARN(region, name), "Name": name, "VersionId": token, "VersionStages": stages}, nil
}

func (s *Server) describeSecret(region string, body []byte) (any, *apiError) {
	var in struct {
		SecretID string `json:"SecretId"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	name, ok := s.resolve(region, in.SecretID)
	if !ok {
		return nil, notFound()
	}
	sec, _ := s.Get(region, name)
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stateLocked(region, name, sec)
	stages := map[string][]string{}
	for _, v := range st.versions {
		if l := st.stages(v.id); l != nil {
			stages[v.id] = l
		}
	}
	out := map[string]any{
		"ARN":                s.ARN(region, name),
		"Name":               name,
		"CreatedDate":        float64(st.created.UnixMilli()) / 1000,
		"LastChangedDate":    float64(st.changed.UnixMilli()) / 1000,
		"VersionIdsToStages": stages,
	}
	if len(st.tags) > 0 {
		out["Tags"] = slices.Clone(st.tags)
	}
	return out, nil
}

func (s *Server) tagResource(region string, body []byte) (any, *apiError) {
	var in struct {
		SecretID string `json:"SecretId"`
		Tags     []tag  `json:"Tags"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.Tags == nil {
		return nil, clientErr("ValidationException", "1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null")
	}
	if e := validateTags(in.Tags); e != nil {
		return nil, e
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	name, ok := s.resolve(region, in.SecretID)
	if !ok {
		return nil, notFound()
	}
	if s.WriteDenied(region, name) {
		return nil, accessDenied("TagResource", s.ARN(region, name))
	}
	sec, _ := s.Get(region, name)
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stateLocked(region, name, sec)
	merged := mergeTags(st.tags, in.Tags)
	if len(merged) > maxTags {
		return nil, clientErr("ValidationException", fmt.Sprintf("1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to %d", maxTags))
	}
	st.tags = merged
	return map[string]any{}, nil
}

func (s *Server) listSecretVersionIDs(region string, body []byte) (any, *apiError) {
	var in struct {
		SecretID          string `json:"SecretId"`
		IncludeDeprecated bool   `json:"IncludeDeprecated"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	name, ok := s.resolve(region, in.SecretID)
	if !ok {
		return nil, notFound()
	}
	sec, _ := s.Get(region, name)
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stateLocked(region, name, sec)
	versions := []map[string]any{}
	for _, v := range st.versions {
		stages := st.stages(v.id)
		if stages == nil && !in.IncludeDeprecated {
			continue // a version without a staging label is deprecated
		}
		e := map[string]any{"VersionId": v.id, "CreatedDate": float64(v.created.UnixMilli()) / 1000}
		if stages != nil {
			e["VersionStages"] = stages
		}
		versions = append(versions, e)
	}
	return map[string]any{"ARN": s.ARN(region, name), "Name": name, "Versions": versions}, nil
}

// readVersion answers GetSecretValue for a version other than the current
// one, by VersionId or by staging label; cur is the current version's
// answer.
func (s *Server) readVersion(region string, cur secretValue, id, stage string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.states[secretKey{region, cur.Name}]
	if st == nil {
		st = &secretState{}
	}
	if stage != "" {
		want := ""
		if stage == "AWSPREVIOUS" {
			want = st.previous
		}
		if want == "" || id != "" && id != want {
			return nil, clientErr("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: "+stage)
		}
		id = want
	}
	v := st.byID(id)
	if v == nil {
		return nil, clientErr("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: "+id)
	}
	out := cur
	out.VersionID, out.VersionStages = v.id, st.stages(v.id)
	out.SecretString, out.SecretBinary = nil, nil
	if v.binary {
		out.SecretBinary = bytes.Clone(v.value)
	} else {
		str := string(v.value)
		out.SecretString = &str
	}
	return out, nil
}
