#!/bin/sh
test_description='berthd: flags, config file, one thread, lock, socket, signals, logs'
. "$(dirname "$0")/lib/test-lib.sh"

test_expect_success 'berthd --version and --help' '
	"$BERTHD" --version >version.txt &&
	grep "^berthd [0-9]" version.txt &&
	"$BERTHD" --help >help.txt &&
	grep -- "--root DIR" help.txt && grep -- "--token-file" help.txt
'

test_expect_success 'an unknown flag is a usage error (exit 2)' '
	test_expect_code 2 "$BERTHD" --bogus 2>err &&
	grep usage err
'

test_expect_success 'start with defaults from flags; /healthz serves' '
	echo "{}" >config.json &&
	start_berthd &&
	api GET /healthz && test "$(cat status)" = 200 &&
	jq -e ".status == \"serving\"" out
'

test_expect_success 'berthd runs exactly one thread' '
	test "$(berthd_threads)" = 1 &&
	api GET /metrics && grep "^process_threads 1\$" out
'

test_expect_success 'the unix socket is mode 0660' '
	test "$(stat -c %a "$BERTH_SOCK")" = 660 &&
	test -S "$BERTH_SOCK"
'

test_expect_success 'the metadata environment lives under <root>/meta' '
	test -f "$TRASH/root/meta/data.mdb" &&
	test -f "$TRASH/root/berthd.lock" &&
	test "$(cat "$TRASH/root/berthd.lock")" = "$BERTHD_PID"
'

test_expect_success 'a second berthd on the same root refuses to start' '
	test_expect_code 1 "$BERTHD" --root "$TRASH/root" --state "$TRASH/state2" \
		--config config.json 2>err2 &&
	test_line_count = 1 err2 &&
	grep "in use by another berthd (pid $BERTHD_PID)" err2 &&
	api GET /healthz && test "$(cat status)" = 200
'

test_expect_success 'a second berthd on the same socket refuses to start' '
	test_expect_code 1 "$BERTHD" --root "$TRASH/root2" --state "$TRASH/state" \
		--config config.json 2>err3 &&
	grep "in use by another server" err3 &&
	api GET /healthz && test "$(cat status)" = 200
'

test_expect_success 'logs are logfmt lines' '
	grep "msg=\"berthd started\"" "$TRASH/berthd.log" &&
	grep -v "^#" "$TRASH/berthd.log" | grep -v "^===" >lines &&
	! grep -v "^time=[0-9T:.-]*Z level=[a-z]* msg=" lines
'

test_expect_success 'SIGHUP re-reads the log level from the config file' '
	api GET /v1/version &&
	! grep "level=debug msg=request" "$TRASH/berthd.log" &&
	echo "{\"log_level\":\"debug\"}" >config.json &&
	kill -HUP $BERTHD_PID &&
	test_wait_for 5 eval "grep -q \"configuration reloaded\" \"$TRASH/berthd.log\"" &&
	api GET /v1/version &&
	test_wait_for 5 eval "grep -q \"level=debug msg=request method=GET path=/v1/version\" \"$TRASH/berthd.log\""
'

test_expect_success 'SIGHUP with a broken config file keeps running with the old one' '
	echo "{broken" >config.json &&
	kill -HUP $BERTHD_PID &&
	test_wait_for 5 eval "grep -q \"reload failed\" \"$TRASH/berthd.log\"" &&
	api GET /healthz && test "$(cat status)" = 200 &&
	echo "{}" >config.json
'

test_expect_success 'SIGTERM stops berthd with exit 0 within 2 s and removes the socket' '
	start=$(date +%s%N) &&
	stop_berthd &&
	end=$(date +%s%N) &&
	test $(( (end - start) / 1000000 )) -lt 2000 &&
	test_path_is_missing "$BERTH_SOCK"
'

test_expect_success 'SIGINT stops it too' '
	start_berthd &&
	kill -INT $BERTHD_PID &&
	wait $BERTHD_PID &&
	BERTHD_PID=
'

test_expect_success 'a stale socket left by kill -9 is replaced at the next start' '
	start_berthd &&
	kill_berthd &&
	test -S "$BERTH_SOCK" &&
	start_berthd &&
	api GET /healthz && test "$(cat status)" = 200 &&
	stop_berthd
'

