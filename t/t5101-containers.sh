#!/bin/sh
test_description='containers: create from an image (snapshot, generated spec), get, list, filter, patch, delete, events, gc, CLI'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/registry.sh"

test_have_prereq REGISTRY || {
	skip_all='needs docker-registry, skopeo, umoci, busybox-static (see t/lib/registry.sh)'
	test_done
}

NS=/v1/namespaces/default
C=$NS/containers
OV=$NS/snapshotters/overlayfs/snapshots

# create BODY: POST a container.
create() {
	api POST "$C" -H "Content-Type: application/json" -d "$1"
}

# expect_status CODE [ERROR_CODE]: the last answer's status (and error code).
expect_status() {
	test "$(cat status)" = "$1" || { echo "status $(cat status), want $1:"; cat out; return 1; }
	test -z "$2" || jq -e ".error.code == \"$2\"" out >/dev/null || { cat out; return 1; }
}

# no_snapshot KEY: overlayfs has no snapshot KEY.
no_snapshot() {
	api GET "$OV/$1" && expect_status 404
}

test_expect_success 'registry with test images; berthd' '
	start_registry &&
	R0=$REGISTRY &&
	push_image test/busybox &&
	python3 "$TEST_DIRECTORY/helpers/push-raw-image.py" "$R0" raw/ok:1 ok >/dev/null &&
	echo "{\"gc_delay\": 0.2}" >config.json &&
	start_berthd &&
	pull_ok "$R0/test/busybox" &&
	IMG=$R0/test/busybox:latest &&
	api GET "$NS/images/$(echo "$IMG" | sed "s|/|%2F|g; s|:|%3A|g")" &&
	TARGET=$(jq -r .target.digest out) && test -n "$TARGET"
'

test_expect_success 'no containers at first' '
	api GET "$C" && expect_status 200 && jq -e ".containers == []" out
'

