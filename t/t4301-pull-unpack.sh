#!/bin/sh
test_description='pull with unpack: layers become committed snapshots named by chain IDs; streaming, native, unpack endpoint, hostile layers, kill -9, gc'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/registry.sh"

test_have_prereq REGISTRY || {
	skip_all='needs docker-registry, skopeo, umoci, busybox-static (see t/lib/registry.sh)'
	test_done
}
test_lazy_prereq ZSTD 'command -v zstd'

NS=/v1/namespaces/default
SN=$NS/snapshotters

# chain_of NAME[:TAG]: the top chain ID of the image, from its config's
# diff_ids (OCI image-spec: chain[i] = sha256(chain[i-1] + " " + diff[i])).
chain_of() {
	cfg=$(image_blobs "$1" | head -n1) &&
	registry_curl "/v2/${1%%:*}/blobs/$cfg" >cfg.json &&
	python3 -c '
import hashlib, json, sys
ids = json.load(open("cfg.json"))["rootfs"]["diff_ids"]
c = ids[0]
for d in ids[1:]:
    c = "sha256:" + hashlib.sha256((c + " " + d).encode()).hexdigest()
print(c)'
}

# mount_snapshot SN KEY PARENT DIR: a view of PARENT, mounted read-only at DIR.
mount_view() {
	api POST "$SN/$1/snapshots" -d "{\"key\":\"$2\",\"parent\":\"$3\",\"kind\":\"view\"}" &&
	test "$(cat status)" = 201 || test "$(cat status)" = 200 || { cat out; return 1; }
	mkdir -p "$4" &&
	type=$(jq -r ".mounts[0].type" out) &&
	src=$(jq -r ".mounts[0].source" out) &&
	opts=$(jq -r ".mounts[0].options | join(\",\")" out) &&
	mount -t "$type" ${opts:+-o "$opts"} "$src" "$4"
}

unmount_view() {
	umount "$2" &&
	api DELETE "$SN/$1/snapshots/$3" && test "$(cat status)" = 204
}

# no_active SN: the snapshotter holds no active snapshot (no extraction left).
no_active() {
	api GET "$SN/$1/snapshots" &&
	jq -e "[.snapshots[] | select(.kind == \"active\")] == []" out >/dev/null ||
	{ echo "active snapshots left:"; cat out; return 1; }
}

test_expect_success 'registry with test images; berthd' '
	start_registry &&
	R0=$REGISTRY &&
	push_image test/busybox &&
	push_image test/big --from big-16 &&
	for k in ok diffid truncated garbage traversal absolute symlink hardlink; do
		python3 "$TEST_DIRECTORY/helpers/push-raw-image.py" "$R0" raw/$k:1 $k "$TRASH/canary" >/dev/null ||
		return 1
	done &&
	echo "the canary lives" >canary &&
	sha256sum /etc/shadow canary >sums &&
	echo "{\"gc_delay\": 0.2}" >config.json &&
	start_berthd
'

test_expect_success 'pull unpacks by default: layers extracted, committed under chain IDs' '
	pull_ok "$R0/test/busybox" &&
	chain=$(chain_of test/busybox) &&
	grep "\"status\":\"extracting\"" out &&
	test $(grep -c "\"status\":\"unpacked\",\"digest\"" out) = 2 &&
	grep "\"status\":\"unpacked\",\"snapshotter\":\"overlayfs\",\"chain_id\":\"$chain\"" out &&
	api GET "$SN/overlayfs/snapshots/$chain" && test "$(cat status)" = 200 &&
	jq -e ".kind == \"committed\" and .parent != null" out &&
	parent=$(jq -r .parent out) &&
	api GET "$SN/overlayfs/snapshots/$parent" &&
	jq -e ".kind == \"committed\" and (.parent == null or .parent == \"\")" out &&
	no_active overlayfs &&
	cfg=$(image_blobs test/busybox | head -n1) &&
	api GET "$NS/content/$cfg" &&
	jq -e ".labels[\"containerd.io/gc.ref.snapshot.overlayfs\"] == \"$chain\"" out
'

