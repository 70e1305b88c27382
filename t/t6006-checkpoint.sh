#!/bin/sh
test_description='checkpoint and restore through runc and CRIU: criu check (its reason when it fails, a missing binary, success cached, failure not), the shim checkpoint and restore with the runtime'"'"'s reason, bad input; where CRIU works, a counter checkpointed into the content store and restored in a new container'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/registry.sh"
. "$TEST_DIRECTORY/lib/runtime.sh"

NS=/v1/namespaces/default
C=$NS/containers
IMG=
CRIU_TAR=application/vnd.containerd.container.criu.checkpoint.criu.tar
CRIU_CONFIG=application/vnd.containerd.container.checkpoint.config.v1+json
INDEX=application/vnd.oci.image.index.v1+json
COUNTER='["sh","-c","i=0; while :; do i=$((i+1)); echo $i >/count; sleep 0.2; done"]'

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

# put_blob FILE: store FILE in the content store as a gc root (berthd
# restarts below, and collects at start-up); prints its digest.
put_blob () {
	d=sha256:$(sha256sum <"$1" | cut -d" " -f1) &&
	api PUT "$NS/content/$d/data" --data-binary "@$1" >/dev/null &&
	test "$(cat status)" = 201 &&
	api PATCH "$NS/content/$d" -d "{\"labels\":{\"containerd.io/gc.root\":\"t6006\"}}" &&
	test "$(cat status)" = 200 &&
	echo "$d"
}

# expect_error STATUS CODE: the last answer was that error.
expect_error () {
	test "$(cat status)" = "$1" && jq -e ".error.code == \"$2\"" out >/dev/null || {
		echo "expected $1 $2, got $(cat status):" && cat out && echo
		return 1
	}
}

# count_of ID: the counter's value, read in the container by an exec.
count_of () {
	e=rd$(date +%s%N) &&
	api POST "$C/$1/task/exec" -d "{\"exec_id\":\"$e\",\"process\":{\"args\":[\"cat\",\"/count\"]},\"log\":true}" &&
	api POST "$C/$1/task/exec/$e/start" && api POST "$C/$1/task/exec/$e/wait" &&
	api GET "$C/$1/task/logs?exec_id=$e" && cat out
}

# count_above ID N: the counter of ID is above N. (A restored counter goes
# on from where it was: its first value is above the last one before, where
# a restarted one would begin at 1.)
count_above () {
	n=$(count_of "$1") && test -n "$n" && test "$n" -gt "$2"
}

cleanup_containers () {
	for id in ck1 ck2 ck3 ck4 ck5 ckr
	do
		runc --root "$TRASH/state/runc/default" delete --force $id 2>/dev/null
	done
	:
}
test_atexit cleanup_containers

# What `criu check` says here, for the messages below.
CRIU_REASON=
if command -v criu >/dev/null 2>&1 || PATH=$PATH:/usr/sbin command -v criu >/dev/null 2>&1
then
	HAVE_CRIU_BIN=t
	CRIU_REASON=$(criu check 2>&1 | sed -n "s/^Error ([^)]*): *//p" | head -n 1)
fi

test_expect_success 'registry with busybox; berthd; image pulled; a running counter' '
	start_registry &&
	push_image test/busybox &&
	start_berthd &&
	pull_ok "$REGISTRY/test/busybox" &&
	IMG=$REGISTRY/test/busybox:latest &&
	new_task ck1 "$COUNTER"
'

test_expect_success 'checkpoint of a running task: created, or CRIU'"'"'s own reason (412)' '
	api POST "$C/ck1/task/checkpoint" -d "{}" &&
	case "$(cat status)" in
	201)
		test_set_prereq CRIU &&
		jq -e ".mediaType == \"$INDEX\" and (.digest | startswith(\"sha256:\")) and .size > 0" out
		;;
	412)
		expect_error 412 failed_precondition &&
		reason=$(jq -r .error.message out) &&
		echo "CRIU does not work here: $reason" &&
		case "$reason" in "criu check: "*) ;; *) false ;; esac &&
		if test -n "$CRIU_REASON"
		then
			case "$reason" in *"$CRIU_REASON"*) ;; *) false ;; esac
		fi &&
		test_prereq_why CRIU "CRIU does not work here ($reason)" &&
		api GET "$C/ck1/task" && jq -e ".status == \"running\"" out
		;;
	*)
		cat out && false
		;;
	esac
