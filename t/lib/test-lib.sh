# t/lib/test-lib.sh: the test harness every t/tNNNN-*.sh script sources.
# shellcheck shell=sh
#
# A reduced git t/test-lib.sh: TAP on stdout, one trash directory per script
# (the cwd and $HOME of every test), test_expect_success and friends,
# prerequisites, a watchdog, and the berthd helpers of t/lib/daemon.sh
# (always sourced at the end). Works with dash and bash. See t/README.md.
#
# Usage, in a script:
#
#	#!/bin/sh
#	test_description='what this script covers'
#	. "$(dirname "$0")/lib/test-lib.sh"
#	test_expect_success 'title' '
#		cmd1 &&
#		cmd2
#	'
#	test_done
#
# Options (after the script name): -v/--verbose, -i/--immediate, -x,
# -d/--debug, --root=DIR, --no-chain-lint, -h/--help; a script may add its
# own by defining test_script_option before it sources this file.
#
# File descriptors: 5 is the TAP stream (the script's stdout), 7 the
# script's stderr. Test bodies run with stdin from /dev/null and their
# stdout/stderr in a per-test log (or on stderr with -v).

# Shell code in single quotes is this file's business (test bodies, lazy
# prerequisites): it is expanded later, by eval.
# shellcheck disable=SC2016

# ---------------------------------------------------------------------------
# Environment: predictable and free of the caller's berth settings.

LC_ALL=C
LANG=C
TZ=UTC
export LC_ALL LANG TZ
unset CDPATH LANGUAGE LC_CTYPE
umask 022

# Unset every BERTH_* variable except the ones that configure the harness.
for test_var_ in $(env | sed -n 's/^\(BERTH_[A-Za-z0-9_]*\)=.*/\1/p'); do
	case "$test_var_" in
	BERTH_BUILD_DIR | BERTH_TRASH_ROOT | BERTH_TEST_* | BERTH_RESPONSE_LOG | BERTH_SKIP_TESTS) ;;
	*) unset "$test_var_" ;;
	esac
done
unset test_var_

# ---------------------------------------------------------------------------
# Options.

verbose=
immediate=
trace=
debug=
chain_lint=${BERTH_TEST_CHAIN_LINT:-t}
test "$chain_lint" = 0 && chain_lint=
case "${TEST_VERBOSE:-0}" in 0 | '') ;; *) verbose=t ;; esac

while test "$#" -ne 0; do
	case "$1" in
	-v | --verbose) verbose=t ;;
	-i | --immediate) immediate=t ;;
	-x) trace=t verbose=t ;;
	-d | --debug) debug=t ;;
	--root=*) BERTH_TRASH_ROOT=${1#--root=} ;;
	--no-chain-lint) chain_lint= ;;
	-h | --help)
		printf '%s\n' "${test_description:-(no test_description)}"
		exit 0
		;;
	*)
		# a script's own options: it defines test_script_option before
		# sourcing this file; it returns 0 and sets test_script_shift to
		# the number of words it took (1 or 2) when it knows "$1"
		test_script_shift=1
		if command -v test_script_option >/dev/null 2>&1 &&
			test_script_option "$@"; then
			test "$test_script_shift" = 2 && test "$#" -ge 2 && shift
		else
			echo "error: unknown test option '$1'" >&2
			exit 1
		fi
		;;
	esac
	shift
done

# fd 5: the TAP stream, fd 7: the script's stderr. Never written by tests.
exec 5>&1 7>&2

# ---------------------------------------------------------------------------
# Where things are.

# this_test: "t0001" for "t/t0001-daemon-start.sh", the script's basename
# without ".sh" otherwise; TEST_NAME: the full basename without ".sh".
TEST_NAME=${0##*/}
TEST_NAME=${TEST_NAME%.sh}
case "$TEST_NAME" in
t[0-9][0-9][0-9][0-9]-*) this_test=${TEST_NAME%%-*} ;;
*) this_test=$TEST_NAME ;;
esac

if test -z "$TEST_DIRECTORY"; then
	TEST_DIRECTORY=$(cd "$(dirname "$0")" && pwd) || exit 1
