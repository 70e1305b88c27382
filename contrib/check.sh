#!/bin/sh
# Build berth twice from this checkout, as CI does — plain with -Werror, and
# with ASan+UBSan — and run the whole test suite (unit + integration, prove)
# in each build; build the libFuzzer targets with clang and run each for
# FUZZ_SECONDS (default 60), two at a time. Usage (as root):
# contrib/check.sh [--quick]  (--quick: plain build only, no fuzzing). Exit
# status is non-zero if any build or test failed or a fuzzer found anything.
#
# The suites wait on containers, registries and timeouts much of the time:
# the sanitizer and fuzzing builds run at the lowest CPU priority beside the
# plain suite, and the fuzzers beside the sanitizer suite, on the CPU the
# tests leave idle.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
quick=
[ "${1:-}" = --quick ] && quick=1
jobs=$(nproc 2>/dev/null || echo 2)

# build VARIANT: configure and build build-ci-VARIANT; its output, when it
# fails, goes to stderr
build() {
	dir=$top/build-ci-$1
	mkdir -p "$dir"
	case $1 in
	plain) set -- "$top/configure" -q --enable-werror && target= ;;
	sanitizers) set -- "$top/configure" -q --enable-werror --enable-sanitizers && target= ;;
	fuzz) set -- env CC=clang "$top/configure" -q --enable-fuzzing && target=fuzz ;;
	esac
	(cd "$dir" && "$@" && make -s -j"$jobs" $target)
}

# tests VARIANT: the whole suite in build-ci-VARIANT
tests() {
	echo "=== $1 tests"
	(cd "$top/build-ci-$1" && make -s prove PROVE_OPTS="${PROVE_OPTS:---failures --comments --timer}")
}

# (internal) --build VARIANT...: build each, its log in build-ci-VARIANT.log
# and, when it built, the stamp build-ci-VARIANT.ok
if [ "${1:-}" = --build ]; then
	shift
	for v in "$@"; do
		rm -f "$top/build-ci-$v.ok"
		build "$v" >"$top/build-ci-$v.log" 2>&1 && : >"$top/build-ci-$v.ok" || true
	done
	exit 0
fi

./autogen.sh >/dev/null
status=0
echo "=== plain build ($top/build-ci-plain)"
plain_built=
build plain && plain_built=1 || status=1
bg=
if [ -z "$quick" ]; then
	rm -f "$top/build-ci-sanitizers.ok" "$top/build-ci-fuzz.ok"
	nice -n 19 "$top/contrib/check.sh" --build sanitizers fuzz </dev/null &
	bg=$!
fi
if [ -n "$plain_built" ]; then
	tests plain || status=1
fi
[ -z "$quick" ] || {
	[ $status -eq 0 ] && echo "=== all builds and tests passed" || echo "=== FAILED"
	exit $status
}

echo "=== sanitizers build ($top/build-ci-sanitizers, niced, beside the plain tests)"
wait "$bg" || true
fuzz=
if [ -e "$top/build-ci-fuzz.ok" ]; then
	# the fuzzers take the CPU the sanitizer suite leaves idle
	echo "=== fuzzing, ${FUZZ_SECONDS:-60} s per target, two at a time, niced, beside the sanitizer tests"
	(cd "$top/build-ci-fuzz" &&
		exec nice -n 19 make -s fuzz-run FUZZ_SECONDS="${FUZZ_SECONDS:-60}" FUZZ_JOBS=2) \
		</dev/null >"$top/build-ci-fuzz-run.log" 2>&1 &
	fuzz=$!
else
	echo "=== fuzz build failed ($top/build-ci-fuzz)"
	cat "$top/build-ci-fuzz.log" >&2
	status=1
fi
if [ -e "$top/build-ci-sanitizers.ok" ]; then
	tests sanitizers || status=1
else
	cat "$top/build-ci-sanitizers.log" >&2
	status=1
fi
if [ -n "$fuzz" ]; then
	echo "=== fuzzing ($top/build-ci-fuzz-run.log)"
	wait "$fuzz" || status=1
	cat "$top/build-ci-fuzz-run.log"
fi
[ $status -eq 0 ] && echo "=== all builds and tests passed" || echo "=== FAILED"
exit $status
