package azure

import (
	"context"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// cachedCredential builds the real credential on first use and remembers a
// failure, so the credential chain (which may run the Azure CLI or probe
// the managed identity endpoint) runs once per provider, not once per
// secret. Calls are serialised: the bearer-token policy of every vault
// client caches tokens itself, so the credential is asked once per vault
// and token lifetime, and a failure seen by the first caller is returned to
// the ones waiting behind it.
type cachedCredential struct {
	sem   chan struct{}
	build func() (azcore.TokenCredential, error)
	cred  azcore.TokenCredential
	err   error // sticky failure, a *credentialError
}

func newCachedCredential(build func() (azcore.TokenCredential, error)) *cachedCredential {
	return &cachedCredential{sem: make(chan struct{}, 1), build: build}
}

// GetToken implements azcore.TokenCredential.
func (c *cachedCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return azcore.AccessToken{}, ctx.Err()
	}
	defer func() { <-c.sem }()
	if c.err != nil {
		return azcore.AccessToken{}, c.err
	}
	if c.cred == nil {
		cred, err := c.build()
		if err != nil {
			c.err = newCredentialError(err)
			return azcore.AccessToken{}, c.err
		}
		c.cred = cred
	}
	tok, err := c.cred.GetToken(ctx, opts)
	if err != nil {
		if ctx.Err() != nil {
			// The caller gave up (or the attempt timed out): not a verdict
			// on the credentials, so the next attempt tries again.
			return tok, err
		}
		c.err = newCredentialError(err)
		return tok, c.err
	}
	return tok, nil
}

// credentialError marks an error as coming from the credential, not from
// Key Vault. Its one-line message is computed once, when the failure is
// recorded: the same error is then returned to concurrent fetches, and
// reading an SDK error's response body is not safe for concurrent use.
type credentialError struct {
	err error
	msg string
}

func newCredentialError(err error) *credentialError {
	return &credentialError{err: err, msg: credentialMessage(err)}
}

func (e *credentialError) Error() string { return e.msg }
func (e *credentialError) Unwrap() error { return e.err }

// NonRetriable tells the azcore retry policy not to retry: the credential
// has already retried what could be retried.
func (e *credentialError) NonRetriable() {}
