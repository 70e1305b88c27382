#!/bin/sh
test_description='crash consistency: kill -9 berthd at random moments of pulls, uploads, unpacks, container and task work, deletions and GC; restart and check the invariants

Options: --trials N (default 30, one per operation in a sanitizer build; also
BERTH_TEST_CRASH_TRIALS), --seed S
(default: from the clock; also BERTH_TEST_CRASH_SEED). Every trial prints
its seed, operation and delay; the same seed replays the same trials.'

# The operations, one per trial in turn; each has a prep (not killed), a
# run (killed at a random moment) and a check (after the restart: repeat
# what was interrupted, then look at the result).
OPS='pull-big pull-multi upload put-blob unpack create task task-run delete image-gc unpack-native'
crash_trials=${BERTH_TEST_CRASH_TRIALS:-30}
# A sanitizer build runs a trial in ~10 s on a busy machine: one trial per
# operation there by default; the plain build of the same CI run does the 30.
if test -z "${BERTH_TEST_CRASH_TRIALS:-}" &&
	ldd "${BERTH_BUILD_DIR:-$(dirname "$0")/..}/berthd" 2>/dev/null | grep -q libasan
then
	crash_trials=$(echo $OPS | wc -w)
fi
crash_seed=${BERTH_TEST_CRASH_SEED:-}
# The watchdog's limit grows with the trials (a sanitizer build on a busy
# machine takes ~10 s a trial), unless it is set.
crash_timeout_given=${BERTH_TEST_TIMEOUT:+t}
crash_timeout () {
	test -n "$crash_timeout_given" || BERTH_TEST_TIMEOUT=$((300 + crash_trials * 20))
}
test_script_option () {
	case "$1" in
	--trials=*) crash_trials=${1#--trials=} ;;
	--seed=*) crash_seed=${1#--seed=} ;;
	--trials) crash_trials=$2 test_script_shift=2 ;;
	--seed) crash_seed=$2 test_script_shift=2 ;;
	*) return 1 ;;
	esac
	case "$crash_trials$crash_seed" in
	*[!0-9]* | '') echo "error: --trials and --seed take a number" >&2 && exit 1 ;;
	esac
	crash_timeout
	return 0
}
crash_timeout

. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/registry.sh"
. "$TEST_DIRECTORY/lib/runtime.sh"

# Killed requests leave cut responses; the API's answers are checked by the
# other scripts (t8001 validates their log): none is logged here.
BERTH_RESPONSE_LOG=

test -n "$crash_seed" || crash_seed=$(($(date +%s) % 1000000))
say "crash trials: $crash_trials, seed $crash_seed (replay: --seed $crash_seed or BERTH_TEST_CRASH_SEED=$crash_seed)"

SNS='overlayfs native'

# A failed run must not leave containers running (their cgroups are named
# after namespace and id, shared by every run: hence the crash- prefix).
cleanup_containers () {
	for d in "$TRASH"/state/runc/*/*
	do
		test -d "$d" || continue
		runc --root "${d%/*}" delete --force "${d##*/}" 2>/dev/null
	done
	for m in $(awk -v t="$TRASH/" "index(\$5, t) == 1 { print \$5 }" /proc/self/mountinfo)
	do
		umount -l "$m" 2>/dev/null
	done
	:
}
test_atexit cleanup_containers
# The uploads are referenced by nothing: collections run when a check asks
# (gc_delay), never between an upload and its check.

# ---- helpers ----------------------------------------------------------------

want () {
	if test "$(cat status)" != "$1"; then
		echo "status $(cat status), want $1; body:" && head -c 2000 out && echo
		return 1
	fi
}

# want_one S1 S2: the status is one of them
want_one () {
	case " $* " in
	*" $(cat status) "*) return 0 ;;
	esac
	echo "status $(cat status), want one of $*; body:" && head -c 2000 out && echo
	return 1
}

now_ms () {
	date +%s%3N
}

sleep_ms () {
	sleep "$(($1 / 1000)).$(printf %03d $(($1 % 1000)))"
}

# A small LCG, so that dash and bash draw the same numbers from a seed.
crash_rand () {
	crash_state=$(((crash_state * 1103515245 + 12345) % 2147483648))
	crash_r=$((crash_state / 65536))
}

