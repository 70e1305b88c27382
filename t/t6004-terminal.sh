#!/bin/sh
test_description='terminals: berth run -t -i driven through a real pty (a usable shell, window size and resize, exit code, the terminal restored), terminal tasks through the API (FIFOs, resize, closeio, 412/400), detach and attach'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/registry.sh"
. "$TEST_DIRECTORY/lib/runtime.sh"

PTY=$BERTH_BUILD_DIR/t/helpers/pty-run
test -x "$PTY" || {
	skip_all="t/helpers/pty-run is not built in $BERTH_BUILD_DIR (make check TESTS=)"
	test_done
}

# The shims' stderr is /dev/null once they have reported: sanitizer
# reports (of every program here) go to files, checked by the last test.
ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$TRASH_DIRECTORY/sanitizer"
UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$TRASH_DIRECTORY/sanitizer"
export ASAN_OPTIONS UBSAN_OPTIONS

# run's FIFO directories go here, so that the tests can see what is left
XDG_RUNTIME_DIR=$TRASH_DIRECTORY/xdg
export XDG_RUNTIME_DIR
mkdir -p "$XDG_RUNTIME_DIR"

NS=/v1/namespaces/default
C=$NS/containers
IMG=

cleanup_containers () {
	for id in t6sh t6sz t6rs t6sig t6api t6pipe t6cio t6tcio t6det t6mm t6ex t6bp t6x
	do
		runc --root "$TRASH/state/runc/default" delete --force $id 2>/dev/null
	done
	:
}
test_atexit cleanup_containers

# in_pty [PTY-RUN ARGS...] -- CMD...: run CMD on a pty; its output in pty.out
in_pty () {
	"$PTY" -o pty.out -t 90 "$@"
}

# gone ID: kill (if needed), wait, delete task and container.
gone () {
	api POST "$C/$1/task/kill" -d '{"signal":"SIGKILL"}'
	api POST "$C/$1/task/wait" && test "$(cat status)" = 200 || { cat out; return 1; }
	api DELETE "$C/$1/task" && test "$(cat status)" = 200 || { cat out; return 1; }
	api DELETE "$C/$1?cleanup=snapshot" && test "$(cat status)" = 204 || { cat out; return 1; }
}

test_expect_success 'run -t: usage errors need no daemon; -t without a terminal on stdin' '
	"$BERTH" run --help >h && grep -e "-t, --tty" h &&
	test_expect_code 125 "$BERTH" --address "$TRASH/nowhere.sock" run -t -i busybox x </dev/null 2>err &&
	test_cmp_str_ () { test "$(cat "$1")" = "$2"; } &&
	test "$(cat err)" = "berth: the input device is not a TTY" &&
	test_expect_code 125 "$BERTH" --address "$TRASH/nowhere.sock" run -ti busybox x </dev/null 2>err &&
	grep "not a TTY" err &&
	test_expect_code 125 "$BERTH" --address "$TRASH/nowhere.sock" run -it busybox x </dev/null 2>err &&
	grep "not a TTY" err
'

test_expect_success 'registry with busybox; berthd; image pulled' '
	start_registry &&
	push_image test/busybox &&
	start_berthd &&
	"$BERTH" pull --plain-http -q "$REGISTRY/test/busybox" >/dev/null &&
	IMG=$REGISTRY/test/busybox:latest
'

test_expect_success 'run -t -i busybox sh: a usable shell; exit 3 is its exit code; terminal restored' '
	test_when_finished "\"$BERTH\" containers rm t6sh 2>/dev/null; :" &&
	cat >session.sh <<-EOF &&
	stty -g >before
	"$BERTH" run --rm -t -i "$IMG" t6sh sh
	rc=\$?
	stty -g >after
	exit \$rc
	EOF
	test_expect_code 3 in_pty "expect:# " "send:echo \$((6*7))\r" "expect:42" \
		"expect:# " "send:tty\r" "expect:/dev/pts/" \
		"send:exit 3\r" -- sh session.sh &&
	test -s before &&
	test_cmp before after
'

test_expect_success 'run -t -i: stty size shows the size of our terminal; a resize is seen inside' '
	test_expect_code 0 in_pty -s 100x30 "expect:# " "send:stty size\r" "expect:30 100" \
		"resize:120x40" "send:stty size\r" "expect:40 120" \
		"resize:61x17" "send:stty size; exit\r" "expect:17 61" \
		-- "$BERTH" run --rm -t -i "$IMG" t6sz sh
'

