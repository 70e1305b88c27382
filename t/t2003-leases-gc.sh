#!/bin/sh
test_description='leases and garbage collection: roots, gc.ref labels, expiry, sync deletes'
. "$(dirname "$0")/lib/test-lib.sh"

NS=/v1/namespaces/default

# upload FILE: PUT it as a blob, print its digest
upload() {
	d=sha256:$(sha256sum "$1" | cut -d" " -f1) &&
	api PUT "$NS/content/$d/data" --data-binary "@$1" >/dev/null &&
	test "$(cat status)" -lt 300 &&
	echo "$d"
}

labels() {
	api PATCH "$NS/content/$1" -d "{\"labels\":$2}" && test "$(cat status)" = 200
}

exists() {
	api GET "$NS/content/$1" && test "$(cat status)" = 200
}

gone() {
	api GET "$NS/content/$1" && test "$(cat status)" = 404
}

blob_file() {
	echo "$TRASH/root/content/blobs/sha256/${1#sha256:}"
}

test_expect_success 'start berthd' '
	echo "{\"gc_delay\": 0.1}" >config.json &&
	start_berthd
'

test_expect_success 'leases: create with and without id, list, labels, expiry' '
	api POST $NS/leases -d "{\"id\":\"mine\",\"labels\":{\"who\":\"me\"}}" &&
	test "$(cat status)" = 201 &&
	jq -e ".id == \"mine\" and .labels.who == \"me\" and (has(\"expires_at\") | not)" out &&
	api POST $NS/leases -d "{\"expires_in\": 3600}" && test "$(cat status)" = 201 &&
	jq -e "(.id | length > 0) and (.expires_at | length > 0)" out &&
	api POST $NS/leases && test "$(cat status)" = 201 &&
	api GET $NS/leases && jq -e ".leases | length == 3" out &&
	api GET "$NS/leases?filter=labels.who==me" && jq -e "[.leases[].id] == [\"mine\"]" out
'

test_expect_success 'leases: bad input' '
	api POST $NS/leases -d "{\"id\":\"mine\"}" && test "$(cat status)" = 409 &&
	api POST $NS/leases -d "{\"id\":\"bad id\"}" && test "$(cat status)" = 400 &&
	api POST $NS/leases -d "{\"expires_in\":-1}" && test "$(cat status)" = 400 &&
	api POST $NS/leases -d "{\"expires_in\":\"soon\"}" && test "$(cat status)" = 400 &&
	api POST $NS/leases -d "{\"bogus\":1}" && test "$(cat status)" = 400 &&
	api DELETE $NS/leases/nope && test "$(cat status)" = 404
'

test_expect_success 'lease resources: add, list, remove, validate' '
	D=sha256:1111111111111111111111111111111111111111111111111111111111111111 &&
	api POST $NS/leases/mine/resources -d "{\"type\":\"content\",\"id\":\"$D\"}" &&
	test "$(cat status)" = 204 &&
	api POST $NS/leases/mine/resources -d "{\"type\":\"content\",\"id\":\"$D\"}" &&
	test "$(cat status)" = 204 &&
	api POST $NS/leases/mine/resources -d "{\"type\":\"ingests\",\"id\":\"layer-$D\"}" &&
	api GET $NS/leases/mine/resources &&
	jq -e ".resources == [{\"type\":\"content\",\"id\":\"$D\"},{\"type\":\"ingests\",\"id\":\"layer-$D\"}]" out &&
	api DELETE $NS/leases/mine/resources -d "{\"type\":\"ingests\",\"id\":\"layer-$D\"}" &&
	test "$(cat status)" = 204 &&
	api GET $NS/leases/mine/resources && jq -e ".resources | length == 1" out &&
	api POST $NS/leases/mine/resources -d "{\"type\":\"content\",\"id\":\"md5:1\"}" &&
	test "$(cat status)" = 400 &&
	api POST $NS/leases/mine/resources -d "{\"type\":\"volumes\",\"id\":\"x\"}" &&
	test "$(cat status)" = 400 &&
	api POST $NS/leases/ghost/resources -d "{\"type\":\"content\",\"id\":\"$D\"}" &&
	test "$(cat status)" = 404
'

test_expect_success 'POST /v1/gc answers what it removed' '
	api POST /v1/gc && test "$(cat status)" = 200 &&
	jq -e "(.removed.content | type == \"number\") and .removed.snapshots == 0 and
		(.duration_ms >= 0)" out
'

test_expect_success 'set up: blobs m (a manifest-like root), c and l (referenced by m), x, y' '
	echo manifest >m && echo config >c && echo layer >l && echo stray >x && echo leased >y &&
	M=$(upload m) && C=$(upload c) && L=$(upload l) && X=$(upload x) && Y=$(upload y) &&
	echo "$M $C $L $X $Y" >digests &&
	for d in $M $C $L $X $Y; do
		labels $d "{\"containerd.io/gc.root\":\"test\"}" && exists $d || return 1
	done