ns_path () {
	echo "/v1/namespaces/$1"
}

# url-encode an image name (the only specials here are / and :)
enc () {
	echo "$1" | sed -e 's|/|%2F|g' -e 's|:|%3A|g'
}

digest_of () {
	echo "sha256:$(sha256sum "$1" | cut -d" " -f1)"
}

# pull_in NS REF [FIELDS]
pull_in () {
	api POST "$(ns_path "$1")/images/pull" -d "{\"ref\":\"$2\"${3:+,$3}}" &&
	tail -n1 out >last &&
	test "$(cat status)" = 200 &&
	jq -e ".status == \"done\"" last >/dev/null ||
	{ echo "pull of $2 into $1 did not finish:"; cat out; return 1; }
}

gc_now () {
	api POST /v1/gc && want 200
}

# delete_image NS REF: gone, whether it was there or not
delete_image () {
	api DELETE "$(ns_path "$1")/images/$(enc "$2")" && want_one 200 204 404
}

# The ingest's data file (content/ingest/<sha256 of "ns\0ref">/data).
ingest_data () {
	echo "$TRASH/root/content/ingest/$(printf '%s\000%s' "$1" "$2" | sha256sum | cut -d" " -f1)/data"
}

# put_range NS REF START END TOTAL FILE: PUT bytes START..END (inclusive)
put_range () {
	tail -c +$(($3 + 1)) "$6" | head -c $(($4 - $3 + 1)) >chunk.$$ &&
	api PUT "$(ns_path "$1")/content/ingests/$2" \
		-H "Content-Range: bytes $3-$4/$5" --data-binary @chunk.$$
}

# upload NS REF FILE FROM: the rest of FILE from offset FROM in 1 MiB
# chunks, then commit; every answer must be a success
upload () {
	size=$(wc -c <"$3") &&
	at=$4 &&
	while test "$at" -lt "$size"
	do
		end=$((at + 1048576 - 1)) &&
		if test "$end" -ge "$size"; then end=$((size - 1)); fi &&
		put_range "$1" "$2" "$at" "$end" "$size" "$3" &&
		want_one 200 201 || return 1
		at=$((end + 1))
	done &&
	api POST "$(ns_path "$1")/content/ingests/$2/commit" \
		-d "{\"digest\":\"$(digest_of "$3")\",\"size\":$size}" &&
	want 201
}

# task_gone NS ID: no task, no state, no mount, no process left of it
task_gone () {
	! test -e "$TRASH/state/tasks/$1/$2" &&
	! grep -q " $TRASH/state/tasks/$1/$2/" /proc/self/mountinfo
}

# ---- the invariants -------------------------------------------------------------

# Every blob on disk has the digest it is named after.
check_blobs () {
	for f in "$TRASH"/root/content/blobs/sha256/*
	do
		test -e "$f" || continue
		h=$(sha256sum "$f" | cut -d" " -f1) &&
		test "$h" = "${f##*/}" || { echo "blob $f hashes to $h"; return 1; }
	done
}

# An image's content for the host platform, and its snapshots when its
# config says it was unpacked (a committed chain of one snapshot per layer).
# check_image NS DIGEST; prints the unpacked chain, if any
check_image () {
	CT=$(ns_path "$1")/content &&
	api GET "$CT/$2/data" && want 200 >&2 &&
	man=$2 &&
	if jq -e .manifests out >/dev/null; then
		man=$(jq -r "[.manifests[] | select(.platform.os == \"linux\" and .platform.architecture == \"amd64\")][0].digest" out) &&
		api GET "$CT/$man/data" && want 200 >&2
	fi &&
	config=$(jq -r .config.digest out) &&
	nlayers=$(jq -r ".layers | length" out) &&
	for l in $(jq -r ".layers[].digest" out)
	do
		api GET "$CT/$l" && want 200 >&2 || { echo "image $2 in $1: layer $l" >&2; return 1; }
	done &&
	api GET "$CT/$config" && want 200 >&2 &&
	cp out config-info &&
	for sn in $SNS
	do
		chain=$(jq -r ".labels[\"containerd.io/gc.ref.snapshot.$sn\"] // empty" config-info) &&
		if test -n "$chain"; then
			n=0 && s=$chain &&
			while test -n "$s"
			do
				api GET "$(ns_path "$1")/snapshotters/$sn/snapshots/$s" &&
				want 200 >&2 && jq -e ".kind == \"committed\"" out >/dev/null ||
				{ echo "image $2 in $1: $sn snapshot $s of chain $chain" >&2; return 1; }
				s=$(jq -r ".parent // empty" out) &&
				n=$((n + 1))
			done &&
			test "$n" = "$nlayers" ||
			{ echo "$sn chain $chain: $n snapshots, $nlayers layers" >&2; return 1; }
			echo "$sn $chain"
		fi || return 1
	done
}

