#!/bin/sh
# Test bodies are single-quoted and evaluated later, by the harness.
# shellcheck disable=SC2016,SC2034,SC2317

test_description='the test harness itself (t/lib/test-lib.sh, t/lib/daemon.sh)

Runs without berthd: the daemon helpers are tried against a fake berthd
written in node (NODE prerequisite).'

test_no_berthd=t
# shellcheck source=t/lib/test-lib.sh
. "$(dirname "$0")/lib/test-lib.sh"

# The fake daemon's responses must not reach the suite's response log,
# which the API conformance test holds against api-spec/openapi.yaml.
BERTH_RESPONSE_LOG=$TRASH_DIRECTORY/responses.ndjson

# run_sub_test NAME [OPTIONS...] <SCRIPT: write SCRIPT (test bodies after the
# harness is sourced) as NAME/NAME.sh, run it with the shell running us and
# OPTIONS, and leave its stdout in NAME/out, stderr in NAME/err, exit
# status in NAME/exit-code, and its TAP lines (no comments) in NAME/tap.
run_sub_test () {
	sub_name=$1
	shift
	mkdir -p "$sub_name" &&
	{
		printf '#!/bin/sh\n'
		printf "test_description='sub-test %s'\n" "$sub_name"
		printf 'test_no_berthd=t\n'
		printf '. "$TEST_DIRECTORY/lib/test-lib.sh"\n'
		cat
	} >"$sub_name/$sub_name.sh" &&
	(
		cd "$sub_name" &&
		BERTH_TRASH_ROOT=$TRASH_DIRECTORY/$sub_name/trash &&
		BERTH_RESPONSE_LOG= &&
		export BERTH_TRASH_ROOT BERTH_RESPONSE_LOG &&
		unset TEST_VERBOSE BERTH_SKIP_TESTS &&
		{
			"$TEST_SHELL_PATH" "./$sub_name.sh" "$@" >out 2>err
			echo "$?" >exit-code
		} &&
		sed -n '/^#/!p' out >tap
	)
}

test_expect_success 'success is reported like this' '
	:
'

test_expect_failure 'pretend we have a known breakage' '
	false
'

test_expect_success 'test_must_fail accepts a normal failure' '
	test_must_fail false &&
	test_must_fail sh -c "exit 1" &&
	test_must_fail sh -c "exit 2"
'

test_expect_success 'test_must_fail rejects success' '
	! test_must_fail true 2>err &&
	test_grep "command succeeded" err
'

test_expect_success 'test_must_fail rejects a segfault and an abort' '
	(
		ulimit -c 0 &&
		! test_must_fail sh -c "kill -SEGV \$\$" 2>err &&
		test_grep "died by signal 11" err &&
		! test_must_fail sh -c "kill -ABRT \$\$" 2>err &&
		test_grep "died by signal 6" err
	)
'

test_expect_success 'test_must_fail rejects commands that cannot run and sanitizer exits' '
	! test_must_fail no-such-command-in-berth-tests 2>err &&
	test_grep "command not found" err &&
	! test_must_fail sh -c "exit 86" 2>err &&
	test_grep "sanitizer" err &&
	! test_must_fail sh -c "exit 87"
'

test_expect_success 'test_must_fail ok=sigpipe, test_might_fail' '
	test_must_fail ok=sigpipe sh -c "kill -PIPE \$\$" &&
	! test_must_fail sh -c "kill -PIPE \$\$" 2>/dev/null &&
	test_might_fail true &&
	test_might_fail false &&
	(
		ulimit -c 0 &&
		! test_might_fail sh -c "kill -SEGV \$\$" 2>/dev/null
	)
'

test_expect_success 'test_must_fail and test_might_fail take shell functions' '
	fails () { return 3; } &&
	test_must_fail fails &&
	test_might_fail fails
'

test_expect_success 'test_expect_code' '
	test_expect_code 3 sh -c "exit 3" &&
	test_expect_code 0 true &&
	! test_expect_code 1 sh -c "exit 2" 2>err &&
	test_grep "exited with 2, we wanted 1" err
'

