#!/bin/sh
test_description='soak: mixed load (pulls, runs, execs, SSE subscribers, bad requests) for two minutes; with the load gone, berthd holds no more descriptors, mounts, shims or memory than before it'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/registry.sh"
. "$TEST_DIRECTORY/lib/runtime.sh"

# contrib/bench/soak.sh does the work; CI runs its short form. A sanitizer
# build keeps freed memory in quarantine (its RSS says nothing about
# leaks; LeakSanitizer does, at berthd's exit) and runs slower: a shorter
# run there, RSS not judged.
if ldd "$BERTHD" 2>/dev/null | grep -q libasan; then
	SOAK_ARGS="--duration 40 --warmup 15 --interval 5 --no-rss-check"
else
	SOAK_ARGS="--duration ${BERTH_TEST_SOAK_SECONDS:-100} --warmup 20 --interval 5"
fi

test_expect_success "soak.sh $SOAK_ARGS: no growth once the load is gone" '
	mkdir soak &&
	if ! "$SRCDIR/contrib/bench/soak.sh" --build-dir "$BERTH_BUILD_DIR" --tmpdir "$TRASH/soak" \
		--csv "$TRASH/samples.csv" $SOAK_ARGS >report 2>&1
	then
		cat report &&
		false
	fi &&
	cat report &&
	grep "^| berthd open fds .* PASS |$" report &&
	grep "^| shims .* PASS |$" report &&
	grep "^load failures: 0$" report &&
	test $(wc -l <samples.csv) -ge 4
'

test_done