'

test_expect_success 'the task runtime plugin names the capability' '
	api GET /v1/plugins &&
	jq -e ".plugins[] | select(.type == \"io.berth.runtime.v2\") | .capabilities | index(\"checkpoint-criu\")" out
'

test_expect_success 'checkpoint: 404 without a task or a container' '
	api POST "$C" -d "{\"id\":\"ck2\",\"image\":\"$IMG\",\"process\":{\"args\":[\"true\"]}}" &&
	test "$(cat status)" = 201 &&
	api POST "$C/ck2/task/checkpoint" && expect_error 404 not_found &&
	jq -r .error.message out | grep "has no task" &&
	api POST "$C/nosuch/task/checkpoint" && expect_error 404 not_found
'

test_expect_success 'checkpoint: 412 for a created task and for a stopped one' '
	api POST "$C/ck2/task" -d "{\"log\":true}" && test "$(cat status)" = 201 &&
	api POST "$C/ck2/task/checkpoint" && expect_error 412 failed_precondition &&
	jq -r .error.message out | grep "is created, not running or paused" &&
	api POST "$C/ck2/task/start" && test "$(cat status)" = 200 &&
	api POST "$C/ck2/task/wait" && test "$(cat status)" = 200 &&
	api POST "$C/ck2/task/checkpoint" && expect_error 412 failed_precondition &&
	jq -r .error.message out | grep "is stopped, not running or paused" &&
	api DELETE "$C/ck2/task" && test "$(cat status)" = 200
'

test_expect_success 'checkpoint: 400 for a bad body' '
	api POST "$C/ck1/task/checkpoint" -d "{\"exit\":\"yes\"}" && expect_error 400 invalid_argument &&
	jq -r .error.message out | grep exit &&
	api POST "$C/ck1/task/checkpoint" -d "{\"bogus\":1}" && expect_error 400 invalid_argument &&
	jq -r .error.message out | grep bogus &&
	api POST "$C/ck1/task/checkpoint" -d "{\"labels\":{\"a\":1}}" && expect_error 400 invalid_argument &&
	api POST "$C/ck1/task/checkpoint" -d "{\"image\":\"Not A Name\"}" && expect_error 400 invalid_argument &&
	api POST "$C/ck1/task/checkpoint" -d "{\"exit\":" && expect_error 400 invalid_argument &&
	api GET "$C/ck1/task" && jq -e ".status == \"running\"" out
'

test_expect_success 'restore: bad checkpoint values are 400, a missing one 404, an image manifest 400' '
	api POST "$C/ck2/task" -d "{\"checkpoint\":42}" && expect_error 400 invalid_argument &&
	api POST "$C/ck2/task" -d "{\"checkpoint\":\"nope\"}" && expect_error 400 invalid_argument &&
	jq -r .error.message out | grep checkpoint &&
	api POST "$C/ck2/task" -d "{\"checkpoint\":{\"size\":3}}" && expect_error 400 invalid_argument &&
	missing=sha256:$(printf "%064d" 0) &&
	api POST "$C/ck2/task" -d "{\"checkpoint\":\"$missing\"}" && expect_error 404 not_found &&
	jq -r .error.message out | grep "$missing" &&
	api GET "$NS/images/$(echo "$IMG" | jq -Rr @uri)" && test "$(cat status)" = 200 &&
	manifest=$(jq -r .target.digest out) &&
	api POST "$C/ck2/task" -d "{\"checkpoint\":\"$manifest\"}" && expect_error 400 invalid_argument &&
	jq -r .error.message out | grep "is not a checkpoint" &&
	api POST "$C/ck2/task" -d "{\"checkpoint\":{\"digest\":\"$manifest\"}}" && expect_error 400 invalid_argument &&
	api GET "$C/ck2/task" && expect_error 404 not_found
'