# signal_session SIG N CODE: berth run -t -i in the background of a script
# (its stdin the terminal), SIG sent to berth once the container is ready;
# berth forwards it, the container exits CODE, the terminal is restored.
signal_session () {
	rm -f berth.pid before after &&
	cat >session.sh <<-EOF &&
	stty -g >before
	"$BERTH" run --rm -t -i "$IMG" t6sig sh -c "trap \"exit $3\" $1; echo ready; while :; do sleep 1; done" </dev/tty &
	echo \$! >berth.pid
	wait \$!
	rc=\$?
	stty -g >after
	exit \$rc
	EOF
	test_expect_code $3 in_pty "expect:ready" "killpid:berth.pid:$2" -- sh session.sh &&
	test -s before &&
	test_cmp before after
}

test_expect_success 'run -t -i: SIGTERM to berth goes to the container; terminal restored' '
	signal_session TERM 15 7
'

test_expect_success 'run -t -i: SIGHUP too' '
	signal_session HUP 1 8
'

test_expect_success 'run -t without -i: a terminal, no input, no raw mode; its exit code' '
	cat >session.sh <<-EOF &&
	stty -g >before
	"$BERTH" run --rm -t "$IMG" t6sh sh -c "tty; stty size; exit 2"
	rc=\$?
	stty -g >after
	exit \$rc
	EOF
	test_expect_code 2 in_pty -s 70x22 "expect:/dev/pts/" "expect:22 70" -- sh session.sh &&
	test_cmp before after
'

test_expect_success 'run -t -i: a command not in the image is 127; the terminal untouched' '
	cat >session.sh <<-EOF &&
	stty -g >before
	"$BERTH" run --rm -t -i "$IMG" t6sh /nonexistent
	rc=\$?
	stty -g >after
	exit \$rc
	EOF
	test_expect_code 127 in_pty -- sh session.sh &&
	test_cmp before after
'

test_expect_success 'task create: terminal needs process.terminal and the other way round (412); no stderr (400)' '
	api POST "$C" -d "{\"id\":\"t6mm\",\"image\":\"$IMG\",\"process\":{\"args\":[\"true\"]}}" &&
	test "$(cat status)" = 201 &&
	api POST "$C/t6mm/task" -d "{\"terminal\":true}" && test "$(cat status)" = 412 &&
	jq -e ".error.code == \"failed_precondition\" and (.error.message | test(\"without process.terminal\"))" out &&
	api DELETE "$C/t6mm?cleanup=snapshot" && test "$(cat status)" = 204 &&
	api POST "$C" -d "{\"id\":\"t6mm\",\"image\":\"$IMG\",\"process\":{\"args\":[\"true\"],\"terminal\":true}}" &&
	test "$(cat status)" = 201 &&
	api POST "$C/t6mm/task" -d "{\"log\":true}" && test "$(cat status)" = 412 &&
	jq -e ".error.message | test(\"terminal: true\")" out &&
	mkfifo mm.err &&
	api POST "$C/t6mm/task" -d "{\"terminal\":true,\"stderr\":\"$TRASH/mm.err\"}" &&
	test "$(cat status)" = 400 &&
	jq -e ".error.message | test(\"stderr\")" out &&
	api GET "$C/t6mm/task" && test "$(cat status)" = 404 &&
	api DELETE "$C/t6mm?cleanup=snapshot" && test "$(cat status)" = 204
'

test_expect_success 'terminal task through the API: FIFOs, size set before start, input, exit code' '
	api POST "$C" -d "{\"id\":\"t6api\",\"image\":\"$IMG\",\"process\":{\"args\":[\"sh\",\"-c\",\"stty size; read x; echo got \$x; exit 4\"],\"terminal\":true}}" &&
	test "$(cat status)" = 201 &&
	mkfifo api.in api.out &&
	{ cat api.out >api.got & } &&
	api POST "$C/t6api/task" -d "{\"terminal\":true,\"stdin\":\"$TRASH/api.in\",\"stdout\":\"$TRASH/api.out\"}" &&
	test "$(cat status)" = 201 &&
	jq -e ".terminal == true and .stdin == \"$TRASH/api.in\" and .stdout == \"$TRASH/api.out\" and (has(\"stderr\") | not)" out &&
	api POST "$C/t6api/task/resize" -d "{\"width\":91,\"height\":27}" && test "$(cat status)" = 204 &&
	api POST "$C/t6api/task/start" && test "$(cat status)" = 200 &&
	echo hello >api.in &&
	api POST "$C/t6api/task/wait" && test "$(cat status)" = 200 &&
	jq -e ".exit_status == 4" out &&
	test_wait_for 10 grep "got hello" api.got &&
	grep "^27 91" api.got &&
	api GET "$C/t6api/task" && jq -e ".status == \"stopped\" and .terminal == true" out &&
	api POST "$C/t6api/task/resize" -d "{\"width\":80,\"height\":24}" && test "$(cat status)" = 412 &&
	jq -e ".error.message | test(\"stopped\")" out &&
	api DELETE "$C/t6api/task" && test "$(cat status)" = 200 &&
	api DELETE "$C/t6api?cleanup=snapshot" && test "$(cat status)" = 204
