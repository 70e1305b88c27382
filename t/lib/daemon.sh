# t/lib/daemon.sh: start, query and stop a berthd for a test script.
# shellcheck shell=sh
#
# Sourced by t/lib/test-lib.sh (every script has these helpers; sourcing
# starts nothing). One daemon per script at a time, on files in the trash:
#
#	$TRASH/root/  $TRASH/state/  $TRASH/state/berthd.sock
#	$TRASH/config.json (written as {} unless the test wrote one)
#	$TRASH/berthd.log  (its stdout and stderr, appended, a marker per start)
#
# start_berthd, stop_berthd and kill_berthd must run in the test's main
# shell (not in a subshell or a pipeline): they keep the daemon's pid in
# BERTHD_PID. berthd is a background job of the script: wait for your own
# jobs with `wait $pid`, never a bare `wait`. A daemon still running at
# test_done is stopped there (as one more test); at any other exit it is
# killed.

BERTHD_PID=
BERTHD_LOG=$TRASH_DIRECTORY/berthd.log
BERTH_SOCK=$TRASH_DIRECTORY/state/berthd.sock
BERTH_RESPONSE_LOG=${BERTH_RESPONSE_LOG-$BERTH_TRASH_ROOT/responses.ndjson}
export BERTHD_LOG BERTH_RESPONSE_LOG

# berthd_alive_: the daemon runs (a zombie does not count).
berthd_alive_ () {
	test -n "$BERTHD_PID" && test_pid_alive_ "$BERTHD_PID"
}

# berthd_log_tail_: the end of the daemon's log, on stderr.
berthd_log_tail_ () {
	echo "--- last 30 lines of $BERTHD_LOG:" >&2
	tail -n 30 "$BERTHD_LOG" >&2 2>/dev/null
	echo "---" >&2
}

# berthd_check_sanitizers_: fail when the log holds a sanitizer report.
berthd_check_sanitizers_ () {
	test -f "$BERTHD_LOG" || return 0
	if grep -E -n -e 'ERROR: (AddressSanitizer|LeakSanitizer)' \
		-e '(\.(c|h)|<unknown>):[0-9]*(:[0-9]+)?:? runtime error:' \
		-e 'SUMMARY: (Address|Leak|UndefinedBehavior)Sanitizer' "$BERTHD_LOG" >&2; then
		echo "berthd: SANITIZER REPORT in $BERTHD_LOG (lines above)" >&2
		return 1
	fi
	return 0
}

# start_berthd [ARGS...]: start berthd in the background on the trash's
# root, state, socket and config (ARGS added after these) and wait (up to
# 10 s) until GET /healthz answers 200. Sets BERTHD_PID; exports BERTH_SOCK
# and BERTH_ADDRESS (what the CLI reads). Fails, with the log's tail, when
# berthd exits or does not get ready.
start_berthd () {
	test_in_main_shell_ || BUG "start_berthd in a subshell: BERTHD_PID would be lost"
	if ! test -x "$BERTHD"; then
		echo "start_berthd: $BERTHD is not built" >&2
		return 1
	fi
	if berthd_alive_; then
		echo "start_berthd: berthd already runs (pid $BERTHD_PID)" >&2
		return 1
	fi
	if test -n "$BERTHD_PID"; then
		# it died on its own: reap it
		wait "$BERTHD_PID"
		BERTHD_PID=
	fi
	BERTH_SOCK=$TRASH_DIRECTORY/state/berthd.sock
	BERTH_ADDRESS=$BERTH_SOCK
	export BERTH_SOCK BERTH_ADDRESS
	if test "${#BERTH_SOCK}" -gt 107; then
		echo "start_berthd: socket path longer than 107 bytes: $BERTH_SOCK (set a shorter BERTH_TRASH_ROOT)" >&2
		return 1
	fi
	mkdir -p "$TRASH_DIRECTORY/root" "$TRASH_DIRECTORY/state" || return 1
	if ! test -e "$TRASH_DIRECTORY/config.json"; then
		echo '{}' >"$TRASH_DIRECTORY/config.json" || return 1
	fi
	printf '=== start_berthd %s: %s\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" "$*" >>"$BERTHD_LOG"
	"$BERTHD" --root "$TRASH_DIRECTORY/root" --state "$TRASH_DIRECTORY/state" \
		--socket "$BERTH_SOCK" --config "$TRASH_DIRECTORY/config.json" "$@" \
		</dev/null >>"$BERTHD_LOG" 2>&1 5>&- 7>&- &
	BERTHD_PID=$!
	berthd_deadline_=$(($(date +%s) + 10))
	while :; do
		if curl -sf -o /dev/null --max-time 2 --unix-socket "$BERTH_SOCK" http://berth/healthz; then
			return 0
		fi
		if ! berthd_alive_; then
			wait "$BERTHD_PID"
			echo "start_berthd: berthd exited with status $? before it was ready" >&2
			BERTHD_PID=
			berthd_log_tail_
			return 1
		fi
		if test "$(date +%s)" -gt "$berthd_deadline_"; then
			echo "start_berthd: berthd (pid $BERTHD_PID) not ready after 10 s; killed" >&2
			kill -KILL "$BERTHD_PID" 2>/dev/null
			wait "$BERTHD_PID"
			BERTHD_PID=
			berthd_log_tail_
			return 1
		fi
		sleep 0.05
	done
}

