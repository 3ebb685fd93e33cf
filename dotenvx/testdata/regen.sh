#!/usr/bin/env bash
# Regenerates the test data of the Go dotenvx package with the real dotenvx CLI.
#
# It is not run by `go test`; it documents exactly how every file under
# dotenvx/testdata was made, and remakes them (new random keys each time).
#
# Requires: bash, node and npm (network access for `npm install` unless
# DOTENVX_TOOLS points at a directory that already holds the installs), iconv.
#
#   dotenvx/testdata/regen.sh            # installs dotenvx into a temp dir
#   DOTENVX_TOOLS=/tmp/dx dotenvx/testdata/regen.sh
#
# What it makes:
#
#   fixtures/<name>/<env file>     encrypted by `dotenvx encrypt` (2.38.2, or
#                                  1.75.1 for the v1-* fixtures)
#   fixtures/<name>/.env.keys      the key file dotenvx wrote (throwaway keys;
#                                  they are test data, not secrets)
#   fixtures/<name>/plaintext.env  the file before encryption (same bytes and
#                                  encoding as the input to `dotenvx encrypt`)
#   fixtures/<name>/plaintext.json the values dotenvx 2.38.2 reads from
#                                  plaintext.env (`dotenvx get --format json`),
#                                  i.e. the values the file was encrypted from
#   fixtures/<name>/decrypted.json what dotenvx 2.38.2 decrypts the encrypted
#                                  file to (`dotenvx get -f <env file> --format
#                                  json`, key taken from .env.keys); includes
#                                  DOTENV_PUBLIC_KEY*
#   fixtures/<name>/meta.json      env file name, encoding, dotenvx version and
#                                  the encrypt command line
#   parse/<case>.env               grammar corner cases
#   parse/expected.json            for each case, the key -> [values] map that
#                                  dotenvx 2.38.2's own parser (the `scan`
#                                  function of @dotenvx/primitives, which
#                                  `dotenvx get` uses) returns
#
# Every dotenvx run gets an empty environment (env -i) apart from PATH and a
# scratch HOME, so no DOTENV_PRIVATE_KEY* or same-named variable of the caller
# leaks in (dotenvx lets existing environment variables override file values).
#
# Values are chosen so that dotenvx's $VAR expansion and $(command)
# substitution, which the Go package deliberately does not do, change nothing:
# "$" only appears inside single quotes, where dotenvx does not expand either.
set -euo pipefail

V2=2.38.2
V1=1.75.1

here=$(cd "$(dirname "$0")" && pwd)
tools=${DOTENVX_TOOLS:-$(mktemp -d)}
for v in "$V2" "$V1"; do
	if [ ! -x "$tools/$v/node_modules/.bin/dotenvx" ]; then
		npm install --silent --no-audit --no-fund --prefix "$tools/$v" "@dotenvx/dotenvx@$v" >/dev/null
	fi
done
DX2="$tools/$V2/node_modules/.bin/dotenvx"
DX1="$tools/$V1/node_modules/.bin/dotenvx"
PRIMITIVES="$tools/$V2/node_modules/@dotenvx/primitives"
scratch_home=$(mktemp -d)
trap 'rm -rf "$scratch_home"' EXIT

run() { env -i PATH="$PATH" HOME="$scratch_home" "$@"; }

[ "$(run "$DX2" --version)" = "$V2" ] || { echo "expected dotenvx $V2" >&2; exit 1; }
[ "$(run "$DX1" --version)" = "$V1" ] || { echo "expected dotenvx $V1" >&2; exit 1; }

# pretty <file>: re-indent the JSON in file, keeping key order.
pretty() { node -e 'const fs=require("fs");const p=process.argv[1];fs.writeFileSync(p, JSON.stringify(JSON.parse(fs.readFileSync(p,"utf8")), null, 2)+"\n")' "$1"; }

# encode <encoding>: stdin (UTF-8, LF) to stdout in the fixture's encoding.
encode() {
	case "$1" in
	lf) cat ;;
	crlf) sed 's/$/\r/' ;;
	utf8bom) printf '\xef\xbb\xbf'; cat ;;
	utf16le) printf '\xff\xfe'; iconv -f UTF-8 -t UTF-16LE ;;
	*) echo "unknown encoding $1" >&2; exit 1 ;;
	esac
}

