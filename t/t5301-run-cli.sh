#!/bin/sh
test_description='berth run and berth tasks: containers from a pulled busybox, end to end'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/registry.sh"

# run's FIFO directories go here, so that the tests can see none is left
XDG_RUNTIME_DIR=$TRASH_DIRECTORY/xdg
export XDG_RUNTIME_DIR
mkdir -p "$XDG_RUNTIME_DIR"

test_expect_success 'run and tasks: help and usage errors need no daemon' '
	"$BERTH" run --help >h &&
	grep -e "--rm" h && grep -e "--env K=V" h && grep "after the first is sent as SIGKILL" h && grep "125" h &&
	"$BERTH" tasks --help >h && grep "logs" h &&
	for c in ls start kill rm wait logs; do
		"$BERTH" tasks $c --help >h && test -s h || return 1
	done &&
	test_expect_code 125 "$BERTH" run 2>err &&
	grep "^berth: missing the IMAGE and the container ID" err &&
	test_expect_code 125 "$BERTH" run busybox 2>err &&
	grep "^berth: missing the container ID" err &&
	test_expect_code 125 "$BERTH" run --rm -d busybox x 2>err &&
	grep "^berth: --rm and -d do not go together" err &&
	test_expect_code 125 "$BERTH" run -i -d busybox x 2>err &&
	grep "^berth: -i and -d do not go together" err &&
	test_expect_code 125 "$BERTH" run --memory lots busybox x 2>err &&
	grep "^berth: bad --memory" err &&
	test_expect_code 125 "$BERTH" run --bogus busybox x 2>err &&
	test_expect_code 125 "$BERTH" --address "$TRASH/nowhere.sock" run busybox x 2>err &&
	grep "^berth: cannot connect to berthd" err &&
	test_expect_code 2 "$BERTH" tasks kill 2>err &&
	test_expect_code 2 "$BERTH" tasks kill -s NOT@SIG x 2>err &&
	grep "^berth: bad signal" err &&
	test_expect_code 2 "$BERTH" tasks wait a b 2>err &&
	test_expect_code 3 "$BERTH" --address "$TRASH/nowhere.sock" tasks ls 2>err
'

test_have_prereq REGISTRY || {
	skip_all='needs docker-registry, skopeo, umoci, busybox-static (see t/lib/registry.sh)'
	test_done
}
command -v runc >/dev/null || {
	skip_all='needs runc'
	test_done
}

test_expect_success 'start a registry and berthd; pull busybox' '
	start_registry &&
	push_image test/busybox &&
	start_berthd &&
	IMG=$REGISTRY/test/busybox:latest &&
	"$BERTH" pull --plain-http -q "$IMG" >/dev/null
'

# nothing_left ID: no container, task, snapshot, task directory or FIFO
# directory of ID remains, and nothing of it is mounted.
nothing_left () {
	"$BERTH" containers ls -q >ids &&
	! grep -x "$1" ids &&
	"$BERTH" tasks ls -q >ids &&
	! grep -x "$1" ids &&
	"$BERTH" snapshots ls -q >keys &&
	! grep -x "$1" keys &&
	test_path_is_missing "$TRASH_DIRECTORY/state/tasks/default/$1" &&
	! grep " $TRASH_DIRECTORY/state/tasks/default/$1/rootfs " /proc/self/mountinfo &&
	ls -A "$XDG_RUNTIME_DIR" >fifos &&
	test_must_be_empty fifos
}

test_expect_success 'run: the image default command, output through the FIFOs' '
	"$BERTH" run --rm "$IMG" c1 >out 2>err &&
	test_must_be_empty err &&
	echo "hello from busybox" >expect &&
	test_cmp expect out &&
	nothing_left c1
'

test_expect_success 'run: the exit code of the container, stdout and stderr apart' '
	test_expect_code 42 "$BERTH" run --rm "$IMG" c2 sh -c "echo to-out; echo to-err >&2; exit 42" >out 2>err &&
	echo to-out >expect && test_cmp expect out &&
	echo to-err >expect && test_cmp expect err &&
	nothing_left c2
'

