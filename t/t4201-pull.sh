#!/bin/sh
test_description='POST /images/pull end to end: formats, platforms, auth, resume, lies, timeouts, dedupe, crashes, gc'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/registry.sh"

test_have_prereq REGISTRY || {
	skip_all='needs docker-registry, skopeo, umoci, busybox-static (see t/lib/registry.sh)'
	test_done
}

NS=/v1/namespaces/default

has_blob() {
	api GET "$NS/content/$1" && test "$(cat status)" = 200
}

blob_file() {
	echo "$TRASH/root/content/blobs/sha256/${1#sha256:}"
}

test_expect_success 'registry with test images; berthd' '
	start_registry &&
	R0=$REGISTRY &&
	push_image test/busybox &&
	push_image test/multi --from multi &&
	push_image test/docker --format v2s2 &&
	push_image test/big --from big-8 &&
	echo "{\"registry_timeout\": 2, \"registry_retries\": 2, \"gc_delay\": 0.2}" >config.json &&
	start_berthd
'

test_expect_success 'pull an OCI image: progress lines, image recorded, blobs verified' '
	pull_ok "$R0/test/busybox" "\"plain_http\":true" &&
	head -n1 out | jq -e ".status == \"resolving\" and .ref == \"$R0/test/busybox:latest\"" &&
	digest=$(image_digest test/busybox) &&
	grep "\"status\":\"resolved\",\"digest\":\"$digest\"" out &&
	jq -e ".image.name == \"$R0/test/busybox:latest\" and .image.target.digest == \"$digest\" and
		.image.target.mediaType == \"application/vnd.oci.image.manifest.v1+json\"" last &&
	image_blobs test/busybox >blobs &&
	cp out progress &&
	for b in $(cat blobs); do
		grep "\"status\":\"done\",\"digest\":\"$b\"" progress &&
		has_blob $b &&
		echo "${b#sha256:}  $(blob_file $b)" | sha256sum -c - >/dev/null || return 1
	done &&
	has_blob $digest &&
	api GET "$NS/content/$digest" &&
	jq -e ".labels[\"containerd.io/gc.ref.content.config\"] == \"$(head -n1 blobs)\"" out &&
	jq -e ".labels[\"containerd.io/gc.ref.content.l.1\"] == \"$(tail -n1 blobs)\"" out
'

# The deletion schedules a collection (gc_delay) that may run before the
# pull gets its lease: another image holds the blobs meanwhile, so that each
# one is found in the store whenever the collection runs.
test_expect_success 'a registry on loopback is reached over plain HTTP without asking' '
	api GET "$NS/images/$R0%2Ftest%2Fbusybox%3Alatest" &&
	jq -c "{target: .target}" out >hold &&
	api PUT "$NS/images/hold%2Fbusybox%3Alatest" -d @hold && test "$(cat status)" = 201 &&
	api DELETE "$NS/images/$R0%2Ftest%2Fbusybox%3Alatest" && test "$(cat status)" = 204 &&
	pull_ok "$R0/test/busybox:latest" &&
	for b in $(cat blobs); do
		grep "\"status\":\"exists\",\"digest\":\"$b\"" out || return 1
	done &&
	! grep "\"status\":\"downloading\"" out &&
	api DELETE "$NS/images/hold%2Fbusybox%3Alatest" && test "$(cat status)" = 204
'

test_expect_success 'the lease of a pull is gone when it ends; its content is referenced by the image' '
	api GET $NS/leases && jq -e ".leases == []" out &&
	api POST /v1/gc && jq -e ".removed.content == 0" out &&
	for b in $(cat blobs); do has_blob $b || return 1; done
'

test_expect_success 'an OCI index: the host platform, or the one asked for' '
	pull_ok "$R0/test/multi" &&
	grep "\"status\":\"platform\",\"platform\":\"linux/amd64\"" out &&
	amd=$(jq -r ".image.target.digest" last) &&
	test "$amd" = "$(image_digest test/multi)" &&
	image_blobs test/multi --platform linux/arm64/v8 >arm &&
	pull_ok "$R0/test/multi:latest" "\"platform\":\"linux/arm64/v8\"" &&
	grep "\"status\":\"platform\",\"platform\":\"linux/arm64\"" out &&
	has_blob "$(head -n1 arm)" &&
	api GET "$NS/content/$amd" &&
	jq -e ".labels | to_entries | map(select(.key | startswith(\"containerd.io/gc.ref.content.m.\"))) | length >= 1" out
'

test_expect_success 'an index without the platform: not_found' '
	pull_err not_found "$R0/test/multi" "\"platform\":\"linux/s390x\"" &&
	grep "s390x" last
'

test_expect_success 'Docker schema2 media types' '
	pull_ok "$R0/test/docker" &&
	jq -e ".image.target.mediaType == \"application/vnd.docker.distribution.manifest.v2+json\"" last