'

test_expect_success 'resize: bad sizes 400, no task 404, unknown exec 404, a task without a terminal 412' '
	api POST "$C/t6none/task/resize" -d "{\"width\":80,\"height\":24}" && test "$(cat status)" = 404 &&
	api POST "$C" -d "{\"id\":\"t6pipe\",\"image\":\"$IMG\",\"process\":{\"args\":[\"sleep\",\"1000\"]}}" &&
	test "$(cat status)" = 201 &&
	api POST "$C/t6pipe/task" -d "{\"log\":true}" && test "$(cat status)" = 201 &&
	jq -e ".terminal == false" out &&
	for body in "{\"width\":0,\"height\":24}" "{\"width\":80,\"height\":100000}" \
		"{\"width\":-1,\"height\":24}" "{\"width\":80}" "{\"width\":\"80\",\"height\":24}" \
		"{\"width\":80,\"height\":24,\"depth\":3}" ""
	do
		api POST "$C/t6pipe/task/resize" -d "$body" && test "$(cat status)" = 400 &&
		jq -e ".error.code == \"invalid_argument\"" out || { echo "$body:" && cat out && return 1; }
	done &&
	api POST "$C/t6pipe/task/resize" -d "{\"width\":80,\"height\":24,\"exec_id\":\"e1\"}" &&
	test "$(cat status)" = 404 &&
	api POST "$C/t6pipe/task/resize" -d "{\"width\":80,\"height\":24}" && test "$(cat status)" = 412 &&
	jq -e ".error.code == \"failed_precondition\" and (.error.message | test(\"no terminal\"))" out &&
	test_expect_code 1 "$BERTH" tasks resize t6pipe 80 24 2>err &&
	grep "no terminal" err &&
	test_expect_code 2 "$BERTH" tasks resize t6pipe wide 24 2>err &&
	gone t6pipe
'

test_expect_success 'closeio: cat in a task without a terminal reads EOF while a writer holds its FIFO' '
	api POST "$C" -d "{\"id\":\"t6cio\",\"image\":\"$IMG\",\"process\":{\"args\":[\"sh\",\"-c\",\"cat; echo cat-ended\"]}}" &&
	test "$(cat status)" = 201 &&
	mkfifo cio.in &&
	api POST "$C/t6cio/task" -d "{\"log\":true,\"stdin\":\"$TRASH/cio.in\"}" && test "$(cat status)" = 201 &&
	{ sleep 1000 >cio.in & } && holder=$! &&
	test_when_finished "kill $holder" &&
	api POST "$C/t6cio/task/start" && test "$(cat status)" = 200 &&
	echo abc >cio.in &&
	test_wait_for 10 grep abc "$TRASH/state/tasks/default/t6cio/log" &&
	api GET "$C/t6cio/task" && jq -e ".status == \"running\"" out &&
	api POST "$C/t6cio/task/closeio" && test "$(cat status)" = 204 &&
	api POST "$C/t6cio/task/wait" && test "$(cat status)" = 200 && jq -e ".exit_status == 0" out &&
	grep cat-ended "$TRASH/state/tasks/default/t6cio/log" &&
	api POST "$C/t6cio/task/closeio" -d "{\"exec_id\":\"e1\"}" && test "$(cat status)" = 404 &&
	api POST "$C/t6cio/task/closeio" -d "{\"stdin\":true}" && test "$(cat status)" = 400 &&
	api POST "$C/t6none/task/closeio" && test "$(cat status)" = 404 &&
	gone t6cio
'

test_expect_success 'closeio of a terminal task: the process reads the terminal EOF (berth tasks closeio)' '
	api POST "$C" -d "{\"id\":\"t6tcio\",\"image\":\"$IMG\",\"process\":{\"args\":[\"sh\",\"-c\",\"cat >/dev/null; echo eof-seen; exit 6\"],\"terminal\":true}}" &&
	test "$(cat status)" = 201 &&
	mkfifo tcio.in tcio.out &&
	{ cat tcio.out >tcio.got & } &&
	api POST "$C/t6tcio/task" -d "{\"terminal\":true,\"stdin\":\"$TRASH/tcio.in\",\"stdout\":\"$TRASH/tcio.out\"}" &&
	test "$(cat status)" = 201 &&
	api POST "$C/t6tcio/task/start" && test "$(cat status)" = 200 &&
	echo some input >tcio.in &&
	test_wait_for 10 grep "some input" tcio.got &&
	api GET "$C/t6tcio/task" && jq -e ".status == \"running\"" out &&
	"$BERTH" tasks closeio t6tcio >closed && test "$(cat closed)" = t6tcio &&
	api POST "$C/t6tcio/task/wait" && test "$(cat status)" = 200 && jq -e ".exit_status == 6" out &&
	test_wait_for 10 grep eof-seen tcio.got &&
	gone t6tcio