# A checkpoint index made by hand: a tar of one file as the CRIU image.
test_expect_success 'a hand-made checkpoint in the content store' '
	mkdir img && echo fake >img/inventory.img &&
	tar -C img -cf criu.tar inventory.img &&
	tar_digest=$(put_blob criu.tar) &&
	echo "{}" >spec.json &&
	spec_digest=$(put_blob spec.json) &&
	jq -cn --arg t "$tar_digest" --arg s "$spec_digest" \
		--argjson ts "$(wc -c <criu.tar)" --argjson ss "$(wc -c <spec.json)" \
		"{schemaVersion:2,mediaType:\"$INDEX\",manifests:[{mediaType:\"$CRIU_TAR\",digest:\$t,size:\$ts},{mediaType:\"$CRIU_CONFIG\",digest:\$s,size:\$ss}]}" >index.json &&
	HANDMADE=$(put_blob index.json) &&
	test -n "$HANDMADE"
'

test_expect_success !CRIU 'restore where CRIU does not work: 412 with its reason, no task left' '
	api POST "$C/ck2/task" -d "{\"checkpoint\":\"$HANDMADE\"}" && expect_error 412 failed_precondition &&
	jq -r .error.message out | grep "^criu check: " &&
	api GET "$C/ck2/task" && expect_error 404 not_found &&
	! test -e "$TRASH/state/tasks/default/ck2"
'

test_expect_success 'a missing criu binary is named (412)' '
	stop_berthd &&
	BERTH_CRIU=$TRASH/no/criu && export BERTH_CRIU &&
	start_berthd &&
	api POST "$C/ck1/task/checkpoint" && expect_error 412 failed_precondition &&
	jq -r .error.message out | grep "$TRASH/no/criu" &&
	api POST "$C/ck2/task" -d "{\"checkpoint\":\"$HANDMADE\"}" && expect_error 412 failed_precondition &&
	jq -r .error.message out | grep "$TRASH/no/criu" &&
	api GET "$C/ck1/task" && jq -e ".status == \"running\"" out
'

# A criu that fails or passes its check as told; runc still runs the
# real one (in PATH) for the dump and the restore.
write_fake_criu () {
	cat >fake-criu <<-EOF &&
	#!/bin/sh
	echo "\$*" >>"$TRASH/fake-criu.calls"
	test "\$1" = check || exit 2
	test -e "$TRASH/criu-hang" && exec sleep 60
	if test -e "$TRASH/criu-ok"
	then
		echo "Looks good."
		exit 0
	fi
	echo "Warn  (criu/kerndat.c:1): something harmless"
	echo "Error (criu/fake.c:12): fake: first reason" >&2
	echo "Error (criu/fake.c:34): fake: second reason" >&2
	exit 1
	EOF
	chmod +x fake-criu
}

test_expect_success 'criu check failures: every Error line, a hang, and not cached' '
	write_fake_criu &&
	stop_berthd &&
	BERTH_CRIU=$TRASH/fake-criu BERTH_CRIU_CHECK_TIMEOUT=1 &&
	export BERTH_CRIU BERTH_CRIU_CHECK_TIMEOUT &&
	start_berthd &&
	api POST "$C/ck1/task/checkpoint" && expect_error 412 failed_precondition &&
	test "$(jq -r .error.message out)" = "criu check: fake: first reason; fake: second reason" &&
	: >criu-hang &&
	api POST "$C/ck1/task/checkpoint" && expect_error 412 failed_precondition &&
	test "$(jq -r .error.message out)" = "criu check: timed out after 1 s" &&
	rm criu-hang &&
	api POST "$C/ck1/task/checkpoint" && expect_error 412 failed_precondition &&
	test "$(jq -r .error.message out)" = "criu check: fake: first reason; fake: second reason" &&
	test "$(grep -c "^check$" fake-criu.calls)" = 3
'

test_expect_success !CRIU 'criu check passes: the runtime'"'"'s checkpoint runs and its failure is the answer; the success is cached' '
	: >criu-ok &&
	api POST "$C/ck1/task/checkpoint" && expect_error 412 failed_precondition &&
	msg=$(jq -r .error.message out) && echo "$msg" &&
	case "$msg" in "runc checkpoint: "*) ;; *) false ;; esac &&
	test "$(grep -c "^check$" fake-criu.calls)" = 4 &&
	rm criu-ok &&
	api POST "$C/ck1/task/checkpoint" -d "{\"exit\":false}" && expect_error 412 failed_precondition &&
	jq -r .error.message out | grep "^runc checkpoint: " &&
	test "$(grep -c "^check$" fake-criu.calls)" = 4 &&
	api GET "$C/ck1/task" && jq -e ".status == \"running\"" out &&
	! test -e "$TRASH/state/tasks/default/ck1/checkpoint"
