#!/usr/bin/env bash
# Runs envdrift's published benchmarks (bench/*_test.go) once each and prints
# the results as a Markdown table against the targets in
# docs/performance.md, with the machine, the date, the load average and the
# exact command that reproduces the run.
#
#   bench/run.sh            # from anywhere in the repository
#   bench/run.sh -short     # extra arguments go to `go test` (-short skips
#                           # the 10,000-mapping and 30-run benchmarks)
#
# Generated projects go under $ENVDRIFT_BENCH_DIR, /var/tmp by default: on
# some machines creating files in /tmp costs many times more than elsewhere
# on the same disk (see docs/performance.md), which would measure the file
# system instead of envdrift.
set -euo pipefail

cd "$(dirname "$0")/.."
export ENVDRIFT_BENCH_DIR="${ENVDRIFT_BENCH_DIR:-/var/tmp}"
# The in-process sync benchmarks run first, in a process of their own: the
# whole-CLI benchmarks create and delete tens of thousands of files, and the
# disk's write-back and the dotenvx comparison's CPU would otherwise still be
# running under them.
cmd=(go test -run '^$' -bench '^BenchmarkSync' -benchtime 1x -count 1 "$@" ./bench/)
cmd2=(go test -run '^$' -bench '^Benchmark(CLI|CheckDecryption)' -benchtime 1x -count 1 "$@" ./bench/)
# The keys-file write benchmark (internal/durable) runs last: it creates and
# deletes 2,000 folders, which would slow the file creation of the
# 10,000-mapping run after it (docs/performance.md).
cmd3=(go test -run '^$' -bench '^BenchmarkKeysFileWrites' -benchtime 1x -count 1 "$@" ./internal/durable/)
# The unhappy-endpoint benchmarks (dead, over quota, without batches) run
# the binary against the test servers; they mostly wait, so they go last.
cmd4=(go test -run '^$' -bench '^Benchmark(DeadEndpoint|Quota|NoBatch)' -benchtime 1x -count 1 "$@" ./bench/)

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
if ! out=$("${cmd[@]}" 2>&1 && "${cmd2[@]}" 2>&1 && "${cmd3[@]}" 2>&1 && "${cmd4[@]}" 2>&1); then
	printf '%s\n' "$out" >&2
	echo "run.sh: the benchmarks failed" >&2
	exit 1
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# m["<benchmark> <unit>"] = value, for every metric of every benchmark line.
declare -A m
while read -r name unit value; do
	m["$name $unit"]=$value
done < <(printf '%s\n' "$out" | awk '/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name)
	for (i = 3; i < NF; i += 2) print name, $(i + 1), $i
}')

# get BENCH UNIT prints the metric, or "-" when the benchmark did not run.
get() { printf '%s' "${m["$1 $2"]:--}"; }
# calc EXPR evaluates a floating-point awk expression.
calc() { awk "BEGIN { printf \"%s\", ($1) }"; }
# verdict OK prints pass or MISS.
verdict() { if [ "$1" = 1 ]; then printf 'pass'; else printf '**MISS**'; fi; }

rows=()
row() { rows+=("| $1 | $2 | $3 | $4 |"); }

for p in hashicorp hashicorp-detect gcp; do
	b="SyncDistinct/$p"
	def=$(get "$b" ms-default)
	if [ "$def" = - ]; then
		continue
	fi
	xi=$(get "$b" x-ideal)
	ideal=$(calc "$def / $xi")
	measured="$(calc "int($def + 0.5)") ms (first sync in the process: $(calc "int($(get "$b" ms-first) + 0.5)") ms)"
	case $p in
	hashicorp) label="200 mappings, 200 secrets, hashicorp (\`kv_version = 2\`), 20 ms/request, default concurrency (16)" ;;
	hashicorp-detect) label="200 mappings, 200 secrets, hashicorp with \`kv_version\` unset (one KV version lookup before the reads)" ;;
	*) label="200 mappings, 200 secrets, $p, 20 ms/request, default concurrency (16)" ;;
	esac
	if [ "$p" = hashicorp-detect ]; then
		xl=$(get "$b" x-ideal-lookup)
		row "$label" "≤ 1.3 × $(calc "int($ideal + 20.5)") ms (13 round trips and the lookup)" "$measured" \
			"$(calc "sprintf(\"%.2f\", $xl)")× ideal with the lookup ($(calc "sprintf(\"%.2f\", $xi)")× without) — $(verdict "$(calc "$xl <= 1.3")")"
		continue
	fi
	row "$label" "≤ 1.3 × $(calc "int($ideal + 0.5)") ms" "$measured" \
		"$(calc "sprintf(\"%.2f\", $xi)")× ideal — $(verdict "$(calc "$xi <= 1.3")")"
	c1=$(get "$b" ms-c1)
	sp=$(get "$b" speedup)
	row "same, --concurrency 1" "≥ 10× slower than the default" "$(calc "int($c1 + 0.5)") ms" \
		"$(calc "sprintf(\"%.1f\", $sp)")× — $(verdict "$(calc "$sp >= 10")")"
