#!/bin/sh
# Test bodies are single-quoted and evaluated later, by the harness.
# shellcheck disable=SC2016,SC2034,SC2317

test_description='the registry fixtures themselves (t/lib/registry.sh)

Registries, test images, the token server and the misbehaving proxies the
pull tests run on, checked with skopeo and curl; no berthd needed.'

test_no_berthd=t
# shellcheck source=t/lib/test-lib.sh
. "$(dirname "$0")/lib/test-lib.sh"
# shellcheck source=t/lib/registry.sh
. "$TEST_DIRECTORY/lib/registry.sh"

test_have_prereq REGISTRY || {
	skip_all='docker-registry, skopeo, umoci, busybox-static... missing (contrib/install-deps.sh installs them)'
	test_done
}

OCI_MANIFEST=application/vnd.oci.image.manifest.v1+json
OCI_INDEX=application/vnd.oci.image.index.v1+json
V2S2_MANIFEST=application/vnd.docker.distribution.manifest.v2+json
V2S2_LIST=application/vnd.docker.distribution.manifest.list.v2+json

# blob_of LAYOUT DIGEST: the file of a blob in an OCI layout.
blob_of () {
	echo "$1/blobs/sha256/${2#sha256:}"
}

test_expect_success 'the busybox image has the two layers the unpack tests need' '
	layout=$(image_layout busybox) &&
	jq -r ".manifests[].annotations[\"org.opencontainers.image.ref.name\"]" \
		"$layout/index.json" | sort >tags &&
	printf "busybox\nmulti\n" >expect &&
	test_cmp expect tags &&
	m=$(jq -r ".manifests[] | select(.annotations[\"org.opencontainers.image.ref.name\"] == \"busybox\") | .digest" \
		"$layout/index.json") &&
	jq -r ".layers[].digest" "$(blob_of "$layout" "$m")" >layers &&
	test_line_count = 2 layers &&
	tar -tvzf "$(blob_of "$layout" "$(sed -n 1p layers)")" >layer1 &&
	tar -tvzf "$(blob_of "$layout" "$(sed -n 2p layers)")" >layer2 &&
	test_grep "^-rwxr-xr-x 0/0 .* bin/busybox$" layer1 &&
	test_grep "^l.* bin/sh -> /bin/busybox$" layer1 &&
	test_grep " etc/passwd$" layer1 &&
	test_grep " etc/group$" layer1 &&
	test_grep " etc/motd$" layer1 &&
	test_grep " opt/old/a$" layer1 &&
	test_grep "^drwxrwxrwt .* tmp/$" layer1 &&
	test_grep " etc/\.wh\.motd$" layer2 &&
	test_grep " opt/old/\.wh\.\.wh\.\.opq$" layer2 &&
	test_grep "^-rwsr-xr-x 0/0 .* usr/local/bin/setuid-tool$" layer2 &&
	test_grep "^l.* usr/share/berth/hello.link -> hello.txt$" layer2 &&
	test_grep "^h.* usr/share/berth/hello.hard link to usr/share/berth/hello.txt$" layer2 &&
	test_grep "^d.* var/empty/$" layer2 &&
	test_grep ! " var/empty/." layer2 &&
	test_grep "^-rw-r----- 1000/1000 .* home/user/owned.txt$" layer2 &&
	c=$(jq -r .config.digest "$(blob_of "$layout" "$m")") &&
	jq -e ".architecture == \"amd64\" and .os == \"linux\" and
		.config.Entrypoint == [\"/bin/busybox\"] and
		.config.Cmd == [\"echo\", \"hello from busybox\"] and
		.config.WorkingDir == \"/home/user\" and .config.User == \"root\" and
		(.config.Env | index([\"IMAGE_PLATFORM=linux/amd64\"]) != null) and
		(.rootfs.diff_ids | length) == 2" "$(blob_of "$layout" "$c")"
'

test_expect_success 'the images are built the same way twice (same digests)' '
	layout=$(image_layout busybox) &&
	registry_build_layout_ multi again >build.log 2>&1 &&
	jq -S .manifests "$layout/index.json" >expect &&
	jq -S .manifests again/index.json >actual &&
	test_cmp expect actual
'

test_expect_success 'start a registry: /v2/ answers 200' '
	start_registry &&
	test -n "$REGISTRY" &&
	test_pid_alive_ "$REGISTRY_PID" &&
	test "$(registry_addr)" = "$REGISTRY" &&
	curl -s -o /dev/null -w "%{http_code}\n" "http://$REGISTRY/v2/" >code &&
	echo 200 >expect &&
	test_cmp expect code
'

test_expect_success 'push an OCI image' '
	push_image test/oci:1 &&
	registry_curl "/v2/test/oci/manifests/1" -H "Accept: $REGISTRY_ACCEPT" >manifest &&
	jq -e ".mediaType == \"$OCI_MANIFEST\" and (.layers | length) == 2" manifest &&
	image_digest test/oci:1 >digest &&
	curl -sI -H "Accept: $OCI_MANIFEST" "http://$REGISTRY/v2/test/oci/manifests/1" |
		tr -d "\r" | sed -n "s/^Docker-Content-Digest: //Ip" >header &&
	test_cmp digest header &&
	image_blobs test/oci:1 >blobs &&
	test_line_count = 3 blobs &&
	jq -r ".config.digest, .layers[].digest" manifest >expect &&
	test_cmp expect blobs &&
	registry_skopeo_ inspect --tls-verify=false "docker://$REGISTRY/test/oci:1" >inspect &&
	jq -e ".Architecture == \"amd64\" and .Os == \"linux\"" inspect &&
	for b in $(cat blobs)
	do
		curl -sf "http://$REGISTRY/v2/test/oci/blobs/$b" | sha256sum >sum &&
		test "sha256:$(cut -d" " -f1 sum)" = "$b" || return 1
	done
'

test_expect_success 'push an OCI index with two platforms' '
	push_image test/multi:1 --from multi &&
	registry_curl "/v2/test/multi/manifests/1" -H "Accept: $REGISTRY_ACCEPT" >index &&
	jq -e ".mediaType == \"$OCI_INDEX\" and (.manifests | length) == 2" index &&
	jq -r ".manifests[].platform | [.os, .architecture, .variant // \"-\"] | join(\"/\")" index >platforms &&
	printf "linux/amd64/-\nlinux/arm64/v8\n" >expect &&
	test_cmp expect platforms &&
	jq -r ".manifests[].digest" index | sort -u >manifests &&
	test_line_count = 2 manifests &&
	image_blobs test/multi:1 >amd64 &&
	image_blobs test/multi:1 --platform linux/arm64/v8 >arm64 &&
	! test "$(sed -n 1p amd64)" = "$(sed -n 1p arm64)" &&
	sed 1d amd64 >expect &&
	sed 1d arm64 >actual &&
	test_cmp expect actual &&
	registry_curl "/v2/test/multi/blobs/$(sed -n 1p arm64)" >config &&
	jq -e ".architecture == \"arm64\" and .variant == \"v8\" and
		(.config.Env | index([\"IMAGE_PLATFORM=linux/arm64/v8\"]) != null)" config &&
	image_blobs test/oci:1 >plain &&
	test_cmp plain amd64
'

test_expect_success 'push Docker schema2 images (manifest and manifest list)' '
	push_image test/v2s2:1 --format v2s2 &&
	registry_curl "/v2/test/v2s2/manifests/1" -H "Accept: $REGISTRY_ACCEPT" >manifest &&
	jq -e ".mediaType == \"$V2S2_MANIFEST\" and
		.config.mediaType == \"application/vnd.docker.container.image.v1+json\" and
		([.layers[].mediaType] | unique) == [\"application/vnd.docker.image.rootfs.diff.tar.gzip\"]" manifest &&
	push_image test/v2s2:multi --from multi --format v2s2 &&
	registry_curl "/v2/test/v2s2/manifests/multi" -H "Accept: $REGISTRY_ACCEPT" >list &&
	jq -e ".mediaType == \"$V2S2_LIST\" and (.manifests | length) == 2 and
		([.manifests[].mediaType] | unique) == [\"$V2S2_MANIFEST\"]" list &&
	echo "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\"" >expect &&
	test_must_fail registry_curl /v2/test/v2s2/manifests/nope >missing &&
	test_grep MANIFEST_UNKNOWN missing
'

test_expect_success HTPASSWD 'a registry with basic auth refuses without credentials' '
	start_registry --name basic --htpasswd alice:wonderland &&
	test "$REGISTRY_CREDS" = alice:wonderland &&
	test "$(registry_addr basic)" = "$REGISTRY" &&
	! test "$(registry_addr)" = "$REGISTRY" &&
	curl -s -D headers -o /dev/null -w "%{http_code}\n" "http://$REGISTRY/v2/" >code &&
	echo 401 >expect &&
	test_cmp expect code &&
	test_grep -i "^www-authenticate: basic realm=\"berth-test\"" headers &&
	test_must_fail push_image test/basic:1 --creds "" 2>err &&
	test_must_fail push_image test/basic:1 --creds alice:wrong 2>err &&
	curl -s -o /dev/null -w "%{http_code}\n" -u alice:wrong "http://$REGISTRY/v2/" >code &&
	test_cmp expect code
'

test_expect_success HTPASSWD 'and works with them' '
	push_image test/basic:1 &&
	curl -sf -u alice:wonderland "http://$REGISTRY/v2/" &&
	registry_skopeo_ inspect --tls-verify=false --creds alice:wonderland \
		"docker://$REGISTRY/test/basic:1" >inspect &&
	jq -e ".Layers | length == 2" inspect &&
	image_blobs test/basic:1 >blobs &&
	test_line_count = 3 blobs
'

test_expect_success 'a token registry answers 401 with a Bearer challenge' '
	start_registry --name tok --token &&
	test "$REGISTRY_CREDS" = tester:s3cret &&
	test -n "$TOKEN_SERVER" &&
	curl -s -D headers -o /dev/null -w "%{http_code}\n" "http://$REGISTRY/v2/" >code &&
	echo 401 >expect &&
	test_cmp expect code &&
	test_grep -i "^www-authenticate: Bearer realm=\"http://$TOKEN_SERVER/token\",service=\"berth-test-tok\"" headers &&
	curl -s -D headers -o /dev/null "http://$REGISTRY/v2/test/tok/manifests/1" &&
	test_grep -i "^www-authenticate: Bearer .*scope=\"repository:test/tok:pull\"" headers &&
	echo 0 >expect &&
	token_requests tok >count &&
	test_cmp expect count
'

test_expect_success 'skopeo pushes and pulls through the token flow' '
	push_image test/tok:1 &&
	registry_skopeo_ inspect --tls-verify=false --creds "$REGISTRY_CREDS" \
		"docker://$REGISTRY/test/tok:1" >inspect &&
	jq -e ".Layers | length == 2" inspect &&
	test "$(token_requests tok)" -gt 0 &&
	test_grep "user=tester scope=repository:test/tok:pull,push status=200" "$TOKEN_LOG" &&
	test_must_fail registry_skopeo_ inspect --tls-verify=false \
		"docker://$REGISTRY/test/tok:1" 2>err &&
	test_must_fail registry_skopeo_ inspect --tls-verify=false --creds tester:wrong \
		"docker://$REGISTRY/test/tok:1" 2>err &&
	test_grep "user=- scope=repository:test/tok:pull status=401" "$TOKEN_LOG"
'

test_expect_success 'the tokens are RS256 JWTs with the access asked for' '
	curl -sf -u tester:s3cret "http://$TOKEN_SERVER/token?service=berth-test-tok&scope=repository:test/tok:pull" >answer &&
	jq -r .token answer >token &&
	python3 -c "
import base64, json
def part(i):
    p = open(\"token\").read().strip().split(\".\")[i]
    return json.loads(base64.urlsafe_b64decode(p + \"=\" * (-len(p) % 4)))
h, c = part(0), part(1)
assert h[\"alg\"] == \"RS256\" and len(h[\"x5c\"]) == 1, h
assert c[\"iss\"] == \"berth-test-token-issuer\", c
assert c[\"aud\"] == \"berth-test-tok\", c
assert c[\"sub\"] == \"tester\", c
assert c[\"access\"] == [{\"type\": \"repository\", \"name\": \"test/tok\", \"actions\": [\"pull\"]}], c
" &&
	curl -sf -H "Authorization: Bearer $(cat token)" \
		"http://$REGISTRY/v2/test/tok/manifests/1" -H "Accept: $REGISTRY_ACCEPT" >manifest &&
	jq -e ".mediaType == \"$OCI_MANIFEST\"" manifest &&
	curl -s -o /dev/null -w "%{http_code}\n" \
		"http://$TOKEN_SERVER/token?service=other&scope=repository:test/tok:pull" -u tester:s3cret >code &&
	echo 400 >expect &&
	test_cmp expect code &&
	curl -sf -d "grant_type=password&username=tester&password=s3cret&service=berth-test-tok&scope=repository:test/tok:pull&client_id=t" \
		"http://$TOKEN_SERVER/token" >oauth &&
	jq -e ".access_token and .refresh_token" oauth
'

test_expect_success 'a token registry with anonymous pull' '
	start_registry --name anon --token --anonymous-pull &&
	push_image test/anon:1 &&
	registry_curl --creds "" /v2/test/anon/manifests/1 -H "Accept: $REGISTRY_ACCEPT" >manifest &&
	jq -e ".mediaType == \"$OCI_MANIFEST\"" manifest &&
	test_must_fail push_image test/anon:2 --creds "" 2>err
'

test_expect_success 'the cutting proxy cuts a blob; curl resumes it with Range' '
	layer=$(image_blobs test/oci:1 --registry "$(registry_addr)" --creds "" | sed -n 2p) &&
	start_proxy cutting --upstream "$(registry_addr)" --after 100000 --digest "$layer" &&
	url="http://$PROXY/v2/test/oci/blobs/$layer" &&
	test_expect_code 18 curl -s -D headers -o blob "$url" &&
	size=$(tr -d "\r" <headers | sed -n "s/^Content-Length: //Ip") &&
	test "$(wc -c <blob)" = 100000 &&
	test "$size" -gt 100000 &&
	curl -sf -C - -o blob "$url" &&
	test "$(wc -c <blob)" = "$size" &&
	echo "$layer" | sed "s/^sha256://" >expect &&
	sha256sum <blob | cut -d" " -f1 >actual &&
	test_cmp expect actual &&
	test_grep "^GET /v2/test/oci/blobs/$layer range=- status=200 sent=100000 cut=100000$" "$PROXY_LOG" &&
	test_grep "^GET /v2/test/oci/blobs/$layer range=bytes=100000- status=206 " "$PROXY_LOG"
'

test_expect_success 'the cutting proxy can stall a blob instead' '
	layer=$(image_blobs test/oci:1 --registry "$(registry_addr)" --creds "" | sed -n 2p) &&
	start_proxy cutting --name stall --upstream "$(registry_addr)" --mode stall --after 1000 &&
	test_expect_code 28 curl -s --max-time 2 -o blob "http://$PROXY/v2/test/oci/blobs/$layer" &&
	test "$(wc -c <blob)" = 1000 &&
	test_grep "stall=1000" "$PROXY_LOG"
'

test_expect_success 'the lying proxy flips a byte of a blob (same size, wrong digest)' '
	layer=$(image_blobs test/oci:1 --registry "$(registry_addr)" --creds "" | sed -n 2p) &&
	start_proxy lying --upstream "$(registry_addr)" --digest "$layer" &&
	curl -sf -o blob "http://$PROXY/v2/test/oci/blobs/$layer" &&
	curl -sf -o good "http://$(registry_addr)/v2/test/oci/blobs/$layer" &&
	test "$(wc -c <blob)" = "$(wc -c <good)" &&
	echo "${layer#sha256:}  blob" >sums &&
	test_must_fail sha256sum -c sums &&
	test_grep "lied=flip" "$PROXY_LOG"
'

test_expect_success 'the lying proxy sends more bytes than the blob has (or says)' '
	layer=$(image_blobs test/oci:1 --registry "$(registry_addr)" --creds "" | sed -n 3p) &&
	start_proxy lying --name extra --upstream "$(registry_addr)" --mode extra --bytes 16 &&
	curl -sf -o blob "http://$PROXY/v2/test/oci/blobs/$layer" &&
	curl -sf -o good "http://$(registry_addr)/v2/test/oci/blobs/$layer" &&
	test "$(wc -c <blob)" = $(($(wc -c <good) + 16)) &&
	start_proxy lying --name overrun --upstream "$(registry_addr)" --mode overrun --bytes 16 &&
	curl -s -D headers -o blob "http://$PROXY/v2/test/oci/blobs/$layer" &&
	tr -d "\r" <headers | sed -n "s/^Content-Length: //Ip" >length &&
	wc -c <good >expect &&
	test_cmp expect length &&
	test_cmp good blob &&
	test_grep "lied=overrun" "$PROXY_LOG"
'

test_expect_success 'the lying proxy serves a manifest that does not match its digest' '
	start_proxy lying --name manifest --upstream "$(registry_addr)" --mode manifest --ref 1 &&
	curl -sf -D headers -o manifest -H "Accept: $REGISTRY_ACCEPT" \
		"http://$PROXY/v2/test/oci/manifests/1" &&
	tr -d "\r" <headers | sed -n "s/^Docker-Content-Digest: //Ip" >header &&
	image_digest test/oci:1 --registry "$(registry_addr)" --creds "" >expect &&
	test_cmp expect header &&
	echo "sha256:$(sha256sum <manifest | cut -d" " -f1)" >actual &&
	! test_cmp expect actual &&
	jq -e ".schemaVersion == 2" manifest
'

test_expect_success 'the hanging server makes clients time out' '
	start_proxy hanging &&
	start=$(date +%s) &&
	test_expect_code 28 curl -s --max-time 2 "http://$PROXY/v2/" &&
	test $(($(date +%s) - start)) -lt 5 &&
	test_grep "^connect$" "$PROXY_LOG" &&
	start_proxy hanging --name midbody --mode headers --after 10 &&
	test_expect_code 28 curl -s --max-time 2 -D headers -o body "http://$PROXY/v2/test/oci/blobs/sha256:x" &&
	test_grep "^HTTP/1.1 200" headers &&
	test "$(wc -c <body)" = 10 &&
	test_grep "^request GET /v2/test/oci/blobs/sha256:x HTTP/1.1$" "$PROXY_LOG"
'

test_expect_success 'the flaky proxy answers 503, then forwards' '
	start_proxy flaky --upstream "$(registry_addr)" --fail 2 --retry-after 1 &&
	for i in 1 2 3
	do
		curl -s -D headers.$i -o body.$i -w "%{http_code}\n" "http://$PROXY/v2/" >>codes || return 1
	done &&
	printf "503\n503\n200\n" >expect &&
	test_cmp expect codes &&
	test_grep -i "^retry-after: 1" headers.1 &&
	jq -e ".errors[0].code == \"UNAVAILABLE\"" body.1 &&
	curl -s -o /dev/null -w "%{http_code}\n" "http://$PROXY/v2/test/oci/tags/list" >code &&
	echo 503 >expect &&
	test_cmp expect code &&
	test_grep "^GET /v2/ range=- status=200 " "$PROXY_LOG" &&
	start_proxy flaky --name reset --upstream "$(registry_addr)" --status 0 &&
	test_must_fail curl -sf "http://$PROXY/v2/" &&
	curl -sf "http://$PROXY/v2/"
'

test_expect_success 'a big image has a random layer of the size asked for' '
	big=$(big_test_image 4) &&
	push_image test/big:4 --from big-4 --registry "$(registry_addr)" --creds "" &&
	image_blobs test/big:4 --registry "$(registry_addr)" --creds "" >blobs &&
	test_line_count = 4 blobs &&
	test "$(sed -n 4p blobs)" = "$big" &&
	curl -sf "http://$(registry_addr)/v2/test/big/blobs/$big" | gzip -dc | wc -c >size &&
	test "$(cat size)" -gt $((4 * 1048576))
'

test_expect_success 'the fixtures stop' '
	pids="$REGISTRY_PID $TOKEN_SERVER_PID $PROXY_PID" &&
	proxy=$PROXY_PID &&
	stop_proxy reset &&
	! test_pid_alive_ "$proxy" &&
	stop_registry tok &&
	test_must_fail registry_addr tok 2>err &&
	test_must_fail stop_registry tok 2>err &&
	stop_fixtures &&
	for p in $pids
	do
		! test_pid_alive_ "$p" || return 1
	done &&
	test_must_fail registry_addr 2>err
'

test_done
