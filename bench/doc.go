// Package bench holds envdrift's published performance benchmarks. It has
// no API: everything is in its _test.go files, run by
//
//	go test -run '^$' -bench . -benchtime 1x ./bench/
//
// or by run.sh, which prints the results as a Markdown table with the
// targets of docs/performance.md. Each benchmark checks its correctness
// counts (requests sent, files written), so a single iteration of each is
// also a test.
//
// The in-process benchmarks sync through the real provider SDK clients
// against the local test servers of internal/testserver with injected
// latency; the whole-process ones build cmd/envdrift and time the binary.
package bench