done

b=SyncAWSBatch
if [ "$(get $b ms-default)" != - ]; then
	batch=$(get $b batch-requests)
	single=$(get $b get-requests)
	row "200 mappings, 200 secrets, AWS (batched), 20 ms/request" \
		"≤ 10 BatchGetSecretValue, 0 GetSecretValue" \
		"$(calc "int($batch)") batch, $(calc "int($single)") single, $(calc "int($(get $b ms-default) + 0.5)") ms" \
		"$(verdict "$(calc "$batch <= 10 && $single == 0")")"
fi

b=SyncShared
if [ "$(get $b ms-default)" != - ]; then
	f=$(get $b fetches)
	row "200 mappings sharing 10 secrets (HashiCorp)" "exactly 10 fetches" \
		"$(calc "int($f)") fetches, $(calc "int($(get $b ms-default) + 0.5)") ms" "$(verdict "$(calc "$f == 10")")"
fi

for p in hashicorp aws; do
	b="SyncSharedKeys/$p"
	sh=$(get "$b" ms-shared)
	if [ "$sh" = - ]; then
		continue
	fi
	xs=$(get "$b" x-separate)
	row "200 mappings, 200 keys in one secret ($p), vs the same in 200 separate secrets, paired" "no slower than separate secrets (≤ 1×), 1 request" \
		"$(calc "int($sh + 0.5)") ms vs $(calc "int($(get "$b" ms-separate) + 0.5)") ms, $(calc "int($(get "$b" fetches))") request" \
		"$(calc "sprintf(\"%.2f\", $xs)")× — $(verdict "$(calc "$xs <= 1 && $(get "$b" fetches) == 1")")"
done

b=CLI10k
if [ "$(get $b s-first)" != - ]; then
	for run in first second; do
		s=$(get $b "s-$run")
		mb=$(get $b "MB-$run")
		label="10,000 mappings, file provider, whole CLI, first run (creates 10,000 keys files)"
		[ "$run" = second ] && label="same, second run (all skipped)"
		row "$label" "< 5 s, < 200 MB peak RSS" \
			"$(calc "sprintf(\"%.2f\", $s)") s, $(calc "int($mb + 0.5)") MB" \
			"$(calc "sprintf(\"%.2f\", $s / 5)")× time budget — $(verdict "$(calc "$s < 5 && $mb < 200")")"
	done
fi

