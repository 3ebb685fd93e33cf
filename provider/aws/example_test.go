package aws_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/envdrift/envdrift/provider"
	"github.com/envdrift/envdrift/provider/aws"
)

// Read dotenvx keys from Secrets Manager: one by name in the default region,
// one in another region (its vault name), and a batch. Credentials come from
// the SDK's default chain (environment, AWS_PROFILE / SSO, OIDC web identity,
// instance roles). It needs AWS access, so it has no checked output.
func ExampleNew() {
	p, err := aws.New(aws.Settings{Region: "eu-west-1"}, provider.Options{Timeout: 5 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()

	sec, err := p.Fetch(ctx, provider.Ref{Name: "myapp/dotenv-private-key-production"})
	switch {
	case errors.Is(err, provider.ErrNotFound):
		log.Fatalf("create the secret first: %v", err)
	case err != nil:
		log.Fatal(err) // the message names the secret; the hint says what to do
	}
	fmt.Println(len(sec.Value), "bytes, version", sec.Version)

	results := p.FetchBatch(ctx, []provider.Ref{
		{Name: "myapp/dotenv-private-key-production"},
		{Vault: "us-west-2", Name: "auth/dotenv-private-key-staging"},
		{Name: "arn:aws:secretsmanager:ap-south-1:123456789012:secret:billing/key-AbCdEf"},
	})
	for _, r := range results {
		if r.Err != nil {
			log.Print(r.Err)
		}
	}
	if err := p.BatchFallback(); err != nil {
		log.Printf("batched reads are not allowed, fell back to single reads: %v", err)
	}
}
