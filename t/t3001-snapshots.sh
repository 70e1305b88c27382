#!/bin/sh
test_description='snapshots: overlayfs and native over REST; real mounts, chains, errors, gc, orphans, crashes'
. "$(dirname "$0")/lib/test-lib.sh"

NS=/v1/namespaces/default
OV=$NS/snapshotters/overlayfs/snapshots
NA=$NS/snapshotters/native/snapshots

# prep URL KEY [PARENT] [KIND]: POST a prepare (or view), expect 201
prep() {
	body="{\"key\":\"$2\""
	test -n "$3" && body="$body,\"parent\":\"$3\""
	test -n "$4" && body="$body,\"kind\":\"$4\""
	api POST "$1" -d "$body}" && test "$(cat status)" = 201
}

commit() {
	api POST "$1/$2/commit" -d "{\"name\":\"$3\"}" && test "$(cat status)" = 201
}

# do_mount MOUNTS_JSON TARGET: mount the first mount of a mounts answer as
# containerd's mount helper does; overlay lowerdirs are given relative to
# the snapshotter's directory so that deep chains fit in one page
do_mount() {
	dm_type=$(jq -r ".mounts[0].type" "$1") &&
	dm_src=$(jq -r ".mounts[0].source" "$1") &&
	dm_opts=$(jq -r ".mounts[0].options | join(\",\")" "$1") &&
	dm_tgt=$(cd "$2" && pwd) &&
	if test "$dm_type" = bind
	then
		mount -o "$dm_opts" "$dm_src" "$dm_tgt"
	else
		dm_dir=$TRASH_DIRECTORY/root/snapshots/overlayfs &&
		dm_rel=$(printf "%s" "$dm_opts" | sed "s|$dm_dir/||g") &&
		(cd "$dm_dir" && mount -t "$dm_type" "$dm_src" -o "$dm_rel" "$dm_tgt")
	fi
}

# upper MOUNTS_JSON: the upperdir of an overlay mount
upper() {
	jq -r ".mounts[0].options[] | select(startswith(\"upperdir=\")) | sub(\"upperdir=\"; \"\")" "$1"
}

test_expect_success ROOT 'start berthd' '
	echo "{\"gc_delay\": 3600}" >config.json &&
	start_berthd
'

test_expect_success 'snapshotters are listed, and as plugins' '
	api GET $NS/snapshotters && test "$(cat status)" = 200 &&
	jq -e "[.snapshotters[].name] == [\"overlayfs\",\"native\"]" out &&
	jq -e ".snapshotters[0].default == true and .snapshotters[0].status == \"ok\"" out &&
	api GET /v1/plugins &&
	jq -e "[.plugins[] | select(.type == \"io.berth.snapshotter.v1\") | .id] | sort == [\"native\",\"overlayfs\"]" out &&
	jq -e "[.plugins[] | select(.type == \"io.berth.snapshotter.v1\") | .status] == [\"ok\",\"ok\"]" out
'

test_expect_success 'prepare without parent: an rw bind of an empty directory' '
	prep $OV base &&
	jq -e ".mounts | length == 1" out &&
	jq -e ".mounts[0].type == \"bind\" and .mounts[0].options == [\"rw\",\"rbind\"]" out &&
	src=$(jq -r ".mounts[0].source" out) &&
	test -d "$src" && test -z "$(ls -A "$src")" &&
	case "$src" in "$TRASH_DIRECTORY"/root/snapshots/overlayfs/[0-9]*/fs) ;; *) false ;; esac &&
	api GET $OV/base && jq -e ".name == \"base\" and .kind == \"active\" and (has(\"parent\") | not) and .labels == {}" out
'