test_expect_success 'test_cmp passes on equal files and shows a diff -u otherwise' '
	printf "a\nb\n" >one &&
	printf "a\nb\n" >two &&
	printf "a\nc\n" >three &&
	test_cmp one two &&
	! test_cmp one three >diff &&
	test_grep "^--- one" diff &&
	test_grep "^+++ three" diff &&
	test_grep "^-b" diff &&
	test_grep "^+c" diff
'

test_expect_success 'test_line_count' '
	printf "1\n2\n3\n" >three-lines &&
	test_line_count = 3 three-lines &&
	test_line_count -gt 2 three-lines &&
	! test_line_count = 2 three-lines 2>err &&
	test_grep "line count for three-lines is 3, not = 2" err
'

test_expect_success 'test_path_is_file, test_path_is_dir, test_path_is_missing' '
	mkdir adir &&
	: >afile &&
	test_path_is_file afile &&
	! test_path_is_file adir 2>/dev/null &&
	test_path_is_dir adir &&
	! test_path_is_dir afile 2>/dev/null &&
	test_path_exists adir &&
	test_path_is_missing nothing &&
	! test_path_is_missing afile 2>/dev/null
'

test_expect_success 'test_must_be_empty and test_grep' '
	: >empty &&
	echo something >full &&
	test_must_be_empty empty &&
	! test_must_be_empty full 2>err &&
	test_grep something err &&
	! test_must_be_empty nothing 2>/dev/null &&
	test_grep -F some full &&
	test_grep ! other full &&
	! test_grep other full 2>err &&
	test_grep "no match" err
'

test_expect_success 'test_wait_for polls until the command succeeds' '
	{ (sleep 0.3 && : >appeared) & } &&
	test_wait_for 5 test -f appeared &&
	! test_wait_for 1 test -f never-appears 2>err &&
	test_grep "timed out" err
'

test_expect_success 'the trash directory is the cwd and HOME, under a short root' '
	test "$(pwd)" = "$TRASH_DIRECTORY" &&
	test "$HOME" = "$TRASH_DIRECTORY" &&
	test "$TRASH" = "$TRASH_DIRECTORY" &&
	test "${#TRASH_DIRECTORY}" -lt 60 &&
	case "$TRASH_DIRECTORY" in
	"$BERTH_TRASH_ROOT/t0000" | "$BERTH_TRASH_ROOT/t0000.$$") ;;
	*) false ;;
	esac
'

test_expect_success 'paths of the source and the build are exported' '
	test -f "$TEST_DIRECTORY/lib/test-lib.sh" &&
	test -f "$SRCDIR/configure.ac" &&
	test "$BERTHD" = "$BERTH_BUILD_DIR/berthd" &&
	test "$BERTH" = "$BERTH_BUILD_DIR/berth" &&
	case "$PATH" in "$BERTH_BUILD_DIR":*) ;; *) false ;; esac
'

test_expect_success 'test_when_finished runs after the test, last registered first' '
	test_when_finished "echo first-registered >>order" &&
	test_when_finished "echo second-registered >>order" &&
	echo body >order
'

test_expect_success '... in that order' '
	printf "%s\n" body second-registered first-registered >expect &&
	test_cmp expect order
'

test_set_prereq HAVEIT
haveit=no
test_expect_success HAVEIT 'a test with a satisfied prerequisite runs' '
	test_have_prereq HAVEIT &&
	haveit=yes
'

donthaveit=yes
test_expect_success DONTHAVEIT 'a test with a missing prerequisite is skipped' '
	donthaveit=no
'

test_expect_success !DONTHAVEIT,HAVEIT 'negated and several prerequisites' '
	test_have_prereq "HAVEIT,!DONTHAVEIT" &&
	! test_have_prereq HAVEIT,DONTHAVEIT &&
	test "$missing_prereq" = DONTHAVEIT &&
	! test_have_prereq !HAVEIT
'

test_expect_success 'prerequisites decided which tests ran' '
	test "$haveit" = yes &&
	test "$donthaveit" = yes
'

test_lazy_prereq LAZY_TRUE 'echo ran >>"$TRASH_DIRECTORY/lazy-true-ran"'
test_lazy_prereq LAZY_FALSE 'false'

test_expect_success 'lazy prerequisites are evaluated once, on first use' '
	test_path_is_missing lazy-true-ran &&
	test_have_prereq LAZY_TRUE &&
	test_have_prereq LAZY_TRUE &&
	test_line_count = 1 lazy-true-ran &&
	! test_have_prereq LAZY_FALSE &&
	test_have_prereq !LAZY_FALSE
