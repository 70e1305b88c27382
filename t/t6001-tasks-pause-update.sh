#!/bin/sh
test_description='tasks: pause and resume (the freezer), pids, update of resource limits (seen in the cgroups and enforced), bad input, live restore of a paused task'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/registry.sh"
. "$TEST_DIRECTORY/lib/runtime.sh"
test -d /sys/fs/cgroup/freezer && test -d /sys/fs/cgroup/memory || {
	skip_all='needs the cgroup v1 freezer and memory controllers'
	test_done
}

NS=/v1/namespaces/default
C=$NS/containers
CG=/sys/fs/cgroup
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

# A failed run must not leave containers in the shared cgroups.
cleanup_containers () {
	for id in t6fz t6cr t6ps t6up t6mem t6lr
	do
		runc --root "$TRASH/state/runc/default" delete --force $id 2>/dev/null
	done
	:
}
test_atexit cleanup_containers

log_size () {
	wc -c <"$TRASH/state/tasks/default/$1/log"
}

test_expect_success 'registry with busybox; berthd; image pulled' '
	start_registry &&
	push_image test/busybox &&
	start_berthd &&
	pull_ok "$REGISTRY/test/busybox" &&
	IMG=$REGISTRY/test/busybox:latest
'

test_expect_success 'pause: status paused, the cgroup FROZEN, the output stops' '
	new_task t6fz "[\"sh\",\"-c\",\"i=0; while :; do i=\$((i+1)); echo \$i; sleep 0.1; done\"]" &&
	test_wait_for 10 sh -c "test \$(wc -c <$TRASH/state/tasks/default/t6fz/log) -gt 4" &&
	api POST "$C/t6fz/task/pause" && test "$(cat status)" = 200 &&
	jq -e ".status == \"paused\"" out &&
	api GET "$C/t6fz/task" && jq -e ".status == \"paused\"" out &&
	test "$(cat $CG/freezer/berth/default/t6fz/freezer.state)" = FROZEN &&
	before=$(log_size t6fz) &&
	sleep 1 &&
	test "$(log_size t6fz)" = "$before"
'

test_expect_success 'paused: pause again, delete → 412; resume → running, output goes on' '
	api POST "$C/t6fz/task/pause" && test "$(cat status)" = 412 &&
	jq -e ".error.code == \"failed_precondition\" and (.error.message | test(\"paused\"))" out &&
	api DELETE "$C/t6fz/task" && test "$(cat status)" = 412 &&
	jq -e ".error.message | test(\"paused\")" out &&
	api POST "$C/t6fz/task/resume" && test "$(cat status)" = 200 &&
	jq -e ".status == \"running\"" out &&
	test "$(cat $CG/freezer/berth/default/t6fz/freezer.state)" = THAWED &&
	before=$(log_size t6fz) &&
	test_wait_for 10 sh -c "test \$(wc -c <$TRASH/state/tasks/default/t6fz/log) -gt $before" &&
	api POST "$C/t6fz/task/resume" && test "$(cat status)" = 412 &&
	jq -e ".error.message | test(\"not paused\")" out
'

test_expect_success 'SIGKILL to a paused task kills it (137); events in order' '
	api POST "$C/t6fz/task/pause" && test "$(cat status)" = 200 &&
	api POST "$C/t6fz/task/kill" -d "{\"signal\":\"SIGKILL\"}" && test "$(cat status)" = 204 &&
	api POST "$C/t6fz/task/wait" && jq -e ".exit_status == 137" out &&
	api GET "$C/t6fz/task" && jq -e ".status == \"stopped\"" out &&
	api POST "$C/t6fz/task/pause" && test "$(cat status)" = 412 &&
	jq -e ".error.message | test(\"stopped\")" out &&
	api POST "$C/t6fz/task/resume" && test "$(cat status)" = 412 &&
	api GET "$C/t6fz/task/pids" && test "$(cat status)" = 412 &&
	api DELETE "$C/t6fz/task" && test "$(cat status)" = 200 &&
	api DELETE "$C/t6fz?cleanup=snapshot" && test "$(cat status)" = 204 &&
	{ api GET "/v1/events?since=0&namespace=default&topic=/tasks/" --max-time 1 || :; } &&
	sed -n "s/^data: //p" out | jq -r "select(.event.container_id == \"t6fz\") | .topic" >topics &&
	printf "%s\n" /tasks/create /tasks/start /tasks/paused /tasks/resumed /tasks/paused \
		/tasks/exit /tasks/delete >expect &&
	test_cmp expect topics