# fixture <name> <env file> <dotenvx version> <encoding> [encrypt args...]
# The plaintext source is read from stdin (UTF-8 with LF line endings).
fixture() {
	local name=$1 envfile=$2 version=$3 encoding=$4
	shift 4
	local dir="$here/fixtures/$name" dx
	case "$version" in "$V2") dx=$DX2 ;; "$V1") dx=$DX1 ;; esac
	rm -rf "$dir"
	mkdir -p "$dir"
	encode "$encoding" >"$dir/$envfile"
	cp "$dir/$envfile" "$dir/plaintext.env"
	(cd "$dir" && run "$DX2" get -f plaintext.env --format json >plaintext.json)
	(cd "$dir" && run "$dx" encrypt -f "$envfile" "$@" >/dev/null 2>&1)
	if [ "$encoding" = utf16le ]; then
		# dotenvx reads UTF-16LE files but writes the encrypted file back as
		# UTF-8; convert it back so the fixture really is UTF-16LE.
		{ printf '\xff\xfe'; iconv -f UTF-8 -t UTF-16LE <"$dir/$envfile"; } >"$dir/$envfile.tmp"
		mv "$dir/$envfile.tmp" "$dir/$envfile"
	fi
	(cd "$dir" && run "$DX2" get -f "$envfile" --format json >decrypted.json)
	pretty "$dir/plaintext.json"
	pretty "$dir/decrypted.json"
	node -e '
		const [dir, envfile, version, encoding, ...args] = process.argv.slice(1)
		const fs = require("fs")
		const meta = { envFile: envfile, encoding, dotenvx: version, encrypt: ["dotenvx", "encrypt", "-f", envfile, ...args].join(" ") }
		fs.writeFileSync(dir + "/meta.json", JSON.stringify(meta, null, 2) + "\n")
		// The decryption must give back exactly the plaintext values.
		const plain = JSON.parse(fs.readFileSync(dir + "/plaintext.json", "utf8"))
		const dec = JSON.parse(fs.readFileSync(dir + "/decrypted.json", "utf8"))
		for (const k of Object.keys(dec)) if (k.startsWith("DOTENV_PUBLIC_KEY")) delete dec[k]
		if (JSON.stringify(plain) !== JSON.stringify(dec)) { console.error(dir + ": decrypted values differ from plaintext"); process.exit(1) }
		if (!fs.readFileSync(dir + "/" + envfile).toString(encoding === "utf16le" ? "utf16le" : "utf8").includes("encrypted:")) { console.error(dir + ": nothing encrypted"); process.exit(1) }
	' "$dir" "$envfile" "$version" "$encoding" "$@"
	echo "made fixtures/$name ($envfile, dotenvx $version, $encoding)"
}

# ---------------------------------------------------------------------------
# dotenvx 2.38.2 fixtures

fixture env .env "$V2" lf -ek PUBLIC_URL <<'EOF'
# Kitchen sink: quoting, escapes, multi-line values, comments.
DOUBLE="double quoted"
SINGLE='single quoted'
BACKTICK=`backtick quoted`
UNQUOTED=   unquoted, trimmed
DOUBLE_ESCAPES="tab:\t|newline:\n|cr:\r|quote:\"|backslash:\\|other:\x"
SINGLE_ESCAPES='quote:\'|newline:\n'
BACKTICK_QUOTES=`both "double" and 'single' quotes`
MULTI_DOUBLE="first line
second line
  indented third line"
MULTI_SINGLE='single
multi-line'
MULTI_BACKTICK=`backtick
multi-line`
CERT_PEM="-----BEGIN CERTIFICATE-----
MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAq7BFUpkGp3+LQmlQ
-----END CERTIFICATE-----"
EQUALS=a=b==c
HASH_IN_DOUBLE="value # not a comment"
HASH_IN_SINGLE='value # not a comment either'
HASH_UNQUOTED=value # this part is a comment
HASH_NO_SPACE=value#still a comment
URL=postgres://app:p%40ss@db.example.com:5432/app?sslmode=require&pool=5
UNICODE="héllo wörld ✓ 日本語 🚀"
UNICODE_UNQUOTED=ünïcödé
EMPTY=
EMPTY_DOUBLE=""
EMPTY_SINGLE=''
EMPTY_BACKTICK=``
   INDENTED=leading whitespace before the key
