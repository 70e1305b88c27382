#!/bin/sh
test_description='tasks through the REST API: lifecycle, exit codes, signals, stdio, spec options enforced, bad input leaves nothing behind'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/registry.sh"
. "$TEST_DIRECTORY/lib/runtime.sh"

NS=/v1/namespaces/default
C=$NS/containers
IMG=

# new_container ID JSON-FIELDS: POST a container of the test image; the
# fields (without braces) are added to {"id","image"}.
new_container () {
	api POST "$C" -d "{\"id\":\"$1\",\"image\":\"$IMG\"${2:+,$2}}" &&
	test "$(cat status)" = 201 || { cat out; return 1; }
}

# run_logged ID JSON-FIELDS: container + task with captured output, started,
# waited for; its exit status in ./code, its output in ./log.
run_logged () {
	new_container "$@" &&
	api POST "$C/$1/task" -d '{"log":true}' && test "$(cat status)" = 201 || { cat out; return 1; }
	api POST "$C/$1/task/start" && test "$(cat status)" = 200 || { cat out; return 1; }
	api POST "$C/$1/task/wait" && test "$(cat status)" = 200 || { cat out; return 1; }
	jq -r .exit_status out >code &&
	api GET "$C/$1/task/logs" && test "$(cat status)" = 200 && cp out log &&
	api DELETE "$C/$1/task" && test "$(cat status)" = 200 || { cat out; return 1; }
	api DELETE "$C/$1?cleanup=snapshot" && test "$(cat status)" = 204 || { cat out; return 1; }
}

# nothing_left ID: no task directory, mount or shim process for ID remains.
nothing_left () {
	! test -e "$TRASH/state/tasks/default/$1" || { echo "task dir left:"; ls -la "$TRASH/state/tasks/default/$1"; return 1; }
	! grep -q "$TRASH/state/tasks/default/$1" /proc/self/mountinfo || { echo "mount left"; return 1; }
	! pgrep -f "berth-shim $TRASH/state/tasks/default/$1\$" >/dev/null || { echo "shim left"; return 1; }
}

# lifecycle_published ID: the replayed /tasks/ events of container ID are
# create, start, exit, delete, in that order.
lifecycle_published () {
	{ api GET "/v1/events?since=0&namespace=default&topic=/tasks/" --max-time 1 || :; } &&
	sed -n "s/^data: //p" out | jq -r "select(.event.container_id == \"$1\") | .topic" >topics &&
	printf "%s\n" /tasks/create /tasks/start /tasks/exit /tasks/delete >expect &&
	test_cmp expect topics
}

test_expect_success 'registry with busybox; berthd; image pulled' '
	start_registry &&
	push_image test/busybox &&
	start_berthd &&
	pull_ok "$REGISTRY/test/busybox" &&
	IMG=$REGISTRY/test/busybox:latest
'

test_expect_success 'the image config runs: entrypoint + cmd, output captured' '
	run_logged cfg &&
	test "$(cat code)" = 0 &&
	echo "hello from busybox" >expect &&
	test_cmp expect log &&
	nothing_left cfg
'

test_expect_success 'lifecycle: create → created with a pid, start → running, events in order' '
	new_container life "\"process\":{\"args\":[\"sh\",\"-c\",\"trap \\\"exit 3\\\" TERM; sleep 30 & wait\"]}" &&
	api POST "$C/life/task" -d "{}" && test "$(cat status)" = 201 &&
	jq -e ".status == \"created\" and .pid > 0" out &&
	pid=$(jq .pid out) &&
	test -d /proc/$pid &&
	api GET "$C/life/task" && jq -e ".status == \"created\"" out &&
	api POST "$C/life/task/start" && test "$(cat status)" = 200 &&
	jq -e ".status == \"running\" and .pid == $pid" out &&
	api GET "$NS/tasks" && jq -e "[.tasks[] | select(.id == \"life\" and .status == \"running\")] | length == 1" out
'