test_expect_success 'create from an image: snapshot prepared, spec from the image config' '
	create "{\"id\":\"c1\",\"image\":\"$R0/test/busybox\"}" && expect_status 201 &&
	jq -e ".id == \"c1\" and .image == \"$IMG\" and .snapshotter == \"overlayfs\" and
		.snapshot_key == \"c1\" and .runtime.name == \"runc\" and .labels == {} and
		(.created_at | type) == \"string\" and (.updated_at | type) == \"string\"" out &&
	jq -e ".spec.process.args == [\"/bin/busybox\",\"echo\",\"hello from busybox\"] and
		.spec.process.cwd == \"/home/user\" and
		.spec.process.user.uid == 0 and .spec.process.user.gid == 0 and
		(.spec.process.env | index([\"IMAGE_PLATFORM=linux/amd64\"]) != null) and
		(.spec.process.env | map(startswith(\"PATH=\")) | any)" out &&
	api GET "$OV/c1" && expect_status 200 &&
	jq -e ".kind == \"active\" and .parent != null" out
'

test_expect_success 'get one (with its spec) and list' '
	api GET "$C/c1" && expect_status 200 &&
	jq -e ".id == \"c1\" and .spec.ociVersion != null and (has(\"image_target\") | not)" out &&
	api GET "$C" && expect_status 200 &&
	jq -e "[.containers[].id] == [\"c1\"]" out &&
	api GET "$C/nope" && expect_status 404 not_found
'

test_expect_success 'duplicate id: 409, and nothing changes' '
	create "{\"id\":\"c1\",\"image\":\"$IMG\"}" && expect_status 409 already_exists &&
	api GET "$OV/c1" && expect_status 200
'

test_expect_success 'unknown image: 404, no snapshot left' '
	create "{\"id\":\"c2\",\"image\":\"$R0/test/none\"}" && expect_status 404 not_found &&
	no_snapshot c2
'

test_expect_success 'bad requests: 400' '
	create "{\"id\":\"-bad\",\"image\":\"$IMG\"}" && expect_status 400 invalid_argument &&
	create "{\"id\":\"a/b\",\"image\":\"$IMG\"}" && expect_status 400 invalid_argument &&
	create "{\"image\":\"$IMG\"}" && expect_status 400 invalid_argument &&
	create "{\"id\":\"c2\",\"image\":\"$IMG\",\"bogus\":1}" && expect_status 400 &&
	create "{\"id\":\"c2\",\"image\":\"$IMG\",\"runtime\":{\"name\":\"kata\"}}" &&
	expect_status 400 && grep "unknown runtime" out &&
	create "{\"id\":\"c2\",\"image\":\"$IMG\",\"runtime\":{\"name\":\"rel/runc\"}}" &&
	expect_status 400 &&
	create "{\"id\":\"c2\",\"image\":\"$IMG\",\"options\":{\"memory\":\"1g\"}}" &&
	expect_status 400 &&
	create "{\"id\":\"c2\",\"image\":\"$IMG\",\"process\":{\"cwd\":\"relative\"}}" &&
	expect_status 400 invalid_argument &&
	create "{\"id\":\"c2\",\"image\":\"$IMG\",\"options\":{\"mounts\":[\"nodest\"]}}" &&
	expect_status 400 invalid_argument &&
	create "{\"id\":\"c2\",\"image\":\"$IMG\",\"options\":{\"memory\":-5}}" &&
	expect_status 400 invalid_argument &&
	create "not json" && expect_status 400 &&
	no_snapshot c2 &&
	api DELETE "$C/c1?cleanup=everything" && expect_status 400 &&
	api GET "$C/c1" && expect_status 200
'

test_expect_success 'runtime: crun and an absolute path are taken' '
	create "{\"id\":\"rt1\",\"image\":\"$IMG\",\"runtime\":{\"name\":\"crun\"}}" &&
	expect_status 201 && jq -e ".runtime.name == \"crun\"" out &&
	create "{\"id\":\"rt2\",\"image\":\"$IMG\",\"runtime\":{\"name\":\"/usr/local/bin/runc\",\"options\":{\"x\":1}}}" &&
	expect_status 201 && jq -e ".runtime == {\"name\":\"/usr/local/bin/runc\",\"options\":{\"x\":1}}" out
'

test_expect_success 'process overrides and a user by name, looked up in the image' '
	create "{\"id\":\"c3\",\"image\":\"$IMG\",\"labels\":{\"tier\":\"web\"},
		\"process\":{\"args\":[\"sh\",\"-c\",\"id\"],\"env\":[\"FOO=bar\",\"IMAGE_PLATFORM=x\"],
		\"cwd\":\"/tmp\",\"user\":\"user\"}}" && expect_status 201 &&
	jq -e ".labels == {\"tier\":\"web\"} and .spec.process.args == [\"sh\",\"-c\",\"id\"] and
		.spec.process.cwd == \"/tmp\" and
		.spec.process.user.uid == 1000 and .spec.process.user.gid == 1000 and
		(.spec.process.env | index([\"FOO=bar\"]) != null) and
		(.spec.process.env | index([\"IMAGE_PLATFORM=x\"]) != null) and
		(.spec.process.env | index([\"IMAGE_PLATFORM=linux/amd64\"]) == null)" out
'

test_expect_success 'an unknown user: 400, and the prepared snapshot is removed' '
	create "{\"id\":\"c4\",\"image\":\"$IMG\",\"process\":{\"user\":\"nosuchuser\"}}" &&
	expect_status 400 invalid_argument && grep nosuchuser out &&
	no_snapshot c4 &&
	api GET "$C/c4" && expect_status 404
'

test_expect_success 'options: mounts, net_host, readonly_rootfs, memory, cpus, pids, hostname' '
	create "{\"id\":\"c5\",\"image\":\"$IMG\",\"options\":{\"net_host\":true,
		\"readonly_rootfs\":true,\"mounts\":[\"/srv:/data:ro\",
		{\"source\":\"/var/tmp\",\"destination\":\"/scratch\"}],
		\"memory\":67108864,\"cpus\":0.5,\"pids\":64,\"hostname\":\"box\"}}" &&
	expect_status 201 &&
	jq -e ".spec.root.readonly == true and .spec.hostname == \"box\" and
		.spec.linux.resources.memory.limit == 67108864 and
		.spec.linux.resources.cpu.quota == 50000 and
		.spec.linux.resources.cpu.period == 100000 and
		.spec.linux.resources.pids.limit == 64 and
		([.spec.linux.namespaces[].type] | index(\"network\") == null) and
		([.spec.mounts[] | select(.destination == \"/data\")][0] |
			.source == \"/srv\" and (.options | index(\"ro\") != null)) and
		([.spec.mounts[] | select(.destination == \"/scratch\")][0].source == \"/var/tmp\")" out &&
	api GET "$C/c1" &&
	jq -e "([.spec.linux.namespaces[].type] | index(\"network\") != null) and
		(.spec.root.readonly | not)" out
'

test_expect_success 'a given spec is validated: 400 for bad ones, nothing left' '
	api GET "$C/c1" && jq .spec out >spec.json &&
	for f in "del(.ociVersion)" ".process.args = []" ".process.cwd = \"rel\"" \
		".mounts += [{\"destination\":\"rel\",\"type\":\"bind\",\"source\":\"/x\"}]" \
		".process.user.uid = -1" ".root = 5"
	do
		jq -c "{id: \"c6\", image: \"$IMG\", spec: ($f)}" spec.json >body &&
		create @body && expect_status 400 invalid_argument || { echo "accepted: $f"; return 1; }
	done &&
	jq -c "{id: \"c6\", image: \"$IMG\", spec: ., process: {cwd: \"/\"}}" spec.json >body &&
	create @body && expect_status 400 invalid_argument &&
	no_snapshot c6
'

test_expect_success 'a given spec is kept as given' '
	jq -c "{id: \"c6\", image: \"$IMG\", spec: (.process.args = [\"/bin/true\"])}" spec.json >body &&
	create @body && expect_status 201 &&
	jq -e ".spec.process.args == [\"/bin/true\"]" out &&
	jq -S ".spec" out >got && jq -S ".process.args = [\"/bin/true\"]" spec.json >want &&
	test_cmp want got
'

test_expect_success 'snapshot_key: an existing snapshot is used, a missing one is 404' '
	api GET "$OV/c1" && parent=$(jq -r .parent out) &&
	api POST "$OV" -d "{\"key\":\"mine\",\"parent\":\"$parent\"}" && expect_status 201 &&
	create "{\"id\":\"c7\",\"image\":\"$IMG\",\"snapshot_key\":\"mine\"}" && expect_status 201 &&
	jq -e ".snapshot_key == \"mine\" and .snapshotter == \"overlayfs\"" out &&
	no_snapshot c7 &&
	create "{\"id\":\"c8\",\"image\":\"$IMG\",\"snapshot_key\":\"missing\"}" &&
	expect_status 404 not_found &&
	create "{\"id\":\"c8\",\"image\":\"$IMG\",\"snapshot_key\":\"../x\"}" &&
	expect_status 400 invalid_argument &&
	api GET "$C/c8" && expect_status 404
'

test_expect_success 'an image not unpacked for the snapshotter: 412 naming the fix' '
	create "{\"id\":\"n1\",\"image\":\"$IMG\",\"snapshotter\":\"native\"}" &&
	expect_status 412 failed_precondition &&
	grep "image \`$IMG\` is not unpacked for snapshotter \`native\`: run \`berth images unpack --snapshotter native $IMG\`" out &&
	pull_ok "$R0/raw/ok:1" "\"unpack\":false" &&
	create "{\"id\":\"n2\",\"image\":\"$R0/raw/ok:1\"}" &&
	expect_status 412 failed_precondition &&
	grep "is not unpacked for snapshotter .overlayfs.: run .berth images unpack $R0/raw/ok:1." out &&
	no_snapshot n2 && api GET "$C/n2" && expect_status 404 &&
	api GET "$NS/snapshotters/native/snapshots/n1" && expect_status 404
'

test_expect_success 'filters: id, image, runtime.name, labels' '
	api GET "$C?filter=id==c3" && jq -e "[.containers[].id] == [\"c3\"]" out &&
	api GET "$C?filter=runtime.name==crun" && jq -e "[.containers[].id] == [\"rt1\"]" out &&
	api GET "$C?filter=labels.tier==web" && jq -e "[.containers[].id] == [\"c3\"]" out &&
	api GET "$C?filter=image==$IMG" && jq -e ".containers | length == 7" out &&
	api GET "$C?filter=id==c1&filter=id==c5" && jq -e "[.containers[].id] == [\"c1\",\"c5\"]" out &&
	api GET "$C?filter=id~=%5Ert" && jq -e "[.containers[].id] == [\"rt1\",\"rt2\"]" out &&
	api GET "$C?filter=id==" && expect_status 400 invalid_argument
'

test_expect_success 'patch: labels merge, spec validated, image must exist' '
	api PATCH "$C/c3" -d "{\"labels\":{\"a\":\"1\",\"tier\":null}}" && expect_status 200 &&
	jq -e ".labels == {\"a\":\"1\"}" out &&
	api PATCH "$C/c3" -d "{\"labels\":{\"b\":\"2\"}}" && jq -e ".labels == {\"a\":\"1\",\"b\":\"2\"}" out &&
	api PATCH "$C/c3" -d "{\"spec\":{\"ociVersion\":\"1.1.0\"}}" && expect_status 400 &&
	jq -c "{spec: (.process.args = [\"/bin/patched\"])}" spec.json >body &&
	api PATCH "$C/c3" -d @body && expect_status 200 &&
	jq -e ".spec.process.args == [\"/bin/patched\"] and .labels.b == \"2\"" out &&
	api PATCH "$C/c3" -d "{\"image\":\"$R0/test/none\"}" && expect_status 404 &&
	api PATCH "$C/c3" -d "{\"image\":\"$R0/raw/ok:1\"}" && expect_status 200 &&
	jq -e ".image == \"$R0/raw/ok:1\"" out &&
	api PATCH "$C/c3" -d "{\"runtime\":{\"name\":\"crun\"}}" && expect_status 400 &&
	api PATCH "$C/nope" -d "{\"labels\":{}}" && expect_status 404
'

test_expect_success 'delete: 204; the snapshot stays unless cleanup=snapshot' '
	api DELETE "$C/rt1" && expect_status 204 &&
	api GET "$C/rt1" && expect_status 404 &&
	api GET "$OV/rt1" && expect_status 200 &&
	api DELETE "$C/rt2?cleanup=snapshot" && expect_status 204 &&
	no_snapshot rt2 &&
	api DELETE "$C/rt2" && expect_status 404 &&
	api DELETE "$OV/rt1" && expect_status 204
'

test_expect_success 'delete while a task exists: 412' '
	api POST "$C/c5/task" -d "{}" && expect_status 201 &&
	api DELETE "$C/c5?cleanup=snapshot" && expect_status 412 failed_precondition &&
	api GET "$C/c5" && expect_status 200 && api GET "$OV/c5" && expect_status 200 &&
	api DELETE "$C/c5/task" && expect_status 200 &&
	api DELETE "$C/c5?cleanup=snapshot" && expect_status 204 && no_snapshot c5
'

test_expect_success 'a namespace with containers cannot be deleted' '
	jq -c "{id: \"o1\", spec: .}" spec.json >body &&
	api POST /v1/namespaces/other/containers -d @body && expect_status 201 &&
	jq -e "has(\"snapshot_key\") | not" out &&
	api DELETE /v1/namespaces/other && expect_status 412 failed_precondition &&
	grep containers out &&
	api DELETE /v1/namespaces/other/containers/o1 && expect_status 204 &&
	api DELETE /v1/namespaces/other && expect_status 204
'

test_expect_success 'gc: a container keeps its snapshot and its image content' '
	api GET "$OV/c1" && chain=$(jq -r .parent out) &&
	api GET "$NS/images/$(echo "$IMG" | sed "s|/|%2F|g; s|:|%3A|g")" &&
	api DELETE "$NS/images/$(echo "$IMG" | sed "s|/|%2F|g; s|:|%3A|g")?sync=true" &&
	expect_status 204 &&
	api POST /v1/gc && expect_status 200 &&
	api GET "$OV/c1" && expect_status 200 &&
	api GET "$OV/$chain" && expect_status 200 &&
	api GET "$NS/content/$TARGET" && expect_status 200 &&
	api GET "$C/c1" && expect_status 200
'

test_expect_success 'gc: once the containers are gone, so are the snapshot chain and the content' '
	for id in c1 c3 c6 c7
	do
		api DELETE "$C/$id?cleanup=snapshot" && expect_status 204 || return 1
	done &&
	no_snapshot mine &&
	api POST /v1/gc && expect_status 200 &&
	no_snapshot c1 && no_snapshot "$chain" &&
	api GET "$NS/content/$TARGET" && expect_status 404
'

test_expect_success 'events: /containers/create, update, delete' '
	{ curl -s -N --unix-socket "$BERTH_SOCK" --max-time 2 \
		"http://berth/v1/events?since=0&topic=/containers/" >ev || test $? = 28; } &&
	grep "^event: /containers/create" ev && grep "^event: /containers/update" ev &&
	grep "^event: /containers/delete" ev &&
	grep "^data: .*\"/containers/create\",\"event\":{\"id\":\"c1\",\"runtime\":{\"name\":\"runc\"},\"image\":\"$IMG\"}" ev &&
	grep "^data: .*\"/containers/update\",\"event\":{\"id\":\"c3\",\"labels\":{\"a\":\"1\"},\"image\":\"$IMG\",\"snapshot_key\":\"c3\"}" ev &&
	grep "^data: .*\"/containers/delete\",\"event\":{\"id\":\"rt1\"}" ev &&
	! grep "\"id\":\"c4\"" ev
'

test_expect_success 'CLI: usage errors' '
	test_expect_code 2 "$BERTH" containers create 2>err && grep "missing the IMAGE" err &&
	test_expect_code 2 "$BERTH" containers create img 2>err && grep "missing the container ID" err &&
	test_expect_code 2 "$BERTH" containers create --memory 12x img c 2>err && grep "bad --memory" err &&
	test_expect_code 2 "$BERTH" containers create --cpus -1 img c 2>err && grep "bad --cpus" err &&
	test_expect_code 2 "$BERTH" containers create --mount /a img c 2>err && grep "bad --mount" err &&
	test_expect_code 2 "$BERTH" containers create --env =x img c 2>err && grep "bad --env" err &&
	test_expect_code 2 "$BERTH" containers create --bogus img c 2>err && grep "unknown flag" err &&
	test_expect_code 2 "$BERTH" containers rm 2>err &&
	test_expect_code 2 "$BERTH" containers info 2>err
'

test_expect_success 'CLI: create, ls, info, label, rm' '
	pull_ok "$R0/test/busybox" &&
	"$BERTH" containers create --env A=1 --env B=2 --mount /srv:/data:ro --net-host --memory 64m \
		--cpus 1.5 --pids 10 --user user --cwd /tmp --label k=v --readonly --runtime crun \
		"$R0/test/busybox" web sh -c "echo hi" >out &&
	test "$(cat out)" = web &&
	api GET "$C/web" &&
	jq -e ".runtime.name == \"crun\" and .labels == {\"k\":\"v\"} and
		.spec.process.args == [\"sh\",\"-c\",\"echo hi\"] and
		(.spec.process.env | index([\"A=1\"]) != null) and
		.spec.process.user.uid == 1000 and .spec.process.cwd == \"/tmp\" and
		.spec.root.readonly == true and
		.spec.linux.resources.memory.limit == 67108864 and
		.spec.linux.resources.cpu.quota == 150000 and
		.spec.linux.resources.pids.limit == 10 and
		([.spec.mounts[] | select(.destination == \"/data\")] | length == 1)" out &&
	"$BERTH" containers create "$R0/test/busybox" db >/dev/null &&
	"$BERTH" containers ls >out &&
	grep "^CONTAINER" out && grep "^web .*crun .*k=v" out && grep "^db .*runc" out &&
	"$BERTH" containers ls -q >out && printf "db\nweb\n" >want && test_cmp want out &&
	"$BERTH" containers ls -q --filter "labels.k==v" >out && echo web >want && test_cmp want out &&
	"$BERTH" containers info web >out && jq -e ".id == \"web\" and .spec != null" out &&
	"$BERTH" containers label web k= x=y >out && echo "x=y" >want && test_cmp want out &&
	test_expect_code 1 "$BERTH" containers create "$R0/test/busybox" web 2>err &&
	grep "already exists" err &&
	"$BERTH" containers rm web >out && echo web >want && test_cmp want out &&
	no_snapshot web &&
	"$BERTH" containers rm --keep-snapshot db >/dev/null &&
	api GET "$OV/db" && expect_status 200 &&
	test_expect_code 1 "$BERTH" containers rm web 2>err && grep "not found" err
'

test_expect_success 'config default_runtime names the runtime of new containers; records survive a restart' '
	create "{\"id\":\"before\",\"image\":\"$IMG\"}" && expect_status 201 &&
	stop_berthd &&
	echo "{\"gc_delay\": 0.2, \"default_runtime\": \"crun\"}" >config.json &&
	start_berthd &&
	create "{\"id\":\"dflt\",\"image\":\"$IMG\"}" && expect_status 201 &&
	jq -e ".runtime.name == \"crun\"" out &&
	api GET "$C/before" && expect_status 200 && jq -e ".runtime.name == \"runc\"" out &&
	api GET "$OV/before" && expect_status 200
'

test_done
