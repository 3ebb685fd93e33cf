// Package all links every provider envdrift ships, for programs that want
// the CLI's whole set in one import:
//
//	import _ "github.com/envdrift/envdrift/provider/all"
//
// Each provider registers itself in provider.Default() when imported. A
// program that needs only some providers imports those packages instead and
// links only their SDKs.
package all

import (
	// Every built-in provider, in alphabetical order.
	_ "github.com/envdrift/envdrift/provider/aws"
	_ "github.com/envdrift/envdrift/provider/azure"
	_ "github.com/envdrift/envdrift/provider/file"
	_ "github.com/envdrift/envdrift/provider/gcp"
	_ "github.com/envdrift/envdrift/provider/hashicorp"
)