'

test_expect_success !CRIU 'restore with a passing check: the image is unpacked, start runs the runtime'"'"'s restore (its failure is the answer), delete works' '
	api POST "$C/ck2/task" -d "{\"checkpoint\":\"$HANDMADE\",\"log\":true}" &&
	test "$(cat status)" = 201 &&
	jq -e ".status == \"created\" and .pid == 0" out &&
	test "$(cat "$TRASH/state/tasks/default/ck2/checkpoint/inventory.img")" = fake &&
	jq -e ".checkpoint == \"$TRASH/state/tasks/default/ck2/checkpoint\"" "$TRASH/state/tasks/default/ck2/shim.json" &&
	api POST "$C/ck2/task/kill" -d "{\"signal\":\"SIGKILL\"}" && expect_error 412 failed_precondition &&
	api POST "$C/ck2/task/start" && expect_error 412 failed_precondition &&
	msg=$(jq -r .error.message out) && echo "$msg" &&
	case "$msg" in "runc restore: "*) ;; *) false ;; esac &&
	api GET "$C/ck2/task" && jq -e ".status == \"created\"" out &&
	api DELETE "$C/ck2/task" && test "$(cat status)" = 200 &&
	! test -e "$TRASH/state/tasks/default/ck2" &&
	test_must_fail "$BERTH" tasks restore ck2 "$HANDMADE" 2>err &&
	grep "runc restore: " err &&
	api GET "$C/ck2/task" && expect_error 404 not_found &&
	api DELETE "$C/ck2?cleanup=snapshot" && test "$(cat status)" = 204 &&
	{ api GET "/v1/events?since=0&topic=/tasks/create" --max-time 1 || :; } &&
	sed -n "s/^data: //p" out | jq -e "select(.event.container_id == \"ck2\" and .event.checkpoint == \"$HANDMADE\")"
'

test_expect_success 'CLI: berth tasks checkpoint and restore give berthd'"'"'s errors, bad input is a usage error' '
	test_expect_code 2 "$BERTH" tasks checkpoint 2>err &&
	grep "missing the container ID" err &&
	test_expect_code 2 "$BERTH" tasks restore ck2 nope 2>err &&
	grep "is not a digest" err &&
	test_expect_code 2 "$BERTH" tasks restore ck2 2>err &&
	missing=sha256:$(printf "%064d" 0) &&
	test_must_fail "$BERTH" tasks restore ck2 "$missing" 2>err &&
	grep "is not in the content store" err &&
	test_must_fail "$BERTH" tasks checkpoint nosuch 2>err &&
	grep "has no task" err &&
	rm -f criu-ok &&
	test_must_fail "$BERTH" tasks checkpoint ck1 >out 2>err &&
	cat err &&
	if test_have_prereq CRIU
	then
		grep "criu check: fake: first reason" err
	else
		grep "runc checkpoint: " err # the check passed above, and was cached
	fi &&
	test_must_be_empty out
'