SPACES_AROUND  =  spaced out
export EXPORTED=exported value
export   EXPORTED_QUOTED="exported, quoted"
DOLLAR_SINGLE='$NOT_EXPANDED ${NOR_THIS} $(not run)'
JSON_VALUE={"a":1,"b":[true,null],"c":"x"}
lower.dotted-key=dots and dashes in the key
DUPLICATE=first assignment
DUPLICATE=second assignment wins
DATABASE_PASSWORD_PLAIN=keys ending _PLAIN stay plaintext in dotenvx 2.x
PUBLIC_URL=https://example.com/excluded-with-ek
COLON_STYLE: colon separator (dotenvx encrypt leaves it plaintext)
not an assignment line
EOF

fixture production .env.production "$V2" crlf <<'EOF'
# CRLF line endings (dotenvx adds its header with LF ones)
DATABASE_URL=postgres://prod:secret@db.internal:5432/app
API_TOKEN="tok_live_0123456789abcdef"
MULTI_LINE="line one
line two"
TRAILING_SPACES=value with trailing spaces   
PORT=8080
EOF

fixture ci .env.ci "$V2" utf8bom <<'EOF'
CI_TOKEN=ci-token-value
CI_MESSAGE="the file starts with a UTF-8 byte order mark"
CI_UNICODE='naïve café'
EOF

fixture production-local .env.production.local "$V2" utf16le <<'EOF'
LOCAL_SECRET=utf-16 little endian with a byte order mark
LOCAL_UNICODE="Grüße, 世界 🌍"
LOCAL_MULTI="two
lines"
LOCAL_EMPTY=
EOF

fixture my-app .env.my-app "$V2" lf <<'EOF'
# a dashed environment name: DOTENV_PRIVATE_KEY_MY-APP
MY_APP_SECRET=my-app secret
MY_APP_QUOTED="quoted value"
MY_APP_SINGLE='single quoted'
FEATURE_FLAG_PLAIN=true
EOF

# ---------------------------------------------------------------------------
# dotenvx 1.75.1 fixtures (1.x encrypts _PLAIN keys too unless excluded)

fixture v1-env .env "$V1" lf -ek '*_PLAIN' <<'EOF'
V1_SECRET=made by dotenvx 1.x
V1_DOUBLE="double with \n escape"
V1_SINGLE='single quoted'
V1_MULTI="multi
line"
V1_EMPTY=
V1_HOST_PLAIN=localhost
EOF

fixture v1-production .env.production "$V1" lf <<'EOF'
DATABASE_URL=postgres://v1:secret@db:5432/app
API_TOKEN="v1-token"
UNICODE=✓ 日本
EOF

fixture v1-staging-eu-west .env.staging.eu.west "$V1" lf <<'EOF'
# DOTENV_PRIVATE_KEY_STAGING_EU (dotenvx keeps only two name parts)
REGION=eu-west-1
SECRET="eu staging secret"
EOF

# ---------------------------------------------------------------------------
# Parser corpus: dotenvx's own parser is the reference.

p="$here/parse"
rm -rf "$p"
mkdir -p "$p"

cat >"$p/quotes.env" <<'EOF'
DQ="double"
SQ='single'
BQ=`backtick`
DQ_SPACES="  inner spaces kept  "
SQ_SPACES='  inner spaces kept  '
BEFORE_QUOTE=   "whitespace before the quote"
AFTER_QUOTE="whitespace after the quote"   
QUOTE_INSIDE_UNQUOTED=it's "fine"
MIXED='single "with" double'
MIXED2="double 'with' single"
MIXED3=`back 'and' "both"`
QUOTED_THEN_TEXT="quoted" then text
SQUOTED_THEN_TEXT='quoted' then text
ONLY_OPEN="
ONLY_OPEN_SQ='
ONE_CHAR="x"
EOF