test_expect_success 'write into the bind mount, commit, then stat and list' '
	mkdir -p mnt &&
	api GET $OV/base/mounts && cp out m.json &&
	do_mount m.json mnt &&
	echo one >mnt/a && mkdir mnt/d && echo deep >mnt/d/f &&
	umount mnt &&
	api POST $OV/base/commit -d "{\"name\":\"layer1\",\"labels\":{\"x\":\"1\"}}" &&
	test "$(cat status)" = 201 &&
	jq -e ".name == \"layer1\" and .kind == \"committed\" and .labels.x == \"1\"" out &&
	api GET $OV/base && test "$(cat status)" = 404 &&
	api GET $OV && jq -e "[.snapshots[].name] == [\"layer1\"]" out
'

test_expect_success 'active over a parent: overlay; writes land in the upper dir' '
	prep $OV work layer1 && cp out w.json &&
	jq -e ".mounts[0].type == \"overlay\" and .mounts[0].source == \"overlay\"" w.json &&
	jq -e "[.mounts[0].options[] | select(startswith(\"lowerdir=\") or startswith(\"upperdir=\") or startswith(\"workdir=\"))] | length == 3" w.json &&
	do_mount w.json mnt &&
	test_when_finished "umount mnt 2>/dev/null || :" &&
	test "$(cat mnt/a)" = one && test "$(cat mnt/d/f)" = deep &&
	echo two >mnt/b && rm mnt/a &&
	up=$(upper w.json) &&
	test "$(cat "$up/b")" = two &&
	test -c "$up/a" &&
	umount mnt &&
	api GET $OV/work && jq -e ".parent == \"layer1\" and .kind == \"active\"" out
'

test_expect_success 'views: one parent is an ro bind, several an overlay without upper' '
	commit $OV work layer2 &&
	prep $OV v1 layer1 view &&
	jq -e ".mounts[0].type == \"bind\" and .mounts[0].options == [\"ro\",\"rbind\"]" out &&
	cp out v1.json &&
	do_mount v1.json mnt &&
	test_when_finished "umount mnt 2>/dev/null || :" &&
	test "$(cat mnt/a)" = one &&
	test_must_fail sh -c "echo x >mnt/new" &&
	umount mnt &&
	prep $OV v2 layer2 view && cp out v2.json &&
	jq -e ".mounts[0].type == \"overlay\" and ([.mounts[0].options[] | select(startswith(\"upperdir=\"))] | length == 0)" v2.json &&
	do_mount v2.json mnt &&
	test "$(cat mnt/b)" = two && ! test -e mnt/a &&
	test_must_fail sh -c "echo x >mnt/new" &&
	umount mnt &&
	api GET $OV/v2 && jq -e ".kind == \"view\"" out
'

test_expect_success 'usage of committed and active snapshots' '
	api GET $OV/layer1/usage && test "$(cat status)" = 200 &&
	jq -e "(.size > 0) and (.inodes == 4)" out &&
	prep $OV big && src=$(jq -r ".mounts[0].source" out) &&
	dd if=/dev/zero of="$src/blob" bs=1024 count=512 2>/dev/null &&
	api GET $OV/big/usage && jq -e "(.size >= 524288) and .inodes == 2" out
'

test_expect_success 'labels: patch merges, null deletes' '
	api PATCH $OV/layer1 -d "{\"labels\":{\"y\":\"2\"}}" && test "$(cat status)" = 200 &&
	jq -e ".labels == {\"x\":\"1\",\"y\":\"2\"}" out &&
	api PATCH $OV/layer1 -d "{\"labels\":{\"x\":null}}" &&
	jq -e ".labels == {\"y\":\"2\"}" out &&
	api GET $OV/layer1 && jq -e ".labels == {\"y\":\"2\"}" out
'

test_expect_success 'list filters' '
	api GET "$OV?filter=kind==committed" &&
	jq -e "[.snapshots[].name] | sort == [\"layer1\",\"layer2\"]" out &&
	api GET "$OV?filter=parent==layer1" &&
	jq -e "[.snapshots[].name] | sort == [\"layer2\",\"v1\"]" out &&
	api GET "$OV?filter=labels.y==2" && jq -e "[.snapshots[].name] == [\"layer1\"]" out &&
	api GET "$OV?filter=name~=^v" && jq -e "[.snapshots[].name] == [\"v1\",\"v2\"]" out &&
	api GET "$OV?filter=kind==view&filter=name==big" &&
	jq -e "[.snapshots[].name] == [\"big\",\"v1\",\"v2\"]" out &&
	api GET "$OV?filter=name==" && test "$(cat status)" = 400