fi
SRCDIR=$(cd "$TEST_DIRECTORY/.." && pwd) || exit 1
BERTH_BUILD_DIR=$(cd "${BERTH_BUILD_DIR:-$SRCDIR}" && pwd) || exit 1
BERTHD=$BERTH_BUILD_DIR/berthd
BERTH=$BERTH_BUILD_DIR/berth
PATH=$BERTH_BUILD_DIR:$PATH
export TEST_DIRECTORY SRCDIR BERTH_BUILD_DIR BERTHD BERTH PATH

# The shell running this script, for sub-scripts (t0000 runs some).
TEST_SHELL_PATH=$(readlink /proc/$$/exe 2>/dev/null) || TEST_SHELL_PATH=/bin/sh
export TEST_SHELL_PATH

# Sanitizer builds: a report makes the program fail with a code that
# test_must_fail refuses to count as an expected failure.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:exitcode=86}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=87}
export ASAN_OPTIONS UBSAN_OPTIONS

BERTH_TEST_TIMEOUT=${BERTH_TEST_TIMEOUT:-300}

# ---------------------------------------------------------------------------
# Output.

# say MSG...: a note in the output (a TAP comment). In a test body it goes
# to the body's output, like anything else the body prints.
say () {
	printf '# %s\n' "$*"
}

# error MSG...: abort the script (not a test failure: a broken setup).
error () {
	printf 'error: %s\n' "$*" >&7
	printf 'error: %s\n' "$*" | sed 's/^/# /' >&5
	test_exit_ok_=t
	test_stop_watchdog_
	test_print_plan_
	test_trash_kept_
	exit 1
}

# BUG MSG...: the test script itself is wrong.
BUG () {
	error "bug in the test script: $*"
}

# TAP titles: one line, and a "#" must not start a directive.
test_tap_title_ () {
	printf '%s' "$1" | tr '\n' ' ' | sed 's/#/\\#/g'
}

test_print_plan_ () {
	test -n "$test_plan_printed_" && return 0
	test_plan_printed_=t
	if test "$test_count" -eq 0 && test -n "$skip_all"; then
		printf '1..0 # SKIP %s\n' "$(test_tap_title_ "$skip_all")" >&5
	else
		printf '1..%d\n' "$test_count" >&5
	fi
}

# ---------------------------------------------------------------------------
# Processes: find what a test left behind, and kill it.

# test_in_main_shell_: true unless called in a subshell or a pipeline
# (where variables the harness relies on would be lost).
test_in_main_shell_ () {
	read -r test_self_pid_ _ </proc/self/stat &&
	test "$test_self_pid_" = "$$"
}

# test_pid_alive_ PID: the process runs. A zombie does not count: it may
# wait a while for a busy init to reap it.
test_pid_alive_ () {
	{ read -r test_stat_ <"/proc/$1/stat"; } 2>/dev/null || return 1
	case "${test_stat_##*) }" in
	Z* | X*) return 1 ;;
	esac
	return 0
}

