package testserver

import (
	"math"
	"slices"
	"time"
)

// Quota is a request rate limit: a token bucket that holds at most Burst
// tokens and gains Rate tokens a second. Every counted request takes a
// token; a request that finds the bucket empty gets the service's
// throttling answer, with the time until the next token as its Retry-After.
type Quota struct {
	// Rate is how many requests a second the quota allows; it must be
	// positive.
	Rate float64
	// Burst is how many requests may arrive at once; 0 means Rate rounded
	// up (at least 1). The bucket starts full.
	Burst int
	// Ops limits the quota to these operations (as the server names them
	// in [Base.Ops]); empty means every operation.
	Ops []string
}

// QuotaState is a quota's state as a request left it.
type QuotaState struct {
	// Limit is the bucket's size (Quota.Burst).
	Limit int
	// Remaining is how many whole tokens are left.
	Remaining int
	// Reset is how long until the next token arrives; zero when the bucket
	// is full.
	Reset time.Duration
}

// SetQuota limits the requests the server accepts to q from now on; a
// zero Rate removes the limit. The bucket starts full. Requests over quota
// still count in [Base.Requests] and [Base.Ops], as the service saw them.
func (b *Base) SetQuota(q Quota) {
	b.set(func() {
		if q.Rate <= 0 {
			b.quota = nil
			return
		}
		if q.Burst <= 0 {
			q.Burst = max(1, int(math.Ceil(q.Rate)))
		}
		b.quota = &bucket{q: q, tokens: float64(q.Burst), last: b.now()}
	})
}

// SetClock replaces the clock the quota refills by, so a test can step
// time instead of sleeping. nil restores the real clock.
func (b *Base) SetClock(now func() time.Time) {
	b.set(func() {
		if now == nil {
			now = time.Now
		}
		b.now = now
		if b.quota != nil {
			b.quota.last = now()
		}
	})
}

type bucket struct {
	q      Quota
	tokens float64
	last   time.Time
}

func (k *bucket) counts(op string) bool {
	return len(k.q.Ops) == 0 || slices.Contains(k.q.Ops, op)
}

// take refills the bucket up to now and takes a token. It returns the
// state left behind and, when no token was there, how long until one is.
func (k *bucket) take(now time.Time) (QuotaState, time.Duration) {
	if d := now.Sub(k.last); d > 0 {
		k.tokens = math.Min(float64(k.q.Burst), k.tokens+d.Seconds()*k.q.Rate)
		k.last = now
	}
	var wait time.Duration
	if k.tokens >= 1 {
		k.tokens--
	} else {
		wait = k.untilToken()
	}
	st := QuotaState{Limit: k.q.Burst, Remaining: int(k.tokens)}
	if k.tokens < float64(k.q.Burst) {
		st.Reset = k.untilToken()
	}
	return st, wait
}

// untilToken is how long until the bucket holds one more whole token.
func (k *bucket) untilToken() time.Duration {
	missing := math.Floor(k.tokens) + 1 - k.tokens
	return time.Duration(math.Ceil(missing / k.q.Rate * float64(time.Second)))
}