'

test_expect_success 'errors' '
	api GET $NS/snapshotters/zfs/snapshots && test "$(cat status)" = 404 &&
	jq -e ".error.code == \"not_found\"" out &&
	api POST $NS/snapshotters/zfs/snapshots -d "{\"key\":\"k\"}" && test "$(cat status)" = 404 &&
	api POST $OV -d "{\"key\":\"big\"}" && test "$(cat status)" = 409 &&
	api POST $OV -d "{\"key\":\"layer1\"}" && test "$(cat status)" = 409 &&
	api POST $OV -d "{\"key\":\"n\",\"parent\":\"ghost\"}" && test "$(cat status)" = 404 &&
	api POST $OV -d "{\"key\":\"n\",\"parent\":\"big\"}" && test "$(cat status)" = 400 &&
	api POST $OV -d "{\"key\":\"bad key\"}" && test "$(cat status)" = 400 &&
	api POST $OV -d "{\"key\":\"\"}" && test "$(cat status)" = 400 &&
	api POST $OV -d "{\"key\":\"-x\"}" && test "$(cat status)" = 400 &&
	api POST $OV -d "{\"key\":\"k\",\"kind\":\"committed\"}" && test "$(cat status)" = 400 &&
	api POST $OV -d "{\"key\":\"k\",\"extra\":1}" && test "$(cat status)" = 400 &&
	api POST $OV -d "{\"key\":" && test "$(cat status)" = 400 &&
	api POST $OV -d "[]" && test "$(cat status)" = 400 &&
	api POST $OV/v1/commit -d "{\"name\":\"c\"}" && test "$(cat status)" = 412 &&
	api POST $OV/layer1/commit -d "{\"name\":\"c\"}" && test "$(cat status)" = 412 &&
	api POST $OV/big/commit -d "{\"name\":\"layer2\"}" && test "$(cat status)" = 409 &&
	api POST $OV/ghost/commit -d "{\"name\":\"c\"}" && test "$(cat status)" = 404 &&
	api POST $OV/big/commit -d "{}" && test "$(cat status)" = 400 &&
	api GET $OV/layer1/mounts && test "$(cat status)" = 412 &&
	api DELETE $OV/layer1 && test "$(cat status)" = 412 &&
	jq -e ".error.code == \"failed_precondition\"" out &&
	api DELETE $OV/ghost && test "$(cat status)" = 404 &&
	api GET $OV/ghost/usage && test "$(cat status)" = 404 &&
	api PATCH $OV/layer1 -d "{\"labels\":{\"k\":1}}" && test "$(cat status)" = 400
'

test_expect_success 'remove: leaves first, then parents; the directory goes' '
	api GET $OV/v1/mounts && src=$(jq -r ".mounts[0].source" out) &&
	api GET $OV/big/mounts && bigdir=$(dirname "$(jq -r ".mounts[0].source" out)") &&
	api DELETE $OV/big && test "$(cat status)" = 204 &&
	test_wait_for 10 test_path_is_missing "$bigdir" &&
	prep $OV few && src=$(jq -r ".mounts[0].source" out) && echo x >"$src/f" &&
	mkdir "$src/d" && ln -s f "$src/d/l" && fewdir=$(dirname "$src") &&
	api DELETE $OV/few && test "$(cat status)" = 204 &&
	test_path_is_missing "$fewdir" &&
	test_path_is_missing "$(dirname "$fewdir")/rm-$(basename "$fewdir")" &&
	prep $OV many && src=$(jq -r ".mounts[0].source" out) && manydir=$(dirname "$src") &&
	for i in $(seq 100); do echo $i >"$src/f$i" || return 1; done &&
	api DELETE $OV/many && test "$(cat status)" = 204 &&
	test_wait_for 10 test_path_is_missing "$manydir" &&
	api DELETE $OV/v1 && api DELETE $OV/v2 && test "$(cat status)" = 204 &&
	api DELETE $OV/layer1 && test "$(cat status)" = 412 &&
	api DELETE $OV/layer2 && test "$(cat status)" = 204 &&
	api DELETE $OV/layer1 && test "$(cat status)" = 204 &&
	api GET $OV && jq -e ".snapshots == []" out
