#!/bin/sh

test_description='registry client: manifests, indexes, blobs, limits (t/helpers/remotes-fetch)'

. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/registry.sh"

FETCH=$BERTH_BUILD_DIR/t/helpers/remotes-fetch
test -x "$FETCH" || { skip_all='t/helpers/remotes-fetch is not built'; test_done; }
test_have_prereq REGISTRY || { skip_all='needs docker-registry, skopeo, umoci, busybox'; test_done; }

OCI_MANIFEST=application/vnd.oci.image.manifest.v1+json
OCI_INDEX=application/vnd.oci.image.index.v1+json
DOCKER_V2=application/vnd.docker.distribution.manifest.v2+json
DOCKER_LIST=application/vnd.docker.distribution.manifest.list.v2+json

# check_blobs DIR: every blob line of ./out names a file of DIR whose
# sha256 is its name, and sizes agree.
check_blobs () {
	grep "^blob " out >blob-lines &&
	test -s blob-lines &&
	while read -r _ digest size; do
		f=$1/${digest#sha256:} &&
		test "$(sha256sum <"$f" | cut -d" " -f1)" = "${digest#sha256:}" &&
		test "$(wc -c <"$f")" -eq "$size" || return 1
	done <blob-lines
}

test_expect_success 'setup: a registry with an OCI image, an OCI index and a Docker v2s2 image' '
	start_registry &&
	push_image app:v1 &&
	push_image multi:v1 --from multi &&
	push_image docker:v1 --format v2s2 &&
	push_image dlist:v1 --from multi --format v2s2 &&
	echo "{\"registry_timeout\": 5}" >config.json
'

test_expect_success 'a manifest by tag, over the loopback HTTPS → HTTP fallback' '
	"$FETCH" -c "$PWD/config.json" -l info "$REGISTRY/app:v1" >out 2>err &&
	echo "manifest $OCI_MANIFEST $(image_digest app:v1)" >expect &&
	cut -d" " -f1-3 out | head -n 1 >actual &&
	test_cmp expect actual &&
	test_grep "TLS failed on a loopback registry" err
'

test_expect_success 'a manifest by digest' '
	d=$(image_digest app:v1) &&
	"$FETCH" "$REGISTRY/app@$d" >out &&
	test_grep "^manifest $OCI_MANIFEST $d " out
'

test_expect_success 'plain HTTP per request: no TLS attempt' '
	"$FETCH" --plain-http -l info "$REGISTRY/app:v1" >out 2>err &&
	test_grep "^manifest $OCI_MANIFEST" out &&
	test_grep ! "TLS failed" err
'

test_expect_success 'resolve: HEAD gives the descriptor, then the manifest by digest' '
	d=$(image_digest app:v1) &&
	"$FETCH" --resolve -l debug "$REGISTRY/app:v1" >out 2>err &&
	test_grep "^resolved $OCI_MANIFEST $d [0-9]" out &&
	test_grep "^manifest $OCI_MANIFEST $d " out &&
	test_grep "method=HEAD" err
'

test_expect_success 'an OCI index, and the child for a platform' '
	"$FETCH" --platform linux/arm64/v8 --blobs . "$REGISTRY/multi:v1" >out &&
	test_grep "^manifest $OCI_INDEX $(image_digest multi:v1) " out &&
	test_grep "^child $OCI_MANIFEST sha256:" out &&
	image_blobs multi:v1 --platform linux/arm64/v8 >want &&
	grep "^blob " out | cut -d" " -f2 | sort >got &&
	sort want >want.sorted &&
	test_cmp want.sorted got &&
	check_blobs .
'

test_expect_success 'a Docker schema2 image and manifest list' '
	"$FETCH" "$REGISTRY/docker:v1" >out &&
	test_grep "^manifest $DOCKER_V2 $(image_digest docker:v1) " out &&
	"$FETCH" --platform linux/amd64 "$REGISTRY/dlist:v1" >out &&
	test_grep "^manifest $DOCKER_LIST " out &&
	test_grep "^child $DOCKER_V2 " out
'

test_expect_success 'blobs: config and layers written and verified' '
	mkdir blobs &&
	"$FETCH" --blobs blobs "$REGISTRY/app:v1" >out &&
	test "$(grep -c "^blob " out)" = 3 &&
	image_blobs app:v1 | sort >want &&
	grep "^blob " out | cut -d" " -f2 | sort >got &&
	test_cmp want got &&
	check_blobs blobs
'

test_expect_success 'a blob already partly there is resumed with Range' '
	mkdir partial &&
	layer=$(image_blobs app:v1 | sed -n 2p) &&
	cp "blobs/${layer#sha256:}" full &&
	size=$(wc -c <full) &&
	head -c $((size / 3)) full >"partial/${layer#sha256:}" &&
	"$FETCH" --only-blobs --blobs partial --blob "$layer:$size" "$REGISTRY/app:v1" >out &&
	test_grep "^resume $layer $((size / 3))$" out &&
	test_grep "^blob $layer $size$" out &&
	test_cmp full "partial/${layer#sha256:}"
'

test_expect_success 'backpressure: a sink that pauses after every write' '
	mkdir paused &&
	"$FETCH" --pause --blobs paused "$REGISTRY/app:v1" >out &&
	test "$(grep -c "^blob " out)" = 3 &&
	check_blobs paused
'

test_expect_success 'a missing tag is not_found, naming the reference' '
	test_expect_code 1 "$FETCH" "$REGISTRY/app:nope" >out &&
	test_grep "^error not_found manifest .$REGISTRY/app:nope. not found" out
'

test_expect_success 'a missing repository and a missing blob are not_found' '
	test_expect_code 1 "$FETCH" "$REGISTRY/nothing/here:v1" >out &&
	test_grep "^error not_found" out &&
	mkdir missing &&
	test_expect_code 1 "$FETCH" --only-blobs --blobs missing \
		--blob sha256:0000000000000000000000000000000000000000000000000000000000000000:10 \
		"$REGISTRY/app:v1" >out &&
	test_grep "^error not_found blob .sha256:0000" out
'

test_expect_success 'a bad digest is invalid_argument before any request' '
	mkdir bad &&
	test_expect_code 1 "$FETCH" --only-blobs --blobs bad --blob md5:abc:1 "$REGISTRY/app:v1" >out &&
	test_grep "^error invalid_argument" out
'

test_expect_success 'many blobs at once respect max_concurrent_downloads' '
	big=$(big_test_image 8) &&
	push_image big:v1 --from big-8 &&
	echo "{\"max_concurrent_downloads\": 2}" >limit.json &&
	mkdir many &&
	"$FETCH" -c "$PWD/limit.json" --pause --blobs many "$REGISTRY/big:v1" >out &&
	test_grep "^max_active 2$" out &&
	test "$(grep -c "^blob " out)" = 4 &&
	check_blobs many &&
	echo "{\"max_concurrent_downloads\": 1}" >one.json &&
	mkdir one &&
	"$FETCH" -c "$PWD/one.json" --blobs one "$REGISTRY/big:v1" >out &&
	test_grep "^max_active 1$" out &&
	check_blobs one
'

test_expect_success 'cancel and shutdown with transfers in flight (no leak, no callback)' '
	mkdir cancel abandon &&
	echo "{\"max_concurrent_downloads\": 1}" >one.json &&
	big_layer=$(image_blobs big:v1 | tail -n 1) &&
	big_size=$(wc -c <"many/${big_layer#sha256:}") &&
	set -- --only-blobs --blob "$big_layer:$big_size" &&
	for b in $(image_blobs big:v1 | sed \$d); do
		set -- "$@" --blob "$b:$(wc -c <"many/${b#sha256:}")" || return 1
	done &&
	"$FETCH" -c "$PWD/one.json" --cancel-at 1048576 --blobs cancel "$@" "$REGISTRY/big:v1" >out &&
	test_grep "^cancelled" out &&
	test_grep ! "^error" out &&
	test_grep ! "^blob" out &&
	"$FETCH" -c "$PWD/one.json" --abandon-at 1048576 --blobs abandon "$@" "$REGISTRY/big:v1" >out &&
	test_grep "^abandoned active=1 queued=3" out &&
	test_grep ! "^blob" out
'

test_expect_success 'mirrors are tried in order before the registry' '
	start_registry --name empty &&
	REGISTRY=$(registry_addr registry) &&
	cat >hosts.json <<-EOF &&
	{"hosts": {
	  "mirrored.invalid": {"mirrors": ["http://127.0.0.1:1", "http://$(registry_addr empty)", "http://$REGISTRY"]}
	}}
	EOF
	echo "{\"registries\": \"$PWD/hosts.json\", \"registry_retries\": 0}" >mirrors.json &&
	"$FETCH" -c "$PWD/mirrors.json" -l info "mirrored.invalid/app:v1" >out 2>err &&
	test_grep "^manifest $OCI_MANIFEST $(image_digest app:v1)" out &&
	test_grep "trying the next.*host=127.0.0.1:1 " err &&
	test_grep "trying the next.*host=$(registry_addr empty) " err
'

test_expect_success 'a directory of host files; a bad one is an error naming it' '
	mkdir hosts.d &&
	cat >hosts.d/10-local.json <<-EOF &&
	{"hosts": {"$REGISTRY": {"plain_http": true}}}
	EOF
	echo "{\"registries\": \"$PWD/hosts.d\"}" >dir.json &&
	"$FETCH" -c "$PWD/dir.json" -l info "$REGISTRY/app:v1" >out 2>err &&
	test_grep "^manifest" out &&
	test_grep ! "TLS failed" err &&
	echo "{\"hosts\": {\"x\": {\"mirrors\": \"nope\"}}}" >hosts.d/20-bad.json &&
	test_expect_code 1 "$FETCH" -c "$PWD/dir.json" "$REGISTRY/app:v1" >out &&
	test_grep "^error invalid_argument .*20-bad.json.*mirrors" out
'

test_expect_success 'contrib/registries.example.json is valid' '
	echo "{\"registries\": \"$SRCDIR/contrib/registries.example.json\"}" >example.json &&
	"$FETCH" -c "$PWD/example.json" --plain-http "$REGISTRY/app:v1" >out &&
	test_grep "^manifest" out
'

# A fake registry from static files: python's http.server answers any GET of
# an existing file with 200 (and a guessed Content-Type).
test_expect_success 'schema1 is not_implemented; a manifest over 4 MiB is invalid_argument' '
	mkdir -p fake/v2/old/manifests fake/v2/huge/manifests &&
	echo "{\"schemaVersion\": 1, \"name\": \"old\", \"tag\": \"v1\", \"fsLayers\": []}" \
		>fake/v2/old/manifests/v1 &&
	{
		printf "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"pad\":\"" "$OCI_MANIFEST" &&
		head -c 5000000 /dev/zero | tr "\0" a &&
		printf "\"}"
	} >fake/v2/huge/manifests/v1 &&
	port=$(python3 -c "import socket; s=socket.socket(); s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])") &&
	{ python3 -m http.server --bind 127.0.0.1 --directory fake "$port" >fake.log 2>&1 & } &&
	fake_pid=$! &&
	test_when_finished "kill $fake_pid" &&
	test_wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$port/v2/old/manifests/v1" &&
	test_expect_code 1 "$FETCH" --plain-http "127.0.0.1:$port/old:v1" >out &&
	test_grep "^error not_implemented .*schema1 manifests are not supported" out &&
	test_expect_code 1 "$FETCH" --plain-http "127.0.0.1:$port/huge:v1" >out &&
	test_grep "^error invalid_argument manifest .* is larger than 4194304 bytes" out
'

test_expect_success 'berthd: the registry plugin is ok' '
	start_berthd &&
	api GET /v1/plugins &&
	jq -e ".plugins[] | select(.type == \"io.berth.remotes.v1\" and .id == \"registry\") | .status == \"ok\"" out &&
	stop_berthd
'

test_expect_success 'berthd: bad registry settings stop it at start-up (exit 2)' '
	echo "{\"hosts\": []}" >bad-hosts.json &&
	echo "{\"registries\": \"$PWD/bad-hosts.json\"}" >config.json &&
	test_expect_code 2 "$BERTHD" --root "$PWD/root2" --state "$PWD/state2" \
		--socket "$PWD/state2/s.sock" --config "$PWD/config.json" 2>err &&
	test_grep "bad-hosts.json.*hosts. must be an object" err &&
	rm config.json
'

test_expect_success 'stop the registries' '
	stop_fixtures
'

test_done
