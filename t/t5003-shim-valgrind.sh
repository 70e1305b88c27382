#!/bin/sh
test_description='berth-shim under valgrind (memcheck): a whole task life — create, start, an exec, pids, kill, exit, delete — with no error and no definite leak'
test_no_berthd=t
. "$(dirname "$0")/lib/test-lib.sh"

SHIM=$BERTH_BUILD_DIR/berth-shim
CALL=$TEST_DIRECTORY/helpers/shim-call
RUNC=$(command -v runc || command -v /usr/sbin/runc)
RUNC_ROOT=$TRASH_DIRECTORY/runc
PREFIX=t5003-$$

if ! test_have_prereq ROOT || ! test_have_prereq JQ || test -z "$RUNC" ||
	! test -x /bin/busybox || ! command -v valgrind >/dev/null; then
	skip_all='needs root, runc, jq, valgrind and /bin/busybox'
	test_done
fi
if ! test -x "$SHIM"; then
	skip_all="berth-shim is not built in $BERTH_BUILD_DIR"
	test_done
fi
if ldd "$SHIM" | grep -q libasan; then
	skip_all='a sanitizer build: valgrind cannot run ASan binaries (the plain build runs this)'
	test_done
fi

cleanup_all () {
	for id in $("$RUNC" --root "$RUNC_ROOT" list -q 2>/dev/null); do
		"$RUNC" --root "$RUNC_ROOT" delete --force "$id" 2>/dev/null
	done
	for m in $(awk -v t="$TRASH_DIRECTORY/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo); do
		umount -l "$m" 2>/dev/null
	done
	return 0
}
test_atexit cleanup_all

call () {
	"$CALL" --timeout 60 "$TRASH_DIRECTORY/vg/shim.sock" "$1" ${2:+"$2"} >ans && cat ans &&
	jq -e "has(\"result\")" ans >/dev/null
}

test_expect_success 'setup: a task directory binding a busybox image' '
	mkdir -p image/bin vg/rootfs &&
	cp /bin/busybox image/bin/ &&
	for c in sh echo sleep true cat tty; do ln -s busybox image/bin/$c || return 1; done &&
	mkdir spec && (cd spec && "$RUNC" spec) &&
	jq ".process.terminal = false | .root.path = \"rootfs\" | .root.readonly = false |
		.process.args = [\"sleep\", \"300\"]" spec/config.json >vg/config.json &&
	jq -n --arg id "$PREFIX" --arg root "$RUNC_ROOT" --arg rt "$RUNC" --arg img "$TRASH_DIRECTORY/image" \
		"{id: \$id, namespace: \"default\", runtime: \$rt, runtime_root: \$root, log: true,
		  mounts: [{type: \"bind\", source: \$img, options: [\"rbind\"]}]}" >vg/shim.json
'

test_expect_success 'the shim under valgrind: create, start, exec, pids, kill, exit, delete' '
	valgrind -q --trace-children=no --leak-check=full --errors-for-leak-kinds=definite \
		--log-file="$TRASH_DIRECTORY/vg.%p" "$SHIM" "$TRASH_DIRECTORY/vg" >create.out &&
	jq -e ".pid > 0" create.out &&
	call state && jq -e ".result.status == \"created\"" ans &&
	call start &&
	call exec "{\"exec_id\":\"x1\",\"process\":{\"args\":[\"sh\",\"-c\",\"echo from-exec\"],\"env\":[\"PATH=/bin\"],\"cwd\":\"/\",\"user\":{\"uid\":0,\"gid\":0}},\"log\":true}" &&
	{ "$CALL" --timeout 60 "$TRASH_DIRECTORY/vg/shim.sock" --event exit >exec-exit & } &&
	call exec_start "{\"exec_id\":\"x1\"}" &&
	test_wait_for 60 sh -c "jq -e .params.exec_id exec-exit" &&
	call state "{\"exec_id\":\"x1\"}" && jq -e ".result.exit_status == 0" ans &&
	grep from-exec vg/exec-x1.log &&
	call exec_delete "{\"exec_id\":\"x1\"}" &&
	call pids && jq -e ".result.pids | length >= 1" ans &&
	call pause && call resume &&
	call kill "{\"signal\":9}" &&
	test_wait_for 60 sh -c "test -e vg/exit.json" &&
	call delete && jq -e ".result.exit_status == 137" ans &&
	test_wait_for 60 sh -c "! test -e vg/shim.pid && ! ls /proc/*/exe -l 2>/dev/null | grep -q memcheck.*vg"
'

test_expect_success 'a terminal task under valgrind: console socket, resize, input, closeio, an exec with a terminal' '
	mkdir -p tty/rootfs &&
	jq ".process.terminal = true | .process.args = [\"sh\", \"-c\", \"read x; echo got \$x; cat >/dev/null; exit 3\"]" \
		vg/config.json >tty/config.json &&
	mkfifo tty.in tty.out &&
	{ cat tty.out >tty.got & } &&
	jq --arg i "$TRASH_DIRECTORY/tty.in" --arg o "$TRASH_DIRECTORY/tty.out" \
		".id = \"$PREFIX-tty\" | del(.log) | .terminal = true | .stdin = \$i | .stdout = \$o" \
		vg/shim.json >tty/shim.json &&
	valgrind -q --trace-children=no --leak-check=full --errors-for-leak-kinds=definite \
		--log-file="$TRASH_DIRECTORY/vg.%p" "$SHIM" "$TRASH_DIRECTORY/tty" >create.out &&
	jq -e ".pid > 0" create.out &&
	tcall () {
		"$CALL" --timeout 60 "$TRASH_DIRECTORY/tty/shim.sock" "$1" ${2:+"$2"} >ans && cat ans &&
		jq -e "has(\"result\")" ans >/dev/null
	} &&
	tcall resize "{\"width\":81,\"height\":25}" &&
	tcall start &&
	tcall exec "{\"exec_id\":\"t1\",\"process\":{\"args\":[\"sh\",\"-c\",\"tty\"],\"env\":[\"PATH=/bin\"],\"cwd\":\"/\",\"terminal\":true,\"user\":{\"uid\":0,\"gid\":0}},\"log\":true,\"terminal\":true}" &&
	{ "$CALL" --timeout 60 "$TRASH_DIRECTORY/tty/shim.sock" --event exit >tty-exec-exit & } &&
	tcall exec_start "{\"exec_id\":\"t1\"}" &&
	test_wait_for 60 sh -c "jq -e .params.exec_id tty-exec-exit" &&
	grep "^/dev/pts/" tty/exec-t1.log &&
	tcall exec_delete "{\"exec_id\":\"t1\"}" &&
	echo hi >tty.in &&
	test_wait_for 60 grep "got hi" tty.got &&
	tcall closeio &&
	test_wait_for 60 sh -c "test -e tty/exit.json" &&
	tcall delete && jq -e ".result.exit_status == 3" ans &&
	test_wait_for 60 sh -c "! test -e tty/shim.pid && ! ls /proc/*/exe -l 2>/dev/null | grep -q memcheck.*tty"
'

test_expect_success 'valgrind reports nothing: every shim process exited with 0 errors' '
	ls vg.* >logs &&
	test $(wc -l <logs) -ge 1 &&
	for f in vg.*; do
		echo "== $f" && cat "$f" &&
		! test -s "$f" || return 1
	done
'

test_done