# The tree of a committed chain, through a view, against the one a clean
# unpack made (ref/<snapshotter>-<chain>); the first one seen becomes the
# reference. check_tree NS SNAPSHOTTER CHAIN
check_tree () {
	S=$(ns_path "$1")/snapshotters/$2/snapshots &&
	api POST "$S" -d "{\"key\":\"crash-view\",\"parent\":\"$3\",\"kind\":\"view\"}" && want 201 &&
	mkdir -p view &&
	if test "$(jq -r ".mounts[0].type" out)" = bind; then
		"$TEST_DIRECTORY"/helpers/rootfs-manifest --no-dir-mtime "$(jq -r ".mounts[0].source" out)" >tree
	else
		mount -t "$(jq -r ".mounts[0].type" out)" -o "$(jq -r ".mounts[0].options | join(\",\")" out)" \
			"$(jq -r ".mounts[0].source" out)" view &&
		{ "$TEST_DIRECTORY"/helpers/rootfs-manifest --no-dir-mtime view >tree; rc=$?; umount view; test $rc = 0; }
	fi &&
	api DELETE "$S/crash-view" && want 204 &&
	mkdir -p ref &&
	r=ref/$2-${3#sha256:} &&
	if test -e "$r"; then
		test_cmp "$r" tree
	else
		mv tree "$r"
	fi
}

# The invariants after a restart. check_all [NS whose trees to compare]
check_all () {
	test "$(berthd_threads)" = 1 &&
	check_blobs &&
	api GET /v1/namespaces && want 200 &&
	jq -r ".namespaces[].name" out >namespaces &&
	for ns in $(cat namespaces)
	do
		# every blob listed is on disk
		api GET "$(ns_path "$ns")/content" && want 200 &&
		for d in $(jq -r ".blobs[].digest" out)
		do
			test -e "$TRASH/root/content/blobs/sha256/${d#sha256:}" ||
			{ echo "$ns lists blob $d, not on disk"; return 1; }
		done &&
		# every ingest's offset is no more than its file holds
		api GET "$(ns_path "$ns")/content/ingests" && want 200 &&
		jq -r ".ingests[] | \"\(.ref) \(.offset)\"" out >ingests &&
		while read -r ref off
		do
			f=$(ingest_data "$ns" "$ref") &&
			size=0 && if test -e "$f"; then size=$(wc -c <"$f"); fi &&
			test "$off" -le "$size" ||
			{ echo "$ns ingest $ref: offset $off, file $f:"; ls -l "$f"; return 1; }
		done <ingests &&
		# every image's content and snapshots
		api GET "$(ns_path "$ns")/images" && want 200 &&
		jq -r ".images[].target.digest" out >images &&
		for img in $(cat images)
		do
			check_image "$ns" "$img" >>chains.$ns || return 1
		done || return 1
	done &&
	# no snapshot is left mounted (task root filesystems are under state/)
	! grep " $TRASH/root" /proc/self/mountinfo &&
	awk -v t="$TRASH/state/tasks/" "index(\$5, t) == 1 { print \$5 }" /proc/self/mountinfo >task-mounts &&
	while read -r m
	do
		rest=${m#"$TRASH/state/tasks/"} &&
		api GET "$(ns_path "${rest%%/*}")/containers/$(echo "${rest#*/}" | cut -d/ -f1)/task" &&
		want 200 || { echo "mount $m of no task"; return 1; }
	done <task-mounts &&
	# the trees of the namespaces the trial touched
	for ns in "$@"
	do
		test -e "chains.$ns" || continue
		sort -u "chains.$ns" >chains &&
		while read -r sn c
		do
			check_tree "$ns" "$sn" "$c" || return 1
		done <chains
	done &&
	rm -f chains.* &&
	# running tasks are alive, the keeper is still the same process
	api GET "$(ns_path default)/tasks" && want 200 &&
	for p in $(jq -r ".tasks[] | select(.status == \"running\") | .pid" out)
	do
		test_pid_alive_ "$p" || { echo "task pid $p is listed running, is gone"; return 1; }
	done &&
	jq -e --argjson p "$(cat keeper.pid)" \
		"[.tasks[] | select(.id == \"crash-keeper\" and .status == \"running\" and .pid == \$p)] | length == 1" out
}

# After a GC, every snapshot directory belongs to a snapshot (the removals
# it started run in workers: wait for them).
# snapshot_dirs SN, snapshot_records SN
snapshot_dirs () {
	ls "$TRASH/root/snapshots/$1" | grep -c "^[0-9][0-9]*$"
}
snapshot_records () {
	n=0 &&
	for ns in $(cat namespaces)
	do
		api GET "$(ns_path "$ns")/snapshotters/$1/snapshots" >/dev/null &&
		n=$((n + $(jq ".snapshots | length" out))) || return 1
	done &&
	echo "$n"
}
dirs_match_records () {
	for sn in $SNS
	do
		test "$(ls "$TRASH/root/snapshots/$sn" | grep -vc "^[0-9][0-9]*$")" = 0 &&
		test "$(snapshot_dirs "$sn")" = "$(snapshot_records "$sn")" || return 1
	done
}
check_after_gc () {
	gc_now &&
	test_wait_for 20 dirs_match_records || {
		for sn in $SNS
		do
			echo "$sn directories:" && ls "$TRASH/root/snapshots/$sn" &&
			echo "records: $(snapshot_records "$sn")"
		done
		return 1
	}
}

# ---- the operations --------------------------------------------------------------

# prep_OP T / run_OP T (in the background: killed) / check_OP T

prep_pull () {
	delete_image pl "$1" && gc_now
}
prep_pull_big () { prep_pull "$BIG"; }
prep_pull_multi () { prep_pull "$MULTI"; }
run_pull_big () { pull_in pl "$BIG"; }
run_pull_multi () { pull_in pl "$MULTI"; }
check_pull () {
	api GET "$(ns_path pl)/images/$(enc "$1")" && img=$(cat status) &&
	api GET "$(ns_path pl)/content/ingests" >/dev/null &&
	echo "after restart: image $img, ingests $(jq ".ingests | length" out)" &&
	pull_in pl "$1" &&
	api GET "$(ns_path pl)/images/$(enc "$1")" && want 200 &&
	d=$(jq -r .target.digest out) &&
	check_image pl "$d" >chains && grep "^overlayfs " chains >chain &&
	check_tree pl $(cat chain) &&
	api GET "$(ns_path pl)/content/ingests" && want 200 &&
	jq -e ".ingests == []" out
}
check_pull_big () { check_pull "$BIG"; }
check_pull_multi () { check_pull "$MULTI"; }

# A resumable upload through the ingest API, then its commit.
prep_upload () {
	head -c $((5 * 1048576 + 12345)) /dev/urandom >"$TRASH/src.$1"
}
run_upload () {
	upload in "up$1" "$TRASH/src.$1" 0
}
check_upload () {
	I=$(ns_path in)/content/ingests &&
	d=$(digest_of "$TRASH/src.$1") &&
	api GET "$(ns_path in)/content/$d" &&
	if test "$(cat status)" = 404; then
		api GET "$I/up$1" &&
		if test "$(cat status)" = 200; then
			off=$(jq -r .offset out) &&
			f=$(ingest_data in "up$1") &&
			size=$(wc -c <"$f") &&
			test "$off" -le "$size" &&
			head -c "$off" "$f" >prefix &&
			head -c "$off" "$TRASH/src.$1" >want-prefix &&
			test_cmp want-prefix prefix &&
			echo "after restart: ingest at $off of $(wc -c <"$TRASH/src.$1") (resumed)" &&
			upload in "up$1" "$TRASH/src.$1" "$off"
		else
			want 404 && echo "after restart: no ingest (started again)" &&
			upload in "up$1" "$TRASH/src.$1" 0
		fi
	else
		want 200 && echo "after restart: committed"
	fi &&
	api GET "$(ns_path in)/content/$d/data" && want 200 && cmp "$TRASH/src.$1" out &&
	api GET "$I/up$1" && want 404 &&
	api DELETE "$(ns_path in)/content/$d" && want 204 &&
	rm -f "$TRASH/src.$1"
}

# A whole blob in one PUT.
prep_put_blob () { prep_upload "$1"; }
run_put_blob () {
	api PUT "$(ns_path in)/content/$(digest_of "$TRASH/src.$1")/data" --data-binary "@$TRASH/src.$1" &&
	want 201
}
check_put_blob () {
	d=$(digest_of "$TRASH/src.$1") &&
	api GET "$(ns_path in)/content/$d" && echo "after restart: blob $(cat status)" &&
	api PUT "$(ns_path in)/content/$d/data" --data-binary "@$TRASH/src.$1" && want_one 200 201 &&
	api GET "$(ns_path in)/content/$d/data" && want 200 && cmp "$TRASH/src.$1" out &&
	api DELETE "$(ns_path in)/content/$d" && want 204 &&
	rm -f "$TRASH/src.$1"
}

# Unpack an image whose content is there, into a namespace where it is not.
prep_unpack () {
	delete_image up "$UNP" && gc_now &&
	pull_in up "$UNP" "\"unpack\":false"
}
run_unpack () {
	api POST "$(ns_path up)/images/$(enc "$UNP")/unpack" && want 200 &&
	tail -n1 out | jq -e ".status == \"done\""
}
check_unpack () {
	echo "after restart: $(find "$TRASH/root/snapshots/overlayfs" -mindepth 1 -maxdepth 1 | wc -l) overlayfs directories" &&
	run_unpack || { cat out; return 1; }
	api GET "$(ns_path up)/images/$(enc "$UNP")" && want 200 &&
	d=$(jq -r .target.digest out) &&
	check_image up "$d" >chains && grep "^overlayfs " chains >chain &&
	check_tree up $(cat chain)
}

# The same with the native snapshotter: each layer over a copy of its
# parent's tree, made by a worker process that outlives a crash.
prep_unpack_native () {
	delete_image un "$UNP" && gc_now &&
	pull_in un "$UNP" "\"unpack\":false"
}
run_unpack_native () {
	api POST "$(ns_path un)/images/$(enc "$UNP")/unpack" -d "{\"snapshotter\":\"native\"}" &&
	want 200 && tail -n1 out | jq -e ".status == \"done\""
}
check_unpack_native () {
	echo "after restart: $(find "$TRASH/root/snapshots/native" -mindepth 1 -maxdepth 1 | wc -l) native directories" &&
	run_unpack_native || { cat out; return 1; }
	api GET "$(ns_path un)/images/$(enc "$UNP")" && want 200 &&
	d=$(jq -r .target.digest out) &&
	check_image un "$d" >chains && grep "^native " chains >chain &&
	check_tree un $(cat chain)
}

C=$(ns_path default)/containers

# Container creation (it prepares the container's snapshot).
prep_create () { :; }
run_create () {
	api POST "$C" -d "{\"id\":\"crash-cc$1\",\"image\":\"$IMG\"}" && want 201
}
check_create () {
	api GET "$C/crash-cc$1" &&
	echo "after restart: container $(cat status)" &&
	if test "$(cat status)" = 404; then
		run_create "$1"
	else
		want 200
	fi &&
	api GET "$(ns_path default)/snapshotters/overlayfs/snapshots/crash-cc$1" && want 200 &&
	jq -e ".kind == \"active\"" out &&
	api DELETE "$C/crash-cc$1?cleanup=snapshot" && want 204 &&
	api GET "$(ns_path default)/snapshotters/overlayfs/snapshots/crash-cc$1" && want 404
}

# sleeper ID: a container of the image that sleeps, for the task trials
sleeper () {
	api POST "$C" -d "{\"id\":\"$1\",\"image\":\"$IMG\",\"process\":{\"args\":[\"sleep\",\"3600\"]}}" &&
	want 201
}
# after_restart ID: the task as the restarted berthd has it (status, out)
after_restart () {
	api GET "$C/$1/task" &&
	echo "after restart: task $(cat status) $(jq -r ".status // empty" out)"
}

# Task create and start.
prep_task () {
	sleeper "crash-tk$1"
}
run_task () {
	api POST "$C/crash-tk$1/task" -d "{}" && want 201 &&
	api POST "$C/crash-tk$1/task/start" && want 200
}
check_task () {
	after_restart "crash-tk$1" &&
	if test "$(cat status)" = 404; then
		run_task "$1"
	else
		want 200 &&
		case "$(jq -r .status out)" in
		# a shim still starting when berthd died is "created" (and
		# refuses a start, 412) until it answers
		created) test_wait_for 30 start_task "crash-tk$1" ;;
		running) : ;;
		*) echo "task crash-tk$1 after the restart:" && cat out && false ;;
		esac
	fi &&
	api GET "$C/crash-tk$1/task" && want 200 &&
	jq -e ".status == \"running\"" out &&
	test_pid_alive_ "$(jq -r .pid out)" &&
	delete_task_container "crash-tk$1"
}