'

test_expect_success 'events: /snapshot/prepare, commit, remove' '
	{ curl -s -N --unix-socket "$BERTH_SOCK" --max-time 2 \
		"http://berth/v1/events?since=0&topic=/snapshot/" >ev || test $? = 28; } &&
	grep "^event: /snapshot/prepare" ev && grep "^event: /snapshot/commit" ev &&
	grep "^event: /snapshot/remove" ev &&
	grep "\"key\":\"work\",\"parent\":\"layer1\",\"snapshotter\":\"overlayfs\"" ev &&
	grep "\"key\":\"work\",\"name\":\"layer2\",\"snapshotter\":\"overlayfs\"" ev
'

test_expect_success 'a chain of 60 layers mounts' '
	parent= && i=1 &&
	while test $i -le 60
	do
		prep $OV "k$i" "$parent" &&
		if test $i = 1
		then
			src=$(jq -r ".mounts[0].source" out)
		else
			src=$(upper out)
		fi &&
		echo "$i" >"$src/f$i" && echo "$i" >"$src/last" &&
		commit $OV "k$i" "c$i" &&
		parent=c$i && i=$((i + 1)) || return 1
	done &&
	prep $OV top c60 && cp out top.json &&
	jq -e "[.mounts[0].options[] | select(startswith(\"lowerdir=\")) | split(\":\") | length] == [60]" top.json &&
	do_mount top.json mnt &&
	test_when_finished "umount mnt 2>/dev/null || :" &&
	test "$(cat mnt/last)" = 60 && test "$(cat mnt/f1)" = 1 && test "$(cat mnt/f37)" = 37 &&
	test "$(ls mnt | wc -l)" = 61 &&
	umount mnt
'

test_expect_success 'native: a child is a full copy of its parent (owners, modes, links, xattrs)' '
	prep $NA nbase && jq -e ".mounts[0].type == \"bind\"" out &&
	src=$(jq -r ".mounts[0].source" out) &&
	echo data >"$src/file" && chown 1234:5678 "$src/file" && chmod 4751 "$src/file" &&
	ln "$src/file" "$src/hard" && ln -s file "$src/sym" && mkfifo "$src/fifo" &&
	mknod "$src/null" c 1 3 && touch -d @1000000000 "$src/file" &&
	if command -v setfattr >/dev/null; then setfattr -n user.k -v v "$src/file"; fi &&
	commit $NA nbase nlayer &&
	prep $NA nchild nlayer && cp out n.json &&
	dst=$(jq -r ".mounts[0].source" n.json) &&
	test "$dst" != "$src" &&
	test "$(stat -c "%u:%g %a %h %Y" "$dst/file")" = "1234:5678 4751 2 1000000000" &&
	test "$(stat -c %i "$dst/file")" = "$(stat -c %i "$dst/hard")" &&
	test "$(readlink "$dst/sym")" = file && test -p "$dst/fifo" && test -c "$dst/null" &&
	if command -v getfattr >/dev/null; then getfattr -n user.k --only-values "$dst/file" | grep -x v; fi &&
	do_mount n.json mnt && echo new >mnt/new && umount mnt &&
	test -f "$dst/new" && ! test -e "$src/new" &&
	prep $NA nview nlayer view && jq -e ".mounts[0].options == [\"ro\",\"rbind\"]" out &&
	cp out nv.json && do_mount nv.json mnt &&
	test_when_finished "umount mnt 2>/dev/null || :" &&
	test "$(cat mnt/file)" = data && test_must_fail sh -c "echo x >mnt/x" && umount mnt &&
	api DELETE $NA/nlayer && test "$(cat status)" = 412 &&
	api GET $NA/nchild/usage && jq -e ".inodes >= 6" out
