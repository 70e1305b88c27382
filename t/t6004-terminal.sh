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

# run's FIFO directories go here, so that the tests can see what is left
XDG_RUNTIME_DIR=$TRASH_DIRECTORY/xdg
export XDG_RUNTIME_DIR
mkdir -p "$XDG_RUNTIME_DIR"

NS=/v1/namespaces/default
C=$NS/containers
IMG=

cleanup_containers () {
	for id in t6sh t6sz t6rs t6sig t6api t6pipe t6cio t6tcio t6det t6mm
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