'

test_expect_success 'the ROOT prerequisite follows id -u' '
	if test "$(id -u)" = 0
	then
		test_have_prereq ROOT
	else
		! test_have_prereq ROOT
	fi
'

test_expect_success 'RUNC, CURL, JQ, NODE follow PATH' '
	for p in RUNC:runc CURL:curl JQ:jq NODE:node
	do
		if command -v "${p#*:}" >/dev/null
		then
			test_have_prereq "${p%%:*}" || return 1
		else
			! test_have_prereq "${p%%:*}" || return 1
		fi
	done
'

test_expect_success 'a failing script reports not ok, TODOs and skips in TAP' '
	run_sub_test failing <<-\EOF &&
	test_expect_success "passing test" "true"
	test_expect_success "failing test" "
		echo output of the failing test &&
		test_when_finished \"echo cleaned >\$TRASH_DIRECTORY/../cleaned\" &&
		false
	"
	test_expect_success MISSING "skipped test" "true"
	test_expect_failure "known breakage" "false"
	test_expect_failure "vanished breakage" "true"
	test_expect_success "title with # skip in it" "true"
	test_done
	EOF
	cat >expect <<-\EOF &&
	ok 1 - passing test
	not ok 2 - failing test
	ok 3 # skip skipped test (missing MISSING)
	not ok 4 - known breakage # TODO known breakage
	ok 5 - vanished breakage # TODO known breakage vanished
	ok 6 - title with \# skip in it
	1..6
	EOF
	test_cmp expect failing/tap &&
	test "$(cat failing/exit-code)" = 1 &&
	test_grep "^# output of the failing test" failing/out &&
	test_grep "^# failed 1 among 6 test(s)" failing/out &&
	test_grep "^# trash directory kept: .*/failing/trash/failing$" failing/out &&
	test_path_is_dir failing/trash/failing &&
	test_path_is_file failing/trash/cleaned
'

test_expect_success 'a passing script exits 0 and removes its trash' '
	run_sub_test passing <<-\EOF &&
	test_expect_success "passing test" "true"
	test_expect_success NOPE "skipped test" "false"
	test_done
	EOF
	printf "%s\n" "ok 1 - passing test" "ok 2 # skip skipped test (missing NOPE)" 1..2 >expect &&
	test_cmp expect passing/tap &&
	test "$(cat passing/exit-code)" = 0 &&
	test_grep "^# passed all 2 test(s)" passing/out &&
	test_path_is_missing passing/trash/passing &&
	test_path_is_missing passing/trash/passing.out
'

test_expect_success 'test_prereq_why gives a skipped test its reason' '
	run_sub_test why <<-\EOF &&
	test_prereq_why NOPE "no frobnicator here (501)"
	test_set_prereq YEP
	test_prereq_why YEP "never said"
	test_expect_success NOPE "one missing prerequisite" "false"
	test_expect_success OTHER,NOPE "two missing prerequisites" "false"
	test_expect_success YEP "a satisfied one" "true"
	test_expect_success OTHER,YEP "no reason given" "false"
	test_done
	EOF
	printf "%s\n" "ok 1 # skip one missing prerequisite (no frobnicator here (501))" \
		"ok 2 # skip two missing prerequisites (no frobnicator here (501))" \
		"ok 3 - a satisfied one" "ok 4 # skip no reason given (missing OTHER)" 1..4 >expect &&
	test_cmp expect why/tap
'

test_expect_success 'skip_all skips the whole script' '
	run_sub_test skipping <<-\EOF &&
	skip_all="no frobnicator here"
	test_done
	EOF
	echo "1..0 # SKIP no frobnicator here" >expect &&
	test_cmp expect skipping/out &&
	test "$(cat skipping/exit-code)" = 0
'