test_expect_success 'the unpacked root filesystem is right to the whiteout, the hardlink and the setuid bit' '
	mount_view overlayfs v1 "$chain" "$TRASH/mnt" &&
	test_when_finished "umount \"$TRASH/mnt\" 2>/dev/null; :" &&
	test -x "$TRASH/mnt/bin/busybox" &&
	test -h "$TRASH/mnt/bin/sh" &&
	test_path_is_missing "$TRASH/mnt/etc/motd" &&
	test -f "$TRASH/mnt/etc/hostname" &&
	ls "$TRASH/mnt/opt/old" >old && echo c >want && test_cmp want old &&
	test "$(stat -c %a "$TRASH/mnt/usr/local/bin/setuid-tool")" = 4755 &&
	test "$(stat -c %i "$TRASH/mnt/usr/share/berth/hello.txt")" = \
		"$(stat -c %i "$TRASH/mnt/usr/share/berth/hello.hard")" &&
	test "$(readlink "$TRASH/mnt/usr/share/berth/hello.link")" = hello.txt &&
	test "$(stat -c %u:%g:%a "$TRASH/mnt/home/user/owned.txt")" = 1000:1000:640 &&
	test "$(stat -c %a "$TRASH/mnt/tmp")" = 1777 &&
	! touch "$TRASH/mnt/newfile" 2>/dev/null &&
	unmount_view overlayfs "$TRASH/mnt" v1
'

test_expect_success 'pulling again skips unpacked chains' '
	pull_ok "$R0/test/busybox" &&
	! grep "\"status\":\"extracting\"" out &&
	grep "\"status\":\"unpacked\",\"snapshotter\":\"overlayfs\",\"chain_id\":\"$chain\"" out
'

test_expect_success '"unpack": false only fetches; POST .../unpack unpacks from the store' '
	pull_ok "$R0/raw/ok:1" "\"unpack\":false" &&
	! grep "\"status\":\"extracting\"" out &&
	okchain=$(chain_of raw/ok:1) &&
	api GET "$SN/overlayfs/snapshots/$okchain" && test "$(cat status)" = 404 &&
	api POST "$NS/images/$R0%2Fraw%2Fok%3A1/unpack" &&
	test "$(cat status)" = 200 &&
	tail -n1 out | jq -e ".status == \"done\" and .image.name == \"$R0/raw/ok:1\"" &&
	grep "\"status\":\"unpacked\",\"snapshotter\":\"overlayfs\",\"chain_id\":\"$okchain\"" out &&
	api GET "$SN/overlayfs/snapshots/$okchain" && test "$(cat status)" = 200 &&
	api POST "$NS/images/nosuch%2Fimage/unpack" && test "$(cat status)" = 404 &&
	api POST "$NS/images/$R0%2Fraw%2Fok%3A1/unpack" -d "{\"snapshotter\":\"nosuch\"}" &&
	test "$(cat status)" = 400 &&
	api POST "$NS/images/$R0%2Fraw%2Fok%3A1/unpack" -d "{\"bogus\":1}" &&
	test "$(cat status)" = 400
'

test_expect_success 'the native snapshotter: whiteouts become deletions' '
	pull_ok "$R0/raw/ok:1" "\"snapshotter\":\"native\"" &&
	grep "\"status\":\"unpacked\",\"snapshotter\":\"native\",\"chain_id\":\"$okchain\"" out &&
	mount_view native nv "$okchain" "$TRASH/nmnt" &&
	test_when_finished "umount \"$TRASH/nmnt\" 2>/dev/null; :" &&
	test_path_is_missing "$TRASH/nmnt/etc/hostname" &&
	test "$(cat "$TRASH/nmnt/data/x")" = x &&
	test "$(readlink "$TRASH/nmnt/link")" = etc/hostname &&
	unmount_view native "$TRASH/nmnt" nv &&
	no_active native
'

test_expect_success ZSTD 'a tar+zstd layer unpacks' '
	python3 "$TEST_DIRECTORY/helpers/push-raw-image.py" "$R0" raw/zstd:1 zstd >/dev/null &&
	pull_ok "$R0/raw/zstd:1" &&
	zchain=$(chain_of raw/zstd:1) &&
	mount_view overlayfs zv "$zchain" "$TRASH/zmnt" &&
	test_when_finished "umount \"$TRASH/zmnt\" 2>/dev/null; :" &&
	test "$(cat "$TRASH/zmnt/data/z")" = "zstd layer" &&
	unmount_view overlayfs "$TRASH/zmnt" zv