# A stand-in for runc where CRIU cannot dump: runc for everything but
# checkpoint (the "image" is the counter's file and a marker; without
# --leave-running the container is killed, as after a dump) and restore
# (the counter's file put back, then runc create and start). It drives
# every step of berthd and the shim that CRIU is not needed for: the
# archive worker, the blobs, the index, the image record, the event, the
# unpack and the restore at start.
write_fake_runc () {
	real=$(command -v runc) &&
	cat >fake-runc <<-EOF &&
	#!/bin/sh
	g=
	while :
	do
		case "\$1" in
		--root | --log | --log-format) g="\$g \$1 \$2"; shift 2 ;;
		*) break ;;
		esac
	done
	verb=\$1
	shift
	echo "\$verb \$*" >>"$TRASH/fake-runc.calls"
	case \$verb in
	checkpoint)
		leave= img=
		while test \$# -gt 1
		do
			case "\$1" in
			--image-path) img=\$2; shift ;;
			--leave-running) leave=t ;;
			esac
			shift
		done
		id=\$1
		mkdir -p "\$img" &&
		rootfs=\$($real \$g state "\$id" | jq -r .rootfs) &&
		cp "\$rootfs/count" "\$img/count.img" &&
		echo stand-in >"\$img/inventory.img" || exit 1
		# as runc: without --leave-running, killed and destroyed after the dump
		test -n "\$leave" || $real \$g delete --force "\$id"
		;;
	restore)
		img= bundle= pidf=
		while test \$# -gt 1
		do
			case "\$1" in
			--image-path) img=\$2; shift ;;
			--bundle) bundle=\$2; shift ;;
			--pid-file) pidf=\$2; shift ;;
			esac
			shift
		done
		id=\$1
		cp "\$img/count.img" "\$bundle/rootfs/count" &&
		$real \$g create --bundle "\$bundle" --pid-file "\$pidf" "\$id" &&
		exec $real \$g start "\$id"
		;;
	*)
		exec $real \$g "\$verb" "\$@"
		;;
	esac
	EOF
	chmod +x fake-runc
}

# The counter goes on from its file: with the stand-in, the file is all
# that carries its state across; with CRIU, its memory does.
COUNTER_FILE='["sh","-c","i=$(cat /count 2>/dev/null || echo 0); while :; do i=$((i+1)); echo $i >/count; sleep 0.2; done"]'

test_expect_success 'stand-in runtime: checkpoint leaving the task running: index, blobs, image record, event' '
	write_fake_runc &&
	: >criu-ok &&
	api POST "$C" -d "{\"id\":\"ck4\",\"image\":\"$IMG\",\"runtime\":{\"name\":\"$TRASH/fake-runc\"},\"process\":{\"args\":$COUNTER_FILE}}" &&
	test "$(cat status)" = 201 &&
	api POST "$C/ck4/task" -d "{\"log\":true}" && test "$(cat status)" = 201 &&
	api POST "$C/ck4/task/start" && test "$(cat status)" = 200 &&
	test_wait_for 10 count_above ck4 2 &&
	api POST "$C/ck4/task/checkpoint" -d "{\"labels\":{\"k\":\"v\"},\"image\":\"t6006/ck4:one\"}" &&
	test "$(cat status)" = 201 &&
	jq -e ".mediaType == \"$INDEX\" and .size > 0" out &&
	dg=$(jq -r .digest out) && echo "$dg" >ck4.index &&
	grep "^checkpoint --image-path $TRASH/state/tasks/default/ck4/checkpoint --work-path $TRASH/state/tasks/default/ck4/checkpoint-work --leave-running ck4$" fake-runc.calls &&
	! test -e "$TRASH/state/tasks/default/ck4/checkpoint" &&
	api GET "$NS/content/$dg/data" && test "$(cat status)" = 200 &&
	cp out index &&
	jq -e ".schemaVersion == 2 and .mediaType == \"$INDEX\" and (.manifests | length) == 2" index &&
	jq -e ".annotations.\"io.containerd.checkpoint.container\" == \"ck4\" and .annotations.\"image.name\" == \"$IMG\"" index &&
	jq -e ".annotations.\"io.containerd.checkpoint.runtime\" == \"$TRASH/fake-runc\"" index &&
	tar=$(jq -r ".manifests[] | select(.mediaType == \"$CRIU_TAR\") | .digest" index) &&
	spec=$(jq -r ".manifests[] | select(.mediaType == \"$CRIU_CONFIG\") | .digest" index) &&
	api GET "$NS/content/$tar/data" && test "$(cat status)" = 200 &&
	tar -tf out >entries && cat entries &&
	grep "count.img$" entries && grep "inventory.img$" entries &&
	api GET "$NS/content/$spec/data" && jq -e ".process.args[0] == \"sh\"" out &&
	api GET "$NS/content/$dg" && jq -e ".labels.\"containerd.io/gc.ref.content.0\" == \"$tar\" and .labels.\"containerd.io/gc.ref.content.1\" == \"$spec\"" out &&
	api GET "$NS/images/$(echo docker.io/t6006/ck4:one | jq -Rr @uri)" && test "$(cat status)" = 200 &&
	jq -e ".target.digest == \"$dg\" and .labels.k == \"v\"" out &&
	api GET "$NS/leases" && jq -e "[.leases[] | select(.labels.\"berth.checkpoint.container\")] | length == 0" out &&
	api GET "$C/ck4/task" && jq -e ".status == \"running\"" out &&
	{ api GET "/v1/events?since=0&topic=/tasks/checkpointed" --max-time 1 || :; } &&
	sed -n "s/^data: //p" out | jq -e "select(.event.container_id == \"ck4\" and .event.checkpoint.digest == \"$dg\" and .event.image == \"docker.io/t6006/ck4:one\")" &&
	api POST /v1/gc && test "$(cat status)" = 200 &&
	api GET "$NS/content/$tar" && test "$(cat status)" = 200