test_expect_success 'delete of a running task → 412; kill SIGTERM reaches the trap of init' '
	api DELETE "$C/life/task" && test "$(cat status)" = 412 &&
	jq -e ".error.code == \"failed_precondition\"" out &&
	api DELETE "$C/life" && test "$(cat status)" = 412 &&
	api POST "$C/life/task/kill" -d "{\"signal\":\"SIGTERM\"}" && test "$(cat status)" = 204 &&
	api POST "$C/life/task/wait" && jq -e ".exit_status == 3 and (.exited_at | length > 0)" out &&
	api GET "$C/life/task" && jq -e ".status == \"stopped\" and .exit_status == 3" out &&
	api POST "$C/life/task/kill" -d "{\"signal\":9}" && test "$(cat status)" = 404 &&
	api DELETE "$C/life/task" && test "$(cat status)" = 200 &&
	jq -e ".exit_status == 3" out &&
	api GET "$C/life/task" && test "$(cat status)" = 404 &&
	lifecycle_published life &&
	api DELETE "$C/life?cleanup=snapshot" && test "$(cat status)" = 204 &&
	nothing_left life
'

test_expect_success 'exit codes: sh -c "exit 42" → 42; SIGKILL → 137 (128+9); SIGTERM to a non-init process → 143' '
	run_logged e42 "\"process\":{\"args\":[\"sh\",\"-c\",\"exit 42\"]}" &&
	test "$(cat code)" = 42 &&
	new_container k9 "\"process\":{\"args\":[\"sleep\",\"30\"]}" &&
	api POST "$C/k9/task" -d "{}" && api POST "$C/k9/task/start" &&
	api POST "$C/k9/task/kill" -d "{\"signal\":\"KILL\"}" && test "$(cat status)" = 204 &&
	api POST "$C/k9/task/wait" && jq -e ".exit_status == 137" out &&
	api DELETE "$C/k9/task" && api DELETE "$C/k9?cleanup=snapshot" && test "$(cat status)" = 204 &&
	run_logged t15 "\"process\":{\"args\":[\"sh\",\"-c\",\"sleep 30 & kill -TERM \$!; wait \$!; echo \$?\"]}" &&
	tail -n1 log >last && echo 143 >expect && test_cmp expect last
'

test_expect_success 'kill all: every process of the container gets the signal' '
	new_container all "\"process\":{\"args\":[\"sh\",\"-c\",\"sleep 30 & sleep 31 & wait\"]}" &&
	api POST "$C/all/task" -d "{}" && api POST "$C/all/task/start" &&
	test_wait_for 10 sh -c "pgrep -f \"sleep 31\" >/dev/null" &&
	api POST "$C/all/task/kill" -d "{\"signal\":\"SIGKILL\",\"all\":true}" && test "$(cat status)" = 204 &&
	api POST "$C/all/task/wait" && jq -e ".exit_status == 137" out &&
	! pgrep -f "sleep 31" &&
	api DELETE "$C/all/task" && api DELETE "$C/all?cleanup=snapshot"
'

test_expect_success 'stdio through FIFOs the client made: stdout, stderr, stdin' '
	mkfifo in.fifo out.fifo err.fifo &&
	new_container io "\"process\":{\"args\":[\"sh\",\"-c\",\"cat; echo to-stderr >&2\"]}" &&
	api POST "$C/io/task" -d "{\"stdin\":\"$TRASH/in.fifo\",\"stdout\":\"$TRASH/out.fifo\",\"stderr\":\"$TRASH/err.fifo\"}" &&
	test "$(cat status)" = 201 &&
	{ cat out.fifo >got.out & } && { cat err.fifo >got.err & } &&
	api POST "$C/io/task/start" &&
	echo "through stdin" >in.fifo &&
	api POST "$C/io/task/wait" && jq -e ".exit_status == 0" out &&
	test_wait_for 5 sh -c "grep -q through got.out && grep -q to-stderr got.err" &&
	echo "through stdin" >expect && test_cmp expect got.out &&
	echo to-stderr >expect && test_cmp expect got.err &&
	api DELETE "$C/io/task" && api DELETE "$C/io?cleanup=snapshot"
'