test_expect_success 'run: a lot of output arrives whole' '
	"$BERTH" run --rm "$IMG" c3 sh -c "seq 1 200000" >out &&
	test_line_count = 200000 out &&
	test "$(tail -n 1 out)" = 200000 &&
	nothing_left c3
'

test_expect_success 'run: a reader that goes away early does not stop the clean-up' '
	"$BERTH" run --rm "$IMG" c3b sh -c "seq 1 100000; exit 4" 2>pipe-err |
		head -n 1 >out &&
	echo 1 >expect && test_cmp expect out &&
	nothing_left c3b
'

test_expect_success 'run -i: our stdin is the container stdin, to its end' '
	printf "one\ntwo\n" | "$BERTH" run -i --rm "$IMG" c3c sh -c "cat; echo end" >out &&
	printf "one\ntwo\nend\n" >expect &&
	test_cmp expect out &&
	seq 1 200000 | "$BERTH" run -i --rm "$IMG" c3d wc -l >out &&
	test "$(tr -d " " <out)" = 200000 &&
	echo lost | "$BERTH" run --rm "$IMG" c3e sh -c "cat; echo end" >out &&
	echo end >expect &&
	test_cmp expect out &&
	nothing_left c3c && nothing_left c3d && nothing_left c3e
'

test_expect_success 'run: --env, --user, --cwd reach the process' '
	"$BERTH" run --rm --env FOO=bar --env "TWO=a b" --user 1000 --cwd /tmp "$IMG" c4 \
		sh -c "echo \$FOO/\$TWO/\$(id -u)/\$(pwd)" >out &&
	echo "bar/a b/1000//tmp" >expect &&
	test_cmp expect out &&
	nothing_left c4
'

test_expect_success 'run without --rm keeps the container (not its task)' '
	"$BERTH" run "$IMG" c5 true &&
	"$BERTH" containers ls -q >ids && grep -x c5 ids &&
	"$BERTH" tasks ls -q >ids && ! grep -x c5 ids &&
	test_expect_code 125 "$BERTH" run "$IMG" c5 true 2>err &&
	test_line_count = 1 err && grep "^berth: " err &&
	"$BERTH" containers rm c5 &&
	nothing_left c5
'

test_expect_success 'run: a short image name is tried normalised, as docker names it' '
	"$BERTH" images tag "$IMG" docker.io/library/bbtest:latest &&
	"$BERTH" run --rm bbtest c5b echo short >out &&
	echo short >expect && test_cmp expect out &&
	nothing_left c5b &&
	test_expect_code 125 "$BERTH" run --rm bbnope c5c true 2>err &&
	test_line_count = 1 err &&
	grep "^berth: .*bbnope" err &&
	nothing_left c5c &&
	"$BERTH" images rm docker.io/library/bbtest:latest
'

test_expect_success 'run: a missing image is one line and 125, nothing left' '
	test_expect_code 125 "$BERTH" run --rm "$REGISTRY/test/nope:latest" c6 true >out 2>err &&
	test_must_be_empty out &&
	test_line_count = 1 err &&
	grep "^berth: .*nope" err &&
	nothing_left c6
'

test_expect_success 'run: a command not in the image is the runtime error, 127, nothing left' '
	test_expect_code 127 "$BERTH" run --rm "$IMG" c7 /no/such/cmd >out 2>err &&
	test_must_be_empty out &&
	test_line_count = 1 err &&
	grep "^berth: .*/no/such/cmd" err &&
	nothing_left c7
'

# run_bg ID ARGS...: berth run --rm ID in the background, output in ID.out;
# its pid in bg_pid once the container has printed "ready".
run_bg () {
	id=$1
	shift
	"$BERTH" run --rm "$IMG" "$id" "$@" >"$id.out" 2>"$id.err" &
	bg_pid=$!
	test_wait_for 20 grep -q ready "$id.out"
}

test_expect_success 'run: SIGTERM to berth reaches the container' '
	run_bg c8 sh -c "trap \"echo got-term; exit 7\" TERM; echo ready; sleep 100 & wait" &&
	kill -TERM $bg_pid &&
	{ wait $bg_pid; st=$?; } &&
	test "$st" = 7 &&
	grep got-term c8.out &&
	nothing_left c8
'