# test_descendants_ PID [EXCLUDE]: every live descendant of PID, except
# EXCLUDE and its descendants, one per line.
test_descendants_ () {
	for test_f_ in /proc/[0-9]*/stat; do
		{ read -r test_line_ <"$test_f_"; } 2>/dev/null || continue
		test_p_=${test_f_#/proc/}
		test_p_=${test_p_%/stat}
		test_line_=${test_line_##*) }
		# fields after the command: state ppid ...
		# shellcheck disable=SC2086
		set -- $test_line_
		echo "$test_p_ $2"
	done | awk -v root="$1" -v exclude="${2:-none}" '
		{ kids[$2] = kids[$2] " " $1 }
		END {
			queue = kids[root]
			for (;;) {
				sub(/^ +/, "", queue)
				if (queue == "")
					break
				p = queue
				sub(/ .*/, "", p)
				sub(/^[^ ]+/, "", queue)
				if (p == exclude)
					continue
				print p
				queue = queue " " kids[p]
			}
		}'
}

# test_marked_processes_: processes started by this script after the
# harness was sourced, even reparented ones (shims): they carry
# BERTH_TEST_RUN_ID in their environment.
test_marked_processes_ () {
	grep -lzxF "BERTH_TEST_RUN_ID=$BERTH_TEST_RUN_ID" /proc/[0-9]*/environ 2>/dev/null |
	sed -n 's|^/proc/\([0-9]*\)/environ$|\1|p'
}

# test_kill_strays_: SIGTERM, then SIGKILL, whatever this script started
# and left running (except the watchdog). Prints what it killed.
test_kill_strays_ () {
	test_strays_=$(
		{
			test_descendants_ $$ "$test_watchdog_pid_"
			test_marked_processes_
		} | sort -un | grep -vx -e "$$" -e "${test_watchdog_pid_:-none}"
	)
	test_live_=
	for test_p_ in $test_strays_; do
		test_pid_alive_ "$test_p_" || continue
		test_comm_=$(tr '\0' ' ' <"/proc/$test_p_/cmdline" 2>/dev/null) || continue
		test -n "$test_comm_" || continue # zombie or kernel thread
		test_comm_=${test_comm_% }
		test_live_="$test_live_ $test_p_"
		printf '# killing stray process %s: %s\n' "$test_p_" "$test_comm_" >&5
	done
	test -n "$test_live_" || return 0
	# shellcheck disable=SC2086
	kill -TERM $test_live_ 2>/dev/null
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		test_left_=
		for test_p_ in $test_live_; do
			test_pid_alive_ "$test_p_" && test_left_="$test_left_ $test_p_"
		done
		test -z "$test_left_" && return 0
		sleep 0.1
	done
	# shellcheck disable=SC2086
	kill -KILL $test_left_ 2>/dev/null
	return 0
}

# The watchdog: an orphaned process (not a job of this shell, so a bare
# `wait` in a test cannot wait for it) that, after BERTH_TEST_TIMEOUT
# seconds, writes a note, SIGTERMs this script and everything it started,
# and SIGKILLs whatever is left 5 s later.
test_start_watchdog_ () {
	test_watchdog_pid_=
	case "$BERTH_TEST_TIMEOUT" in
	0 | '') return 0 ;;
	*[!0-9]*) BUG "BERTH_TEST_TIMEOUT must be a number of seconds" ;;
	esac
	test_watchdog_main_=$$
	(
		(
			read -r test_wd_self_ _ </proc/self/stat
			# On SIGTERM (test_done), take the sleep along: it is our
			# child even when the signal came before $! was set.
			# shellcheck disable=SC2317 # (called by the trap)
			test_wd_stop_ () {
				# shellcheck disable=SC2046
				kill $(test_descendants_ "$test_wd_self_") 2>/dev/null
				wait
				exit 0
			}
			trap 'test_wd_stop_' TERM
			sleep "$BERTH_TEST_TIMEOUT" &
			wait "$!" || exit 0
			printf 'watchdog: %s exceeded BERTH_TEST_TIMEOUT=%ss, killed\n' \
				"$TEST_NAME" "$BERTH_TEST_TIMEOUT" >"$TEST_RESULTS_DIR/watchdog"
			test_victims_=$(test_descendants_ "$test_watchdog_main_" "$test_wd_self_")
			# shellcheck disable=SC2086
			kill -TERM "$test_watchdog_main_" $test_victims_ 2>/dev/null
			sleep 5
			test_victims_=$(test_descendants_ "$test_watchdog_main_" "$test_wd_self_")
			# shellcheck disable=SC2086
			kill -KILL "$test_watchdog_main_" $test_victims_ 2>/dev/null
			exit 0
		) </dev/null >/dev/null 2>&1 5>&- 7>&- &
		echo $! >"$TEST_RESULTS_DIR/watchdog.pid"
	)
	read -r test_watchdog_pid_ <"$TEST_RESULTS_DIR/watchdog.pid"
}

# test_stop_watchdog_: stop the watchdog and wait (up to 2 s) until it and
# its sleep are gone, so that they are not taken for strays.
test_stop_watchdog_ () {
	test -n "$test_watchdog_pid_" || return 0
	kill -TERM "$test_watchdog_pid_" 2>/dev/null
	for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		test_pid_alive_ "$test_watchdog_pid_" || break
		sleep 0.1
	done
	test_watchdog_pid_=
}

# ---------------------------------------------------------------------------
# Exit: whatever happens, no daemon and no stray process survives us.

test_exit_ok_=
test_running_=
test_plan_printed_=

# test_atexit CMD: run CMD when the script ends (test_done or any exit),
# before stray processes are killed; the last registered runs first. For
# fixtures such as registries (t/lib/registry.sh).
test_atexit_cmds_=
test_atexit () {
	test_atexit_cmds_="$*; $test_atexit_cmds_"
}