'

test_expect_success 'stand-in runtime: a paused task is checkpointed and stays paused' '
	api POST "$C/ck4/task/pause" && test "$(cat status)" = 200 &&
	api POST "$C/ck4/task/checkpoint" && test "$(cat status)" = 201 &&
	api GET "$C/ck4/task" && jq -e ".status == \"paused\"" out &&
	api POST "$C/ck4/task/resume" && test "$(cat status)" = 200
'

test_expect_success 'stand-in runtime: checkpoint with exit, restore in a new container (across a berthd restart): the counter goes on' '
	api POST "$C/ck4/task/checkpoint" -d "{\"exit\":true}" && test "$(cat status)" = 201 &&
	dg=$(jq -r .digest out) &&
	api POST "$C/ck4/task/wait" && test "$(cat status)" = 200 &&
	api GET "$NS/content/$dg/data" &&
	tar=$(jq -r ".manifests[] | select(.mediaType == \"$CRIU_TAR\") | .digest" out) &&
	api GET "$NS/content/$tar/data" && tar -xOf out ./count.img >last &&
	test "$(cat last)" -gt 2 &&
	api DELETE "$C/ck4/task" && test "$(cat status)" = 200 &&
	api POST "$C" -d "{\"id\":\"ck5\",\"image\":\"$IMG\",\"runtime\":{\"name\":\"$TRASH/fake-runc\"},\"process\":{\"args\":$COUNTER_FILE}}" &&
	api POST "$C/ck5/task" -d "{\"checkpoint\":{\"mediaType\":\"$INDEX\",\"digest\":\"$dg\"},\"log\":true}" &&
	test "$(cat status)" = 201 && jq -e ".status == \"created\" and .pid == 0" out &&
	stop_berthd && start_berthd &&
	api GET "$C/ck5/task" && jq -e ".status == \"created\" and .pid == 0" out &&
	api POST "$C/ck5/task/start" && test "$(cat status)" = 200 &&
	jq -e ".status == \"running\" and .pid > 0" out &&
	pid=$(jq .pid out) &&
	api GET "$C/ck5/task" && jq -e ".status == \"running\" and .pid == $pid" out &&
	grep "^restore --detach --image-path $TRASH/state/tasks/default/ck5/checkpoint --work-path $TRASH/state/tasks/default/ck5/restore-work --bundle $TRASH/state/tasks/default/ck5 --pid-file $TRASH/state/tasks/default/ck5/init.pid ck5$" fake-runc.calls &&
	test "$(count_of ck5)" -ge "$(cat last)" &&
	test_wait_for 10 count_above ck5 "$(cat last)" &&
	gone ck5 &&
	api DELETE "$C/ck4?cleanup=snapshot" && test "$(cat status)" = 204
'

test_expect_success 'stand-in runtime: the checkpoint goes with its image record' '
	dg=$(cat ck4.index) &&
	api GET "$NS/content/$dg/data" &&
	tar=$(jq -r ".manifests[0].digest" out) &&
	api DELETE "$NS/images/$(echo docker.io/t6006/ck4:one | jq -Rr @uri)?sync=true" &&
	test "$(cat status)" = 204 &&
	api GET "$NS/content/$dg" && expect_error 404 not_found &&
	api GET "$NS/content/$tar" && expect_error 404 not_found
