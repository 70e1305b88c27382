#!/bin/sh
test_description='exec: processes added to a running task (start, wait, kill, delete, stdio, events, pids), bad input, exits when init dies, live restore'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/registry.sh"
. "$TEST_DIRECTORY/lib/runtime.sh"

NS=/v1/namespaces/default
C=$NS/containers
IMG=

# new_task ID ARGS-JSON: container with process args, task with log, started.
new_task () {
	api POST "$C" -d "{\"id\":\"$1\",\"image\":\"$IMG\",\"process\":{\"args\":$2}}" &&
	test "$(cat status)" = 201 || { cat out; return 1; }
	api POST "$C/$1/task" -d '{"log":true}' && test "$(cat status)" = 201 || { cat out; return 1; }
	api POST "$C/$1/task/start" && test "$(cat status)" = 200 || { cat out; return 1; }
}

# gone ID: kill (if needed), wait, delete task and container.
gone () {
	api POST "$C/$1/task/kill" -d '{"signal":"SIGKILL"}'
	api POST "$C/$1/task/wait" && test "$(cat status)" = 200 || { cat out; return 1; }
	api DELETE "$C/$1/task" && test "$(cat status)" = 200 || { cat out; return 1; }
	api DELETE "$C/$1?cleanup=snapshot" && test "$(cat status)" = 204 || { cat out; return 1; }
}

# exec_ok ID EXEC BODY-REST: add and start an exec (BODY-REST: more JSON members).
exec_ok () {
	api POST "$C/$1/task/exec" -d "{\"exec_id\":\"$2\",$3}" &&
	test "$(cat status)" = 201 || { cat out; return 1; }
	api POST "$C/$1/task/exec/$2/start" && test "$(cat status)" = 200 || { cat out; return 1; }
}

# topics ID: the /tasks/ events of container ID, "topic exec_id-or-id" per line.
topics () {
	{ api GET "/v1/events?since=0&topic=/tasks/" --max-time 1 || :; } &&
	sed -n "s/^data: //p" out |
	jq -r "select(.event.container_id == \"$1\") | \"\(.topic) \(.event.exec_id // .event.id)\""
}

cleanup_containers () {
	for id in x1 x2 x3 x4
	do
		runc --root "$TRASH/state/runc/default" delete --force $id 2>/dev/null
	done
	:
}
test_atexit cleanup_containers

test_expect_success 'registry with busybox; berthd; image pulled; a running task' '
	start_registry &&
	push_image test/busybox &&
	start_berthd &&
	pull_ok "$REGISTRY/test/busybox" &&
	IMG=$REGISTRY/test/busybox:latest &&
	new_task x1 "[\"sleep\",\"600\"]"
'

test_expect_success 'exec with log: created, started, its exit status, its output' '
	api POST "$C/x1/task/exec" -d "{\"exec_id\":\"e1\",\"process\":{\"args\":[\"sh\",\"-c\",\"echo out; echo err >&2; exit 3\"]},\"log\":true}" &&
	test "$(cat status)" = 201 &&
	jq -e ".id == \"e1\" and .status == \"created\" and .pid == 0" out &&
	api GET "$C/x1/task/exec/e1" && jq -e ".status == \"created\"" out &&
	api POST "$C/x1/task/exec/e1/start" && test "$(cat status)" = 200 &&
	jq -e ".pid > 0" out &&
	api POST "$C/x1/task/exec/e1/wait" && test "$(cat status)" = 200 &&
	jq -e ".exit_status == 3 and (.exited_at | length) > 0" out &&
	api GET "$C/x1/task/exec/e1" && jq -e ".status == \"stopped\" and .exit_status == 3" out &&
	api GET "$C/x1/task/logs?exec_id=e1" && grep "^out$" out && grep "^err$" out &&
	api GET "$C/x1/task" && jq -e ".status == \"running\"" out
'

test_expect_success 'events: exec-added, exec-started, then the exit with the exec id' '
	topics x1 >got &&
	cat got &&
	grep -n "^/tasks/exec-added e1$" got &&
	grep -n "^/tasks/exec-started e1$" got &&
	grep -n "^/tasks/exit e1$" got &&
	a=$(grep -n "^/tasks/exec-added e1$" got | cut -d: -f1) &&
	s=$(grep -n "^/tasks/exec-started e1$" got | cut -d: -f1) &&
	x=$(grep -n "^/tasks/exit e1$" got | cut -d: -f1) &&
	test "$a" -lt "$s" && test "$s" -lt "$x"
'