test_run_atexit_ () {
	test -n "$test_atexit_cmds_" || return 0
	test_cmds_=$test_atexit_cmds_
	test_atexit_cmds_=
	eval "$test_cmds_" >/dev/null 2>&1 || :
}

test_atexit_ () {
	test_code_=$?
	trap - EXIT
	if test -n "$BERTHD_PID"; then
		berthd_terminate_ 2>/dev/null
	fi
	test_run_atexit_
	test_stop_watchdog_
	test_kill_strays_
	if test -z "$test_exit_ok_"; then
		test_reason_="unexpected exit with code $test_code_"
		if test -s "$TEST_RESULTS_DIR/watchdog"; then
			test_reason_=$(cat "$TEST_RESULTS_DIR/watchdog")
		fi
		if test -n "$test_running_"; then
			printf 'not ok %d - %s\n' "$test_count" "$(test_tap_title_ "$test_title_")" >&5
			if test -z "$verbose" && test -s "$test_log_"; then
				sed 's/^/# /' "$test_log_" >&5
			fi
		fi
		printf '# FATAL: %s\n' "$test_reason_" >&5
		printf 'FATAL: %s: %s\n' "$TEST_NAME" "$test_reason_" >&7
		test_print_plan_
		test_trash_kept_
		test_code_=1
	fi
	rm -rf "$test_lock_"
	exit "$test_code_"
}

# ---------------------------------------------------------------------------
# The trash directory.

# test_remove_tree_ DIR: unmount whatever a test left mounted below DIR
# (never delete through a bind mount), then remove it.
test_remove_tree_ () {
	test -e "$1" || return 0
	awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r |
	while IFS= read -r test_m_; do
		umount "$test_m_" 2>/dev/null || umount -l "$test_m_" 2>/dev/null
	done
	chmod -R u+rwx "$1" 2>/dev/null
	rm -rf --one-file-system "$1"
}

test_trash_kept_ () {
	printf '# trash directory kept: %s\n' "$TRASH_DIRECTORY" >&5
	printf '# per-test output: %s\n' "$TEST_RESULTS_DIR" >&5
}

# Unix socket paths are limited to 107 bytes: keep the trash short.
BERTH_TRASH_ROOT=${BERTH_TRASH_ROOT:-/tmp/berth-test}
if ! mkdir -p "$BERTH_TRASH_ROOT" 2>/dev/null || ! test -w "$BERTH_TRASH_ROOT"; then
	BERTH_TRASH_ROOT=/tmp/berth-test-$(id -u)
	mkdir -p "$BERTH_TRASH_ROOT" || exit 1
fi
BERTH_TRASH_ROOT=$(cd "$BERTH_TRASH_ROOT" && pwd) || exit 1
export BERTH_TRASH_ROOT

# Another run of the same script (someone else's `make check`) may be
# using the trash: then take a private one.
test_trash_name_=$this_test
test_lock_=$BERTH_TRASH_ROOT/$test_trash_name_.lock
if ! mkdir "$test_lock_" 2>/dev/null; then
	test_owner_=$(cat "$test_lock_/pid" 2>/dev/null)
	if test -n "$test_owner_" && test "$test_owner_" != $$ && kill -0 "$test_owner_" 2>/dev/null; then
		test_trash_name_=$this_test.$$
		test_lock_=$BERTH_TRASH_ROOT/$test_trash_name_.lock
		mkdir -p "$test_lock_" || exit 1
	fi
fi
echo $$ >"$test_lock_/pid"

TRASH_DIRECTORY=$BERTH_TRASH_ROOT/$test_trash_name_
TRASH=$TRASH_DIRECTORY
TEST_RESULTS_DIR=$BERTH_TRASH_ROOT/$test_trash_name_.out
test_remove_tree_ "$TRASH_DIRECTORY"
test_remove_tree_ "$TEST_RESULTS_DIR"
if test -e "$TRASH_DIRECTORY"; then
	echo "error: cannot remove the old trash directory $TRASH_DIRECTORY" >&2
	exit 1
fi
mkdir -p "$TRASH_DIRECTORY" "$TEST_RESULTS_DIR" || exit 1
HOME=$TRASH_DIRECTORY
BERTH_TEST_RUN_ID=$this_test.$$
export TRASH_DIRECTORY TRASH TEST_RESULTS_DIR HOME BERTH_TEST_RUN_ID
cd "$TRASH_DIRECTORY" || exit 1

