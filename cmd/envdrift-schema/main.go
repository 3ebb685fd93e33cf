// Command envdrift-schema runs the JSON Schema check of `envdrift sync
// --validate-schema`. envdrift starts it when a run's first schema check is
// due and talks to it over a pipe; it is not meant to be run by hand.
//
//	envdrift-schema serve --protocol 1
//
// It exists so that the envdrift binary does not link the JSON Schema
// library, whose initialisation costs every program that links it about
// 5 ms at start-up (internal/schemahelper explains). Install it next to
// envdrift, from the same release:
//
//	go install github.com/envdrift/envdrift/cmd/...@latest
//
// It writes to stderr only its own messages, never a key or a value.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/envdrift/envdrift/internal/schemahelper"
	"github.com/envdrift/envdrift/schema"
)

const usage = `usage: envdrift-schema serve --protocol ` + schemahelper.Protocol + `

envdrift-schema runs the JSON Schema check of ` + "`envdrift sync --validate-schema`" + `.
envdrift starts it and talks to it over a pipe; it is not meant to be run by hand.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is main with its inputs and outputs as arguments; it returns the exit
// code: 0 when the input ended, 1 when the stream failed, 2 for bad usage.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stdout, usage)
		return 0
	}
	if len(args) != 3 || args[0] != "serve" || args[1] != "--protocol" {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if args[2] != schemahelper.Protocol {
		fmt.Fprintf(stderr, "envdrift-schema: this envdrift-schema speaks protocol %s, envdrift asked for %s: install the envdrift-schema of envdrift's release (go install github.com/envdrift/envdrift/cmd/envdrift-schema@VERSION)\n",
			schemahelper.Protocol, args[2])
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := schemahelper.Serve(ctx, stdin, stdout, &schema.Validator{}); err != nil {
		fmt.Fprintf(stderr, "envdrift-schema: %v\n", err)
		return 1
	}
	return 0
}