test_expect_success 'logs ?follow=true streams until the task exits' '
	new_container fol "\"process\":{\"args\":[\"sh\",\"-c\",\"echo one; sleep 1; echo two\"]}" &&
	api POST "$C/fol/task" -d "{\"log\":true}" && api POST "$C/fol/task/start" &&
	api GET "$C/fol/task/logs?follow=true" --max-time 20 && test "$(cat status)" = 200 &&
	printf "one\ntwo\n" >expect && test_cmp expect out &&
	api DELETE "$C/fol/task" && api DELETE "$C/fol?cleanup=snapshot"
'

test_expect_success 'image config and overrides: user, env, cwd, args' '
	run_logged env1 "\"process\":{\"args\":[\"sh\",\"-c\",\"id -u; id -g; pwd; echo \$IMAGE_PLATFORM \$EXTRA\"],\"env\":[\"EXTRA=x1\"]}" &&
	printf "0\n0\n/home/user\nlinux/amd64 x1\n" >expect && test_cmp expect log &&
	run_logged env2 "\"process\":{\"args\":[\"sh\",\"-c\",\"id -u; id -g; pwd\"],\"user\":\"nobody\",\"cwd\":\"/tmp\"}" &&
	printf "65534\n65534\n/tmp\n" >expect && test_cmp expect log &&
	run_logged env3 "\"process\":{\"args\":[\"id\",\"-u\"],\"user\":\"1234:5678\"}" &&
	echo 1234 >expect && test_cmp expect log
'

test_expect_success 'read-only rootfs, bind mounts, host network' '
	run_logged ro "\"process\":{\"args\":[\"sh\",\"-c\",\"touch /x 2>/dev/null && echo writable || echo readonly\"]},\"options\":{\"readonly_rootfs\":true}" &&
	echo readonly >expect && test_cmp expect log &&
	mkdir -p bind && echo from-host >bind/f &&
	run_logged bm "\"process\":{\"args\":[\"sh\",\"-c\",\"cat /mnt/f; echo back >/mnt/g\"]},\"options\":{\"mounts\":[\"$TRASH/bind:/mnt\"]}" &&
	echo from-host >expect && test_cmp expect log && test "$(cat bind/g)" = back &&
	run_logged bro "\"process\":{\"args\":[\"sh\",\"-c\",\"(echo x >/mnt/h) 2>/dev/null || echo denied\"]},\"options\":{\"mounts\":[\"$TRASH/bind:/mnt:ro\"]}" &&
	echo denied >expect && test_cmp expect log && ! test -e bind/h &&
	ls /sys/class/net | sort >host-ifs &&
	run_logged hn "\"process\":{\"args\":[\"sh\",\"-c\",\"ls /sys/class/net | sort\"]},\"options\":{\"net_host\":true}" &&
	test_cmp host-ifs log &&
	run_logged nn "\"process\":{\"args\":[\"sh\",\"-c\",\"ls /sys/class/net\"]}" &&
	echo lo >expect && test_cmp expect log
'