trap 'test_atexit_' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
# Prerequisites.

satisfied_prereq=" "
lazily_testable_prereq=" "
lazily_tested_prereq=" "
missing_prereq=

# test_set_prereq NAME: declare NAME satisfied.
test_set_prereq () {
	satisfied_prereq="$satisfied_prereq$1 "
}

# test_prereq_why NAME REASON: a test skipped for want of NAME says REASON
# instead of "missing NAME" (of several missing, the first with a reason).
test_prereq_why () {
	case "$1" in
	*[!A-Z0-9_]* | '') BUG "bad prerequisite name '$1'" ;;
	esac
	eval "test_prereq_why_$1=\$2"
}

# test_lazy_prereq NAME 'script': NAME is satisfied if script succeeds; it
# runs once, on first use, in a subshell in a scratch directory.
test_lazy_prereq () {
	case "$1" in
	*[!A-Z0-9_]* | '') BUG "bad prerequisite name '$1'" ;;
	esac
	lazily_testable_prereq="$lazily_testable_prereq$1 "
	eval "test_prereq_lazily_$1=\$2"
}

test_run_lazy_prereq_ () {
	test_prereq_dir_=$TEST_RESULTS_DIR/prereq-$1
	mkdir -p "$test_prereq_dir_" &&
	(
		cd "$test_prereq_dir_" &&
		eval "$2"
	) </dev/null >"$test_prereq_dir_.log" 2>&1
	test_prereq_ret_=$?
	if test -n "$verbose"; then
		printf 'prerequisite %s: %s\n' "$1" \
			"$(test $test_prereq_ret_ = 0 && echo ok || echo missing)" >&7
	fi
	rm -rf "$test_prereq_dir_" "$test_prereq_dir_.log"
	return $test_prereq_ret_
}

# test_have_prereq A,!B,...: all of the (comma separated) prerequisites are
# satisfied; "!NAME" means NAME must not be. Sets missing_prereq.
test_have_prereq () {
	test "$#" = 1 || BUG "test_have_prereq takes one (comma-separated) argument"
	test_save_ifs_=$IFS
	IFS=,
	# shellcheck disable=SC2086
	set -- $1
	IFS=$test_save_ifs_
	test_total_=0
	test_ok_count_=0
	missing_prereq=
	for test_prereq_ in "$@"; do
		case "$test_prereq_" in
		'!'*) test_negative_=t test_prereq_=${test_prereq_#!} ;;
		*) test_negative_= ;;
		esac
		case "$lazily_tested_prereq" in
		*" $test_prereq_ "*) ;;
		*)
			case "$lazily_testable_prereq" in
			*" $test_prereq_ "*)
				test_script_=
				eval "test_script_=\$test_prereq_lazily_$test_prereq_"
				if test_run_lazy_prereq_ "$test_prereq_" "$test_script_"; then
					test_set_prereq "$test_prereq_"
				fi
				lazily_tested_prereq="$lazily_tested_prereq$test_prereq_ "
				;;
			esac
			;;
		esac
		test_total_=$((test_total_ + 1))
		case "$satisfied_prereq" in
		*" $test_prereq_ "*) test_have_=t ;;
		*) test_have_= ;;
		esac
		if test -n "$test_negative_"; then
			if test -n "$test_have_"; then
				test_have_=
			else
				test_have_=t
			fi
		fi
		if test -n "$test_have_"; then
			test_ok_count_=$((test_ok_count_ + 1))
		else
			test_m_=$test_prereq_
			test -n "$test_negative_" && test_m_="!$test_prereq_"
			missing_prereq="${missing_prereq:+$missing_prereq,}$test_m_"
		fi
	done
	test "$test_total_" = "$test_ok_count_"
}

test_lazy_prereq ROOT 'test "$(id -u)" = 0'
test_lazy_prereq RUNC 'command -v runc'
test_lazy_prereq CURL 'command -v curl'
test_lazy_prereq JQ 'command -v jq'
test_lazy_prereq NODE 'command -v node'
test_lazy_prereq BERTHD 'test -x "$BERTHD"'
test_lazy_prereq BERTH_CLI 'test -x "$BERTH"'