test_expect_success 'scripts skip_all when berthd is not built' '
	mkdir -p no-build &&
	{
		printf "#!/bin/sh\n" &&
		printf "test_description=needs-berthd\n" &&
		printf ". \"\$TEST_DIRECTORY/lib/test-lib.sh\"\n" &&
		printf "test_expect_success never true\ntest_done\n"
	} >no-build/needs.sh &&
	(
		cd no-build &&
		BERTH_BUILD_DIR=$TRASH_DIRECTORY/no-build &&
		BERTH_TRASH_ROOT=$TRASH_DIRECTORY/no-build/trash &&
		export BERTH_BUILD_DIR BERTH_TRASH_ROOT &&
		"$TEST_SHELL_PATH" ./needs.sh >out
	) &&
	test_grep "^1..0 # SKIP berthd is not built" no-build/out
'

test_expect_success 'body output goes to stderr with -v, else only to a failing test' '
	run_sub_test verbose -v <<-\EOF &&
	test_expect_success "talks" "echo to-stdout && echo to-stderr >&2"
	test_done
	EOF
	test_grep to-stdout verbose/err &&
	test_grep to-stderr verbose/err &&
	test_grep ! to-std verbose/out &&
	run_sub_test quiet <<-\EOF &&
	test_expect_success "talks" "echo to-stdout && echo to-stderr >&2"
	test_done
	EOF
	test_grep ! to-std quiet/out &&
	test_grep ! to-std quiet/err
'

test_expect_success '-i stops at the first failure' '
	run_sub_test immediate -i <<-\EOF &&
	test_expect_success "fails" "false"
	test_expect_success "never runs" "true"
	test_done
	EOF
	printf "%s\n" "not ok 1 - fails" 1..1 >expect &&
	test_cmp expect immediate/tap &&
	test "$(cat immediate/exit-code)" = 1
'

test_expect_success '-x traces the body' '
	run_sub_test traced -x <<-\EOF &&
	test_expect_success "traced" "var=value-in-trace"
	test_done
	EOF
	test_grep "var=value-in-trace" traced/err
'

test_expect_success '--debug keeps the trash' '
	run_sub_test debugging --debug <<-\EOF &&
	test_expect_success "passes" ": >left-behind"
	test_done
	EOF
	test "$(cat debugging/exit-code)" = 0 &&
	test_path_is_file debugging/trash/debugging/left-behind
'

test_expect_success 'a broken &&-chain is a bug in the test' '
	run_sub_test chain <<-\EOF &&
	test_expect_success "broken chain" "
		true
		true
	"
	test_done
	EOF
	test "$(cat chain/exit-code)" != 0 &&
	test_grep "broken &&-chain" chain/out
'

test_expect_success 'test_when_finished in a subshell is a bug' '
	run_sub_test subshell <<-\EOF &&
	test_expect_success "cleanup in a subshell" "
		(test_when_finished true)
	"
	test_done
	EOF
	test "$(cat subshell/exit-code)" != 0 &&
	test_grep "does nothing in a subshell" subshell/err
'

test_expect_success 'an exit in a test body is reported as a failure' '
	run_sub_test exiting <<-\EOF &&
	test_expect_success "exits" "exit 0"
	test_done
	EOF
	printf "%s\n" "not ok 1 - exits" 1..1 >expect &&
	test_cmp expect exiting/tap &&
	test "$(cat exiting/exit-code)" = 1 &&
	test_grep "FATAL: unexpected exit with code 0" exiting/out
'

test_expect_success 'the watchdog kills a script that hangs' '
	SLEEPER_PID=$TRASH_DIRECTORY/sleeper.pid &&
	export SLEEPER_PID &&
	before=$(date +%s) &&
	(
		BERTH_TEST_TIMEOUT=1 &&
		export BERTH_TEST_TIMEOUT &&
		run_sub_test hanging <<-\EOF
		test_expect_success "hangs" "sh -c '\''echo \$\$ >\"\$SLEEPER_PID\"; exec sleep 60'\''"
		test_done
		EOF
	) &&
	test "$(($(date +%s) - before))" -lt 20 &&
	test "$(cat hanging/exit-code)" != 0 &&
	printf "%s\n" "not ok 1 - hangs" 1..1 >expect &&
	test_cmp expect hanging/tap &&
	test_grep "watchdog: hanging exceeded BERTH_TEST_TIMEOUT=1s" hanging/out &&
	! test_pid_alive_ "$(cat sleeper.pid)"
'

