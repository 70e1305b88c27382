#!/bin/sh
# Run libFuzzer targets for a bounded time each, several at once; fail on
# any finding (crash, leak, sanitizer report, broken invariant, timeout).
# `make fuzz-run` calls it; by hand:
#
#   t/fuzz/run.sh --seconds 30 --jobs 2 --corpus t/fuzz/corpus \
#       --out BUILD/fuzz-out --bin BUILD/t/fuzz [TARGET...]
#
# Each target NAME runs as BIN/fuzz-NAME on OUT/NAME/corpus (kept between
# runs: what it found is the start of the next run) plus the committed seeds
# CORPUS/NAME (read only). Its log is OUT/NAME/log, what it crashed on goes
# to OUT/NAME/artifacts/. One line per target goes to OUT/summary.tsv:
# target, seconds it ran, executions, corpus size (inputs), coverage, result.
set -eu

seconds=30 jobs=2 corpus= out= bin= one=
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) seconds=$2; shift 2 ;;
	--jobs) jobs=$2; shift 2 ;;
	--corpus) corpus=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--bin) bin=$2; shift 2 ;;
	--one) one=$2; shift 2 ;;
	--) shift; break ;;
	-*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
[ -n "$corpus" ] && [ -n "$out" ] && [ -n "$bin" ] || { echo "run.sh: --corpus, --out and --bin are required" >&2; exit 2; }
corpus=$(cd "$corpus" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)

if [ -n "$one" ]; then
	name=$one dir=$out/$one
	mkdir -p "$dir/corpus" "$dir/artifacts"
	rc=0
	start=$(date +%s)
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
	"$bin/fuzz-$name" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
		"$dir/corpus" "$corpus/$name" >"$dir/log" 2>&1 || rc=$?
	took=$(($(date +%s) - start))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$dir/log" | tail -n 1 | sed 's/cov: //')
	# the corpus libFuzzer ended with (seeds and what it added, minimised)
	files=$(grep -o 'corp: [0-9]*' "$dir/log" | tail -n 1 | sed 's/corp: //')
	if [ $rc -eq 0 ]; then
		result=ok
	else
		result="FAILED (exit $rc)"
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$took" "${execs:-0}" "${files:-0}" "${cov:-0}" "$result" >>"$out/summary.tsv"
	printf 'fuzz-%s: %s s, %s executions, corpus %s inputs, coverage %s: %s\n' \
		"$name" "$took" "${execs:-0}" "${files:-0}" "${cov:-0}" "$result"
	if [ $rc -ne 0 ]; then
		echo "--- fuzz-$name: last lines of $dir/log" >&2
		tail -n 60 "$dir/log" >&2
		ls "$dir/artifacts" >&2 || :
	fi
	exit $rc
fi

[ $# -gt 0 ] || { echo "run.sh: no target named" >&2; exit 2; }
for name; do
	[ -x "$bin/fuzz-$name" ] || { echo "run.sh: $bin/fuzz-$name is not built (make fuzz)" >&2; exit 2; }
	[ -d "$corpus/$name" ] || { echo "run.sh: no seed corpus $corpus/$name" >&2; exit 2; }
done
echo "=== fuzzing $# targets, $seconds s each, $jobs at a time"
rc=0
printf '%s\n' "$@" | xargs -P "$jobs" -I{} sh "$0" --one {} --seconds "$seconds" \
	--corpus "$corpus" --out "$out" --bin "$bin" || rc=1
[ $rc -eq 0 ] && echo "=== fuzzing: no finding" || echo "=== fuzzing: FINDINGS (see above)"
exit $rc
