package gcp

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"strings"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/envdrift/envdrift/internal/marker"
	"github.com/envdrift/envdrift/provider"
)

var _ provider.Writer = (*Provider)(nil)

// The operations a write makes, for permission hints.
const (
	opGetSecret    = "GetSecret"
	opCreateSecret = "CreateSecret"
	opAddVersion   = "AddSecretVersion"
	opUpdateSecret = "UpdateSecret"
)

// Current reads the latest version (AccessSecretVersion) and the secret's
// annotations (GetSecret): envdrift's marker and the recorded public key.
// Annotations, not labels, hold them: a label value has at most 63
// characters, and a dotenvx public key has 66.
func (p *Provider) Current(ctx context.Context, ref provider.Ref) (provider.Current, error) {
	c, name, project, err := p.prepare(ctx, ref)
	if err != nil {
		return provider.Current{}, err
	}
	resp, err := c.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: name})
	if err != nil {
		return provider.Current{}, p.classify(ctx, ref, project, err)
	}
	sec, err := p.payload(ref, resp)
	if err != nil {
		return provider.Current{}, err
	}
	md, err := c.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: secretOf(name)})
	if err != nil {
		return provider.Current{}, p.classifyOp(ctx, ref, project, opGetSecret, err)
	}
	return provider.Current{
		Secret:    sec,
		Marked:    md.GetAnnotations()[provider.MarkerKey] == marker.Value,
		PublicKey: md.GetAnnotations()[provider.PublicKeyTag],
	}, nil
}

// secretOf returns the secret resource name of a version resource name.
func secretOf(version string) string {
	if i := strings.LastIndex(version, "/versions/"); i >= 0 {
		return version[:i]
	}
	return version
}

// Put adds req.Value as a new version of the secret (AddSecretVersion,
// with its CRC32C checksum).
//
// With req.Create it first calls CreateSecret (automatic replication for a
// global secret; a regional endpoint makes a regional one) with envdrift's
// annotations, the marker and the public key: an existing secret is
// ALREADY_EXISTS, reported as ErrConflict, so the create is atomic and
// PutResult.Checked is true. One exception: a secret that exists but has
// no version and no envdrift marker (created by hand or by Terraform)
// holds no value, so Put claims it (its annotations written under the
// etag read, which lets one of two racing pushes through) and fills it,
// reporting Checked false. An empty secret that carries the marker is
// being created by another push, or was left so by one whose
// AddSecretVersion failed: ErrConflict, with the way out in the hint.
//
// Without Create, AddSecretVersion has no condition (req.Version is not
// checked; Checked is false); then, when there are annotations to set, Put
// reads the secret (GetSecret) and writes the merged annotations back with
// UpdateSecret under the etag it read, so a concurrent change of the
// secret's metadata is ErrConflict rather than lost. If that fails after
// the value was written, the error says so and the result names the
// version written. A ref naming a specific version cannot be written.
func (p *Provider) Put(ctx context.Context, ref provider.Ref, req provider.PutRequest) (provider.PutResult, error) {
	c, name, project, err := p.prepare(ctx, ref)
	if err != nil {
		return provider.PutResult{}, err
	}
	if !strings.HasSuffix(name, "/versions/latest") {
		return provider.PutResult{}, provider.NewError(provider.ErrInvalid, Name, ref,
			"the secret name names one version; a push adds a new version to the secret", nil).
			WithHint("use the secret ID, or projects/PROJECT/secrets/NAME without /versions/…")
	}
	secret := secretOf(name)
	annotations := map[string]string{}
	if req.Mark {
		annotations[provider.MarkerKey] = marker.Value
	}
	if req.PublicKey != "" {
		annotations[provider.PublicKeyTag] = req.PublicKey
	}

	created := false
	if req.Create {
		parent, id, _ := strings.Cut(secret, "/secrets/")
		s := &secretmanagerpb.Secret{Annotations: annotations}
		if !strings.Contains(parent, "/locations/") {
			s.Replication = &secretmanagerpb.Replication{Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}}}
		}
		_, err := c.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: parent, SecretId: id, Secret: s})
		switch {
		case err == nil:
			created = true
		case status.Code(err) == codes.AlreadyExists:
			if perr := p.claimEmpty(ctx, c, ref, project, name, annotations, err); perr != nil {
				return provider.PutResult{}, perr
			}
			annotations = nil // recorded by the claim
		default:
			return provider.PutResult{}, p.classifyOp(ctx, ref, project, opCreateSecret, err)
		}
	}

	crc := int64(crc32.Checksum(req.Value, castagnoli()))
	v, err := c.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{
		Parent:  secret,
		Payload: &secretmanagerpb.SecretPayload{Data: req.Value, DataCrc32C: &crc},
	})
	if err != nil {
		e := p.classifyOp(ctx, ref, project, opAddVersion, err)
		if created {
			e.Message = "the secret was created, but adding its value failed: " + e.Message
		}
		return provider.PutResult{}, e
	}
	res := provider.PutResult{Version: v.GetName()[strings.LastIndexByte(v.GetName(), '/')+1:], Checked: created}
	if created || len(annotations) == 0 {
		return res, nil
	}
	if err := p.annotate(ctx, c, ref, project, secret, annotations); err != nil {
		err.Message = fmt.Sprintf("the value was written as version %s, but recording envdrift's marker and public key failed: %s", res.Version, err.Message)
		return res, err
	}
	return res, nil
}

