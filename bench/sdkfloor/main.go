// Command sdkfloor links what the envdrift binary links for its providers —
// the AWS, Azure, Google Cloud and HashiCorp Vault SDKs, through
// provider/all — and does nothing else: it prints one line and exits.
// bench/peers times its start-up beside envdrift's and the peers': the
// start-up of any one program that links the four SDKs, before it does any
// work of its own (docs/performance.md, "Start-up").
package main

import (
	"fmt"

	_ "github.com/envdrift/envdrift/provider/all"
)

func main() { fmt.Println("sdkfloor") }
