#!/bin/sh
test_description='latency probe (not committed)'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/registry.sh"
PATH=$PATH:/usr/sbin
C=/v1/namespaces/default/containers
test_expect_success 'setup' '
	start_registry && push_image test/busybox && start_berthd && pull_ok "$REGISTRY/test/busybox" &&
	IMG=$REGISTRY/test/busybox:latest
'
test_expect_success 'cycles' '
	for i in 1 2 3 4 5 6 7 8 9 10; do
		t0=$(date +%s%N)
		api POST "$C" -d "{\"id\":\"x$i\",\"image\":\"$IMG\",\"process\":{\"args\":[\"/bin/true\"]}}"; t1=$(date +%s%N)
		api POST "$C/x$i/task" -d "{}"; t2=$(date +%s%N)
		api POST "$C/x$i/task/start"; t3=$(date +%s%N)
		api POST "$C/x$i/task/wait"; t4=$(date +%s%N)
		api DELETE "$C/x$i/task"; t5=$(date +%s%N)
		api DELETE "$C/x$i?cleanup=snapshot"; t6=$(date +%s%N)
		echo "ctr $(((t1-t0)/1000000)) task $(((t2-t1)/1000000)) start $(((t3-t2)/1000000)) wait $(((t4-t3)/1000000)) del $(((t5-t4)/1000000)) rm $(((t6-t5)/1000000)) total $(((t6-t0)/1000000))" >&2
	done
'
test_done