cat >"$p/escapes.env" <<'EOF'
DQ_N="a\nb"
DQ_R="a\rb"
DQ_T="a\tb"
DQ_QUOTE="say \"hi\""
DQ_BACKSLASH="a\\b"
DQ_BACKSLASH_N="a\\nb"
DQ_OTHER="\a\b\f\v\0\u0041\x41"
SQ_QUOTE='it\'s'
SQ_N='a\nb'
SQ_BACKSLASH='a\\b'
BQ_N=`a\nb`
BQ_QUOTE=`a\`b`
UQ_N=a\nb
UQ_QUOTE=a\"b
ENDS_ESCAPED="abc\"
ESCAPED_THEN_REAL="a\"b"
ESCAPED_CLOSE_COMMENT="a\" # c
EOF

cat >"$p/multiline.env" <<'EOF'
DQ="line1
line2"
SQ='line1
line2'
BQ=`line1
line2`
EMPTY_LINES="

"
WITH_HASH="line1 # not comment
line2"
NEXT=after
UNBALANCED="starts here
NEXT2="ends there"
VALUE_ON_NEXT_LINE=
'from the next line'
CONTINUE=ok
EOF

cat >"$p/comments.env" <<'EOF'
# full-line comment
   # indented comment
A=1 # comment
B=2# comment without space
C="3" # comment after quote
D="4"# comment right after quote
E='5' #
F=#only a comment
G= # spaces then comment
#H=commented out
I=value ## double hash
J="value" junk # comment
EOF

cat >"$p/export.env" <<'EOF'
export A=1
export	B=tab
export   C=spaces
export=value
export =spaced
exportD=1
export export=twice
  export E="indented"
export F
EOF

cat >"$p/separators.env" <<'EOF'
A=1
B = 2
C	=	3
D: 4
E:5
F:	6
G==7
H:=8
I :9
J  =
K=
EOF

cat >"$p/invalid.env" <<'EOF'
JUST_A_KEY
=novalue
KEY WITH SPACES=1
KEY$=2
[section]
1KEY=digit first is fine
key.with.dots=ok
key-with-dashes=ok
ÜNICODE_KEY=not a key
OK=yes
EOF

cat >"$p/duplicates.env" <<'EOF'
A=1
B=x
A=2
A="3"
EOF

printf 'NBSP=\xc2\xa0value\xc2\xa0\nLS=a\xe2\x80\xa8b\nPS_QUOTED="a\xe2\x80\xa9b"\nIDEOGRAPHIC=\xe3\x80\x80x\xe3\x80\x80\nEMOJI=\xf0\x9f\x9a\x80\nZWSP=\xe2\x80\x8bx\n' >"$p/unicode.env"
printf 'A=1\r\nB="x\r\ny"\r\nC=3 # c\r\n' >"$p/crlf.env"
printf 'A=1\rB="x\ry"\rC=3\r' >"$p/cr.env"
printf '\xef\xbb\xbfA=bom\nB=2\n' >"$p/bom.env"
printf 'A=utf16\nB="m\xc3\xbclti\nline"\nC=\xe6\x97\xa5\xf0\x9f\x9a\x80\n' | encode utf16le >"$p/utf16le.env"
printf 'A=ok\nB=bad\xff\xfebytes\nC=trunc\xe2\x82\nD=\xed\xa0\x80surrogate\n' >"$p/invalid-utf8.env"
printf '' >"$p/empty.env"
printf '\n\n   \n\t\n' >"$p/blank.env"
printf 'A=no newline at end' >"$p/no-final-newline.env"

node -e '
	const fs = require("fs"), path = require("path")
	const { scan } = require(process.argv[1])
	const dir = process.argv[2]
	const out = {}
	for (const f of fs.readdirSync(dir).filter(f => f.endsWith(".env")).sort()) {
		const buf = fs.readFileSync(path.join(dir, f))
		// dotenvx reads UTF-16LE when the file starts with FF FE, else UTF-8.
		const src = buf.length >= 2 && buf[0] === 0xff && buf[1] === 0xfe ? buf.toString("utf16le") : buf.toString("utf8")
		out[f] = scan(src).parsed
	}
	fs.writeFileSync(path.join(dir, "expected.json"), JSON.stringify(out, null, 2) + "\n")
' "$PRIMITIVES" "$p"
echo "made parse/expected.json"