'

test_expect_success 'a missing tag: not_found, nothing recorded' '
	pull_err not_found "$R0/test/busybox:nope" &&
	api GET "$NS/images/$R0%2Ftest%2Fbusybox%3Anope" && test "$(cat status)" = 404
'

test_expect_success 'bad requests are ordinary 400 answers' '
	api POST $NS/images/pull -d "{\"ref\":\"Bad Ref\"}" && test "$(cat status)" = 400 &&
	api POST $NS/images/pull -d "{}" && test "$(cat status)" = 400 &&
	api POST $NS/images/pull -d "{\"ref\":\"x\",\"platform\":\"a/b/c/d\"}" && test "$(cat status)" = 400 &&
	api POST $NS/images/pull -d "{\"ref\":\"x\",\"auth\":{\"username\":\"u\"}}" && test "$(cat status)" = 400 &&
	api POST $NS/images/pull -d "{\"ref\":\"x\",\"bogus\":1}" && test "$(cat status)" = 400 &&
	api POST $NS/images/pull -d "{\"ref\":\"x\",\"unpack\":1}" && test "$(cat status)" = 400 &&
	api POST $NS/images/pull -d "{\"ref\":\"x\",\"snapshotter\":\"nosuch\"}" && test "$(cat status)" = 400 &&
	jq -e ".error.message | test(\"nosuch\")" out
'

test_expect_success 'SSE progress with Accept: text/event-stream' '
	curl -s -N --unix-socket "$BERTH_SOCK" -H "Accept: text/event-stream" -D h \
		-X POST "http://berth$NS/images/pull" -d "{\"ref\":\"$R0/test/busybox\"}" >sse &&
	grep -i "^content-type: text/event-stream" h &&
	grep "^data: {\"status\":\"resolving\"" sse &&
	grep "^data: {\"status\":\"done\"" sse
'

test_expect_success 'basic auth: per-pull credentials, wrong ones refused' '
	start_registry --name auth --htpasswd alice:wonder &&
	push_image test/busybox --registry "$(registry_addr auth)" --creds alice:wonder &&
	A=$(registry_addr auth) &&
	pull_err unauthenticated "$A/test/busybox" &&
	pull_err unauthenticated "$A/test/busybox" "\"auth\":{\"username\":\"alice\",\"password\":\"nope\"}" &&
	REGISTRY=$R0 &&
	pull_ok "$A/test/busybox" "\"auth\":{\"username\":\"alice\",\"password\":\"wonder\"}" &&
	! grep -e wonder -e "YWxpY2U6d29uZGVy" "$TRASH/berthd.log"
'

test_expect_success 'the token flow' '
	start_registry --name tok --token --creds bob:builder &&
	push_image test/busybox --registry "$(registry_addr tok)" --creds bob:builder &&
	T=$(registry_addr tok) &&
	REGISTRY=$R0 &&
	n0=$(token_requests tok) &&
	pull_ok "$T/test/busybox" "\"auth\":{\"username\":\"bob\",\"password\":\"builder\"}" &&
	test "$(token_requests tok)" -gt "$n0" &&
	pull_err unauthenticated "$T/test/busybox:latest" "\"auth\":{\"username\":\"bob\",\"password\":\"x\"}" &&
	! grep builder "$TRASH/berthd.log"
'

test_expect_success 'a transfer cut halfway resumes with Range and verifies' '
	big=$(image_blobs test/big | tail -n1) &&
	start_proxy cutting --name cut --upstream "$R0" --digest "$big" --after 50% &&
	pull_ok "$(proxy_addr cut)/test/big" &&
	grep "range=bytes=[1-9][0-9]*-" "$PROXY_LOG" &&
	echo "${big#sha256:}  $(blob_file $big)" | sha256sum -c -
'

test_expect_success 'a blob whose bytes do not match its digest: error, nothing committed' '
	push_image test/lie --from big-3 &&
	lay=$(image_blobs test/lie | tail -n1) &&
	! has_blob $lay &&
	start_proxy lying --name liar --upstream "$R0" --mode flip --digest "$lay" --count 100 &&
	pull_err invalid_argument "$(proxy_addr liar)/test/lie" &&
	grep "$lay" last &&
	! has_blob $lay &&
	api GET "$NS/content/ingests" && ! grep "$lay" out &&
	test_path_is_missing "$(blob_file $lay)" &&
	api GET "$NS/images/$(proxy_addr liar)%2Ftest%2Flie%3Alatest" && test "$(cat status)" = 404
'

