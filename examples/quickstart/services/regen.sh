#!/usr/bin/env bash
# Remakes the quickstart's encrypted env files and its file "vault" with the
# real dotenvx 2.38.2 and new throwaway demo keys. Not needed to run the
# quickstart; it documents how these files were made.
#
#   examples/quickstart/services/regen.sh      (needs node and npm)
#
# dotenvx runs in a scratch directory, so no .env.keys is ever written under
# examples/: the private keys go to ../secrets/ only, in three payload shapes
# (a bare key, a DOTENV_PRIVATE_KEY_PRODUCTION=… line, a JSON object), and
# envdrift sync writes the .env.keys files from there.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
secrets="$here/../secrets"
tools=${DOTENVX_TOOLS:-$(mktemp -d)}
[ -x "$tools/2.38.2/node_modules/.bin/dotenvx" ] ||
	npm install --silent --no-audit --no-fund --prefix "$tools/2.38.2" @dotenvx/dotenvx@2.38.2 >/dev/null
DX="$tools/2.38.2/node_modules/.bin/dotenvx"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
run() { env -i PATH="$PATH" HOME="$scratch/home" "$@"; }

# encrypt <service> <env file> [dotenvx encrypt options...] < plaintext
# Prints the private key dotenvx generated.
encrypt() {
	local service=$1 envfile=$2 dir
	shift 2
	dir="$scratch/$service-$envfile"
	mkdir -p "$dir" "$here/$service"
	cat >"$dir/$envfile"
	(cd "$dir" && run "$DX" encrypt -f "$envfile" "$@" >/dev/null 2>&1)
	cp "$dir/$envfile" "$here/$service/$envfile"
	local name
	name=$(grep -o '^DOTENV_PUBLIC_KEY[A-Z0-9_-]*' "$dir/$envfile" | head -1)
	name=${name/DOTENV_PUBLIC_KEY/DOTENV_PRIVATE_KEY}
	grep "^$name=" "$dir/.env.keys" | cut -d= -f2
}

api_key=$(encrypt api .env.production -ek PORT LOG_LEVEL <<'ENV'
# api service, production (demo values)
DATABASE_URL=postgres://api:demo-password@db.internal:5432/api?sslmode=require
API_TOKEN=demo-api-token-0f3a9c
SESSION_SECRET="demo session secret, not a real one"
PORT=8080
LOG_LEVEL=info
ENV
)

web_prod_key=$(encrypt web .env.production -ek PUBLIC_API_URL <<'ENV'
# web service, production (demo values)
PUBLIC_API_URL=https://api.example.com
SESSION_SECRET="demo web session secret"
ANALYTICS_WRITE_KEY=demo-analytics-key-prod
ENV
)

web_staging_key=$(encrypt web .env.staging -ek PUBLIC_API_URL <<'ENV'
# web service, staging (demo values)
PUBLIC_API_URL=https://api.staging.example.com
SESSION_SECRET="demo web staging session secret"
ANALYTICS_WRITE_KEY=demo-analytics-key-staging
ENV
)

mkdir -p "$secrets"
printf '%s\n' "$api_key" >"$secrets/api-production-key"
printf 'DOTENV_PRIVATE_KEY_PRODUCTION=%s\n' "$web_prod_key" >"$secrets/web-production-key"
printf '{"DOTENV_PRIVATE_KEY_STAGING": "%s"}\n' "$web_staging_key" >"$secrets/web-staging-key"

# Check with dotenvx that each key decrypts its file.
run DOTENV_PRIVATE_KEY_PRODUCTION="$api_key" "$DX" get -f "$here/api/.env.production" --format json >/dev/null
run DOTENV_PRIVATE_KEY_PRODUCTION="$web_prod_key" "$DX" get -f "$here/web/.env.production" --format json >/dev/null
run DOTENV_PRIVATE_KEY_STAGING="$web_staging_key" "$DX" get -f "$here/web/.env.staging" --format json >/dev/null
echo "remade services/api/.env.production, services/web/.env.production, services/web/.env.staging and secrets/*"