# ---------------------------------------------------------------------------
# Running tests.

test_count=0
test_success=0
test_failure=0
test_fixed=0
test_broken=0
test_skipped=0
test_cleanup=:
test_log_=

# test_eval_ BODY: eval BODY in this shell, output to the test's log (or to
# stderr with -v), with -x tracing when asked.
test_eval_ () {
	if test -n "$verbose"; then
		test_eval_inner_ "$@" </dev/null >&7 2>&7
	else
		test_eval_inner_ "$@" </dev/null >>"$test_log_" 2>&1
	fi
}

# test_eval_inner_ BODY [notrace]
test_eval_inner_ () {
	if test -n "$trace" && test -z "$2"; then
		set -x
	fi
	eval "$1"
	{
		test_eval_ret_=$?
		set +x
	} 2>/dev/null
	return $test_eval_ret_
}

# test_run_ BODY [expecting_failure]: chain-lint BODY, run it, then its
# test_when_finished cleanups; returns BODY's status (or the cleanups').
test_run_ () {
	test_cleanup=:
	test_running_=t
	if test -n "$chain_lint"; then
		# With every link chained, "(exit 117) && BODY" runs nothing.
		test_eval_ "(exit 117) && $1" notrace
		if test "$?" != 117; then
			BUG "broken &&-chain or run-away HERE-DOC in test '$test_title_':
$1"
		fi
	fi
	test_eval_ "$1"
	eval_ret=$?
	if test -z "$immediate" || test "$eval_ret" = 0 || test -n "$2"; then
		if test "$test_cleanup" != :; then
			test_eval_ "$test_cleanup"
		fi
	fi
	test_running_=
	return "$eval_ret"
}

test_start_ () {
	test_count=$((test_count + 1))
	test_title_=$1
	test_log_=$TEST_RESULTS_DIR/$test_count.out
	: >"$test_log_"
	if test -n "$verbose"; then
		printf 'expecting success of %s.%d %s\n' "$this_test" "$test_count" "$1" >&7
	fi
}

# test_skip_ TITLE: true (and prints the skip) when the test must not run.
test_skip_ () {
	test_why_=
	for test_pat_ in $BERTH_SKIP_TESTS; do
		# shellcheck disable=SC2254
		case "$this_test.$test_count" in
		$test_pat_) test_why_="BERTH_SKIP_TESTS" ;;
		esac
	done
	if test -z "$test_why_" && test -n "$test_prereq"; then
		if ! test_have_prereq "$test_prereq"; then
			# the first missing one with a reason gives it
			test_why_=
			test_save_ifs_=$IFS
			IFS=,
			for test_m_ in $missing_prereq; do
				case "$test_m_" in
				*[!A-Z0-9_]* | '') ;;
				*) test -n "$test_why_" || eval "test_why_=\${test_prereq_why_$test_m_-}" ;;
				esac
			done
			IFS=$test_save_ifs_
			test -n "$test_why_" || test_why_="missing $missing_prereq"
		fi
	fi
	test -n "$test_why_" || return 1
	test_skipped=$((test_skipped + 1))
	printf 'ok %d # skip %s (%s)\n' "$test_count" "$(test_tap_title_ "$1")" "$test_why_" >&5
	return 0
}

test_ok_ () {
	test_success=$((test_success + 1))
	printf 'ok %d - %s\n' "$test_count" "$(test_tap_title_ "$1")" >&5
}

test_failure_ () {
	test_failure=$((test_failure + 1))
	printf 'not ok %d - %s\n' "$test_count" "$(test_tap_title_ "$1")" >&5
	printf '%s\n' "$2" | sed 's/^/#	/' >&5
	if test -z "$verbose" && test -s "$test_log_"; then
		printf '# output:\n' >&5
		sed 's/^/# /' "$test_log_" >&5
	fi
	if test -n "$immediate"; then
		printf '# stopping at the first failure (-i)\n' >&5
		test_stop_watchdog_
		test_exit_ok_=t
		test_print_plan_
		test_trash_kept_
		exit 1
	fi
}

test_known_broken_ok_ () {
	test_fixed=$((test_fixed + 1))
	printf 'ok %d - %s # TODO known breakage vanished\n' "$test_count" "$(test_tap_title_ "$1")" >&5
}