# stop_berthd: SIGTERM, then wait up to 5 s (BERTH_TEST_STOP_TIMEOUT). Fails (with the log's tail)
# if berthd had to be SIGKILLed, exited non-zero (also when it had died
# before) or left a sanitizer report in its log.
stop_berthd () {
	test_in_main_shell_ || BUG "stop_berthd in a subshell: BERTHD_PID would be stale"
	if test -z "$BERTHD_PID"; then
		echo "stop_berthd: no berthd was started" >&2
		return 1
	fi
	berthd_ret_=0
	kill -TERM "$BERTHD_PID" 2>/dev/null
	berthd_i_=0
	while berthd_alive_ && test "$berthd_i_" -lt $((${BERTH_TEST_STOP_TIMEOUT:-5} * 20)); do
		sleep 0.05
		berthd_i_=$((berthd_i_ + 1))
	done
	if berthd_alive_; then
		echo "stop_berthd: berthd (pid $BERTHD_PID) still runs ${BERTH_TEST_STOP_TIMEOUT:-5} s after SIGTERM; SIGKILLed" >&2
		kill -KILL "$BERTHD_PID" 2>/dev/null
		berthd_ret_=1
	fi
	wait "$BERTHD_PID"
	berthd_status_=$?
	BERTHD_PID=
	if test "$berthd_ret_" = 0 && test "$berthd_status_" != 0; then
		case "$berthd_status_" in
		86) echo "stop_berthd: berthd exited with 86 (AddressSanitizer/LeakSanitizer)" >&2 ;;
		87) echo "stop_berthd: berthd exited with 87 (UndefinedBehaviorSanitizer)" >&2 ;;
		*) echo "stop_berthd: berthd exited with status $berthd_status_" >&2 ;;
		esac
		berthd_ret_=1
	fi
	berthd_check_sanitizers_ || berthd_ret_=1
	test "$berthd_ret_" = 0 || berthd_log_tail_
	return "$berthd_ret_"
}

# kill_berthd: SIGKILL (a crash, for recovery tests) and reap it.
kill_berthd () {
	test_in_main_shell_ || BUG "kill_berthd in a subshell: BERTHD_PID would be stale"
	if test -z "$BERTHD_PID"; then
		echo "kill_berthd: no berthd was started" >&2
		return 1
	fi
	kill -KILL "$BERTHD_PID" 2>/dev/null
	wait "$BERTHD_PID"
	BERTHD_PID=
	return 0
}

# berthd_terminate_: at exit, whatever state the daemon is in.
berthd_terminate_ () {
	kill -TERM "$BERTHD_PID" 2>/dev/null
	berthd_i_=0
	while berthd_alive_ && test "$berthd_i_" -lt 40; do
		sleep 0.05
		berthd_i_=$((berthd_i_ + 1))
	done
	kill -KILL "$BERTHD_PID" 2>/dev/null
	wait "$BERTHD_PID" 2>/dev/null
	BERTHD_PID=
}

# berthd_threads: how many threads berthd runs (it must be 1).
berthd_threads () {
	if ! berthd_alive_; then
		echo "berthd_threads: berthd does not run" >&2
		return 1
	fi
	set -- "/proc/$BERTHD_PID/task"/*
	echo "$#"
}

# api METHOD PATH [CURL ARGS...]: one request to berthd over its socket.
# Writes the body to ./out, the status code to ./status (000 when there
# was no response) and the response headers to ./headers; returns curl's
# status, so an HTTP error status is not a failure by itself. When
# BERTH_RESPONSE_LOG is non-empty, appends one JSON line there:
# {"method","path","status" (a number),"content_type","body" (a string)}.
api () {
	test "$#" -ge 2 || BUG "api needs a method and a path"
	api_method_=$1
	api_path_=$2
	shift 2
	rm -f out status headers
	if test "$api_method_" = HEAD; then
		# -X HEAD would wait for a body
		set -- --head -o /dev/null "$@"
	else
		set -- -X "$api_method_" -o out "$@"
	fi
	# --path-as-is: dot segments go to berthd as written (curl would squash
	# /v1/namespaces/.. into /v1/, and the response log would lie)
	api_meta_=$(curl -s --path-as-is --max-time "${BERTH_API_TIMEOUT:-60}" --unix-socket "$BERTH_SOCK" \
		-D headers -w '%{http_code} %{content_type}' "$@" "http://berth$api_path_")
	api_ret_=$?
	test -f out || : >out
	test -f headers || : >headers
	api_status_=${api_meta_%% *}
	api_ctype_=${api_meta_#* }
	test -n "$api_status_" || api_status_=000
	echo "$api_status_" >status
	if test -n "$BERTH_RESPONSE_LOG" && test "$api_status_" != 000; then
		api_log_response_ "$api_method_" "$api_path_" "$api_status_" "$api_ctype_" ||
			echo "api: could not append to $BERTH_RESPONSE_LOG" >&2
	fi
	return "$api_ret_"
}

# api_log_response_ METHOD PATH STATUS CONTENT_TYPE: the response log line
# for ./out. Bodies over 1 MiB that are not JSON are recorded as "" with
# "truncated": true.
api_log_response_ () {
	command -v jq >/dev/null || return 0
	api_body_=out
	api_trunc_=false
	case "$4" in
	*json*) ;;
	*)
		if test "$(wc -c <out)" -gt 1048576; then
			api_body_=/dev/null
			api_trunc_=true
		fi
		;;
	esac
	jq -cn --arg method "$1" --arg path "$2" --argjson status "$3" \
		--arg content_type "$4" --rawfile body "$api_body_" --argjson truncated "$api_trunc_" \
		'{method: $method, path: $path, status: $status, content_type: $content_type, body: $body}
		 + (if $truncated then {truncated: true} else {} end)' >"$TEST_RESULTS_DIR/api-line" &&
	cat "$TEST_RESULTS_DIR/api-line" >>"$BERTH_RESPONSE_LOG"
}
