package gcpsm

import (
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"regexp"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/envdrift/envdrift/internal/testserver"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// projectNumber returns the fake project number the server reports for a
// project ID, as Secret Manager reports resource names with project numbers.
func projectNumber(project string) string {
	if _, err := strconv.ParseUint(project, 10, 64); err == nil {
		return project
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(project))
	return strconv.FormatUint(100000000000+h.Sum64()%900000000000, 10)
}

// resource is a parsed Secret Manager resource name.
type resource struct {
	project, location, secret, version string
}

// vault is the testserver.Base vault a secret lives in: the project, or
// "PROJECT/locations/LOCATION" for a regional secret.
func (r resource) vault() string {
	if r.location != "" {
		return r.project + "/locations/" + r.location
	}
	return r.project
}

// display is the secret's name as the service prints it, with the project
// number.
func (r resource) display() string {
	s := "projects/" + projectNumber(r.project)
	if r.location != "" {
		s += "/locations/" + r.location
	}
	return s + "/secrets/" + r.secret
}

var (
	idRE      = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
	projectRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.:_-]*$`)
)

// parseName parses "projects/P[/locations/L]/secrets/S" followed by
// "/versions/V" when withVersion.
func parseName(name string, withVersion bool) (resource, bool) {
	var r resource
	parts := strings.Split(name, "/")
	if len(parts) < 2 || parts[0] != "projects" || !projectRE.MatchString(parts[1]) {
		return r, false
	}
	r.project, parts = parts[1], parts[2:]
	if len(parts) >= 2 && parts[0] == "locations" {
		if !idRE.MatchString(parts[1]) {
			return r, false
		}
		r.location, parts = parts[1], parts[2:]
	}
	if len(parts) < 2 || parts[0] != "secrets" || !idRE.MatchString(parts[1]) {
		return r, false
	}
	r.secret, parts = parts[1], parts[2:]
	if withVersion {
		if len(parts) != 2 || parts[0] != "versions" || !idRE.MatchString(parts[1]) {
			return r, false
		}
		r.version = parts[1]
		return r, true
	}
	return r, len(parts) == 0
}

func parseParent(parent string) (resource, bool) {
	var r resource
	parts := strings.Split(parent, "/")
	switch {
	case len(parts) == 2 && parts[0] == "projects" && projectRE.MatchString(parts[1]):
		r.project = parts[1]
	case len(parts) == 4 && parts[0] == "projects" && projectRE.MatchString(parts[1]) && parts[2] == "locations" && idRE.MatchString(parts[3]):
		r.project, r.location = parts[1], parts[3]
	default:
		return r, false
	}
	return r, true
}

type versionState struct {
	data    []byte
	state   secretmanagerpb.SecretVersion_State
	created time.Time
}

type secretState struct {
	created  time.Time
	versions []*versionState
	deleted  bool
	tomb     []byte // the Base value when the secret was deleted
	hasTomb  bool

	// Metadata (write.go).
	replication *secretmanagerpb.Replication
	labels      map[string]string
	annotations map[string]string
	etag        string
}

// lookupLocked returns the state of the secret r names, or nil when it does
// not exist. Values stored straight into the Base (Base.Put, as generic tests
// do) become new versions here, so "latest" always serves the Base's value.
// The caller holds s.mu.
func (s *Server) lookupLocked(r resource) (*secretState, testserver.Secret) {
	k := r.vault() + "\x00" + r.secret
	st := s.secrets[k]
	b, ok := s.Base.Get(r.vault(), r.secret)
	if st == nil {
		if !ok {
			return nil, b
		}
		st = &secretState{created: time.Now()}
		s.secrets[k] = st
	}
	if st.deleted {
		if !ok || (st.hasTomb && bytes.Equal(st.tomb, b.Value)) {
			return nil, b
		}
		*st = secretState{created: time.Now()}
	}
	if ok && (len(st.versions) == 0 || !bytes.Equal(st.versions[len(st.versions)-1].data, b.Value)) {
		st.versions = append(st.versions, &versionState{data: bytes.Clone(b.Value), state: secretmanagerpb.SecretVersion_ENABLED, created: time.Now()})
	}
	return st, b
}

// service implements secretmanagerpb.SecretManagerServiceServer over the
// Server's store.
type service struct {
	secretmanagerpb.UnimplementedSecretManagerServiceServer
	s *Server
}

func invalidName(name, format string) error {
	return status.Errorf(codes.InvalidArgument, "The provided Secret Version ID [%s] does not match the expected format [%s]", name, format)
}

// invalidSecretName is the answer to a secret (not version) name that does
// not parse.
func invalidSecretName(name string) error {
	return status.Errorf(codes.InvalidArgument, "The provided Secret ID [%s] does not match the expected format [projects/*/secrets/*]", name)
}

func permissionDenied(permission, resourceName string) error {
	st := status.New(codes.PermissionDenied, fmt.Sprintf("Permission '%s' denied for resource '%s' (or it may not exist).", permission, resourceName))
	if d, err := st.WithDetails(&errdetails.ErrorInfo{
		Reason:   "IAM_PERMISSION_DENIED",
		Domain:   "iam.googleapis.com",
		Metadata: map[string]string{"permission": permission, "resource": resourceName},
	}); err == nil {
		st = d
	}
	return st.Err()
}

func (v service) AccessSecretVersion(_ context.Context, req *secretmanagerpb.AccessSecretVersionRequest) (*secretmanagerpb.AccessSecretVersionResponse, error) {
	r, ok := parseName(req.GetName(), true)
	if !ok {
		return nil, invalidName(req.GetName(), "projects/*/secrets/*/versions/*")
	}
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	st, b := s.lookupLocked(r)
	if b.Denied {
		return nil, permissionDenied("secretmanager.versions.access", req.GetName())
	}
	if st == nil || len(st.versions) == 0 {
		return nil, status.Errorf(codes.NotFound, "Secret [%s] not found or has no versions.", r.display())
	}
	n := len(st.versions)
	if r.version != "latest" {
		i, err := strconv.Atoi(r.version)
		if err != nil || i < 1 || i > len(st.versions) {
			return nil, status.Errorf(codes.NotFound, "Secret Version [%s/versions/%s] not found.", r.display(), r.version)
		}
		n = i
	}
	ver := st.versions[n-1]
	full := fmt.Sprintf("%s/versions/%d", r.display(), n)
	if ver.state != secretmanagerpb.SecretVersion_ENABLED {
		return nil, status.Errorf(codes.FailedPrecondition, "Secret Version [%s] is in %s state.", full, ver.state)
	}
	crc := int64(crc32.Checksum(ver.data, castagnoli))
	if s.corruptCRC {
		crc ^= 0x5a5a
	}
	return &secretmanagerpb.AccessSecretVersionResponse{
		Name:    full,
		Payload: &secretmanagerpb.SecretPayload{Data: bytes.Clone(ver.data), DataCrc32C: &crc},
	}, nil
}

func (v service) DeleteSecret(_ context.Context, req *secretmanagerpb.DeleteSecretRequest) (*emptypb.Empty, error) {
	r, ok := parseName(req.GetName(), false)
	if !ok {
		return nil, invalidSecretName(req.GetName())
	}
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	st, b := s.lookupLocked(r)
	if st == nil {
		return nil, status.Errorf(codes.NotFound, "Secret [%s] not found.", r.display())
	}
	*st = secretState{deleted: true}
	if _, ok := s.Base.Get(r.vault(), r.secret); ok {
		st.tomb, st.hasTomb = bytes.Clone(b.Value), true
	}
	return &emptypb.Empty{}, nil
}

func (v service) setVersionState(name string, to secretmanagerpb.SecretVersion_State) (*secretmanagerpb.SecretVersion, error) {
	r, ok := parseName(name, true)
	if !ok {
		return nil, invalidName(name, "projects/*/secrets/*/versions/*")
	}
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	st, _ := s.lookupLocked(r)
	i, err := strconv.Atoi(r.version)
	if st == nil || err != nil || i < 1 || i > len(st.versions) {
		return nil, status.Errorf(codes.NotFound, "Secret Version [%s/versions/%s] not found.", r.display(), r.version)
	}
	ver := st.versions[i-1]
	if ver.state == secretmanagerpb.SecretVersion_DESTROYED && to != secretmanagerpb.SecretVersion_DESTROYED {
		return nil, status.Errorf(codes.FailedPrecondition, "Secret Version [%s/versions/%d] is in DESTROYED state.", r.display(), i)
	}
	ver.state = to
	out := &secretmanagerpb.SecretVersion{Name: fmt.Sprintf("%s/versions/%d", r.display(), i), CreateTime: timestamppb.New(ver.created), State: to}
	if to == secretmanagerpb.SecretVersion_DESTROYED {
		out.DestroyTime = timestamppb.Now()
	}
	return out, nil
}

func (v service) DisableSecretVersion(_ context.Context, req *secretmanagerpb.DisableSecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	return v.setVersionState(req.GetName(), secretmanagerpb.SecretVersion_DISABLED)
}

func (v service) EnableSecretVersion(_ context.Context, req *secretmanagerpb.EnableSecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	return v.setVersionState(req.GetName(), secretmanagerpb.SecretVersion_ENABLED)
}

func (v service) DestroySecretVersion(_ context.Context, req *secretmanagerpb.DestroySecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	return v.setVersionState(req.GetName(), secretmanagerpb.SecretVersion_DESTROYED)
}