test_expect_success 'a registry that stops answering: an unavailable error in bounded time' '
	start_proxy hanging --name hang --mode accept &&
	start=$(date +%s) &&
	pull_err unavailable "$(proxy_addr hang)/test/busybox" &&
	test $(($(date +%s) - start)) -lt 20 &&
	api GET /v1/version && test "$(cat status)" = 200
'

test_expect_success 'concurrent pulls of one image fetch each blob once' '
	api DELETE "$NS/images/$R0%2Ftest%2Fbig%3Alatest?sync=true" &&
	api DELETE "$NS/images/$(proxy_addr cut)%2Ftest%2Fbig%3Alatest?sync=true" &&
	! has_blob $big &&
	start_proxy cutting --name count --upstream "$R0" --digest sha256:0000000000000000000000000000000000000000000000000000000000000000 &&
	P=$(proxy_addr count) &&
	pids= &&
	for i in 1 2 3; do
		{ curl -s --unix-socket "$BERTH_SOCK" -X POST "http://berth$NS/images/pull" \
			-d "{\"ref\":\"$P/test/big\"}" >p$i & } &&
		pids="$pids $!" || return 1
	done &&
	for p in $pids; do wait $p || return 1; done &&
	for i in 1 2 3; do tail -n1 p$i | jq -e ".status == \"done\"" || return 1; done &&
	test $(grep -c "GET /v2/test/big/blobs/$big" "$REGISTRY_FIXTURES/proxy-count/requests.log") = 1
'

# What the killed pull committed (its manifest and config) is held by nothing
# once its lease is dropped at start, so the start-up collection removes it,
# rightly, and would race the listing and hashing of every blob below: the
# restart runs with a long gc_delay, and the collection is asked for once the
# check is done (the resumed pull then fetches those blobs again).
test_expect_success 'kill -9 during a pull: no corrupt blob, no dangling image; the pull can be repeated' '
	api DELETE "$NS/images/$(proxy_addr count)%2Ftest%2Fbig%3Alatest?sync=true" &&
	api DELETE "$NS/images/$R0%2Ftest%2Fbig%3Alatest?sync=true" &&
	start_proxy cutting --name slow --upstream "$R0" --digest "$big" --mode stall --stall 30 --after 60% &&
	S=$(proxy_addr slow) &&
	{ curl -s -N --unix-socket "$BERTH_SOCK" -X POST "http://berth$NS/images/pull" \
		-d "{\"ref\":\"$S/test/big\"}" >killed & } &&
	test_wait_for 10 grep -q "$big" killed &&
	sleep 0.5 &&
	kill_berthd &&
	cp config.json config.saved &&
	echo "{\"registry_timeout\": 2, \"registry_retries\": 2, \"gc_delay\": 3600}" >config.json &&
	start_berthd &&
	mv config.saved config.json &&
	api GET "$NS/images/$S%2Ftest%2Fbig%3Alatest" && test "$(cat status)" = 404 &&
	api GET "$NS/content" &&
	jq -r ".blobs[].digest" out >present &&
	grep "^$(image_digest test/big)$" present &&
	for d in $(cat present); do
		echo "${d#sha256:}  $(blob_file $d)" | sha256sum -c - >/dev/null || return 1
	done &&
	api GET "$NS/content/ingests" && jq -e "[.ingests[].ref] | index(\"layer-$big\") != null" out &&
	api GET "$NS/leases" && jq -e ".leases == []" out &&
	api POST /v1/gc && jq -e ".removed.content >= 1" out &&
	pull_ok "$R0/test/big" &&
	grep "\"status\":\"resuming\",\"digest\":\"$big\",\"offset\":[1-9]" out &&
	echo "${big#sha256:}  $(blob_file $big)" | sha256sum -c - &&
	api POST /v1/gc &&
	for b in $(image_blobs test/big); do
		has_blob $b &&
		echo "${b#sha256:}  $(blob_file $b)" | sha256sum -c - >/dev/null || return 1
	done
'

test_expect_success 'gc removes exactly the blobs no image references' '
	api POST /v1/gc &&
	image_blobs test/busybox >keep &&
	image_blobs test/big >>keep &&
	api DELETE "$NS/images/$R0%2Ftest%2Fbig%3Alatest?sync=true" &&
	for b in $(image_blobs test/busybox); do has_blob $b || return 1; done &&
	! has_blob $big &&
	test_path_is_missing "$(blob_file $big)"
'

test_expect_success 'pull events; berthd stayed one thread' '
	pull_err not_found "$R0/test/busybox:missing" &&
	{ curl -s -N --unix-socket "$BERTH_SOCK" "http://berth/v1/events?since=0&topic=/images/" \
		--max-time 1 >ev || :; } &&
	grep "^event: /images/pull" ev &&
	grep "\"status\":\"done\"" ev &&
	grep "\"status\":\"error\"" ev &&
	test "$(berthd_threads)" = 1
'

test_done