'

test_expect_success 'back to the real criu' '
	stop_berthd &&
	unset BERTH_CRIU BERTH_CRIU_CHECK_TIMEOUT &&
	start_berthd
'

# ---- where CRIU works -------------------------------------------------------

test_expect_success CRIU 'checkpoint leaving the task running: the index, its two blobs, an image, the event' '
	before=$(count_of ck1) &&
	api POST "$C/ck1/task/checkpoint" -d "{\"labels\":{\"k\":\"v\"}}" && test "$(cat status)" = 201 &&
	dg=$(jq -r .digest out) &&
	api GET "$NS/content/$dg/data" && test "$(cat status)" = 200 &&
	jq -e ".mediaType == \"$INDEX\" and (.manifests | length) == 2" out &&
	jq -e ".annotations.\"io.containerd.checkpoint.container\" == \"ck1\"" out &&
	tar=$(jq -r ".manifests[] | select(.mediaType == \"$CRIU_TAR\") | .digest" out) &&
	spec=$(jq -r ".manifests[] | select(.mediaType == \"$CRIU_CONFIG\") | .digest" out) &&
	api GET "$NS/content/$tar/data" && test "$(cat status)" = 200 && tar -tf out | grep "\.img$" &&
	api GET "$NS/content/$spec/data" && jq -e ".process.args" out &&
	api GET "$NS/images" &&
	jq -e ".images[] | select(.target.digest == \"$dg\") | .labels.k == \"v\" and (.name | startswith(\"localhost/checkpoint/ck1:\"))" out &&
	api GET "$C/ck1/task" && jq -e ".status == \"running\"" out &&
	test_wait_for 10 count_above ck1 "$before" &&
	{ api GET "/v1/events?since=0&topic=/tasks/checkpointed" --max-time 1 || :; } &&
	sed -n "s/^data: //p" out | jq -e "select(.event.container_id == \"ck1\" and .event.checkpoint.digest == \"$dg\")"
'

test_expect_success CRIU 'CLI: checkpoint prints the digest, restore brings it back' '
	api POST "$C" -d "{\"id\":\"ck3\",\"image\":\"$IMG\",\"process\":{\"args\":$COUNTER}}" &&
	api POST "$C/ck3/task" -d "{\"log\":true}" && api POST "$C/ck3/task/start" &&
	test_wait_for 10 count_above ck3 1 &&
	"$BERTH" tasks checkpoint --exit --label who=t6006 ck3 >digest &&
	grep "^sha256:[0-9a-f]\{64\}$" digest &&
	api POST "$C/ck3/task/wait" && api DELETE "$C/ck3/task" && test "$(cat status)" = 200 &&
	"$BERTH" tasks restore ck3 "$(cat digest)" >pid &&
	test "$(cat pid)" -gt 0 &&
	api GET "$C/ck3/task" && jq -e ".status == \"running\"" out &&
	gone ck3
'

test_expect_success CRIU 'checkpoint with exit, restore in a new container: the counter goes on' '
	last=$(count_of ck1) &&
	api POST "$C/ck1/task/checkpoint" -d "{\"exit\":true}" && test "$(cat status)" = 201 &&
	dg=$(jq -r .digest out) &&
	api POST "$C/ck1/task/wait" && test "$(cat status)" = 200 &&
	api POST "$C" -d "{\"id\":\"ckr\",\"image\":\"$IMG\",\"process\":{\"args\":$COUNTER}}" &&
	test "$(cat status)" = 201 &&
	api POST "$C/ckr/task" -d "{\"checkpoint\":\"$dg\"}" && test "$(cat status)" = 201 &&
	jq -e ".status == \"created\"" out &&
	api POST "$C/ckr/task/start" && test "$(cat status)" = 200 && jq -e ".pid > 0" out &&
	test_wait_for 10 count_above ckr 0 &&
	test "$(count_of ckr)" -gt "$last" &&
	gone ckr && gone ck1
'

test_expect_success 'stop berthd' '
	{ ! api GET "$C/ck1/task" || test "$(cat status)" = 404 || gone ck1; } &&
	stop_berthd
'

test_done