test_expect_success 'processes a script leaves behind are killed at its end' '
	STRAYS=$TRASH_DIRECTORY/stray-pids &&
	export STRAYS &&
	run_sub_test strays <<-\EOF &&
	test_expect_success "leaves processes" "
		{ sleep 1000 & } &&
		echo \$! >>\"\$STRAYS\" &&
		( sleep 1001 & echo \$! >>\"\$STRAYS\" )
	"
	test_done
	EOF
	test "$(cat strays/exit-code)" = 0 &&
	test_line_count = 2 stray-pids &&
	test_grep "killing stray process .*sleep 1000" strays/out &&
	test_grep "killing stray process .*sleep 1001" strays/out &&
	for pid in $(cat stray-pids)
	do
		! test_pid_alive_ "$pid" || return 1
	done
'

# A fake berthd: enough of the contract (flags, /healthz, SIGTERM) to test
# t/lib/daemon.sh before the real one exists.
test_expect_success NODE 'set up a fake berthd' '
	cat >fake-berthd <<-\EOF &&
	#!/usr/bin/env node
	"use strict";
	const http = require("http"), fs = require("fs");
	const opt = {};
	const argv = process.argv.slice(2);
	for (let i = 0; i < argv.length; i++)
		if (argv[i].startsWith("--"))
			opt[argv[i].slice(2)] = argv[i + 1] && !argv[i + 1].startsWith("--") ? argv[++i] : true;
	console.error("fake-berthd args=" + JSON.stringify(argv));
	if (!fs.existsSync(opt.config)) {
		console.error("level=error msg=\"no config\"");
		process.exit(1);
	}
	if (opt["fake-early-exit"])
		process.exit(2);
	const srv = http.createServer((req, res) => {
		if (req.url === "/healthz") {
			res.writeHead(200, {"Content-Type": "text/plain"});
			res.end("ok\n");
		} else if (req.url === "/v1/version" && req.method !== "POST") {
			res.writeHead(200, {"Content-Type": "application/json"});
			res.end(req.method === "HEAD" ? undefined : JSON.stringify({version: "fake"}) + "\n");
		} else {
			res.writeHead(404, {"Content-Type": "application/json"});
			res.end(JSON.stringify({error: {kind: "not_found", message: "no route"}}) + "\n");
		}
	});
	try { fs.unlinkSync(opt.socket); } catch (e) {}
	setTimeout(() => srv.listen(opt.socket), +(opt["fake-delay"] || 0));
	process.on("SIGTERM", () => {
		if (opt["fake-hang"])
			return;
		if (opt["fake-asan"])
			console.error("==1==ERROR: AddressSanitizer: heap-use-after-free on address 0x1");
		process.exit(+(opt["fake-exit"] || 0));
	});
	EOF
	chmod +x fake-berthd &&
	BERTHD=$TRASH_DIRECTORY/fake-berthd
'

test_expect_success NODE 'start_berthd waits for /healthz, api talks to it' '
	start_berthd --log-level debug --fake-delay 300 &&
	test -n "$BERTHD_PID" &&
	test "$BERTH_SOCK" = "$TRASH_DIRECTORY/state/berthd.sock" &&
	test "$BERTH_ADDRESS" = "$BERTH_SOCK" &&
	echo "{}" >expect &&
	test_cmp expect config.json &&
	test_path_is_dir root &&
	test_grep "^=== start_berthd .*--log-level debug" berthd.log &&
	test_grep "\"--root\",\"$TRASH_DIRECTORY/root\",\"--state\",\"$TRASH_DIRECTORY/state\",\"--socket\",\"$BERTH_SOCK\",\"--config\",\"$TRASH_DIRECTORY/config.json\",\"--log-level\",\"debug\"" berthd.log &&
	api GET /v1/version &&
	test "$(cat status)" = 200 &&
	echo "{\"version\":\"fake\"}" >expect &&
	test_cmp expect out &&
	test_grep -i "^content-type: application/json" headers &&
	api DELETE /nowhere &&
	test "$(cat status)" = 404 &&
	api HEAD /v1/version &&
	test "$(cat status)" = 200 &&
	test_must_be_empty out &&
	test "$(berthd_threads)" -ge 1
'

test_expect_success NODE,JQ 'api records each response in BERTH_RESPONSE_LOG' '
	test_line_count = 3 responses.ndjson &&
	jq -s -c "map([.method, .path, .status, .content_type])" responses.ndjson >actual &&
	echo "[[\"GET\",\"/v1/version\",200,\"application/json\"],[\"DELETE\",\"/nowhere\",404,\"application/json\"],[\"HEAD\",\"/v1/version\",200,\"application/json\"]]" >expect &&
	test_cmp expect actual &&
	jq -j "select(.method == \"GET\") | .body" responses.ndjson >actual &&
	echo "{\"version\":\"fake\"}" >expect &&
	test_cmp expect actual
'

test_expect_success NODE 'start_berthd refuses a second daemon; stop_berthd stops it' '
	test_must_fail start_berthd 2>err &&
	test_grep "already runs" err &&
	pid=$BERTHD_PID &&
	stop_berthd &&
	test -z "$BERTHD_PID" &&
	! kill -0 "$pid" 2>/dev/null
'

test_expect_success NODE 'api without a daemon: status 000, non-zero return' '
	test_must_fail api GET /healthz &&
	test "$(cat status)" = 000 &&
	test_line_count = 3 responses.ndjson
'

test_expect_success NODE 'start_berthd keeps a config the test wrote' '
	echo "{\"log_level\": \"debug\"}" >config.json &&
	cp config.json expect &&
	start_berthd &&
	test_cmp expect config.json &&
	stop_berthd
'

test_expect_success NODE 'start_berthd fails when berthd exits early' '
	test_must_fail start_berthd --fake-early-exit 2>err &&
	test_grep "exited with status 2 before it was ready" err &&
	test_grep "last .* lines of .*berthd.log" err &&
	test -z "$BERTHD_PID"
'

test_expect_success NODE 'stop_berthd fails on a non-zero exit' '
	start_berthd --fake-exit 3 &&
	test_must_fail stop_berthd 2>err &&
	test_grep "exited with status 3" err &&
	test -z "$BERTHD_PID"
'

test_expect_success NODE 'stop_berthd fails on a sanitizer report' '
	start_berthd --fake-asan &&
	test_must_fail stop_berthd 2>err &&
	test_grep "SANITIZER REPORT" err &&
	: >berthd.log
'

test_expect_success NODE 'stop_berthd SIGKILLs a daemon that ignores SIGTERM' '
	start_berthd --fake-hang &&
	pid=$BERTHD_PID &&
	BERTH_TEST_STOP_TIMEOUT=1 &&
	test_must_fail stop_berthd 2>err &&
	unset BERTH_TEST_STOP_TIMEOUT &&
	test_grep "SIGKILLed" err &&
	! kill -0 "$pid" 2>/dev/null
'

test_expect_success NODE 'kill_berthd, then a restart on the same state' '
	start_berthd &&
	pid=$BERTHD_PID &&
	kill_berthd &&
	! kill -0 "$pid" 2>/dev/null &&
	test -z "$BERTHD_PID" &&
	start_berthd &&
	api GET /healthz &&
	test "$(cat status)" = 200 &&
	test "$(grep -c "^=== start_berthd" berthd.log)" -ge 2 &&
	stop_berthd
'

test_expect_success NODE 'a daemon left running is stopped at test_done' '
	run_sub_test leftover <<-EOF &&
	BERTHD=$TRASH_DIRECTORY/fake-berthd
	test_expect_success "starts berthd" "start_berthd && echo \\\$BERTHD_PID >../pid"
	test_done
	EOF
	printf "%s\n" "ok 1 - starts berthd" "ok 2 - berthd stops cleanly at test_done" 1..2 >expect &&
	test_cmp expect leftover/tap &&
	! kill -0 "$(cat leftover/pid)" 2>/dev/null
'

test_expect_success NODE 'a daemon that dies at test_done fails the script' '
	run_sub_test leftover-bad <<-EOF &&
	BERTHD=$TRASH_DIRECTORY/fake-berthd
	test_expect_success "starts berthd" "start_berthd --fake-exit 5"
	test_done
	EOF
	printf "%s\n" "ok 1 - starts berthd" "not ok 2 - berthd stops cleanly at test_done" 1..2 >expect &&
	test_cmp expect leftover-bad/tap &&
	test "$(cat leftover-bad/exit-code)" = 1 &&
	test_grep "exited with status 5" leftover-bad/out
'

test_done