test_expect_success 'run: Ctrl-C (SIGINT) reaches the container' '
	run_bg c9 sh -c "trap \"exit 130\" INT; echo ready; sleep 100 & wait" &&
	kill -INT $bg_pid &&
	{ wait $bg_pid; st=$?; } &&
	test "$st" = 130 &&
	nothing_left c9
'

# Two signals sent at once may arrive as one: send SIGINT until berth exits.
interrupt_until_gone () {
	while kill -INT "$1" 2>/dev/null; do
		sleep 0.2
	done
}

test_expect_success 'run: the second SIGINT is SIGKILL (pid 1 ignores SIGINT)' '
	run_bg c10 sh -c "echo ready; exec sleep 100" &&
	interrupt_until_gone $bg_pid &&
	{ wait $bg_pid; st=$?; } &&
	test "$st" = 137 &&
	nothing_left c10
'

test_expect_success 'run -d, tasks ls, logs, wait' '
	"$BERTH" run -d "$IMG" d1 \
		sh -c "trap \"exit 143\" TERM; echo out-line; echo err-line >&2; sleep 100 & wait" >out &&
	echo d1 >expect && test_cmp expect out &&
	"$BERTH" tasks ls >ls &&
	head -n 1 ls | grep "^TASK *PID *STATUS$" &&
	grep "^d1 *[0-9][0-9]* *running$" ls &&
	test_wait_for 10 sh -c "\"$BERTH\" tasks logs d1 | grep -q err-line" &&
	"$BERTH" tasks logs d1 >logs &&
	grep -x out-line logs && grep -x err-line logs &&
	test_expect_code 1 "$BERTH" tasks rm d1 2>err &&
	grep "^berth: " err &&
	"$BERTH" tasks kill -s TERM d1 &&
	test_expect_code 143 "$BERTH" tasks wait d1 >st &&
	echo 143 >expect && test_cmp expect st &&
	"$BERTH" tasks ls >ls &&
	grep "^d1 .*stopped (143)$" ls &&
	"$BERTH" tasks rm d1 &&
	"$BERTH" containers rm d1 &&
	nothing_left d1
'

test_expect_success 'tasks logs -f streams until the exit' '
	"$BERTH" run -d "$IMG" d2 sh -c "echo first; sleep 1; echo second" &&
	"$BERTH" tasks logs -f d2 >logs &&
	printf "first\nsecond\n" >expect &&
	test_cmp expect logs &&
	test_expect_code 0 "$BERTH" tasks wait d2 &&
	"$BERTH" tasks rm d2 && "$BERTH" containers rm d2 &&
	nothing_left d2
'

test_expect_success 'tasks kill --all, rm -f, errors on missing tasks' '
	"$BERTH" run -d "$IMG" d3 sh -c "sleep 100 & sleep 100" &&
	"$BERTH" tasks kill --all -s 9 d3 &&
	test_expect_code 137 "$BERTH" tasks wait d3 &&
	"$BERTH" tasks rm d3 &&
	"$BERTH" run -d "$IMG" d4 sleep 100 &&
	"$BERTH" tasks rm -f d4 >out &&
	echo d4 >expect && test_cmp expect out &&
	test_expect_code 1 "$BERTH" tasks kill d4 2>err &&
	test_line_count = 1 err &&
	test_expect_code 1 "$BERTH" tasks wait nosuch 2>err &&
	test_line_count = 1 err &&
	"$BERTH" containers rm d3 d4 &&
	nothing_left d3 && nothing_left d4
'

test_expect_success 'tasks start of a created task' '
	"$BERTH" containers create "$IMG" d5 sh -c "exit 5" &&
	cat >body <<-\EOF &&
	{"log": true}
	EOF
	curl -sf --unix-socket "$BERTH_SOCK" -X POST -d @body \
		http://berth/v1/namespaces/default/containers/d5/task >/dev/null &&
	"$BERTH" tasks ls >ls && grep "^d5 .*created$" ls &&
	"$BERTH" tasks start d5 &&
	test_expect_code 5 "$BERTH" tasks wait d5 &&
	"$BERTH" tasks rm d5 && "$BERTH" containers rm d5 &&
	nothing_left d5
'

test_done