test_known_broken_failure_ () {
	test_broken=$((test_broken + 1))
	printf 'not ok %d - %s # TODO known breakage\n' "$test_count" "$(test_tap_title_ "$1")" >&5
}

test_parse_args_ () {
	test_prereq=
	if test "$#" = 3; then
		test_prereq=$1
		shift
	fi
	test "$#" = 2 || BUG "not 2 or 3 parameters to $test_fn_"
	test_body_=$2
	if test "$test_body_" = -; then
		test_body_=$(cat)
	fi
}

# test_expect_success [PREREQ] TITLE BODY: BODY ("-": read from stdin) must
# succeed. PREREQ is a comma-separated list (see test_have_prereq).
test_expect_success () {
	test_fn_=test_expect_success
	test_parse_args_ "$@"
	test "$#" = 3 && shift
	test_start_ "$1"
	if ! test_skip_ "$1"; then
		if test_run_ "$test_body_"; then
			test_ok_ "$1"
		else
			test_failure_ "$1" "$test_body_"
		fi
	fi
}

# test_expect_failure [PREREQ] TITLE BODY: a known breakage; reported as a
# TAP TODO, so it does not fail the script either way.
test_expect_failure () {
	test_fn_=test_expect_failure
	test_parse_args_ "$@"
	test "$#" = 3 && shift
	test_start_ "$1"
	if ! test_skip_ "$1"; then
		if test_run_ "$test_body_" expecting_failure; then
			test_known_broken_ok_ "$1"
		else
			test_known_broken_failure_ "$1"
		fi
	fi
}

# test_when_finished CMD: run CMD after the current test, whatever its
# result; cleanups run last registered first, and a failing one fails the
# test. Only in the test's main shell (not in a subshell or pipeline).
test_when_finished () {
	test -n "$test_running_" || BUG "test_when_finished called outside a test"
	test_in_main_shell_ || BUG "test_when_finished does nothing in a subshell"
	test_cleanup="{ $*
		} && (exit \"\$eval_ret\"); eval_ret=\$?; $test_cleanup"
}

# test_done: stop berthd if a test left it running (as one more test, so an
# unclean exit or a sanitizer report fails the script), print the plan and
# exit; the trash is removed when nothing failed.
test_done () {
	if test -n "$BERTHD_PID"; then
		test_expect_success 'berthd stops cleanly at test_done' 'stop_berthd'
	fi
	test_run_atexit_
	test_stop_watchdog_
	test_kill_strays_
	test_exit_ok_=t
	if test "$test_fixed" != 0; then
		printf '# %d known breakage(s) vanished; please update test(s)\n' "$test_fixed" >&5
	fi
	if test "$test_broken" != 0; then
		printf '# still have %d known breakage(s)\n' "$test_broken" >&5
	fi
	if test "$test_failure" != 0; then
		printf '# failed %d among %d test(s)\n' "$test_failure" "$test_count" >&5
		test_print_plan_
		test_trash_kept_
		exit 1
	fi
	if test "$test_count" != 0 && test "$test_skipped" != "$test_count"; then
		printf '# passed all %d test(s)\n' "$test_count" >&5
	fi
	test_print_plan_
	cd "$BERTH_TRASH_ROOT" || exit 1
	if test -n "$debug"; then
		test_trash_kept_
	else
		test_remove_tree_ "$TRASH_DIRECTORY"
		test_remove_tree_ "$TEST_RESULTS_DIR"
	fi
	exit 0
}

# ---------------------------------------------------------------------------
# Helpers for test bodies (git's test-lib-functions.sh, reduced).

