#!/bin/sh
test_description='live restore: shims outlive berthd; kill -9 and restart finds every task as it is'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/registry.sh"
. "$TEST_DIRECTORY/lib/runtime.sh"

NS=/v1/namespaces/default
C=$NS/containers
N=20

test_expect_success "registry, berthd, $N running containers" '
	start_registry &&
	push_image test/busybox &&
	start_berthd &&
	pull_ok "$REGISTRY/test/busybox" &&
	IMG=$REGISTRY/test/busybox:latest &&
	i=0 &&
	while test $i -lt $N
	do
		api POST "$C" -d "{\"id\":\"c$i\",\"image\":\"$IMG\",\"process\":{\"args\":[\"sleep\",\"300\"]}}" &&
		test "$(cat status)" = 201 &&
		api POST "$C/c$i/task" -d "{}" && test "$(cat status)" = 201 &&
		api POST "$C/c$i/task/start" && test "$(cat status)" = 200 || { cat out; return 1; }
		i=$((i + 1))
	done &&
	api POST "$C" -d "{\"id\":\"quits\",\"image\":\"$IMG\",\"process\":{\"args\":[\"sh\",\"-c\",\"read x; exit 7\"]}}" &&
	mkfifo quits.in &&
	api POST "$C/quits/task" -d "{\"stdin\":\"$TRASH/quits.in\"}" && test "$(cat status)" = 201 &&
	api POST "$C/quits/task/start" &&
	api POST "$C" -d "{\"id\":\"lost\",\"image\":\"$IMG\",\"process\":{\"args\":[\"sleep\",\"300\"]}}" &&
	api POST "$C/lost/task" -d "{}" && api POST "$C/lost/task/start" &&
	api GET "$NS/tasks" &&
	jq -r ".tasks[] | \"\(.id) \(.pid) \(.status)\"" out | sort >before &&
	test "$(grep -c " running$" before)" = $((N + 2))
'

test_expect_success 'kill -9 berthd: containers keep running; one exits, one loses its shim meanwhile' '
	kill_berthd &&
	i=0 &&
	while test $i -lt $N
	do
		pid=$(awk -v id=c$i "\$1 == id { print \$2 }" before) &&
		test -d /proc/$pid || return 1
		i=$((i + 1))
	done &&
	echo bye >quits.in &&
	test_wait_for 10 sh -c "test -e $TRASH/state/tasks/default/quits/exit.json" &&
	shim=$(cat "$TRASH/state/tasks/default/lost/shim.pid") &&
	kill -9 "$shim" &&
	test_wait_for 10 sh -c "! test -d /proc/$shim"
'

test_expect_success 'restart: every task listed with its pid; the exit while down is reported' '
	start_berthd &&
	api GET "$NS/tasks" &&
	jq -r ".tasks[] | \"\(.id) \(.pid) \(.status)\"" out | sort >after &&
	grep -v "^quits \|^lost " before >expect &&
	grep -v "^quits \|^lost " after >got &&
	test_cmp expect got &&
	api GET "$C/quits/task" && jq -e ".status == \"stopped\" and .exit_status == 7" out &&
	api GET "$C/lost/task" && jq -e ".status == \"unknown\"" out &&
	{ api GET "/v1/events?since=0&topic=/tasks/exit" --max-time 1 || :; } &&
	grep "\"container_id\":\"quits\"" out | grep "\"exit_status\":7"
'

test_expect_success 'the exit is published once: not again after the next restart' '
	stop_berthd && start_berthd &&
	{ api GET "/v1/events?since=0&topic=/tasks/exit" --max-time 1 || :; } &&
	! grep "\"container_id\":\"quits\"" out
'

test_expect_success 'restored tasks answer: kill, wait, delete' '
	api POST "$C/c0/task/kill" -d "{\"signal\":\"SIGKILL\"}" && test "$(cat status)" = 204 &&
	api POST "$C/c0/task/wait" && jq -e ".exit_status == 137" out &&
	api DELETE "$C/c0/task" && test "$(cat status)" = 200 &&
	api DELETE "$C/quits/task" && test "$(cat status)" = 200 && jq -e ".exit_status == 7" out
'

test_expect_success 'the task whose shim died: delete cleans its mounts, processes and state' '
	pid=$(awk "\$1 == \"lost\" { print \$2 }" before) &&
	api DELETE "$C/lost/task" && test "$(cat status)" = 200 &&
	! test -e "$TRASH/state/tasks/default/lost" &&
	! grep -q "$TRASH/state/tasks/default/lost" /proc/self/mountinfo &&
	test_wait_for 10 sh -c "! test -d /proc/$pid"
'

test_expect_success 'clean up every container: nothing left' '
	i=1 &&
	while test $i -lt $N
	do
		api POST "$C/c$i/task/kill" -d "{\"signal\":9}" &&
		api POST "$C/c$i/task/wait" &&
		api DELETE "$C/c$i/task" && test "$(cat status)" = 200 || return 1
		i=$((i + 1))
	done &&
	api GET "$NS/tasks" && jq -e ".tasks == []" out &&
	! grep -q "$TRASH/state/tasks" /proc/self/mountinfo &&
	! pgrep -f "berth-shim $TRASH/" &&
	test "$(berthd_threads)" = 1
'

test_done