'

test_expect_success 'pause of a created task → 412; pids of it lists init' '
	api POST "$C" -d "{\"id\":\"t6cr\",\"image\":\"$IMG\",\"process\":{\"args\":[\"sleep\",\"100\"]}}" &&
	api POST "$C/t6cr/task" -d "{}" && test "$(cat status)" = 201 &&
	pid=$(jq .pid out) &&
	api POST "$C/t6cr/task/pause" && test "$(cat status)" = 412 &&
	jq -e ".error.message | test(\"created, not running\")" out &&
	api GET "$C/t6cr/task/pids" && test "$(cat status)" = 200 &&
	jq -e "[.pids[].pid] == [$pid]" out &&
	api DELETE "$C/t6cr/task" && test "$(cat status)" = 200 &&
	api DELETE "$C/t6cr?cleanup=snapshot" && test "$(cat status)" = 204
'

test_expect_success 'pids: init and its child' '
	new_task t6ps "[\"sh\",\"-c\",\"sleep 100 & wait\"]" &&
	api GET "$C/t6ps/task" && init=$(jq .pid out) &&
	test_wait_for 10 sh -c "pgrep -P $init sleep >/dev/null" &&
	child=$(pgrep -P $init sleep) &&
	api GET "$C/t6ps/task/pids" && test "$(cat status)" = 200 &&
	jq -e "([.pids[].pid] | sort) == ([$init, $child] | sort)" out &&
	"$BERTH" tasks ps t6ps >cli.out &&
	grep -w "$init" cli.out && grep -w "$child" cli.out &&
	gone t6ps
'

test_expect_success 'update: memory, pids and cpu limits land in the cgroups' '
	new_task t6up "[\"sleep\",\"300\"]" &&
	api POST "$C/t6up/task/update" -d "{\"resources\":{\"memory\":{\"limit\":67108864},\"pids\":{\"limit\":20},\"cpu\":{\"quota\":50000,\"period\":100000}}}" &&
	test "$(cat status)" = 200 && jq -e ".status == \"running\"" out &&
	test "$(cat $CG/memory/berth/default/t6up/memory.limit_in_bytes)" = 67108864 &&
	test "$(cat $CG/pids/berth/default/t6up/pids.max)" = 20 &&
	test "$(cat $CG/cpu/berth/default/t6up/cpu.cfs_quota_us)" = 50000 &&
	test "$(cat $CG/cpu/berth/default/t6up/cpu.cfs_period_us)" = 100000 &&
	"$BERTH" tasks update t6up --memory 32m --pids 30 --cpus 0.25 &&
	test "$(cat $CG/memory/berth/default/t6up/memory.limit_in_bytes)" = 33554432 &&
	test "$(cat $CG/pids/berth/default/t6up/pids.max)" = 30 &&
	test "$(cat $CG/cpu/berth/default/t6up/cpu.cfs_quota_us)" = 25000 &&
	api POST "$C/t6up/task/update" -d "{\"resources\":{\"pids\":{\"limit\":-1}}}" &&
	test "$(cat status)" = 200 &&
	test "$(cat $CG/pids/berth/default/t6up/pids.max)" = max
'