# Task created and started in one request ("start": true, runc run --detach).
prep_task_run () {
	sleeper "crash-tr$1"
}
run_task_run () {
	api POST "$C/crash-tr$1/task" -d "{\"start\":true}" && want 201 &&
	jq -e ".status == \"running\"" out
}
check_task_run () {
	after_restart "crash-tr$1" &&
	if test "$(cat status)" = 404; then
		run_task_run "$1"
	else
		want 200 &&
		# a shim still starting when berthd died answers once it is up
		test_wait_for 30 task_is "crash-tr$1" running
	fi &&
	api GET "$C/crash-tr$1/task" && want 200 &&
	test_pid_alive_ "$(jq -r .pid out)" &&
	api POST "$C/crash-tr$1/task/start" && want 412 &&
	delete_task_container "crash-tr$1"
}

# task_is ID STATUS
task_is () {
	api GET "$C/$1/task" && want 200 >/dev/null && jq -e ".status == \"$2\"" out >/dev/null
}

start_task () {
	api POST "$C/$1/task/start" && want 200 >/dev/null
}

no_mounts_left () {
	! grep -q " $TRASH/" /proc/self/mountinfo
}
no_tasks_left () {
	test "$(ls "$TRASH/state/tasks/default" | wc -l)" = 0
}