'

test_expect_success 'run -d -t, then attach: type, detach with Ctrl-P Ctrl-Q, it runs on' '
	"$BERTH" run -d -t "$IMG" t6det sh >id && test "$(cat id)" = t6det &&
	api GET "$C/t6det/task" && jq -e ".terminal == true and .status == \"running\"" out &&
	jq -r .stdout out >fifo.path && test -p "$(cat fifo.path)" &&
	test_expect_code 0 in_pty -s 77x21 "send:echo \$((5*5))\r" "expect:25" \
		"send:stty size\r" "expect:21 77" "send:\x10\x11" -- "$BERTH" tasks attach t6det &&
	api GET "$C/t6det/task" && jq -e ".status == \"running\"" out
'

test_expect_success 'berthd restarted: the terminal task keeps its terminal and FIFOs (live restore)' '
	stop_berthd &&
	start_berthd &&
	api GET "$C/t6det/task" &&
	jq -e ".terminal == true and .status == \"running\" and .stdout == \"$(cat fifo.path)\"" out &&
	api POST "$C/t6det/task/resize" -d "{\"width\":90,\"height\":20}" && test "$(cat status)" = 204
'

test_expect_success 'attach again: the same shell; its exit ends attach with its code; rm removes the FIFOs' '
	test_expect_code 9 in_pty -s 90x20 "send:echo \$((6*6))\r" "expect:36" \
		"send:stty size\r" "expect:20 90" "send:exit 9\r" -- "$BERTH" tasks attach t6det &&
	api GET "$C/t6det/task" && jq -e ".status == \"stopped\" and .exit_status == 9" out &&
	"$BERTH" tasks rm t6det &&
	! test -e "$(cat fifo.path)" &&
	! test -e "$(dirname "$(cat fifo.path)")" &&
	"$BERTH" containers rm t6det
'

test_expect_success 'detached output nobody reads waits (FIFO, then the shim, then backpressure): none is lost' '
	"$BERTH" run -d -t "$IMG" t6bp sh -c "i=0; while test \$i -lt 20000; do echo line \$i; i=\$((i+1)); done; echo done-marker; read x; exit 4" &&
	api GET "$C/t6bp/task" && jq -e ".status == \"running\"" out &&
	test_expect_code 4 in_pty "expect:done-marker" "send:bye\r" -- "$BERTH" tasks attach t6bp &&
	test "$(grep -c "^line [0-9]*" pty.out)" = 20000 &&
	grep -q "^line 19999" pty.out &&
	"$BERTH" tasks rm t6bp && "$BERTH" containers rm t6bp
'

test_expect_success 'attach: a task without a terminal is refused; resize and closeio of the CLI' '
	"$BERTH" run -d "$IMG" t6pipe sleep 1000 &&
	test_expect_code 1 "$BERTH" tasks attach t6pipe 2>err </dev/null &&
	grep "no terminal" err &&
	"$BERTH" tasks closeio t6pipe >out && test "$(cat out)" = t6pipe &&
	gone t6pipe
'

