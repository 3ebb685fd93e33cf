package aws

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/envdrift/envdrift/provider"
)

// chunk is up to BatchSize distinct secret ids of one region, each with the
// indexes of the refs that asked for it.
type chunk struct {
	client *secretsmanager.Client
	region string
	ids    []string
	refs   map[string][]int
}

// FetchBatch reads refs with as few requests as possible: BatchGetSecretValue
// for up to BatchSize secrets of a region at a time, GetSecretValue for a
// region with a single secret or after batches were refused. A secret asked
// for several times is read once. The result has one entry per ref, in order.
func (p *Provider) FetchBatch(ctx context.Context, refs []provider.Ref) []provider.Result {
	res := make([]provider.Result, len(refs))
	targets := make([]target, len(refs))
	valid := 0
	for i, ref := range refs {
		t, perr := resolveTarget(ref)
		if perr != nil {
			res[i].Err = perr
			continue
		}
		targets[i] = t
		valid++
	}
	if valid == 0 {
		return res
	}
	fail := func(err func(provider.Ref) error) []provider.Result {
		for i, ref := range refs {
			if res[i].Err == nil {
				res[i].Err = err(ref)
			}
		}
		return res
	}
	if err := ctx.Err(); err != nil {
		return fail(func(ref provider.Ref) error { return cancelled(ref, err) })
	}
	cfg, err := p.setup(ctx)
	if err != nil {
		return fail(func(ref provider.Ref) error { return withRef(err, ref) })
	}

	// Group distinct ids by region, in order of first appearance, then cut
	// each region's ids into chunks of at most BatchSize.
	type group struct {
		region string
		ids    []string
		refs   map[string][]int
	}
	var groups []*group
	byRegion := map[string]*group{}
	for i, t := range targets {
		if res[i].Err != nil {
			continue
		}
		region := t.region
		if region == "" {
			region = cfg.Region
		}
		g := byRegion[region]
		if g == nil {
			g = &group{region: region, refs: map[string][]int{}}
			byRegion[region] = g
			groups = append(groups, g)
		}
		if _, dup := g.refs[t.id]; !dup {
			g.ids = append(g.ids, t.id)
		}
		g.refs[t.id] = append(g.refs[t.id], i)
	}
	var chunks []*chunk
	for _, g := range groups {
		client, _, err := p.client(ctx, g.region)
		if err != nil {
			for _, idx := range g.refs {
				set(res, refs, idx, provider.Secret{}, err)
			}
			continue
		}
		for ids := range slices.Chunk(g.ids, BatchSize) {
			c := &chunk{client: client, region: g.region, ids: ids, refs: map[string][]int{}}
			for _, id := range ids {
				c.refs[id] = g.refs[id]
			}
			chunks = append(chunks, c)
		}
	}
	if ce := p.creds.failed(); ce != nil {
		return fail(func(ref provider.Ref) error { return ce.providerError(ref) })
	}

	sem := make(chan struct{}, batchWorkers)
	var wg sync.WaitGroup
	start := 0
	// While nobody knows whether batches are allowed, try one first so a
	// caller without the permission gets one refused call, not one per chunk
	// (nor one per concurrent FetchBatch call: the others wait for it).
	if !p.batchOK.Load() && p.batchDenied.Load() == nil {
		for j, c := range chunks {
			if len(c.ids) > 1 {
				if p.startProbe(ctx) {
					chunks[0], chunks[j] = chunks[j], chunks[0]
					func() {
						defer p.endProbe()
						p.runChunk(ctx, sem, c, refs, res)
					}()
					start = 1
				}
				break
			}
		}
	}
	for _, c := range chunks[start:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.runChunk(ctx, sem, c, refs, res)
		}()
	}
	wg.Wait()
	return res
}

// startProbe reports whether this FetchBatch call should make the first
// batch request while nobody knows whether batches are allowed; if so, it
// must call endProbe when that request is done. Otherwise it waits until
// the probe in flight, if any, has ended, so that concurrent calls (the
// Syncer makes one per chunk) learn its verdict instead of each being
// refused. A probe that ends without a verdict (throttled, a bad id) lets
// the next caller probe.
func (p *Provider) startProbe(ctx context.Context) bool {
	for {
		p.probeMu.Lock()
		if p.batchOK.Load() || p.batchDenied.Load() != nil {
			p.probeMu.Unlock()
			return false
		}
		if p.probing == nil {
			p.probing = make(chan struct{})
			p.probeMu.Unlock()
			return true
		}
		done := p.probing
		p.probeMu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return false
		}
	}
}

// endProbe ends the probe startProbe granted.
func (p *Provider) endProbe() {
	p.probeMu.Lock()
	defer p.probeMu.Unlock()
	close(p.probing)
	p.probing = nil
}

func (p *Provider) runChunk(ctx context.Context, sem chan struct{}, c *chunk, refs []provider.Ref, res []provider.Result) {
	switch {
	case len(c.ids) == 0:
	case len(c.ids) == 1 || p.batchDenied.Load() != nil:
		p.singles(ctx, sem, c, c.ids, refs, res)
	default:
		p.batch(ctx, sem, c, refs, res)
	}
}