# delete_task_container ID: kill, wait, delete the task, delete the container
delete_task_container () {
	api GET "$C/$1/task" &&
	if test "$(cat status)" = 200; then
		pid=$(jq -r .pid out) &&
		if jq -e ".status == \"running\" or .status == \"created\"" out >/dev/null; then
			api POST "$C/$1/task/kill" -d "{\"signal\":\"SIGKILL\"}" && want_one 204 404
		fi &&
		api POST "$C/$1/task/wait" && want_one 200 404 &&
		api DELETE "$C/$1/task" && want_one 200 404 &&
		{ test "$pid" = 0 || test_wait_for 10 sh -c "! test -d /proc/$pid"; }
	else
		want 404
	fi &&
	api DELETE "$C/$1?cleanup=snapshot" && want_one 204 404 &&
	task_gone default "$1" &&
	api GET "$(ns_path default)/snapshotters/overlayfs/snapshots/$1" && want 404
}

# Deletion of a running container: kill, wait, delete the task and the
# container with its snapshot.
prep_delete () {
	sleeper "crash-dl$1" &&
	api POST "$C/crash-dl$1/task" -d "{}" && want 201 &&
	api POST "$C/crash-dl$1/task/start" && want 200
}
run_delete () {
	api POST "$C/crash-dl$1/task/kill" -d "{\"signal\":\"SIGKILL\"}" && want 204 &&
	api POST "$C/crash-dl$1/task/wait" && want 200 &&
	api DELETE "$C/crash-dl$1/task" && want 200 &&
	api DELETE "$C/crash-dl$1?cleanup=snapshot" && want 204
}
check_delete () {
	api GET "$C/crash-dl$1" && c=$(cat status) &&
	api GET "$C/crash-dl$1/task" &&
	echo "after restart: container $c, task $(cat status) $(jq -r ".status // empty" out)" &&
	delete_task_container "crash-dl$1"
}

