#!/bin/sh
test_description='task metrics from the cgroup: GET .../task/metrics, the berth_container_* series of /metrics, berth tasks metrics'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/registry.sh"
. "$TEST_DIRECTORY/lib/runtime.sh"

NS=/v1/namespaces/default
C=$NS/containers
IMG=
# The layout berthd must report: v1 when a v1 memory hierarchy is mounted
# (this machine's hybrid layout), else v2.
if grep -q " - cgroup [^ ]* [^ ]*memory" /proc/self/mountinfo; then
	LAYOUT=v1
else
	LAYOUT=v2
fi

test_expect_success 'registry with busybox; berthd; image pulled' '
	start_registry &&
	push_image test/busybox &&
	start_berthd &&
	pull_ok "$REGISTRY/test/busybox" &&
	IMG=$REGISTRY/test/busybox:latest
'

test_expect_success 'no container, or a container without a task: 404' '
	api GET "$C/nope/task/metrics" && test "$(cat status)" = 404 &&
	jq -e ".error.code == \"not_found\"" out &&
	api POST "$C" -d "{\"id\":\"idle\",\"image\":\"$IMG\"}" && test "$(cat status)" = 201 &&
	api GET "$C/idle/task/metrics" && test "$(cat status)" = 404 &&
	api GET "$C/idle/task/metrics?x=1" && test "$(cat status)" = 400
'

# The task waits for /s/go, burns CPU with a bounded loop, says so in
# /s/done, then sleeps: the CPU it used between two readings is work done,
# not time passed.
test_expect_success 'a task with memory and pids limits: created, started' '
	mkdir -p s &&
	cat >s/busy.sh <<-\EOF &&
	until test -e /s/go; do sleep 0.1; done
	i=0
	while test $i -lt 200000; do i=$((i + 1)); done
	touch /s/done
	exec sleep 600
	EOF
	api POST "$C" -d "{\"id\":\"busy\",\"image\":\"$IMG\",\"process\":{\"args\":[\"sh\",\"/s/busy.sh\"]},\"options\":{\"memory\":67108864,\"pids\":64,\"mounts\":[\"$TRASH/s:/s\"]}}" &&
	test "$(cat status)" = 201 &&
	api POST "$C/busy/task" -d "{}" && test "$(cat status)" = 201 &&
	api POST "$C/busy/task/start" && test "$(cat status)" = 200
'

test_expect_success 'metrics: usage > 0, the limits as set, the host layout' '
	api GET "$C/busy/task/metrics" && test "$(cat status)" = 200 &&
	cat out && cp out m1 &&
	jq -e ".cgroup == \"$LAYOUT\"" out &&
	jq -e ".memory.usage > 0 and .memory.limit == 67108864" out &&
	jq -e ".pids.limit == 64 and .pids.current >= 1" out &&
	jq -e ".cpu.usage_ns > 0" out &&
	jq -e "(.memory.stat | length) > 5" out &&
	jq -e ".io.read_bytes >= 0 and .io.write_bytes >= 0" out
'

test_expect_success 'cpu usage grows with the busy loop' '
	u1=$(jq .cpu.usage_ns m1) &&
	touch s/go &&
	test_wait_for 120 test -e s/done &&
	api GET "$C/busy/task/metrics" && test "$(cat status)" = 200 &&
	u2=$(jq .cpu.usage_ns out) &&
	echo "cpu $u1 -> $u2" &&
	test "$u2" -gt "$((u1 + 10000000))"
'

test_expect_success '/metrics carries the container series with HELP and TYPE' '
	api GET /metrics && test "$(cat status)" = 200 && cp out prom &&
	for f in cpu_usage_seconds_total memory_usage_bytes memory_limit_bytes pids_current \
		 pids_limit io_read_bytes_total io_write_bytes_total; do
		grep "^# TYPE berth_container_$f " prom &&
		grep "^# HELP berth_container_$f " prom || return 1
	done &&
	grep "^berth_container_memory_limit_bytes{namespace=\"default\",id=\"busy\"} 67108864\$" prom &&
	grep "^berth_container_pids_limit{namespace=\"default\",id=\"busy\"} 64\$" prom &&
	grep "^berth_container_pids_current{namespace=\"default\",id=\"busy\"} [1-9]" prom &&
	grep "^berth_container_memory_usage_bytes{namespace=\"default\",id=\"busy\"} [1-9]" prom &&
	grep "^berth_container_cpu_usage_seconds_total{namespace=\"default\",id=\"busy\"} [0-9.]*\$" prom &&
	! grep "id=\"idle\"" prom
'

test_expect_success 'berth tasks metrics: table and --json' '
	"$BERTH" tasks metrics busy >t &&
	cat t &&
	grep "^CGROUP $LAYOUT\$" t &&
	grep "^METRIC  *VALUE" t &&
	grep "^memory.limit_in_bytes  *67108864\$" t &&
	grep "^memory.usage_in_bytes  *[1-9]" t &&
	grep "^memory.stat\." t &&
	grep "^pids.limit  *64\$" t &&
	grep "^cpu.usage  *[1-9]" t &&
	"$BERTH" tasks metrics --json busy >j &&
	jq -e ".memory.limit == 67108864 and .pids.limit == 64" j &&
	test_expect_code 2 "$BERTH" tasks metrics 2>err &&
	grep "missing the container ID" err &&
	test_must_fail "$BERTH" tasks metrics nope 2>err &&
	grep "has no task" err
'

test_expect_success 'stopped task: 412; no series any more; deleted: 404' '
	api POST "$C/busy/task/kill" -d "{\"signal\":\"SIGKILL\"}" && test "$(cat status)" = 204 &&
	api POST "$C/busy/task/wait" && test "$(cat status)" = 200 &&
	api GET "$C/busy/task/metrics" && test "$(cat status)" = 412 &&
	jq -e ".error.code == \"failed_precondition\"" out &&
	api GET /metrics && ! grep "id=\"busy\"" out &&
	grep "^# TYPE berth_container_memory_usage_bytes gauge" out &&
	api DELETE "$C/busy/task" && test "$(cat status)" = 200 &&
	api GET "$C/busy/task/metrics" && test "$(cat status)" = 404
'

test_done