test_expect_success 'the server uuid is stable for a root' '
	start_berthd &&
	api GET /v1/server && jq -r .uuid out >uuid1 &&
	jq -e ".pid == $BERTHD_PID and .root == \"$TRASH/root\" and .state == \"$TRASH/state\"" out &&
	stop_berthd &&
	start_berthd &&
	api GET /v1/server && jq -r .uuid out >uuid2 &&
	test_cmp uuid1 uuid2 &&
	stop_berthd
'

bad_config() {
	printf "%s" "$1" >bad.json &&
	test_expect_code 2 "$BERTHD" --root "$TRASH/rootbad" --state "$TRASH/statebad" \
		--config bad.json 2>err &&
	test_line_count = 1 err &&
	grep "^berthd: " err
}

test_expect_success 'malformed config file: one line, exit 2' '
	bad_config "{\"root\": " && grep "line 1" err
'

test_expect_success 'unknown config key: one line naming it, exit 2' '
	bad_config "{\"roots\": \"/x\"}" && grep "unknown key .roots." err
'

test_expect_success 'wrong type and bad values in the config: exit 2' '
	bad_config "{\"event_ring_size\": \"big\"}" && grep event_ring_size err &&
	bad_config "{\"log_level\": \"chatty\"}" && grep chatty err &&
	bad_config "{\"root\": \"relative/path\"}" && grep absolute err &&
	bad_config "[]" && grep object err
'

test_expect_success 'a missing explicit config file is an error' '
	test_expect_code 2 "$BERTHD" --config "$TRASH/nope.json" --root "$TRASH/r" 2>err &&
	grep "nope.json" err
'

test_expect_success 'an unusable root or state path: one line, exit 2' '
	echo "{}" >ok.json &&
	test_expect_code 2 "$BERTHD" --config ok.json --root /proc/berth-root \
		--state "$TRASH/s" 2>err &&
	test_line_count = 1 err && grep "/proc/berth-root" err &&
	: >afile &&
	test_expect_code 2 "$BERTHD" --config ok.json --root "$TRASH/r5" \
		--state "$TRASH/afile/sub" 2>err &&
	test_line_count = 1 err && grep "state directory" err
'

test_expect_success 'a start that fails after the socket is made (unusable metadata) leaves no socket' '
	mkdir -p "$TRASH/r6" && : >"$TRASH/r6/meta" &&
	! "$BERTHD" --config ok.json --root "$TRASH/r6" --state "$TRASH/s6" \
		--socket "$TRASH/s6/b.sock" 2>err &&
	cat err && grep "meta" err &&
	test_path_is_missing "$TRASH/s6/b.sock"
'

test_expect_success '--listen without --token-file is refused' '
	test_expect_code 2 "$BERTHD" --config ok.json --root "$TRASH/r6" --state "$TRASH/s6" \
		--listen 127.0.0.1:1 2>err &&
	grep token err
'

test_expect_success 'flags win over the config file' '
	cat >both.json <<-EOF &&
	{"root": "$TRASH/fileroot", "state": "$TRASH/filestate", "log_level": "error"}
	EOF
	cp both.json config.json &&
	n0=$(grep -c "msg=\"berthd started\"" "$TRASH/berthd.log") &&
	start_berthd --log-level info &&
	test_path_is_missing "$TRASH/fileroot" &&
	n1=$(grep -c "msg=\"berthd started\"" "$TRASH/berthd.log") &&
	test $n1 = $((n0 + 1)) &&
	stop_berthd
'

test_expect_success 'socket_group: the socket belongs to that group (mode 0660); an unknown group is refused' '
	grp=$(getent group daemon | cut -d: -f1) &&
	test -n "$grp" &&
	echo "{\"socket_group\": \"$grp\"}" >config.json &&
	start_berthd &&
	test "$(stat -c %G:%a "$BERTH_SOCK")" = "$grp:660" &&
	test "$(stat -c %U "$BERTH_SOCK")" = root &&
	stop_berthd &&
	echo "{\"socket_group\": \"no-such-group-x\"}" >bad.json &&
	test_expect_code 2 "$BERTHD" --config bad.json --root "$TRASH/r7" --state "$TRASH/s7" \
		--socket "$TRASH/s7.sock" 2>err &&
	grep no-such-group-x err &&
	test_path_is_missing "$TRASH/s7.sock" &&
	echo "{}" >config.json
'

test_done