# Image deletion, then a collection: the big layer's blob goes.
prep_image_gc () {
	api GET "$(ns_path pl)/images/$(enc "$BIG")" &&
	if test "$(cat status)" = 404; then pull_in pl "$BIG"; fi
}
run_image_gc () {
	delete_image pl "$BIG" && gc_now
}
check_image_gc () {
	api GET "$(ns_path pl)/images/$(enc "$BIG")" &&
	echo "after restart: image $(cat status), big blob $(test -e "$TRASH/root/content/blobs/sha256/${BIG_LAYER#sha256:}" && echo on disk || echo gone)" &&
	delete_image pl "$BIG" && gc_now &&
	! test -e "$TRASH/root/content/blobs/sha256/${BIG_LAYER#sha256:}"
}

# ---- the trials ---------------------------------------------------------------------

test_expect_success 'registry with the test images; berthd; a container that keeps running' '
	start_registry &&
	push_image crash/busybox --from busybox &&
	push_image crash/multi --from multi &&
	push_image crash/big --from big-16 &&
	push_image crash/unpack --from big-8 &&
	IMG=$REGISTRY/crash/busybox:latest &&
	MULTI=$REGISTRY/crash/multi:latest &&
	BIG=$REGISTRY/crash/big:latest &&
	UNP=$REGISTRY/crash/unpack:latest &&
	BIG_LAYER=$(image_blobs crash/big | tail -n1) &&
	echo "{\"gc_delay\": 3600}" >config.json &&
	start_berthd &&
	pull_in default "$IMG" &&
	sleeper crash-keeper &&
	api POST "$C/crash-keeper/task" -d "{}" && want 201 &&
	api POST "$C/crash-keeper/task/start" && want 200 &&
	api GET "$C/crash-keeper/task" && jq -r .pid out >keeper.pid &&
	check_all default
'

# ---- the crash states of the bugs the trials found, made on purpose ---------------

test_expect_success 'regression: a creation interrupted after its snapshot was prepared does not block the id' '
	S=$(ns_path default)/snapshotters/overlayfs/snapshots &&
	api GET "$(ns_path default)/images/$(enc "$IMG")" && want 200 &&
	parent=$(check_image default "$(jq -r .target.digest out)" | sed -n "s/^overlayfs //p") &&
	test -n "$parent" &&
	# what a crash leaves: the snapshot, labelled by an earlier run, no container
	api POST "$S" -d "{\"key\":\"half\",\"parent\":\"$parent\",\"labels\":{\"berth.containers.create\":\"1.1\"}}" &&
	want 201 &&
	api POST "$C" -d "{\"id\":\"half\",\"image\":\"$IMG\"}" && want 201 &&
	api GET "$S/half" && want 200 &&
	jq -e ".kind == \"active\" and (.labels | has(\"berth.containers.create\") | not)" out &&
	api DELETE "$C/half?cleanup=snapshot" && want 204 &&
	# a snapshot of someone else is not taken over
	api POST "$S" -d "{\"key\":\"mine\",\"parent\":\"$parent\"}" && want 201 &&
	api POST "$C" -d "{\"id\":\"mine\",\"image\":\"$IMG\"}" && want 409 &&
	api GET "$S/mine" && want 200 &&
	api DELETE "$S/mine" && want 204
'

test_expect_success 'regression: a task whose shim was starting the runtime when berthd died is restored' '
	runc=$(command -v runc) &&
	printf "#!/bin/sh\ncase \" \$* \" in *\" create \"*) : >%s/creating && sleep 5 ;; esac\nexec %s \"\$@\"\n" \
		"$TRASH" "$runc" >slow-runc &&
	chmod +x slow-runc &&
	api POST "$C" -d "{\"id\":\"crash-slow\",\"image\":\"$IMG\",\"runtime\":{\"name\":\"$TRASH/slow-runc\"},\"process\":{\"args\":[\"sleep\",\"3600\"]}}" &&
	want 201 &&
	{ (mkdir -p bg && cd bg && api POST "$C/crash-slow/task" -d "{}") >bg.log 2>&1 & } &&
	oppid=$! &&
	test_wait_for 20 test -e creating &&
	kill_berthd &&
	{ wait "$oppid" || :; } &&
	start_berthd &&
	test_wait_for 30 task_is crash-slow created &&
	test_wait_for 30 start_task crash-slow &&
	api GET "$C/crash-slow/task" && want 200 &&
	jq -e ".status == \"running\" and .pid > 0" out &&
	test_pid_alive_ "$(jq -r .pid out)" &&
	delete_task_container crash-slow
'

test_expect_success 'regression: a task whose shim never started leaves nothing behind' '
	api POST "$C" -d "{\"id\":\"never\",\"image\":\"$IMG\"}" && want 201 &&
	kill_berthd &&
	# what berthd leaves when it dies between writing the bundle and
	# spawning the shim
	dir=$TRASH/state/tasks/default/never &&
	mkdir -p "$dir/rootfs" &&
	echo "{}" >"$dir/config.json" &&
	echo "{\"id\":\"never\",\"namespace\":\"default\"}" >"$dir/shim.json" &&
	start_berthd &&
	api GET "$C/never/task" && want 404 &&
	! test -e "$dir" &&
	api DELETE "$C/never?cleanup=snapshot" && want 204
'

test_expect_success 'each operation once, uninterrupted: how long it takes' '
	: >durations &&
	for op in $OPS
	do
		opf=$(echo "$op" | tr - _) &&
		"prep_$opf" c0 >prep.log 2>&1 || { cat prep.log; return 1; }
		t0=$(now_ms) &&
		"run_$opf" c0 >run.log 2>&1 || { cat run.log; return 1; }
		t1=$(now_ms) &&
		"check_$opf" c0 || return 1
		echo "$op $((t1 - t0))" >>durations
	done &&
	cat durations &&
	check_all default pl up un
'

crash_state=$crash_seed
trial=1
while test "$trial" -le "$crash_trials"
do
	set -- $OPS
	shift $(((trial - 1) % $#))
	op=$1
	crash_rand
	test_expect_success "trial $trial: kill -9 during $op (seed $crash_seed)" '
		opf=$(echo "$op" | tr - _) &&
		{ "prep_$opf" "$trial" >prep.log 2>&1 || { cat prep.log; false; }; } &&
		dur=$(awk -v op="$op" "\$1 == op { print \$2 }" durations) &&
		delay=$((crash_r % (dur * 5 / 4 + 20))) &&
		echo "trial $trial: $op, kill after $delay ms of ~$dur" &&
		{ (mkdir -p bg && cd bg && "run_$opf" "$trial") >bg.log 2>&1 & } &&
		oppid=$! &&
		sleep_ms "$delay" &&
		kill_berthd &&
		{ wait "$oppid" || :; } &&
		start_berthd &&
		case "$op" in
		pull-*|image-gc) check_all pl ;;
		unpack) check_all up ;;
		unpack-native) check_all un ;;
		*) check_all ;;
		esac &&
		"check_$opf" "$trial" &&
		check_after_gc
	'
	trial=$((trial + 1))
done

test_expect_success 'after the trials: nothing left behind but the keeper' '
	delete_task_container crash-keeper &&
	for ns in pl up un default
	do
		api GET "$(ns_path "$ns")/images" && jq -r ".images[].name" out >names &&
		while read -r n
		do
			delete_image "$ns" "$n" || return 1
		done <names || return 1
	done &&
	check_after_gc &&
	test "$(snapshot_dirs overlayfs)" = 0 &&
	test "$(snapshot_dirs native)" = 0 &&
	api GET "$(ns_path default)/containers" && jq -e ".containers == []" out &&
	{
		test_wait_for 10 no_mounts_left ||
		{ echo "mounts left:" && grep " $TRASH/" /proc/self/mountinfo; false; }
	} &&
	{
		test_wait_for 10 no_tasks_left ||
		{ echo "task directories left:" && ls -la "$TRASH/state/tasks/default"; false; }
	} &&
	stop_berthd
'

test_done