'

test_expect_success 'a hardlink to a file of a lower layer: applied onto the mounted parents' '
	python3 "$TEST_DIRECTORY/helpers/push-raw-image.py" "$R0" raw/xlink:1 xlink >/dev/null &&
	pull_ok "$R0/raw/xlink:1" &&
	xchain=$(chain_of raw/xlink:1) &&
	grep "\"status\":\"unpacked\",\"snapshotter\":\"overlayfs\",\"chain_id\":\"$xchain\"" out &&
	grep "layer links into its parents" "$TRASH/berthd.log" &&
	mount_view overlayfs xv "$xchain" "$TRASH/xmnt" &&
	test_when_finished "umount \"$TRASH/xmnt\" 2>/dev/null; :" &&
	test "$(cat "$TRASH/xmnt/shared/link")" = linked &&
	test "$(stat -c %i "$TRASH/xmnt/shared/link")" = "$(stat -c %i "$TRASH/xmnt/shared/data")" &&
	test "$(cat "$TRASH/xmnt/new.txt")" = new &&
	unmount_view overlayfs "$TRASH/xmnt" xv &&
	no_active overlayfs &&
	! grep " $TRASH/state/unpack/" /proc/mounts
'

test_expect_success 'a layer whose diff ID does not match the config fails the pull' '
	pull_err invalid_argument "$R0/raw/diffid:1" &&
	jq -e ".error.message | test(\"diffID\")" last &&
	api GET "$NS/images/$R0%2Fraw%2Fdiffid%3A1" && test "$(cat status)" = 404 &&
	no_active overlayfs
'

test_expect_success 'truncated and garbage layers fail the pull cleanly' '
	for k in truncated garbage; do
		pull "$R0/raw/$k:1" &&
		jq -e ".status == \"error\"" last >/dev/null || { cat out; return 1; }
		api GET "$NS/images/$R0%2Fraw%2F$k%3A1" && test "$(cat status)" = 404 || return 1
	done &&
	no_active overlayfs
'

test_expect_success 'hostile layers fail, touch nothing outside the snapshot' '
	for k in traversal absolute symlink hardlink; do
		pull "$R0/raw/$k:1" &&
		jq -e ".status == \"error\"" last >/dev/null ||
		{ echo "$k was not refused:"; cat out; return 1; }
		api GET "$NS/images/$R0%2Fraw%2F$k%3A1" && test "$(cat status)" = 404 || return 1
		sha256sum -c sums >/dev/null || { echo "$k touched the canary"; return 1; }
	done &&
	test_path_is_missing "$TRASH/canary.new" &&
	no_active overlayfs &&
	! grep "$TRASH/root/snapshots" /proc/mounts
'

test_expect_success 'a download cut mid-layer resumes; the streamed unpack stays right' '
	big=$(image_blobs test/big | tail -n1) &&
	start_proxy cutting --name cut --upstream "$R0" --digest "$big" --mode cut --after 37% &&
	C=$(proxy_addr cut) &&
	pull_ok "$C/test/big" &&
	grep "GET /v2/test/big/blobs/$big range=bytes=[1-9]" "$REGISTRY_FIXTURES/proxy-cut/requests.log" &&
	bigchain=$(chain_of test/big) &&
	grep "\"status\":\"unpacked\",\"snapshotter\":\"overlayfs\",\"chain_id\":\"$bigchain\"" out &&
	mount_view overlayfs bv "$bigchain" "$TRASH/bmnt" &&
	test_when_finished "umount \"$TRASH/bmnt\" 2>/dev/null; :" &&
	test "$(stat -c %s "$TRASH/bmnt/big/random.bin")" = $((16 * 1024 * 1024)) &&
	unmount_view overlayfs "$TRASH/bmnt" bv &&
	no_active overlayfs &&
	api DELETE "$NS/images/$C%2Ftest%2Fbig%3Alatest?sync=true" &&
	api GET "$SN/overlayfs/snapshots/$bigchain" && test "$(cat status)" = 404 &&
	stop_proxy cut
'