// claimEmpty decides whether a create that found the secret existing may
// fill it: only when it holds no version and does not carry envdrift's
// marker (a secret made by hand or by Terraform; a marked one is being
// created by another push, or was left empty by one that failed half-way).
// It then claims the secret by writing the annotations under the etag it
// read, so that of two pushes filling the same secret only one goes on.
func (p *Provider) claimEmpty(ctx context.Context, c *secretmanager.Client, ref provider.Ref, project, version string, add map[string]string, exists error) *provider.Error {
	secret := secretOf(version)
	md, err := c.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: secret})
	if err != nil {
		return p.classifyOp(ctx, ref, project, opGetSecret, err)
	}
	_, aerr := c.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: version})
	if status.Code(aerr) != codes.NotFound {
		return p.classifyOp(ctx, ref, project, opCreateSecret, exists)
	}
	if md.GetAnnotations()[provider.MarkerKey] == marker.Value {
		e := p.classifyOp(ctx, ref, project, opCreateSecret, exists)
		e.Message += " (it has no version yet)"
		e.Hint = "another push is creating this secret, or one failed before adding its value; if none is running, add the value with " +
			"`gcloud secrets versions add " + md.GetName()[strings.LastIndexByte(md.GetName(), '/')+1:] + " --data-file=-` or delete the empty secret, then push again"
		return e
	}
	// Even an update that changes nothing renews the etag, so this is a
	// compare-and-swap on the secret's metadata.
	return p.updateAnnotations(ctx, c, ref, project, secret, md, add, true)
}

// annotate merges add into the secret's annotations with a read and an
// UpdateSecret conditional on the etag read.
func (p *Provider) annotate(ctx context.Context, c *secretmanager.Client, ref provider.Ref, project, secret string, add map[string]string) *provider.Error {
	md, err := c.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: secret})
	if err != nil {
		return p.classifyOp(ctx, ref, project, opGetSecret, err)
	}
	return p.updateAnnotations(ctx, c, ref, project, secret, md, add, false)
}

// updateAnnotations writes md's annotations merged with add to the secret
// named secret, conditional on md's etag. Unless always, an update that would
// change nothing is not sent.
func (p *Provider) updateAnnotations(ctx context.Context, c *secretmanager.Client, ref provider.Ref, project, secret string, md *secretmanagerpb.Secret, add map[string]string, always bool) *provider.Error {
	merged := maps.Clone(md.GetAnnotations())
	if merged == nil {
		merged = map[string]string{}
	}
	before := maps.Clone(merged)
	maps.Copy(merged, add)
	if !always && maps.Equal(before, merged) {
		return nil
	}
	_, err := c.UpdateSecret(ctx, &secretmanagerpb.UpdateSecretRequest{
		Secret:     &secretmanagerpb.Secret{Name: secret, Annotations: merged, Etag: md.GetEtag()},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"annotations"}},
	})
	if err != nil {
		return p.classifyOp(ctx, ref, project, opUpdateSecret, err)
	}
	return nil
}

// classifyOp classifies a failure of a write's operation: as classify,
// with the operation's own permission in a denial's hint, ALREADY_EXISTS
// (CreateSecret) and an etag mismatch (UpdateSecret's FAILED_PRECONDITION)
// as conflicts.
func (p *Provider) classifyOp(ctx context.Context, ref provider.Ref, project, op string, err error) *provider.Error {
	var pe *provider.Error
	if !errors.As(p.classify(ctx, ref, project, err), &pe) {
		return provider.NewError(nil, Name, ref, err.Error(), err)
	}
	code := status.Code(err)
	who := p.principal
	if who == "" {
		who = "the account envdrift runs as"
	}
	switch {
	case code == codes.AlreadyExists && op == opCreateSecret:
		pe = provider.NewError(provider.ErrConflict, pe.Provider, pe.Ref, pe.Message, pe.Err)
		pe.Hint = "the secret exists: someone created it since it was read"
	case code == codes.FailedPrecondition && op == opUpdateSecret:
		pe = provider.NewError(provider.ErrConflict, pe.Provider, pe.Ref, pe.Message, pe.Err)
		pe.Hint = "the secret's metadata changed since it was read (etag); read it again and retry"
	case errors.Is(pe, provider.ErrPermissionDenied) && !strings.HasPrefix(pe.Hint, "enable the API"):
		switch op {
		case opGetSecret:
			pe.Hint = fmt.Sprintf("to publish keys grant roles/secretmanager.viewer (secretmanager.secrets.get, to read the secret's annotations) on the secret or project %s to %s", project, who)
		case opCreateSecret:
			pe.Hint = fmt.Sprintf("to create secrets grant secretmanager.secrets.create on project %s to %s (roles/secretmanager.admin has it; a custom role with it is narrower)", project, who)
		case opAddVersion:
			pe.Hint = fmt.Sprintf("to publish keys grant roles/secretmanager.secretVersionAdder (secretmanager.versions.add) on the secret or project %s to %s", project, who)
		case opUpdateSecret:
			pe.Hint = fmt.Sprintf("to record envdrift's marker grant secretmanager.secrets.update on the secret or project %s to %s", project, who)
		}
	}
	return pe
}
