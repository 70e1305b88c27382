#!/bin/sh
# Build berth twice from this checkout, as CI does — plain with -Werror, and
# with ASan+UBSan — and run the whole test suite (unit + integration, prove)
# in each build; then build the libFuzzer targets with clang and run each for
# FUZZ_SECONDS (default 30), two at a time. Usage (as root):
# contrib/check.sh [--quick]  (--quick: plain build only, no fuzzing). Exit
# status is non-zero if any build or test failed or a fuzzer found anything.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
variants="plain sanitizers"
[ "${1:-}" = --quick ] && variants=plain
jobs=$(nproc 2>/dev/null || echo 2)

./autogen.sh >/dev/null
status=0
for v in $variants; do
	dir=$top/build-ci-$v
	opts=--enable-werror
	[ "$v" = sanitizers ] && opts="$opts --enable-sanitizers"
	echo "=== $v build ($dir)"
	mkdir -p "$dir"
	(cd "$dir" && "$top/configure" -q $opts && make -s -j"$jobs") || { status=1; continue; }
	echo "=== $v tests"
	(cd "$dir" && make -s prove PROVE_OPTS="${PROVE_OPTS:---failures --comments --timer}") || status=1
done
if [ "${1:-}" != --quick ]; then
	dir=$top/build-ci-fuzz
	echo "=== fuzz build ($dir)"
	mkdir -p "$dir"
	if (cd "$dir" && CC=clang "$top/configure" -q --enable-fuzzing && make -s -j"$jobs" fuzz); then
		echo "=== fuzzing, ${FUZZ_SECONDS:-30} s per target"
		(cd "$dir" && make -s fuzz-run FUZZ_SECONDS="${FUZZ_SECONDS:-30}" FUZZ_JOBS=2) || status=1
	else
		status=1
	fi
fi
[ $status -eq 0 ] && echo "=== all builds and tests passed" || echo "=== FAILED"
exit $status
