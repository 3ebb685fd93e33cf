package gcpsm

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"maps"
	"regexp"
	"slices"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/envdrift/envdrift/internal/testserver"
)

// The write side of the service: CreateSecret with labels and annotations,
// AddSecretVersion, GetSecret and UpdateSecret (update_mask, etag
// preconditions answered with FAILED_PRECONDITION), and write denials.

// Limits on labels and annotations, as the service documents them.
const (
	maxLabelValue       = 63
	maxAnnotationsBytes = 16 << 10
	// MaxPayload is the service's limit on a version's payload, 64 KiB.
	MaxPayload = 64 << 10
)

var (
	labelKeyRE      = regexp.MustCompile(`^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$`)
	labelValueRE    = regexp.MustCompile(`^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$`)
	annotationKeyRE = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9._-]{0,61}[a-zA-Z0-9])?$`)
)

// DenyWrite makes writes of the secret name in vault ("" = DefaultProject)
// fail with PERMISSION_DENIED: creating it (secretmanager.secrets.create),
// adding versions (secretmanager.versions.add) and updating its metadata
// (secretmanager.secrets.update), as for a principal that holds only
// roles/secretmanager.secretAccessor. Reads go on.
func (s *Server) DenyWrite(vault, name string) { s.Base.DenyWrite(vault, name) }

// Writes returns how many requests of operations that change secrets the
// server has received.
func (s *Server) Writes() int {
	return s.Count("CreateSecret", "AddSecretVersion", "UpdateSecret", "DeleteSecret",
		"DisableSecretVersion", "EnableSecretVersion", "DestroySecretVersion", "SetIamPolicy")
}

// Annotations returns the annotations of the secret name in vault ("" =
// DefaultProject).
func (s *Server) Annotations(vault, name string) map[string]string {
	if vault == "" {
		vault = s.DefaultVault
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	if st := s.secrets[vault+"\x00"+name]; st != nil && !st.deleted {
		maps.Copy(out, st.annotations)
	}
	return out
}

// Versions returns the payloads of every version of the secret name in
// vault ("" = DefaultProject), oldest first.
func (s *Server) Versions(vault, name string) [][]byte {
	if vault == "" {
		vault = s.DefaultVault
	}
	r := resource{project: vault, secret: name}
	if p, l, ok := cutLocation(vault); ok {
		r.project, r.location = p, l
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, _ := s.lookupLocked(r)
	if st == nil {
		return nil
	}
	out := make([][]byte, len(st.versions))
	for i, v := range st.versions {
		out[i] = bytes.Clone(v.data)
	}
	return out
}

func cutLocation(vault string) (project, location string, ok bool) {
	const sep = "/locations/"
	for i := 0; i+len(sep) <= len(vault); i++ {
		if vault[i:i+len(sep)] == sep {
			return vault[:i], vault[i+len(sep):], true
		}
	}
	return "", "", false
}

func newEtag() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return `"` + hex.EncodeToString(b[:]) + `"`
}

func validateMetadata(labels, annotations map[string]string) error {
	for k, v := range labels {
		if !labelKeyRE.MatchString(k) {
			return status.Errorf(codes.InvalidArgument, "Label key [%s] is invalid: keys must start with a lowercase letter and have at most 63 lowercase letters, digits, '_' and '-'.", k)
		}
		if len(v) > maxLabelValue || !labelValueRE.MatchString(v) {
			return status.Errorf(codes.InvalidArgument, "Label value [%s] of key [%s] is invalid: values have at most 63 lowercase letters, digits, '_' and '-'.", v, k)
		}
	}
	size := 0
	for k, v := range annotations {
		if !annotationKeyRE.MatchString(k) {
			return status.Errorf(codes.InvalidArgument, "Annotation key [%s] is invalid: keys have 1 to 63 characters, begin and end with a letter or digit, and may have '-', '_' and '.' between.", k)
		}
		size += len(k) + len(v)
	}
	if size >= maxAnnotationsBytes {
		return status.Errorf(codes.InvalidArgument, "The total size of annotation keys and values must be less than 16KiB, got %d bytes.", size)
	}
	return nil
}

// secretProto renders a secret's metadata. The caller holds s.mu.
func secretProto(r resource, st *secretState) *secretmanagerpb.Secret {
	return &secretmanagerpb.Secret{
		Name:        r.display(),
		Replication: st.replication,
		CreateTime:  timestamppb.New(st.created),
		Labels:      maps.Clone(st.labels),
		Annotations: maps.Clone(st.annotations),
		Etag:        st.etag,
	}
}

// ensureEtag gives a secret that came from the Base an etag. The caller
// holds s.mu.
func ensureEtag(st *secretState) {
	if st.etag == "" {
		st.etag = newEtag()
	}
}

func (v service) CreateSecret(_ context.Context, req *secretmanagerpb.CreateSecretRequest) (*secretmanagerpb.Secret, error) {
	p, ok := parseParent(req.GetParent())
	if !ok {
		return nil, status.Errorf(codes.InvalidArgument, "The provided Project ID [%s] does not match the expected format [projects/*]", req.GetParent())
	}
	if !idRE.MatchString(req.GetSecretId()) {
		return nil, status.Error(codes.InvalidArgument, "Secret ID must be 1-255 characters of letters, digits, underscores and hyphens.")
	}
	if p.location == "" && req.GetSecret().GetReplication() == nil {
		return nil, status.Error(codes.InvalidArgument, "Secret.replication must be specified.")
	}
	if err := validateMetadata(req.GetSecret().GetLabels(), req.GetSecret().GetAnnotations()); err != nil {
		return nil, err
	}
	r := resource{project: p.project, location: p.location, secret: req.GetSecretId()}
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.WriteDenied(r.vault(), r.secret) {
		return nil, permissionDenied("secretmanager.secrets.create", req.GetParent())
	}
	if st, _ := s.lookupLocked(r); st != nil {
		return nil, status.Errorf(codes.AlreadyExists, "Secret [%s] already exists.", r.display())
	}
	st := &secretState{
		created:     time.Now(),
		replication: req.GetSecret().GetReplication(),
		labels:      maps.Clone(req.GetSecret().GetLabels()),
		annotations: maps.Clone(req.GetSecret().GetAnnotations()),
		etag:        newEtag(),
	}
	s.secrets[r.vault()+"\x00"+r.secret] = st
	return secretProto(r, st), nil
}

func (v service) AddSecretVersion(_ context.Context, req *secretmanagerpb.AddSecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	r, ok := parseName(req.GetParent(), false)
	if !ok {
		return nil, invalidSecretName(req.GetParent())
	}
	data := req.GetPayload().GetData()
	if len(data) > MaxPayload {
		return nil, status.Error(codes.InvalidArgument, "Secret Payload cannot be larger than 64KiB.")
	}
	checksummed := req.GetPayload().DataCrc32C != nil
	if checksummed && req.GetPayload().GetDataCrc32C() != int64(crc32.Checksum(data, castagnoli)) {
		return nil, status.Error(codes.InvalidArgument, "Checksum mismatch: the data_crc32c does not match the payload.")
	}
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	st, b := s.lookupLocked(r)
	if b.Denied || s.WriteDenied(r.vault(), r.secret) {
		return nil, permissionDenied("secretmanager.versions.add", req.GetParent())
	}
	if st == nil {
		return nil, status.Errorf(codes.NotFound, "Secret [%s] not found.", r.display())
	}
	ver := &versionState{data: bytes.Clone(data), state: secretmanagerpb.SecretVersion_ENABLED, created: time.Now()}
	st.versions = append(st.versions, ver)
	s.Base.PutSecret(r.vault(), r.secret, testserver.Secret{Value: bytes.Clone(data), Binary: true, Denied: b.Denied})
	return &secretmanagerpb.SecretVersion{
		Name:                           fmt.Sprintf("%s/versions/%d", r.display(), len(st.versions)),
		CreateTime:                     timestamppb.New(ver.created),
		State:                          ver.state,
		ClientSpecifiedPayloadChecksum: checksummed,
		Etag:                           newEtag(),
	}, nil
}

func (v service) GetSecret(_ context.Context, req *secretmanagerpb.GetSecretRequest) (*secretmanagerpb.Secret, error) {
	r, ok := parseName(req.GetName(), false)
	if !ok {
		return nil, invalidSecretName(req.GetName())
	}
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	st, _ := s.lookupLocked(r)
	if st == nil {
		return nil, status.Errorf(codes.NotFound, "Secret [%s] not found.", r.display())
	}
	ensureEtag(st)
	return secretProto(r, st), nil
}

func (v service) UpdateSecret(_ context.Context, req *secretmanagerpb.UpdateSecretRequest) (*secretmanagerpb.Secret, error) {
	in := req.GetSecret()
	r, ok := parseName(in.GetName(), false)
	if !ok {
		return nil, invalidSecretName(in.GetName())
	}
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		return nil, status.Error(codes.InvalidArgument, "update_mask must be specified.")
	}
	for _, p := range paths {
		if !slices.Contains([]string{"labels", "annotations"}, p) {
			return nil, status.Errorf(codes.InvalidArgument, "Updating the field [%s] is not supported by this local test server.", p)
		}
	}
	if err := validateMetadata(in.GetLabels(), in.GetAnnotations()); err != nil {
		return nil, err
	}
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.WriteDenied(r.vault(), r.secret) {
		return nil, permissionDenied("secretmanager.secrets.update", in.GetName())
	}
	st, _ := s.lookupLocked(r)
	if st == nil {
		return nil, status.Errorf(codes.NotFound, "Secret [%s] not found.", r.display())
	}
	ensureEtag(st)
	if e := in.GetEtag(); e != "" && e != st.etag {
		return nil, status.Errorf(codes.FailedPrecondition, "The etag provided in the request [%s] does not match the current etag of the secret [%s].", e, r.display())
	}
	for _, p := range paths {
		switch p {
		case "labels":
			st.labels = maps.Clone(in.GetLabels())
		case "annotations":
			st.annotations = maps.Clone(in.GetAnnotations())
		}
	}
	st.etag = newEtag()
	return secretProto(r, st), nil
}