# test_must_fail [ok=success,sigpipe] CMD...: CMD must fail "normally": exit
# 0, a death by signal (segfault, abort), 126/127 (not runnable) and the
# sanitizer exit codes 86/87 are failures of the test.
test_must_fail () {
	test_accept_=
	case "$1" in
	ok=*)
		test_accept_=,${1#ok=},
		shift
		;;
	esac
	"$@"
	test_exit_code_=$?
	if test "$test_exit_code_" -eq 0; then
		case "$test_accept_" in
		*,success,*) return 0 ;;
		esac
		echo "test_must_fail: command succeeded: $*" >&2
		return 1
	fi
	if test "$test_exit_code_" -eq 141 || test "$test_exit_code_" -eq 269; then
		case "$test_accept_" in
		*,sigpipe,*) return 0 ;;
		esac
	fi
	if { test "$test_exit_code_" -gt 128 && test "$test_exit_code_" -le 192; } ||
		test "$test_exit_code_" -gt 256; then
		echo "test_must_fail: died by signal $((test_exit_code_ % 128)): $*" >&2
		return 1
	fi
	case "$test_exit_code_" in
	127)
		echo "test_must_fail: command not found: $*" >&2
		return 1
		;;
	126)
		echo "test_must_fail: command not executable: $*" >&2
		return 1
		;;
	86 | 87)
		echo "test_must_fail: sanitizer error (exit $test_exit_code_): $*" >&2
		return 1
		;;
	esac
	return 0
}

# test_might_fail CMD...: CMD may succeed or fail, but not crash.
test_might_fail () {
	test_must_fail ok=success "$@"
}

# test_expect_code N CMD...: CMD must exit with status N.
test_expect_code () {
	test_want_=$1
	shift
	"$@"
	test_exit_code_=$?
	test "$test_exit_code_" = "$test_want_" && return 0
	echo "test_expect_code: command exited with $test_exit_code_, we wanted $test_want_: $*" >&2
	return 1
}

# test_cmp EXPECTED ACTUAL: the files are identical (diff -u shown if not).
test_cmp () {
	test "$#" = 2 || BUG "test_cmp needs two arguments"
	diff -u "$1" "$2"
}

# test_line_count OP N FILE: e.g. test_line_count = 3 out.
test_line_count () {
	test "$#" = 3 || BUG "not 3 parameters to test_line_count"
	test_lines_=$(wc -l <"$3") || return 1
	if ! test "$test_lines_" "$1" "$2"; then
		echo "test_line_count: line count for $3 is $test_lines_, not $1 $2:" >&2
		cat "$3" >&2
		return 1
	fi
}

# test_grep [grep options] PATTERN FILE: like grep, but shows FILE when
# nothing matched. "test_grep ! ..." wants no match.
test_grep () {
	test_invert_=
	if test "$1" = !; then
		test_invert_=t
		shift
	fi
	test "$#" -ge 2 || BUG "test_grep needs a pattern and a file"
	test_file_=
	eval "test_file_=\${$#}"
	if test -n "$test_invert_"; then
		grep "$@" >&2 || return 0
		echo "test_grep: unexpected match in $test_file_ (above)" >&2
		return 1
	fi
	grep "$@" >/dev/null && return 0
	echo "test_grep: no match for: $*; $test_file_ is:" >&2
	cat "$test_file_" >&2
	return 1
}

test_path_is_file () {
	test -f "$1" && return 0
	echo "file $1 doesn't exist" >&2
	return 1
}

test_path_is_dir () {
	test -d "$1" && return 0
	echo "directory $1 doesn't exist" >&2
	return 1
}

test_path_exists () {
	test -e "$1" && return 0
	echo "path $1 doesn't exist" >&2
	return 1
}

test_path_is_missing () {
	test -e "$1" || test -L "$1" || return 0
	echo "path $1 exists but should not" >&2
	ls -ld "$1" >&2
	return 1
}

# test_must_be_empty FILE: FILE exists and is empty.
test_must_be_empty () {
	test_path_is_file "$1" || return 1
	test -s "$1" || return 0
	echo "'$1' is not empty, it contains:" >&2
	cat "$1" >&2
	return 1
}

# test_wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds;
# fails when SECONDS pass first.
test_wait_for () {
	test_deadline_=$(($(date +%s) + $1))
	shift
	while ! "$@"; do
		if test "$(date +%s)" -ge "$test_deadline_"; then
			echo "test_wait_for: timed out waiting for: $*" >&2
			return 1
		fi
		sleep 0.1
	done
}

# ---------------------------------------------------------------------------

test_start_watchdog_

# shellcheck source=t/lib/daemon.sh
. "$TEST_DIRECTORY/lib/daemon.sh"

# Scripts that never start a daemon set test_no_berthd=t before sourcing.
# shellcheck disable=SC2154
if test -z "$test_no_berthd" && ! test -x "$BERTHD"; then
	skip_all="berthd is not built in $BERTH_BUILD_DIR (set BERTH_BUILD_DIR)"
	test_done
fi