b=CLIStartup
if [ "$(get $b ms-version)" != - ]; then
	v=$(get $b ms-version)
	s1=$(get $b ms-sync1)
	floor=$(get $b ms-true)
	row "\`envdrift --version\`, median of 30 processes" "< 20 ms" \
		"$(calc "sprintf(\"%.1f\", $v)") ms (starting \`true\`: $(calc "sprintf(\"%.1f\", $floor)") ms)" \
		"$(calc "sprintf(\"%.2f\", $v / 20)")× budget — $(verdict "$(calc "$v < 20")")"
	row "one-mapping file-provider sync (creates .env.keys), median of 30" "< 50 ms" \
		"$(calc "sprintf(\"%.1f\", $s1)") ms" \
		"$(calc "sprintf(\"%.2f\", $s1 / 50)")× budget — $(verdict "$(calc "$s1 < 50")")"
fi

b=CLIRun
if [ "$(get $b ms-run)" != - ]; then
	o=$(get $b ms-overhead)
	row "\`envdrift run -- sh -c …\` vs \`sh -c …\`, file provider, 20 encrypted values, median of 30 alternating" "< 50 ms overhead" \
		"$(calc "sprintf(\"%.1f\", $(get $b ms-run))") ms vs $(calc "sprintf(\"%.1f\", $(get $b ms-exec))") ms: $(calc "sprintf(\"%.1f\", $o)") ms overhead" \
		"$(calc "sprintf(\"%.2f\", $o / 50)")× budget — $(verdict "$(calc "$o < 50")")"
fi

b=CheckDecryption
if [ "$(get $b ms-envdrift)" != - ]; then
	e=$(get $b ms-envdrift)
	d=$(get $b s-dotenvx)
	if [ "$d" = - ]; then
		row "\`envdrift sync --check-decryption\`, 1,000 encrypted values, whole process, median of 5" "well under 1 s" \
			"$(calc "sprintf(\"%.0f\", $e)") ms (dotenvx not installed: set DOTENVX_BIN)" "$(verdict "$(calc "$e < 1000")")"
	else
		row "\`envdrift sync --check-decryption\` vs \`dotenvx decrypt\`, same 1,000-value file, whole processes" "well under 1 s" \
			"envdrift $(calc "sprintf(\"%.0f\", $e)") ms; dotenvx $(calc "sprintf(\"%.1f\", $d)") s" \
			"$(calc "sprintf(\"%.0f\", $(get $b speedup))")× faster — $(verdict "$(calc "$e < 1000")")"
	fi
fi

b=KeysFileWrites
if [ "$(get $b ms-group)" != - ]; then
	row "1,000 new keys files from 64 writers: each write alone (fsync, rename, fsync) vs group commit (syncfs)" \
		"group commit faster" \
		"alone $(calc "int($(get $b ms-alone) + 0.5)") ms; group commit $(calc "int($(get $b ms-group) + 0.5)") ms" \
		"$(calc "sprintf(\"%.1f\", $(get $b x-faster))")× faster — $(verdict "$(calc "$(get $b x-faster) > 1")")"
fi

for p in hashicorp aws gcp azure; do
	for c in default c1; do
		b="DeadEndpoint/$p/$c"
		s=$(get "$b" s-wall)
		if [ "$s" = - ]; then
			continue
		fi
		label="200 mappings, $p endpoint dead (connection refused), default concurrency (16)"
		[ "$c" = c1 ] && label="same, --concurrency 1"
		row "$label" "< 3 s, all 200 rows unavailable" \
			"$(calc "sprintf(\"%.2f\", $s)") s, $(calc "int($(get "$b" failed))") failed, $(calc "int($(get "$b" requests))") requests reached the server" \
			"$(calc "sprintf(\"%.2f\", $s / 3)")× time budget — $(verdict "$(calc "$s < 3 && $(get "$b" failed) == 200")")"
	done
done

for q in hashicorp:40:40 aws-batch:200:10 aws-single:40:40 gcp:40:40 azure:40:40; do
	IFS=: read -r name secrets requests <<<"$q"
	b="Quota/$name"
	s=$(get "$b" s-wall)
	if [ "$s" = - ]; then
		continue
	fi
	what="$secrets secrets, $name, quota 5 requests/s"
	case $name in
	aws-batch) what="$secrets secrets, aws (batched: $requests requests), quota 5 requests/s" ;;
	aws-single) what="$secrets secrets, aws without batches, quota 5 requests/s" ;;
	esac
	x=$(get "$b" x-quota)
	f=$(get "$b" failed)
	row "$what, default concurrency" "0 failed, ≤ 1.5 × $(calc "$requests / 5") s" \
		"$(calc "sprintf(\"%.2f\", $s)") s, $(calc "int($f)") failed, $(calc "int($(get "$b" server-requests))") requests to the server" \
		"$(calc "sprintf(\"%.2f\", $x)")× requests ÷ quota — $(verdict "$(calc "$x <= 1.5 && $f == 0")")"
done

for m in denied unknown-operation not-implemented; do
	b="NoBatch/$m"
	ms=$(get "$b" ms-wall)
	if [ "$ms" = - ]; then
		continue
	fi
	case $m in
	denied) what="BatchGetSecretValue denied (AccessDeniedException)" ;;
	unknown-operation) what="an endpoint without BatchGetSecretValue (UnknownOperationException)" ;;
	*) what="LocalStack without BatchGetSecretValue (HTTP 501)" ;;
	esac
	bt=$(get "$b" batch-requests)
	f=$(get "$b" failed)
	n=$(get "$b" notices)
	row "200 mappings, 200 secrets, aws, $what" "0 failed, 1 batch call, 1 notice" \
		"$(calc "int($f)") failed, $(calc "int($bt)") batch + $(calc "int($(get "$b" get-requests))") single, $(calc "int($n)") notice, $(calc "int($ms + 0.5)") ms" \
		"$(verdict "$(calc "$f == 0 && $bt == 1 && $n == 1")")"
done

cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
cores=$(grep -c '^processor' /proc/cpuinfo)
fs=$(stat -f -c %T "$ENVDRIFT_BENCH_DIR" 2>/dev/null || echo unknown)

echo "| Benchmark | Target | Measured | Ratio / result |"
echo "| --- | --- | --- | --- |"
printf '%s\n' "${rows[@]}"
echo
echo "Machine: $cpu, $cores cores ($(uname -sr)); $(go version | cut -d' ' -f3-)."
echo "Run: $started; load average $load_before before, $load_after after (1, 5, 15 min)."
echo "Projects generated under $ENVDRIFT_BENCH_DIR ($fs)."
echo
echo "Reproduce from the repository root:"
echo
echo '```sh'
for c in "${cmd[*]}" "${cmd2[*]}" "${cmd3[*]}" "${cmd4[*]}"; do
	echo "ENVDRIFT_BENCH_DIR=$ENVDRIFT_BENCH_DIR $c" | sed -e "s/-run ^\\$ /-run '^\$' /" -e "s/-bench \\(\\^[^ ]*\\)/-bench '\\1'/"
done
echo '```'
echo
echo '<details><summary>Raw go test output</summary>'
echo
echo '```'
printf '%s\n' "$out" | grep -E '^(Benchmark|goos|goarch|cpu|ok|PASS)'
echo '```'
echo
echo '</details>'
