package azure

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/envdrift/envdrift/internal/marker"
	"github.com/envdrift/envdrift/provider"
)

var _ provider.Writer = (*Provider)(nil)

// Hints for a refused write.
const (
	hintWriteRBAC   = "to publish keys the identity needs the role \"Key Vault Secrets Officer\" on the vault (az role assignment create --role \"Key Vault Secrets Officer\" --assignee <identity> --scope <vault resource id>)"
	hintWritePolicy = "to publish keys the identity needs an access policy with secret get and set on the vault (az keyvault set-policy --name VAULT --secret-permissions get set --object-id <identity>)"
)

// Current reads the latest version of the secret with its tags: envdrift's
// marker and the recorded public key.
func (p *Provider) Current(ctx context.Context, ref provider.Ref) (provider.Current, error) {
	client, vaultURL, err := p.prepare(ctx, ref)
	if err != nil {
		return provider.Current{}, err
	}
	resp, err := client.GetSecret(ctx, ref.Name, "", nil)
	if err != nil {
		return provider.Current{}, classify(ctx, ref, vaultURL, err)
	}
	sec, err := secretOf(ref, vaultURL, resp.Secret)
	if err != nil {
		return provider.Current{}, err
	}
	return provider.Current{
		Secret:    sec,
		Marked:    tag(resp.Tags, provider.MarkerKey) == marker.Value,
		PublicKey: tag(resp.Tags, provider.PublicKeyTag),
	}, nil
}

func tag(tags map[string]*string, key string) string {
	if v := tags[key]; v != nil {
		return *v
	}
	return ""
}

// Put writes req.Value as a new version of the secret with Set Secret.
// Key Vault keeps tags per version, so Put first reads the latest version
// and carries its tags and content type over to the new one, adding the
// marker (req.Mark) and the public key (req.PublicKey).
//
// Key Vault has no conditional write. That read doubles as a check: with
// req.Create an existing secret fails with ErrConflict, and with
// req.Version a latest version other than that one fails with
// ErrConflict, but a change between the read and the write goes
// unnoticed, so PutResult.Checked is always false and the caller reads
// back. A secret deleted but still recoverable (soft delete) cannot be
// written until it is recovered or purged: ErrInvalid, with the command
// in the hint. Values that are not UTF-8 text are refused: Key Vault
// secret values are strings.
func (p *Provider) Put(ctx context.Context, ref provider.Ref, req provider.PutRequest) (provider.PutResult, error) {
	client, vaultURL, err := p.prepare(ctx, ref)
	if err != nil {
		return provider.PutResult{}, err
	}
	if !utf8.Valid(req.Value) {
		return provider.PutResult{}, provider.NewError(provider.ErrInvalid, Name, ref,
			fmt.Sprintf("the value (%d bytes) is not UTF-8 text; Key Vault secret values are strings", len(req.Value)), nil)
	}
	params := azsecrets.SetSecretParameters{Tags: map[string]*string{}}
	cur, err := client.GetSecret(ctx, ref.Name, "", nil)
	var re *azcore.ResponseError
	switch {
	case err == nil:
		if req.Create {
			return provider.PutResult{}, provider.NewError(provider.ErrConflict, Name, ref,
				"the secret already exists in vault "+vaultName(ref, vaultURL), nil).
				WithHint("the secret exists; replacing it needs an update, not a create")
		}
		if have := versionOf(cur.Secret); req.Version != "" && !strings.EqualFold(have, req.Version) {
			return provider.PutResult{}, provider.NewError(provider.ErrConflict, Name, ref,
				fmt.Sprintf("the latest version is %s, not %s: the secret changed since it was read", have, req.Version), nil).
				WithHint("read the secret again and retry")
		}
		for k, v := range cur.Tags {
			params.Tags[k] = v
		}
		params.ContentType = cur.ContentType
	case errors.As(err, &re) && re.StatusCode == http.StatusNotFound:
		// Nothing to carry over.
	default:
		return provider.PutResult{}, classify(ctx, ref, vaultURL, err)
	}
	if req.Mark {
		params.Tags[provider.MarkerKey] = to(marker.Value)
	}
	if req.PublicKey != "" {
		params.Tags[provider.PublicKeyTag] = to(req.PublicKey)
	}
	params.Value = to(string(req.Value))
	resp, err := client.SetSecret(ctx, ref.Name, params, nil)
	if err != nil {
		return provider.PutResult{}, classifyWrite(ctx, ref, vaultURL, err)
	}
	return provider.PutResult{Version: versionOf(resp.Secret)}, nil
}

func to(s string) *string { return &s }

func versionOf(s azsecrets.Secret) string {
	if s.ID == nil {
		return ""
	}
	return s.ID.Version()
}

// classifyWrite classifies a failed Set Secret: as classify, with the
// permission a push needs as the hint for a 403, and Key Vault's 409s.
func classifyWrite(ctx context.Context, ref provider.Ref, vaultURL string, err error) error {
	e := classify(ctx, ref, vaultURL, err)
	var pe *provider.Error
	var re *azcore.ResponseError
	if !errors.As(e, &pe) || !errors.As(err, &re) {
		return e
	}
	_, inner, _ := parseKVError(re)
	name := vaultName(ref, vaultURL)
	switch {
	case re.StatusCode == http.StatusForbidden && (inner == "ForbiddenByPolicy" || inner == "AccessDenied"):
		pe.Hint = strings.Replace(hintWritePolicy, "VAULT", name, 1)
	case re.StatusCode == http.StatusForbidden && (inner == "ForbiddenByRbac" || inner == ""):
		pe.Hint = strings.Replace(hintWriteRBAC, "on the vault", "on the vault "+name, 1)
	case re.StatusCode == http.StatusConflict && inner == "ObjectIsDeletedButRecoverable":
		pe = provider.NewError(provider.ErrInvalid, pe.Provider, pe.Ref, pe.Message, pe.Err)
		pe.Hint = fmt.Sprintf("the secret was deleted and can still be recovered: recover it (az keyvault secret recover --vault-name %s --name %s) "+
			"or purge it (az keyvault secret purge --vault-name %s --name %s), then push again", name, ref.Name, name, ref.Name)
	case re.StatusCode == http.StatusConflict:
		pe = provider.NewError(provider.ErrConflict, pe.Provider, pe.Ref, pe.Message, pe.Err)
		pe.Hint = "Key Vault is busy with another operation on this secret (for example a recovery); retry shortly"
	}
	return pe
}