'

test_expect_success 'gc.root keeps content; unreferenced content without it is collected (as containerd)' '
	read M C L X Y <digests &&
	echo loose >w && W=$(upload w) &&
	api POST /v1/gc && test "$(cat status)" = 200 &&
	jq -e ".removed.content == 1" out &&
	gone $W && test_path_is_missing "$(blob_file $W)" &&
	for d in $M $C $L $X $Y; do exists $d || return 1; done
'

test_expect_success 'an image roots its target, gc.ref labels root the rest; the rest goes' '
	read M C L X Y <digests &&
	labels $M "{\"containerd.io/gc.root\":null,\"containerd.io/gc.ref.content.config\":\"$C\",\"containerd.io/gc.ref.content.l.0\":\"$L\"}" &&
	for d in $C $L $X $Y; do labels $d "{\"containerd.io/gc.root\":null}" || return 1; done &&
	api POST $NS/leases -d "{\"id\":\"hold\"}" &&
	api POST $NS/leases/hold/resources -d "{\"type\":\"content\",\"id\":\"$Y\"}" &&
	api PUT $NS/images/app -d "{\"target\":{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"$M\",\"size\":9}}" &&
	test "$(cat status)" = 201 &&
	api POST /v1/gc && test "$(cat status)" = 200 &&
	jq -e ".removed.content == 1" out &&
	exists $M && exists $C && exists $L && exists $Y && gone $X &&
	test_path_is_missing "$(blob_file $X)" &&
	test_path_is_file "$(blob_file $M)"
'

test_expect_success 'deleting the image with ?sync=true removes its content before answering' '
	read M C L X Y <digests &&
	api DELETE "$NS/images/app?sync=true" && test "$(cat status)" = 204 &&
	gone $M && gone $C && gone $L && exists $Y &&
	test_path_is_missing "$(blob_file $L)"
'

test_expect_success 'deleting the lease with ?sync=true releases what it held' '
	read M C L X Y <digests &&
	api DELETE "$NS/leases/hold?sync=true" && test "$(cat status)" = 204 &&
	gone $Y
'

test_expect_success 'a blob held by another namespace stays on disk' '
	echo shared >s && S=sha256:$(sha256sum s | cut -d" " -f1) &&
	api POST /v1/namespaces/other/leases -d "{\"id\":\"keep\"}" &&
	api POST /v1/namespaces/other/leases/keep/resources -d "{\"type\":\"content\",\"id\":\"$S\"}" &&
	test "$(cat status)" = 204 &&
	api PUT "/v1/namespaces/other/content/$S/data" --data-binary @s &&
	test "$(cat status)" = 201 &&
	upload s >/dev/null &&
	api POST /v1/gc &&
	gone $S && test_path_is_file "$(blob_file $S)" &&
	api GET /v1/namespaces/other/content/$S && test "$(cat status)" = 200
'

test_expect_success 'an expired lease is deleted and stops protecting its content' '
	echo temp >t && T=sha256:$(sha256sum t | cut -d" " -f1) &&
	api POST $NS/leases -d "{\"id\":\"short\",\"expires_in\":0.5}" &&
	api POST $NS/leases/short/resources -d "{\"type\":\"content\",\"id\":\"$T\"}" &&
	upload t >/dev/null &&
	api POST /v1/gc && exists $T &&
	sleep 0.7 &&
	api POST /v1/gc && jq -e ".removed.leases >= 1" out &&
	gone $T &&
	api GET $NS/leases && jq -e "[.leases[].id] | index(\"short\") == null" out
'

test_expect_success 'deletions schedule a collection by themselves (gc_delay)' '
	echo later >z && Z=sha256:$(sha256sum z | cut -d" " -f1) &&
	api PUT $NS/images/tmp -d "{\"target\":{\"mediaType\":\"application/octet-stream\",\"digest\":\"$Z\",\"size\":6}}" &&
	upload z >/dev/null &&
	api DELETE $NS/images/tmp && test "$(cat status)" = 204 &&
	test_wait_for 5 eval "api GET $NS/content/$Z && test \"\$(cat status)\" = 404"
'

test_expect_success 'a blob file no namespace holds is removed by the collection at start-up' '
	stop_berthd &&
	echo orphan >o &&
	O=sha256:$(sha256sum o | cut -d" " -f1) &&
	cp o "$(blob_file $O)" &&
	start_berthd &&
	test_wait_for 5 eval "test ! -e \"$(blob_file $O)\""
'

test_expect_success 'berthd is still one thread' '
	test "$(berthd_threads)" = 1
'

test_done
