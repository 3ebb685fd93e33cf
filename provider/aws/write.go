package aws

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"unicode/utf8"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/envdrift/envdrift/internal/limits"
	"github.com/envdrift/envdrift/internal/marker"
	"github.com/envdrift/envdrift/provider"
)

var _ provider.Writer = (*Provider)(nil)

// prepare resolves ref and returns the client of its region.
func (p *Provider) prepare(ctx context.Context, ref provider.Ref) (*secretsmanager.Client, string, string, error) {
	t, perr := resolveTarget(ref)
	if perr != nil {
		return nil, "", "", perr
	}
	if err := ctx.Err(); err != nil {
		return nil, "", "", cancelled(ref, err)
	}
	c, region, err := p.client(ctx, t.region)
	if err != nil {
		return nil, "", "", withRef(err, ref)
	}
	if err := p.creds.failed(); err != nil {
		return nil, "", "", err.providerError(ref)
	}
	return c, region, t.id, nil
}

// Current reads the secret's current value and version (GetSecretValue)
// and its tags (DescribeSecret): envdrift's marker and the recorded public
// key.
func (p *Provider) Current(ctx context.Context, ref provider.Ref) (provider.Current, error) {
	c, region, id, err := p.prepare(ctx, ref)
	if err != nil {
		return provider.Current{}, err
	}
	sec, err := p.getOne(ctx, c, ref, region, id)
	if err != nil {
		return provider.Current{}, err
	}
	d, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: awssdk.String(id)})
	if err != nil {
		return provider.Current{}, p.classify(ctx, ref, region, opDescribe, err)
	}
	cur := provider.Current{Secret: sec}
	for _, t := range d.Tags {
		switch awssdk.ToString(t.Key) {
		case provider.MarkerKey:
			cur.Marked = awssdk.ToString(t.Value) == marker.Value
		case provider.PublicKeyTag:
			cur.PublicKey = awssdk.ToString(t.Value)
		}
	}
	return cur, nil
}

// Put writes req.Value as SecretString; a value that is not UTF-8 text is
// refused with ErrInvalid, as Fetch would refuse it. Every write carries a fresh ClientRequestToken, which the SDK
// sends again on its retries, so a retried request never makes a second
// version; the token becomes the version's VersionId.
//
// With req.Create it calls CreateSecret with envdrift's tags (the marker
// with req.Mark, the public key with req.PublicKey): an existing secret is
// ResourceExistsException, reported as ErrConflict, so the create is
// atomic (PutResult.Checked is true). A secret given by ARN cannot be
// created. Without Create it calls PutSecretValue, which moves AWSCURRENT
// to the new version and AWSPREVIOUS to the old one, then TagResource when
// there are tags to set. PutSecretValue has no condition, so req.Version is
// not checked and Checked is false: the caller reads back. If tagging fails
// after the value was written, the error says so and the result names the
// version written.
func (p *Provider) Put(ctx context.Context, ref provider.Ref, req provider.PutRequest) (provider.PutResult, error) {
	c, region, id, err := p.prepare(ctx, ref)
	if err != nil {
		return provider.PutResult{}, err
	}
	if len(req.Value) > limits.MaxSecretSize {
		return provider.PutResult{}, invalid(ref, fmt.Sprintf("the value is %d bytes, over the %d-byte limit", len(req.Value), limits.MaxSecretSize), "")
	}
	if !utf8.Valid(req.Value) {
		// Fetch refuses SecretBinary that is not text; never write what
		// cannot be read back.
		return provider.PutResult{}, invalid(ref, fmt.Sprintf("the value (%d bytes) is not UTF-8 text", len(req.Value)),
			"a dotenvx key is text; check what is being published")
	}
	str := awssdk.String(string(req.Value))
	var tags []types.Tag
	if req.Mark {
		tags = append(tags, types.Tag{Key: awssdk.String(provider.MarkerKey), Value: awssdk.String(marker.Value)})
	}
	if req.PublicKey != "" {
		tags = append(tags, types.Tag{Key: awssdk.String(provider.PublicKeyTag), Value: awssdk.String(req.PublicKey)})
	}
	token := newToken()

	if req.Create {
		if strings.HasPrefix(id, "arn:") {
			return provider.PutResult{}, invalid(ref, "a secret named by its ARN already exists, so it cannot be created",
				"give the mapping the secret's name (and its region as vault_name) to create it")
		}
		out, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name:               awssdk.String(id),
			SecretString:       str,
			Tags:               tags,
			ClientRequestToken: awssdk.String(token),
		})
		if err != nil {
			return provider.PutResult{}, p.classify(ctx, ref, region, opCreate, err)
		}
		return provider.PutResult{Version: awssdk.ToString(out.VersionId), Checked: true}, nil
	}

	out, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:           awssdk.String(id),
		SecretString:       str,
		ClientRequestToken: awssdk.String(token),
	})
	if err != nil {
		return provider.PutResult{}, p.classify(ctx, ref, region, opPut, err)
	}
	res := provider.PutResult{Version: awssdk.ToString(out.VersionId)}
	if len(tags) == 0 {
		return res, nil
	}
	if _, err := c.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: awssdk.String(id), Tags: tags}); err != nil {
		e := p.classify(ctx, ref, region, opTag, err)
		e.Message = fmt.Sprintf("the value was written as version %s, but tagging it failed: %s", res.Version, e.Message)
		return res, e
	}
	return res, nil
}

// newToken returns a ClientRequestToken: a random UUID, as the service
// recommends (32 to 64 characters).
func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
