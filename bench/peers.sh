#!/usr/bin/env bash
# Times envdrift against chamber, vals and berglas on the same secrets
# (docs/performance.md, "envdrift and its peers"): installs the pinned peers
# with `go install`, builds envdrift, and runs bench/peers, which starts the
# project's own AWS Secrets Manager and Vault test servers with 20 ms per
# request and prints the table.
#
#   bench/peers.sh                 # from anywhere in the repository
#   bench/peers.sh -samples 11     # extra arguments go to bench/peers
#   bench/peers.sh -only 'startup|aws-1$'
#
# The peers are installed into a temporary GOBIN, removed at the end; set
# PEERS_BIN to a directory to keep them between runs (an existing binary
# there is reused). Nothing is installed anywhere else.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
export ENVDRIFT_BENCH_DIR="${ENVDRIFT_BENCH_DIR:-/var/tmp}"

# The versions the published table was measured with. The module proxy
# serves no chamber v3, so chamber is the last v2.
peers=(
	"chamber github.com/segmentio/chamber/v2 v2.14.1"
	"vals github.com/helmfile/vals/cmd/vals v0.46.1"
	"berglas github.com/GoogleCloudPlatform/berglas/v2 v2.0.10"
)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bin="${PEERS_BIN:-$tmp/bin}"
mkdir -p "$bin"

for p in "${peers[@]}"; do
	read -r name pkg version <<<"$p"
	# Installed already when the binary was built from that version of the
	# module holding pkg (as the main module, or as a dependency of the
	# throwaway module below).
	if [ -x "$bin/$name" ] && go version -m "$bin/$name" |
		awk -v pkg="$pkg" -v v="$version" '($1 == "mod" || $1 == "dep") && index(pkg "/", $2 "/") == 1 && $3 == v { found = 1 } END { exit !found }'; then
		continue
	fi
	echo "peers.sh: go install $pkg@$version" >&2
	if ! (cd "$tmp" && GOBIN="$bin" go install "$pkg@$version") 2>"$tmp/install.log"; then
		# `go install m@v` also asks the proxy for the module's version list
		# (for deprecation notices); where the proxy refuses that list but
		# serves the version itself, install it from a throwaway module
		# that requires exactly that version.
		grep -q 'loading deprecation' "$tmp/install.log" || { cat "$tmp/install.log" >&2; exit 1; }
		mod="$tmp/mod-$name"
		mkdir -p "$mod"
		(cd "$mod" && go mod init "peers-$name" >/dev/null 2>&1 &&
			printf '//go:build tools\n\npackage peers\n\nimport _ "%s"\n' "$pkg" >tools.go &&
			go get "$pkg@$version" >/dev/null 2>&1 && GOBIN="$bin" go install "$pkg")
	fi
done

echo "peers.sh: go build ./cmd/envdrift" >&2
go build -o "$tmp/envdrift" ./cmd/envdrift
go build -o "$tmp/peers" ./bench/peers
go build -o "$tmp/sdkfloor" ./bench/sdkfloor

cpu=$(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || true)
cores=$(getconf _NPROCESSORS_ONLN)
"$tmp/peers" -envdrift "$tmp/envdrift" -sdkfloor "$tmp/sdkfloor" -bin "$bin" "$@"
echo
echo "Machine: ${cpu:-unknown}, $cores cores ($(uname -sr)); $(go version | cut -d' ' -f3-); envdrift $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '(no git)')."
echo "Peers: $(for p in "${peers[@]}"; do read -r n _ v <<<"$p"; printf '%s %s, ' "$n" "$v"; done | sed 's/, $//'), built with the same Go."