'

test_expect_success 'the namespace cannot go while it holds snapshots' '
	api PUT /v1/namespaces/other && test "$(cat status)" = 201 &&
	prep /v1/namespaces/other/snapshotters/overlayfs/snapshots s1 &&
	api DELETE /v1/namespaces/other && test "$(cat status)" = 412 &&
	api GET /v1/namespaces/other/snapshotters/overlayfs/snapshots &&
	jq -e "[.snapshots[].name] == [\"s1\"]" out &&
	api GET $OV/s1 && test "$(cat status)" = 404 &&
	api DELETE /v1/namespaces/other/snapshotters/overlayfs/snapshots/s1 &&
	api DELETE /v1/namespaces/other && test "$(cat status)" = 204
'

test_expect_success 'gc: unreferenced committed snapshots go; active, gc.root, leased and referenced stay' '
	prep $OV g1 && commit $OV g1 unref &&
	prep $OV g2 && commit $OV g2 rootparent &&
	prep $OV g3 rootparent && api POST $OV/g3/commit -d "{\"name\":\"rooted\",\"labels\":{\"containerd.io/gc.root\":\"x\"}}" &&
	prep $OV g4 && commit $OV g4 leased &&
	api POST $NS/leases -d "{\"id\":\"keep\"}" &&
	api POST $NS/leases/keep/resources -d "{\"type\":\"snapshots/overlayfs\",\"id\":\"leased\"}" &&
	test "$(cat status)" = 204 &&
	prep $OV g5 && commit $OV g5 byref &&
	echo cfg >cfg && d=sha256:$(sha256sum cfg | cut -d" " -f1) &&
	api PUT "$NS/content/$d/data" --data-binary @cfg &&
	api PATCH "$NS/content/$d" -d "{\"labels\":{\"containerd.io/gc.root\":\"1\",\"containerd.io/gc.ref.snapshot.overlayfs\":\"byref\"}}" &&
	test "$(cat status)" = 200 &&
	prep $OV g6 && commit $OV g6 activeparent && prep $OV act activeparent &&
	api GET $OV/g6 && test "$(cat status)" = 404 &&
	api POST /v1/gc && test "$(cat status)" = 200 &&
	jq -e ".removed.snapshots >= 1" out &&
	api GET $OV/unref && test "$(cat status)" = 404 &&
	for k in rooted rootparent leased byref activeparent act top c1 c60
	do
		api GET $OV/$k && test "$(cat status)" = 200 || return 1
	done &&
	api DELETE $NS/leases/keep && api POST /v1/gc &&
	api GET $OV/leased && test "$(cat status)" = 404 &&
	api PATCH "$NS/content/$d" -d "{\"labels\":{\"containerd.io/gc.ref.snapshot.overlayfs\":null}}" &&
	api POST /v1/gc && jq -e ".removed.snapshots == 1" out &&
	api GET $OV/byref && test "$(cat status)" = 404
'

test_expect_success 'orphaned directories are removed at restart' '
	stop_berthd &&
	mkdir -p root/snapshots/overlayfs/99999/fs root/snapshots/native/88888/fs &&
	echo x >root/snapshots/overlayfs/99999/fs/f &&
	mkdir -p root/snapshots/overlayfs/rm-77777/fs &&
	start_berthd &&
	test_wait_for 10 test_path_is_missing root/snapshots/overlayfs/99999 &&
	test_wait_for 10 test_path_is_missing root/snapshots/native/88888 &&
	test_wait_for 10 test_path_is_missing root/snapshots/overlayfs/rm-77777 &&
	api GET $OV/top && test "$(cat status)" = 200 &&
	api GET $OV/top/mounts && test -d "$(upper out)"
'

# snapid: the directory id of the active snapshot whose mounts are in out
snapid() {
	basename "$(dirname "$(upper out)")"
}