test_expect_success 'memory limit enforced: a process that allocates past it is killed' '
	mkdir -p scripts &&
	cat >scripts/mem.sh <<-\EOF &&
	cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max
	x=$(head -c 67108864 /dev/zero | tr "\0" a)
	echo survived ${#x}
	EOF
	run_logged mem "\"process\":{\"args\":[\"sh\",\"/s/mem.sh\"]},\"options\":{\"memory\":16777216,\"mounts\":[\"$TRASH/scripts:/s:ro\"]}" &&
	cat log &&
	head -n1 log >limit && echo 16777216 >expect && test_cmp expect limit &&
	! grep survived log &&
	test "$(cat code)" != 0
'

test_expect_success 'bad input: unknown container, duplicate task, bad signal, bad io' '
	api POST "$C/nope/task" -d "{}" && test "$(cat status)" = 404 &&
	api POST "$C/nope/task/kill" -d "{\"signal\":\"TERM\"}" && test "$(cat status)" = 404 &&
	api POST "$C/nope/task/wait" && test "$(cat status)" = 404 &&
	api DELETE "$C/nope/task" && test "$(cat status)" = 404 &&
	new_container dup "\"process\":{\"args\":[\"sleep\",\"30\"]}" &&
	api POST "$C/dup/task" -d "{}" && test "$(cat status)" = 201 &&
	api POST "$C/dup/task" -d "{}" && test "$(cat status)" = 409 &&
	api POST "$C/dup/task/kill" -d "{\"signal\":\"SIGNOPE\"}" && test "$(cat status)" = 400 &&
	api POST "$C/dup/task/kill" -d "{\"signal\":0}" && test "$(cat status)" = 400 &&
	api POST "$C/dup/task/kill" -d "{\"signal\":[1]}" && test "$(cat status)" = 400 &&
	api POST "$C/dup/task/start" -d "{\"x\":1}" && test "$(cat status)" = 400 &&
	api POST "$C/dup/task/kill" -d "not json" && test "$(cat status)" = 400 &&
	api DELETE "$C/dup/task" && test "$(cat status)" = 200 &&
	nothing_left dup &&
	api POST "$C/dup/task" -d "{\"stdout\":\"relative/path\"}" && test "$(cat status)" = 400 &&
	api POST "$C/dup/task" -d "{\"stdout\":\"$TRASH/no-such-fifo\"}" && test "$(cat status)" = 400 &&
	api POST "$C/dup/task" -d "{\"stdout\":5}" && test "$(cat status)" = 400 &&
	nothing_left dup &&
	api DELETE "$C/dup?cleanup=snapshot" && test "$(cat status)" = 204 &&
	new_container tty "\"process\":{\"args\":[\"sh\"],\"terminal\":true}" &&
	api POST "$C/tty/task" -d "{}" && test "$(cat status)" = 412 &&
	jq -e ".error.message | test(\"terminal: true\")" out &&
	nothing_left tty &&
	api DELETE "$C/tty?cleanup=snapshot" && test "$(cat status)" = 204
'

test_expect_success 'a command not in the image: the runtime says why, nothing is left' '
	new_container nocmd "\"process\":{\"args\":[\"/nonexistent\"]}" &&
	api POST "$C/nocmd/task" -d "{}" &&
	cat out &&
	test "$(cat status)" -ge 400 &&
	jq -r .error.message out | grep -i "nonexistent" &&
	nothing_left nocmd &&
	api GET "$NS/tasks" && jq -e "[.tasks[] | select(.id == \"nocmd\")] == []" out &&
	api DELETE "$C/nocmd?cleanup=snapshot" && test "$(cat status)" = 204
'

test_expect_success 'create with "start": running at once, events create → start → exit → delete' '
	new_container quick "\"process\":{\"args\":[\"sh\",\"-c\",\"echo started; exit 7\"]}" &&
	api POST "$C/quick/task" -d "{\"log\":true,\"start\":true}" && test "$(cat status)" = 201 &&
	jq -e ".status == \"running\" and .pid > 0" out &&
	api POST "$C/quick/task/wait" && test "$(cat status)" = 200 &&
	jq -e ".exit_status == 7" out &&
	api GET "$C/quick/task/logs" && test "$(cat out)" = started &&
	api POST "$C/quick/task/start" && test "$(cat status)" = 412 &&
	api DELETE "$C/quick/task" && test "$(cat status)" = 200 &&
	jq -e ".exit_status == 7" out &&
	lifecycle_published quick &&
	api DELETE "$C/quick?cleanup=snapshot" && test "$(cat status)" = 204 &&
	nothing_left quick
'

test_expect_success 'create with "start": a long-running init is running; bad "start" values refused' '
	new_container quick2 "\"process\":{\"args\":[\"sleep\",\"30\"]}" &&
	api POST "$C/quick2/task" -d "{\"start\":\"yes\"}" && test "$(cat status)" = 400 &&
	api POST "$C/quick2/task" -d "{\"start\":true,\"checkpoint\":\"sha256:$(printf %064d 0)\"}" &&
	test "$(cat status)" = 400 && jq -r .error.message out | grep "checkpoint" &&
	nothing_left quick2 &&
	api POST "$C/quick2/task" -d "{\"start\":true}" && test "$(cat status)" = 201 &&
	pid=$(jq .pid out) && test -d /proc/$pid &&
	api GET "$C/quick2/task" && jq -e ".status == \"running\"" out &&
	api POST "$C/quick2/task/kill" -d "{\"signal\":\"SIGKILL\"}" && test "$(cat status)" = 204 &&
	api POST "$C/quick2/task/wait" && jq -e ".exit_status == 137" out &&
	api DELETE "$C/quick2/task" && test "$(cat status)" = 200 &&
	api DELETE "$C/quick2?cleanup=snapshot" && test "$(cat status)" = 204 &&
	nothing_left quick2
'

test_expect_success 'create with "start" of a command not in the image: the runtime says why, nothing is left' '
	new_container nocmd2 "\"process\":{\"args\":[\"/nonexistent\"]}" &&
	api POST "$C/nocmd2/task" -d "{\"start\":true}" &&
	cat out &&
	test "$(cat status)" = 412 &&
	jq -r .error.message out | grep -i "nonexistent" &&
	nothing_left nocmd2 &&
	api DELETE "$C/nocmd2?cleanup=snapshot" && test "$(cat status)" = 204
'

test_expect_success 'a missing runtime binary: a clear error, nothing left' '
	api POST "$C" -d "{\"id\":\"rt1\",\"image\":\"$IMG\",\"runtime\":{\"name\":\"/no/such/runc\"}}" &&
	if test "$(cat status)" = 201
	then
		api POST "$C/rt1/task" -d "{}" &&
		test "$(cat status)" = 412 && cp out err.json &&
		api DELETE "$C/rt1?cleanup=snapshot" && test "$(cat status)" = 204
	else
		test "$(cat status)" -ge 400 && cp out err.json
	fi &&
	jq -e ".error.message | test(\"/no/such/runc\")" err.json &&
	nothing_left rt1
'

test_expect_success 'a failing runtime binary: its message in the answer, nothing left' '
	cat >failing-runc <<-\EOF &&
	#!/bin/sh
	echo "failing-runc: refusing $*" >&2
	exit 1
	EOF
	chmod +x failing-runc &&
	new_container rt2 "\"runtime\":{\"name\":\"$TRASH/failing-runc\"}" &&
	api POST "$C/rt2/task" -d "{}" &&
	test "$(cat status)" -ge 400 &&
	jq -r .error.message out | grep "failing-runc: refusing" &&
	nothing_left rt2 &&
	api DELETE "$C/rt2?cleanup=snapshot" && test "$(cat status)" = 204
'

test_lazy_prereq CRUN 'command -v crun'

test_expect_success CRUN 'crun: the container runs, or crun says why and nothing is left' '
	new_container cr "\"runtime\":{\"name\":\"crun\"},\"process\":{\"args\":[\"echo\",\"via crun\"]}" &&
	api POST "$C/cr/task" -d "{\"log\":true}" &&
	if test "$(cat status)" = 201
	then
		api POST "$C/cr/task/start" && api POST "$C/cr/task/wait" &&
		jq -e ".exit_status == 0" out &&
		api GET "$C/cr/task/logs" && echo "via crun" >expect && test_cmp expect out &&
		api DELETE "$C/cr/task" && test "$(cat status)" = 200
	else
		cat out &&
		jq -r .error.message out | grep "crun" &&
		nothing_left cr
	fi &&
	api DELETE "$C/cr?cleanup=snapshot" && test "$(cat status)" = 204 &&
	nothing_left cr
'

test_expect_success 'no mounts, shims or task directories left; berthd is one thread' '
	api GET "$NS/tasks" && jq -e ".tasks == []" out &&
	! grep -q "$TRASH/state/tasks" /proc/self/mountinfo &&
	test "$(ls "$TRASH/state/tasks/default" | wc -l)" = 0 &&
	test "$(berthd_threads)" = 1
'

test_done
