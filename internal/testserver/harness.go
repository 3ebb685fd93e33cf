package testserver

import "github.com/envdrift/envdrift/provider/providertest"

// Faults is the fault-injection half of a [providertest.Harness]. A
// harness embeds it with S set to its local server's Base; against a real
// endpoint S is nil and every fault is unsupported, so the suite skips
// those checks and says why.
type Faults struct {
	S *Base
}

// Throttle makes the next n requests get the service's throttling answer.
func (f Faults) Throttle(n int) error {
	if f.S == nil {
		return providertest.ErrUnsupported
	}
	f.S.Throttle(n)
	return nil
}

// FailWith makes every request fail with a server error carrying message.
func (f Faults) FailWith(message string) error {
	if f.S == nil {
		return providertest.ErrUnsupported
	}
	f.S.FailWith(message)
	return nil
}

// Stall makes every request hang until the client gives up.
func (f Faults) Stall() error {
	if f.S == nil {
		return providertest.ErrUnsupported
	}
	f.S.Inject(FaultStall)
	return nil
}

// Reset clears every injected fault.
func (f Faults) Reset() {
	if f.S != nil {
		f.S.Reset()
	}
}

// Requests returns the requests served so far, or -1 for a real endpoint.
func (f Faults) Requests() int {
	if f.S == nil {
		return -1
	}
	return f.S.Requests()
}