test_expect_success 'directory ids are not reused: across restarts, past a directory on disk' '
	prep $OV ida c60 && api GET $OV/ida/mounts && a=$(snapid) &&
	api DELETE $OV/ida &&
	stop_berthd && start_berthd &&
	prep $OV idb c60 && api GET $OV/idb/mounts && b=$(snapid) &&
	test "$b" -gt "$a" &&
	stop_berthd &&
	n=$((b + 100)) &&
	mkdir -p root/snapshots/overlayfs/$n/fs &&
	echo x >root/snapshots/overlayfs/$n/fs/f &&
	chattr +i root/snapshots/overlayfs/$n/fs/f &&
	test_when_finished "chattr -i root/snapshots/overlayfs/*$n/fs/f; rm -rf root/snapshots/overlayfs/*$n" &&
	start_berthd &&
	prep $OV idc c60 && api GET $OV/idc/mounts && c=$(snapid) &&
	test "$c" -gt "$n" &&
	api DELETE $OV/idb && api DELETE $OV/idc
'

test_expect_success 'orphans found by gc too' '
	mkdir -p root/snapshots/overlayfs/99998/fs &&
	api POST /v1/gc &&
	test_wait_for 10 test_path_is_missing root/snapshots/overlayfs/99998
'

test_expect_success 'kill -9 then restart: every record has its directory' '
	prep $OV crash1 && prep $OV crash2 c60 && api DELETE $OV/crash1 &&
	kill_berthd &&
	start_berthd &&
	api GET $OV/crash1 && test "$(cat status)" = 404 &&
	api GET "$OV?filter=kind!=committed" && jq -r ".snapshots[].name" out >keys &&
	test -s keys &&
	while read -r k
	do
		api GET "$OV/$k/mounts" && test "$(cat status)" = 200 &&
		jq -r ".mounts[0].source, (.mounts[0].options[] | select(startswith(\"upperdir=\") or startswith(\"lowerdir=\")) | sub(\"^[a-z]+=\"; \"\") | split(\":\")[])" out >dirs &&
		while read -r d
		do
			test "$d" = overlay || test -d "$d" || { echo "missing $d for $k" >&2; return 1; }
		done <dirs || return 1
	done <keys &&
	prep $OV crash3 c60
'

test_expect_success 'overlay unusable: the plugin says why; native still works' '
	stop_berthd &&
	mkdir -p tmpfsroot &&
	mount -t tmpfs -o size=16m tmpfs tmpfsroot &&
	test_when_finished "umount -l tmpfsroot" &&
	mkdir -p tmpfsroot/snapshots/overlayfs &&
	mount -t tmpfs -o size=1m,ro tmpfs tmpfsroot/snapshots/overlayfs &&
	test_when_finished "umount -l tmpfsroot/snapshots/overlayfs" &&
	cp -a root/meta tmpfsroot/ &&
	start_berthd --root "$TRASH_DIRECTORY/tmpfsroot" &&
	api GET /v1/plugins &&
	jq -e ".plugins[] | select(.id == \"overlayfs\") | .status == \"error\" and (.error | length > 0)" out &&
	api GET $NS/snapshotters &&
	jq -e ".snapshotters[0].status == \"error\" and .snapshotters[1].status == \"ok\"" out &&
	api POST $OV -d "{\"key\":\"x\"}" && test "$(cat status)" = 503 &&
	prep $NA fine &&
	stop_berthd
'

test_expect_success 'config: snapshotter names the default; an unknown one is refused' '
	echo "{\"snapshotter\": \"zfs\"}" >bad.json &&
	test_expect_code 2 "$BERTHD" --config bad.json --root "$TRASH_DIRECTORY/root" \
		--state "$TRASH_DIRECTORY/state" 2>err &&
	grep "unknown snapshotter .zfs." err &&
	echo "{\"snapshotter\": \"native\", \"gc_delay\": 3600}" >config.json &&
	start_berthd &&
	api GET $NS/snapshotters &&
	jq -e "[.snapshotters[] | select(.default) | .name] == [\"native\"]" out &&
	stop_berthd
'

test_done