test_expect_success 'delete a finished exec: its exit status; then it is gone' '
	api DELETE "$C/x1/task/exec/e1" && test "$(cat status)" = 200 &&
	jq -e ".id == \"e1\" and .exit_status == 3" out &&
	api GET "$C/x1/task/exec/e1" && test "$(cat status)" = 404 &&
	! test -e "$TRASH/state/tasks/default/x1/exec-e1.json" &&
	! test -e "$TRASH/state/tasks/default/x1/exec-e1.log"
'

test_expect_success 'exec stdio through FIFOs; env, cwd and user overrides' '
	mkfifo xout xin &&
	{ cat xout >got.out & } &&
	reader=$! &&
	exec 8<>xin &&
	exec_ok x1 e2 "\"process\":{\"args\":[\"sh\",\"-c\",\"read line; echo \$line \$FOO \$(pwd) \$(id -u):\$(id -g)\"],\"env\":[\"FOO=bar\"],\"cwd\":\"/tmp\",\"user\":\"123:456\"},\"stdin\":\"$TRASH/xin\",\"stdout\":\"$TRASH/xout\"" &&
	echo hello >&8 &&
	exec 8>&- &&
	api POST "$C/x1/task/exec/e2/wait" && jq -e ".exit_status == 0" out &&
	wait $reader &&
	echo "hello bar /tmp 123:456" >expect &&
	test_cmp expect got.out &&
	api DELETE "$C/x1/task/exec/e2" && test "$(cat status)" = 200
'

test_expect_success 'pids: the exec process listed with its exec id; kill with exec_id' '
	exec_ok x1 e3 "\"process\":{\"args\":[\"sleep\",\"300\"]}" &&
	pid=$(jq -r .pid out) &&
	api GET "$C/x1/task/pids" && test "$(cat status)" = 200 &&
	jq -e ".pids | map(select(.pid == $pid and .info.exec_id == \"e3\")) | length == 1" out &&
	jq -e ".pids | length >= 2" out &&
	api DELETE "$C/x1/task/exec/e3" && test "$(cat status)" = 412 &&
	api POST "$C/x1/task/kill" -d "{\"signal\":\"SIGKILL\",\"exec_id\":\"e3\"}" &&
	test "$(cat status)" = 204 &&
	api POST "$C/x1/task/wait" -d "{\"exec_id\":\"e3\"}" && jq -e ".exit_status == 137" out &&
	api POST "$C/x1/task/kill" -d "{\"signal\":\"SIGKILL\",\"exec_id\":\"e3\"}" &&
	test "$(cat status)" = 404 &&
	api GET "$C/x1/task" && jq -e ".status == \"running\"" out &&
	api DELETE "$C/x1/task/exec/e3" && jq -e ".exit_status == 137" out
'

test_expect_success 'bad input: unknown exec 404, duplicate 409, bad id and process 400' '
	api POST "$C/x1/task/exec/nope/start" && test "$(cat status)" = 404 &&
	api POST "$C/x1/task/exec/nope/wait" && test "$(cat status)" = 404 &&
	api GET "$C/x1/task/exec/nope" && test "$(cat status)" = 404 &&
	api DELETE "$C/x1/task/exec/nope" && test "$(cat status)" = 404 &&
	api POST "$C/x1/task/kill" -d "{\"signal\":9,\"exec_id\":\"nope\"}" && test "$(cat status)" = 404 &&
	api POST "$C/x1/task/wait" -d "{\"exec_id\":\"nope\"}" && test "$(cat status)" = 404 &&
	api POST "$C/x1/task/exec" -d "{\"exec_id\":\"d1\",\"process\":{\"args\":[\"true\"]}}" &&
	test "$(cat status)" = 201 &&
	api POST "$C/x1/task/exec" -d "{\"exec_id\":\"d1\",\"process\":{\"args\":[\"true\"]}}" &&
	test "$(cat status)" = 409 && jq -e ".error.code == \"already_exists\"" out &&
	api POST "$C/x1/task/exec" -d "{\"exec_id\":\"../x\",\"process\":{\"args\":[\"true\"]}}" &&
	test "$(cat status)" = 400 &&
	api POST "$C/x1/task/exec" -d "{\"exec_id\":\"b1\",\"process\":{\"args\":[]}}" &&
	test "$(cat status)" = 400 &&
	api POST "$C/x1/task/exec" -d "{\"exec_id\":\"b2\",\"process\":{\"args\":[\"true\"],\"cwd\":\"tmp\"}}" &&
	test "$(cat status)" = 400 &&
	api POST "$C/x1/task/exec" -d "{\"exec_id\":\"b3\",\"process\":{\"args\":[\"true\"],\"user\":\"nosuchuser\"}}" &&
	test "$(cat status)" = 400 &&
	api POST "$C/x1/task/exec" -d "{\"exec_id\":\"b4\"}" && test "$(cat status)" = 400 &&
	api POST "$C/x1/task/exec" -d "{\"exec_id\":\"b5\",\"process\":{\"args\":[\"true\"]},\"stdout\":\"$TRASH/nonexistent\"}" &&
	test "$(cat status)" = 400 &&
	api POST "$C/x1/task/exec" -d "{\"exec_id\":\"b6\",\"process\":{\"args\":[\"true\"]},\"bogus\":1}" &&
	test "$(cat status)" = 400 &&
	api DELETE "$C/x1/task/exec/d1" && test "$(cat status)" = 200 &&
	api GET "$C/nosuch/task/exec/e1" && test "$(cat status)" = 404 &&
	api POST "$C/nosuch/task/exec" -d "{\"exec_id\":\"e\",\"process\":{\"args\":[\"true\"]}}" &&
	test "$(cat status)" = 404
