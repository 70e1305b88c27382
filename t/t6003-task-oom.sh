#!/bin/sh
test_description='OOM: a process killed for exceeding the memory limit produces /tasks/oom, before the exit when it was init'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/registry.sh"
. "$TEST_DIRECTORY/lib/runtime.sh"

NS=/v1/namespaces/default
C=$NS/containers

# topics_of ID: the /tasks/ topics published for container ID, in order.
topics_of () {
	{ api GET "/v1/events?since=0&topic=/tasks/" --max-time 1 || :; } &&
	sed -n "s/^data: //p" out | jq -r "select(.event.container_id == \"$1\") | .topic"
}

# child.sh makes the allocating child (and so head, tr and the subshell it
# forks) the OOM killer's first choice: the kernel may OOM a second time while
# the first victim's memory is still being uncharged, and with every score
# equal init can be the biggest process left, and the test wants it alive.
test_expect_success 'registry with busybox; berthd; image pulled; an allocating script' '
	start_registry &&
	push_image test/busybox &&
	start_berthd &&
	pull_ok "$REGISTRY/test/busybox" &&
	IMG=$REGISTRY/test/busybox:latest &&
	mkdir -p scripts &&
	cat >scripts/mem.sh <<-\EOF &&
	x=$(head -c 67108864 /dev/zero | tr "\0" a)
	echo survived ${#x}
	EOF
	cat >scripts/child.sh <<-\EOF
	(echo 1000 >/proc/self/oom_score_adj && exec sh /s/mem.sh)
	while ! test -e /s/go; do sleep 0.1; done
	echo "init lives on"
	EOF
'

test_expect_success 'init killed by the OOM killer: /tasks/oom, then /tasks/exit with 137' '
	api POST "$C" -d "{\"id\":\"oom1\",\"image\":\"$IMG\",\"process\":{\"args\":[\"sh\",\"/s/mem.sh\"]},\"options\":{\"memory\":16777216,\"mounts\":[\"$TRASH/scripts:/s:ro\"]}}" &&
	test "$(cat status)" = 201 &&
	api POST "$C/oom1/task" -d "{\"log\":true}" && test "$(cat status)" = 201 &&
	api POST "$C/oom1/task/start" && api POST "$C/oom1/task/wait" &&
	cat out &&
	jq -e ".exit_status != 0" out &&
	topics_of oom1 >topics &&
	cat topics &&
	grep -n /tasks/oom topics &&
	oom_line=$(grep -n /tasks/oom topics | head -n1 | cut -d: -f1) &&
	exit_line=$(grep -n /tasks/exit topics | cut -d: -f1) &&
	test "$oom_line" -lt "$exit_line" &&
	api DELETE "$C/oom1/task" && api DELETE "$C/oom1?cleanup=snapshot" && test "$(cat status)" = 204
'

test_expect_success 'a child killed by the OOM killer: /tasks/oom while init runs on' '
	api POST "$C" -d "{\"id\":\"oom2\",\"image\":\"$IMG\",\"process\":{\"args\":[\"sh\",\"/s/child.sh\"]},\"options\":{\"memory\":16777216,\"mounts\":[\"$TRASH/scripts:/s\"]}}" &&
	test "$(cat status)" = 201 &&
	api POST "$C/oom2/task" -d "{\"log\":true}" && api POST "$C/oom2/task/start" &&
	i=0 &&
	until topics_of oom2 | grep -q /tasks/oom
	do
		test $i -lt 100 || { echo "no /tasks/oom while the task runs"; return 1; }
		i=$((i + 1))
	done &&
	api GET "$C/oom2/task" && cat out && jq -e ".status == \"running\"" out &&
	touch scripts/go &&
	api POST "$C/oom2/task/wait" && jq -e ".exit_status == 0" out &&
	api GET "$C/oom2/task/logs" && grep "init lives on" out && ! grep survived out &&
	topics_of oom2 >topics &&
	cat topics &&
	test "$(grep -c /tasks/oom topics)" -ge 1 &&
	api DELETE "$C/oom2/task" && api DELETE "$C/oom2?cleanup=snapshot" && test "$(cat status)" = 204
'

test_expect_success 'no OOM, no /tasks/oom' '
	api POST "$C" -d "{\"id\":\"fine\",\"image\":\"$IMG\",\"process\":{\"args\":[\"true\"]},\"options\":{\"memory\":16777216}}" &&
	api POST "$C/fine/task" -d "{}" && api POST "$C/fine/task/start" &&
	api POST "$C/fine/task/wait" && jq -e ".exit_status == 0" out &&
	topics_of fine >topics &&
	! grep /tasks/oom topics &&
	api DELETE "$C/fine/task" && api DELETE "$C/fine?cleanup=snapshot" && test "$(cat status)" = 204
'

test_done