// acquire takes a request slot, or fails when ctx ends first.
func acquire(ctx context.Context, sem chan struct{}) error {
	select {
	case sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// singles reads ids of chunk c with one GetSecretValue each.
func (p *Provider) singles(ctx context.Context, sem chan struct{}, c *chunk, ids []string, refs []provider.Ref, res []provider.Result) {
	var wg sync.WaitGroup
	for _, id := range ids {
		idx := c.refs[id]
		wg.Add(1)
		go func() {
			defer wg.Done()
			first := refs[idx[0]]
			var sec provider.Secret
			err := acquire(ctx, sem)
			if err != nil {
				err = cancelled(first, err)
			} else {
				sec, err = p.getOne(ctx, c.client, first, c.region, id)
				<-sem
			}
			set(res, refs, idx, sec, err)
		}()
	}
	wg.Wait()
}

// set stores one outcome for every ref index in idx, each error carrying
// its own ref.
func set(res []provider.Result, refs []provider.Ref, idx []int, sec provider.Secret, err error) {
	for _, i := range idx {
		if err != nil {
			res[i] = provider.Result{Err: withRef(err, refs[i])}
			continue
		}
		v := sec
		v.Value = append([]byte(nil), sec.Value...)
		res[i] = provider.Result{Secret: v}
	}
}

// batch reads chunk c with BatchGetSecretValue, following NextToken.
func (p *Provider) batch(ctx context.Context, sem chan struct{}, c *chunk, refs []provider.Ref, res []provider.Result) {
	pending := make(map[string]bool, len(c.ids))
	for _, id := range c.ids {
		pending[id] = true
	}
	remaining := func() []string {
		var ids []string
		for _, id := range c.ids {
			if pending[id] {
				ids = append(ids, id)
			}
		}
		return ids
	}
	var token *string
	for page := 0; page <= len(c.ids); page++ {
		if err := acquire(ctx, sem); err != nil {
			for _, id := range remaining() {
				set(res, refs, c.refs[id], provider.Secret{}, cancelled(refs[c.refs[id][0]], err))
			}
			return
		}
		out, err := c.client.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{
			SecretIdList: c.ids,
			NextToken:    token,
		})
		<-sem
		if err != nil {
			perr := p.classify(ctx, provider.Ref{}, c.region, opBatch, err)
			switch {
			case batchUnavailable(err):
				// The batch action itself is refused, or the endpoint
				// does not have it: remember it and read the secrets
				// one by one.
				p.batchDenied.CompareAndSwap(nil, perr)
				p.singles(ctx, sem, c, remaining(), refs, res)
			case errors.Is(perr, provider.ErrInvalid):
				// One bad id fails the whole call; single reads give each
				// secret its own answer.
				p.singles(ctx, sem, c, remaining(), refs, res)
			default:
				for _, id := range remaining() {
					set(res, refs, c.refs[id], provider.Secret{}, perr)
				}
			}
			return
		}
		p.batchOK.Store(true)
		for _, v := range out.SecretValues {
			id := matchEntry(c.ids, pending, v)
			if id == "" {
				continue
			}
			delete(pending, id)
			idx := c.refs[id]
			sec, err := payload(refs[idx[0]], v.SecretString, v.SecretBinary, v.VersionId)
			set(res, refs, idx, sec, err)
		}
		for _, e := range out.Errors {
			id := awssdk.ToString(e.SecretId)
			if !pending[id] {
				continue
			}
			delete(pending, id)
			idx := c.refs[id]
			code, msg := awssdk.ToString(e.ErrorCode), awssdk.ToString(e.Message)
			cause := &smithy.GenericAPIError{Code: code, Message: msg}
			set(res, refs, idx, provider.Secret{}, classifyAPI(refs[idx[0]], c.region, opGet, code, msg, 0, cause))
		}
		if awssdk.ToString(out.NextToken) == "" || len(pending) == 0 {
			break
		}
		token = out.NextToken
	}
	// Anything the service did not answer for is read on its own.
	if ids := remaining(); len(ids) > 0 {
		p.singles(ctx, sem, c, ids, refs, res)
	}
}

// batchUnavailable reports whether err, the error of a BatchGetSecretValue
// call, says that this caller cannot use the operation at all, whatever
// the secrets: AccessDeniedException (an IAM policy without
// secretsmanager:BatchGetSecretValue), UnknownOperationException (an
// endpoint that predates the operation, or a compatible service without
// it) or HTTP 501 Not Implemented (LocalStack's answer for an operation it
// lacks).
func batchUnavailable(err error) bool {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "AccessDeniedException", "UnknownOperationException":
			return true
		}
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotImplemented
}

// matchEntry finds which pending id (a name, a full ARN or a partial ARN)
// a returned secret answers.
func matchEntry(ids []string, pending map[string]bool, v types.SecretValueEntry) string {
	name, full := awssdk.ToString(v.Name), awssdk.ToString(v.ARN)
	for _, id := range ids {
		if !pending[id] {
			continue
		}
		if id == name || id == full ||
			(strings.HasPrefix(id, "arn:") && len(full) == len(id)+7 && strings.HasPrefix(full, id+"-")) {
			return id
		}
	}
	return ""
}