'

test_expect_success 'a command not in the image: the runtime says so (412), the exec stays created' '
	api POST "$C/x1/task/exec" -d "{\"exec_id\":\"nf\",\"process\":{\"args\":[\"/nonexistent\"]}}" &&
	test "$(cat status)" = 201 &&
	api POST "$C/x1/task/exec/nf/start" && test "$(cat status)" = 412 &&
	jq -r .error.message out | grep "runc exec" &&
	jq -r .error.message out | grep -i "nonexistent" &&
	api GET "$C/x1/task/exec/nf" && jq -e ".status == \"created\"" out &&
	api DELETE "$C/x1/task/exec/nf" && test "$(cat status)" = 200 &&
	api GET "$C/x1/task" && jq -e ".status == \"running\"" out
'

test_expect_success 'exec into a paused task, into a stopped task: 412' '
	api POST "$C/x1/task/pause" && test "$(cat status)" = 200 &&
	api POST "$C/x1/task/exec" -d "{\"exec_id\":\"p1\",\"process\":{\"args\":[\"true\"]}}" &&
	test "$(cat status)" = 412 && jq -r .error.message out | grep paused &&
	api POST "$C/x1/task/resume" && test "$(cat status)" = 200 &&
	new_task x2 "[\"true\"]" &&
	api POST "$C/x2/task/wait" && jq -e ".exit_status == 0" out &&
	api POST "$C/x2/task/exec" -d "{\"exec_id\":\"s1\",\"process\":{\"args\":[\"true\"]}}" &&
	test "$(cat status)" = 412 && jq -r .error.message out | grep stopped &&
	gone x2
'

test_expect_success 'execs end with init: their exits are published, then the task deletes' '
	new_task x3 "[\"sleep\",\"600\"]" &&
	exec_ok x3 k1 "\"process\":{\"args\":[\"sleep\",\"300\"]}" &&
	exec_ok x3 k2 "\"process\":{\"args\":[\"sleep\",\"300\"]}" &&
	api POST "$C/x3/task/kill" -d "{\"signal\":\"SIGKILL\"}" &&
	api POST "$C/x3/task/wait" && jq -e ".exit_status == 137" out &&
	api POST "$C/x3/task/exec/k1/wait" && jq -e ".exit_status == 137" out &&
	api POST "$C/x3/task/exec/k2/wait" && jq -e ".exit_status == 137" out &&
	topics x3 >got &&
	grep "^/tasks/exit k1$" got && grep "^/tasks/exit k2$" got &&
	gone x3 &&
	api GET "$C/x3/task/exec/k1" && test "$(cat status)" = 404
'

test_expect_success 'live restore: a running and a finished exec survive kill -9 of berthd' '
	new_task x4 "[\"sleep\",\"600\"]" &&
	exec_ok x4 r1 "\"process\":{\"args\":[\"sleep\",\"300\"]}" &&
	pid=$(jq -r .pid out) &&
	exec_ok x4 r2 "\"process\":{\"args\":[\"sh\",\"-c\",\"exit 5\"]}" &&
	api POST "$C/x4/task/exec/r2/wait" && jq -e ".exit_status == 5" out &&
	kill_berthd &&
	start_berthd &&
	api GET "$C/x4/task/exec/r1" && jq -e ".status == \"running\" and .pid == $pid" out &&
	api GET "$C/x4/task/exec/r2" && jq -e ".status == \"stopped\" and .exit_status == 5" out &&
	api POST "$C/x4/task/kill" -d "{\"signal\":\"SIGKILL\",\"exec_id\":\"r1\"}" &&
	test "$(cat status)" = 204 &&
	api POST "$C/x4/task/exec/r1/wait" && jq -e ".exit_status == 137" out &&
	api DELETE "$C/x4/task/exec/r2" && jq -e ".exit_status == 5" out &&
	gone x4
'

test_expect_success 'cleanup' '
	gone x1
'

test_done