test_expect_success 'kill -9 mid-unpack: no half snapshot left, the pull can be repeated' '
	start_proxy cutting --name slow --upstream "$R0" --digest "$(image_blobs test/big | tail -n1)" \
		--mode stall --stall 30 --after 50% &&
	S=$(proxy_addr slow) &&
	{ curl -s -N --unix-socket "$BERTH_SOCK" -X POST "http://berth$NS/images/pull" \
		-d "{\"ref\":\"$S/test/big\"}" >killed & } &&
	test_wait_for 15 grep -q "\"status\":\"extracting\",\"digest\":\"$(image_blobs test/big | tail -n1)\"" killed &&
	sleep 0.5 &&
	kill_berthd &&
	start_berthd &&
	no_active overlayfs &&
	! grep "$TRASH/root/snapshots" /proc/mounts &&
	api GET "$NS/images/$S%2Ftest%2Fbig%3Alatest" && test "$(cat status)" = 404 &&
	pull_ok "$R0/test/big" &&
	bigchain=$(chain_of test/big) &&
	api GET "$SN/overlayfs/snapshots/$bigchain" && test "$(cat status)" = 200 &&
	no_active overlayfs
'

test_expect_success 'gc keeps the snapshots of images, removes the others' '
	api DELETE "$NS/images/$R0%2Fraw%2Fok%3A1?sync=true" && test "$(cat status)" = 204 &&
	api GET "$SN/overlayfs/snapshots/$okchain" && test "$(cat status)" = 404 &&
	api GET "$SN/native/snapshots/$okchain" && test "$(cat status)" = 404 &&
	api GET "$SN/overlayfs/snapshots/$chain" && test "$(cat status)" = 200
'

test_expect_success 'CLI: pull --no-unpack, then images unpack' '
	"$BERTH" -n clins pull --no-unpack "$R0/raw/ok:1" >out &&
	! grep "extracting\|unpacked" out &&
	"$BERTH" -n clins snapshots ls -q >snaps && test_must_be_empty snaps &&
	"$BERTH" -n clins images unpack "$R0/raw/ok:1" >out &&
	grep "^unpacking $R0/raw/ok:1$" out &&
	grep "^unpacked overlayfs $okchain$" out &&
	tail -n1 out | grep "^$R0/raw/ok:1 sha256:" &&
	"$BERTH" -n clins snapshots ls -q >snaps && grep "^$okchain$" snaps &&
	test_expect_code 1 "$BERTH" -n clins images unpack nosuch/image 2>err &&
	grep "^berth: " err &&
	test_expect_code 2 "$BERTH" -n clins images unpack 2>err &&
	test_expect_code 2 "$BERTH" pull --no-unpack --snapshotter native x 2>err
'

# The active snapshot is made before the image goes: the collection the
# deletion schedules (gc_delay) would otherwise remove its parent first.
test_expect_success 'namespace deletion is refused while snapshots remain' '
	pull_ok "$R0/raw/ok:1" &&
	api POST "/v1/namespaces" -d "{\"name\":\"unp\"}" &&
	api POST "/v1/namespaces/unp/images/pull" -d "{\"ref\":\"$R0/raw/ok:1\"}" &&
	tail -n1 out | jq -e ".status == \"done\"" &&
	api POST "/v1/namespaces/unp/snapshotters/overlayfs/snapshots" -d "{\"key\":\"work\",\"parent\":\"$okchain\"}" &&
	test "$(cat status)" = 201 &&
	api DELETE "/v1/namespaces/unp/images/$R0%2Fraw%2Fok%3A1" &&
	api POST "/v1/gc" &&
	api GET "/v1/namespaces/unp/content" && jq -e ".blobs == []" out &&
	api DELETE "/v1/namespaces/unp" && test "$(cat status)" = 412 &&
	jq -e ".error.message | test(\"snapshots\")" out &&
	api DELETE "/v1/namespaces/unp/snapshotters/overlayfs/snapshots/work" &&
	api POST "/v1/gc" &&
	api DELETE "/v1/namespaces/unp" && test "$(cat status)" = 204
'

test_expect_success 'pull events name the chain; berthd stayed one thread' '
	pull_ok "$R0/test/busybox" &&
	{ curl -s -N --unix-socket "$BERTH_SOCK" "http://berth/v1/events?since=0&topic=/images/pull" \
		--max-time 1 >ev || :; } &&
	grep "\"chain_id\":\"$chain\"" ev &&
	test "$(berthd_threads)" = 1
'

test_done