test_expect_success 'update: bad values → 400 naming the field; missing task → 404' '
	api POST "$C/t6up/task/update" -d "{\"resources\":{\"memory\":{\"limit\":-5}}}" &&
	test "$(cat status)" = 400 &&
	jq -e ".error.code == \"invalid_argument\" and (.error.message | test(\"resources.memory.limit\"))" out &&
	api POST "$C/t6up/task/update" -d "{\"resources\":{\"memory\":{\"limit\":1024}}}" &&
	test "$(cat status)" = 400 &&
	api POST "$C/t6up/task/update" -d "{\"resources\":{\"cpu\":{\"quota\":100000000000,\"period\":100000}}}" &&
	test "$(cat status)" = 400 &&
	jq -e ".error.message | test(\"resources.cpu.quota\")" out &&
	api POST "$C/t6up/task/update" -d "{\"resources\":{\"cpu\":{\"shares\":1}}}" &&
	test "$(cat status)" = 400 && jq -e ".error.message | test(\"resources.cpu.shares\")" out &&
	api POST "$C/t6up/task/update" -d "{\"resources\":{\"pids\":{\"limit\":0}}}" &&
	test "$(cat status)" = 400 && jq -e ".error.message | test(\"resources.pids.limit\")" out &&
	api POST "$C/t6up/task/update" -d "{\"resources\":{\"pids\":{\"limit\":\"5\"}}}" &&
	test "$(cat status)" = 400 &&
	api POST "$C/t6up/task/update" -d "{\"resources\":{\"network\":{}}}" &&
	test "$(cat status)" = 400 && jq -e ".error.message | test(\"network\")" out &&
	api POST "$C/t6up/task/update" -d "{}" && test "$(cat status)" = 400 &&
	api POST "$C/t6up/task/update" -d "nope" && test "$(cat status)" = 400 &&
	test_expect_code 2 "$BERTH" tasks update t6up --memory lots 2>err &&
	test_expect_code 2 "$BERTH" tasks update t6up --cpus -1 2>err &&
	test_expect_code 2 "$BERTH" tasks update t6up 2>err &&
	test "$(cat $CG/memory/berth/default/t6up/memory.limit_in_bytes)" = 33554432 &&
	for op in pause resume
	do
		api POST "$C/nope/task/$op" && test "$(cat status)" = 404 || return 1
	done &&
	api POST "$C/nope/task/update" -d "{\"resources\":{}}" && test "$(cat status)" = 404 &&
	api GET "$C/nope/task/pids" && test "$(cat status)" = 404 &&
	api POST "$C/t6up/task/pause" -d "{\"x\":1}" && test "$(cat status)" = 400 &&
	gone t6up
'

test_expect_success 'a lower memory limit is enforced: the allocation that fit dies after the update' '
	new_task t6mem "[\"sh\",\"-c\",\"dd if=/dev/zero of=/dev/null bs=40M count=1 2>/dev/null; echo first=\$?; while ! test -e /go; do sleep 0.1; done; dd if=/dev/zero of=/dev/null bs=40M count=1 2>/dev/null; echo second=\$?\"]" &&
	test_wait_for 20 grep -q first= "$TRASH/state/tasks/default/t6mem/log" &&
	api POST "$C/t6mem/task/update" -d "{\"resources\":{\"memory\":{\"limit\":16777216,\"swap\":16777216}}}" &&
	test "$(cat status)" = 200 &&
	test "$(cat $CG/memory/berth/default/t6mem/memory.limit_in_bytes)" = 16777216 &&
	touch "$TRASH/state/tasks/default/t6mem/rootfs/go" &&
	api POST "$C/t6mem/task/wait" && test "$(cat status)" = 200 &&
	api GET "$C/t6mem/task/logs" &&
	printf "first=0\nsecond=137\n" >expect && test_cmp expect out &&
	gone t6mem
'

test_expect_success 'CLI: pause, resume; a paused task survives a berthd crash as paused' '
	new_task t6lr "[\"sleep\",\"300\"]" &&
	"$BERTH" tasks pause t6lr &&
	"$BERTH" tasks ls >ls.out && grep "t6lr.*paused" ls.out &&
	kill_berthd &&
	start_berthd &&
	api GET "$C/t6lr/task" && jq -e ".status == \"paused\"" out &&
	test "$(cat $CG/freezer/berth/default/t6lr/freezer.state)" = FROZEN &&
	test_expect_code 1 "$BERTH" tasks pause t6lr 2>err && grep -i "paused" err &&
	"$BERTH" tasks resume t6lr &&
	api GET "$C/t6lr/task" && jq -e ".status == \"running\"" out &&
	test "$(cat $CG/freezer/berth/default/t6lr/freezer.state)" = THAWED &&
	gone t6lr
'

test_expect_success 'nothing left: no tasks, shims, mounts, task directories or cgroups' '
	api GET "$NS/tasks" && jq -e ".tasks == []" out &&
	! grep -q "$TRASH/state/tasks" /proc/self/mountinfo &&
	test "$(ls "$TRASH/state/tasks/default" | wc -l)" = 0 &&
	test_wait_for 10 sh -c "! pgrep -f \"[b]erth-shim $TRASH/state\"" &&
	for id in t6fz t6cr t6ps t6up t6mem t6lr
	do
		! test -d $CG/freezer/berth/default/$id || return 1
	done &&
	test "$(berthd_threads)" = 1
'

test_done