test_expect_success 'an exec with a terminal: its own pty, resize after start, input, closeio, exit code' '
	api POST "$C" -d "{\"id\":\"t6ex\",\"image\":\"$IMG\",\"process\":{\"args\":[\"sleep\",\"1000\"]}}" &&
	test "$(cat status)" = 201 &&
	api POST "$C/t6ex/task" -d "{\"log\":true}" && test "$(cat status)" = 201 &&
	api POST "$C/t6ex/task/start" && test "$(cat status)" = 200 &&
	mkfifo ex.in ex.out &&
	{ cat ex.out >ex.got & } &&
	api POST "$C/t6ex/task/exec" -d "{\"exec_id\":\"tx\",\"process\":{\"args\":[\"sh\",\"-c\",\"read x; tty; stty size; echo got \$x; cat >/dev/null; echo eof-seen; exit 5\"],\"terminal\":true},\"stdin\":\"$TRASH/ex.in\",\"stdout\":\"$TRASH/ex.out\"}" &&
	test "$(cat status)" = 201 &&
	api POST "$C/t6ex/task/resize" -d "{\"width\":80,\"height\":24,\"exec_id\":\"tx\"}" &&
	test "$(cat status)" = 412 && jq -e ".error.message | test(\"not started\")" out &&
	api POST "$C/t6ex/task/exec/tx/start" && test "$(cat status)" = 200 &&
	api POST "$C/t6ex/task/resize" -d "{\"width\":93,\"height\":29,\"exec_id\":\"tx\"}" &&
	test "$(cat status)" = 204 &&
	echo hello >ex.in &&
	test_wait_for 10 grep "got hello" ex.got &&
	grep "^/dev/pts/" ex.got &&
	grep "^29 93" ex.got &&
	api POST "$C/t6ex/task/resize" -d "{\"width\":93,\"height\":29}" && test "$(cat status)" = 412 &&
	jq -e ".error.message | test(\"no terminal\")" out &&
	api POST "$C/t6ex/task/closeio" -d "{\"exec_id\":\"tx\"}" && test "$(cat status)" = 204 &&
	api POST "$C/t6ex/task/exec/tx/wait" && test "$(cat status)" = 200 && jq -e ".exit_status == 5" out &&
	test_wait_for 10 grep eof-seen ex.got &&
	api POST "$C/t6ex/task/resize" -d "{\"width\":80,\"height\":24,\"exec_id\":\"tx\"}" &&
	test "$(cat status)" = 412 && jq -e ".error.message | test(\"exited\")" out &&
	api POST "$C/t6ex/task/resize" -d "{\"width\":80,\"height\":24,\"exec_id\":\"nope\"}" &&
	test "$(cat status)" = 404 &&
	api POST "$C/t6ex/task/exec" -d "{\"exec_id\":\"px\",\"process\":{\"args\":[\"true\"]},\"log\":true}" &&
	test "$(cat status)" = 201 &&
	api POST "$C/t6ex/task/exec/px/start" && test "$(cat status)" = 200 &&
	api POST "$C/t6ex/task/resize" -d "{\"width\":80,\"height\":24,\"exec_id\":\"px\"}" &&
	test "$(cat status)" = 412 &&
	gone t6ex
'

test_expect_success 'tasks exec -t -i: a shell in a running task through a pty; size; exit code; terminal restored' '
	"$BERTH" run -d "$IMG" t6x sleep 1000 &&
	cat >session.sh <<-EOF &&
	stty -g >before
	"$BERTH" tasks exec -t -i --exec-id sh1 t6x sh
	rc=\$?
	stty -g >after
	exit \$rc
	EOF
	test_expect_code 5 in_pty -s 101x31 "expect:# " "send:echo \$((7*8))\r" "expect:56" \
		"send:stty size\r" "expect:31 101" "resize:72x19" "send:stty size\r" "expect:19 72" \
		"send:exit 5\r" -- sh session.sh &&
	test_cmp before after &&
	api GET "$C/t6x/task/exec/sh1" && test "$(cat status)" = 404
'

test_expect_success 'tasks exec without a terminal: stdout, stderr, stdin to its EOF, exit codes' '
	test_expect_code 2 "$BERTH" tasks exec t6x sh -c "echo out; echo err >&2; exit 2" >o 2>e &&
	test "$(cat o)" = out && test "$(cat e)" = err &&
	printf "piped\nlines\n" | "$BERTH" tasks exec -i t6x cat >o &&
	printf "piped\nlines\n" >expect && test_cmp expect o &&
	test_expect_code 127 "$BERTH" tasks exec t6x /nonexistent 2>e &&
	test_expect_code 125 "$BERTH" tasks exec -t t6x sh </dev/null 2>e &&
	grep "not a TTY" e &&
	test_expect_code 2 "$BERTH" tasks exec -d -t t6x sh 2>e &&
	"$BERTH" tasks exec -d --exec-id bg1 t6x sh -c "echo logged" >id && test "$(cat id)" = bg1 &&
	api POST "$C/t6x/task/exec/bg1/wait" && jq -e ".exit_status == 0" out &&
	api GET "$C/t6x/task/logs?exec_id=bg1" && test "$(cat status)" = 200 && grep logged out &&
	gone t6x
'

test_expect_success 'no FIFO directory left by run -t' '
	ls "$XDG_RUNTIME_DIR" >left &&
	test_must_be_empty left
'

test_expect_success 'berthd stopped; no sanitizer report from any program' '
	stop_berthd &&
	for f in sanitizer.*; do
		test -e "$f" || continue
		cat "$f" && return 1
	done
'

test_done
