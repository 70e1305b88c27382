#!/bin/sh

test_description='registry client: timeouts, cut transfers, retries, lying registries'

. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/registry.sh"

FETCH=$BERTH_BUILD_DIR/t/helpers/remotes-fetch
test -x "$FETCH" || { skip_all='t/helpers/remotes-fetch is not built'; test_done; }
test_have_prereq REGISTRY || { skip_all='needs docker-registry, skopeo, umoci, busybox'; test_done; }

# blob_args IMAGE DIR: --blob DIGEST:SIZE for each blob of IMAGE, sizes
# from the files in DIR (a fetched copy).
blob_args () {
	for b in $(image_blobs "$1"); do
		printf -- "--blob %s:%s " "$b" "$(wc -c <"$2/${b#sha256:}")" || return 1
	done
}

# check_blobs DIR: each "blob" line of ./out names a file of DIR with that
# sha256 and size.
check_blobs () {
	grep "^blob " out >blob-lines &&
	test -s blob-lines &&
	while read -r _ digest size; do
		f=$1/${digest#sha256:} &&
		test "$(sha256sum <"$f" | cut -d" " -f1)" = "${digest#sha256:}" &&
		test "$(wc -c <"$f")" -eq "$size" || return 1
	done <blob-lines
}

test_expect_success 'setup: a registry, a small and a big image, reference copies' '
	start_registry &&
	push_image app:v1 &&
	big_test_image 4 >/dev/null &&
	push_image big:v1 --from big-4 &&
	mkdir ref &&
	"$FETCH" --plain-http --blobs ref "$REGISTRY/big:v1" >out &&
	check_blobs ref &&
	big=$(image_blobs big:v1 | tail -n 1) &&
	big_size=$(wc -c <"ref/${big#sha256:}") &&
	echo "{\"registry_timeout\": 1, \"registry_retries\": 0}" >fast.json &&
	echo "{\"registry_timeout\": 1, \"registry_retries\": 2}" >retry.json
'

test_expect_success 'a registry that accepts connections and never answers: timeout, no hang' '
	start_proxy hanging --name silent --mode accept &&
	start=$(date +%s) &&
	test_expect_code 1 "$FETCH" -c "$PWD/fast.json" --plain-http "$PROXY/app:v1" >out &&
	end=$(date +%s) &&
	test_grep "^error unavailable .*$PROXY.: timeout" out &&
	test $((end - start)) -le 4
'

test_expect_success 'the same over the loopback HTTPS attempt (a TLS handshake that never ends)' '
	start=$(date +%s) &&
	test_expect_code 1 "$FETCH" -c "$PWD/fast.json" "$PROXY/app:v1" >out &&
	end=$(date +%s) &&
	test_grep "^error unavailable .*timeout" out &&
	test $((end - start)) -le 4
'

test_expect_success 'a blob transfer that stalls halfway times out' '
	start_proxy hanging --name stall --mode headers --length 1000000 --after 1000 &&
	mkdir stalled &&
	start=$(date +%s) &&
	test_expect_code 1 "$FETCH" -c "$PWD/fast.json" --plain-http --only-blobs --blobs stalled \
		--blob "$big:1000000" "$PROXY/big:v1" >out &&
	end=$(date +%s) &&
	test_grep "^error unavailable .*timeout" out &&
	test $((end - start)) -le 4
'

test_expect_success 'a transfer cut halfway resumes with Range and verifies' '
	start_proxy cutting --name cut --digest "$big" --after 50% &&
	mkdir cut &&
	"$FETCH" --plain-http -l info --only-blobs --blobs cut --blob "$big:$big_size" \
		"$PROXY/big:v1" >out 2>err &&
	test_grep "^resume $big [1-9]" out &&
	test_grep "^blob $big $big_size$" out &&
	test_cmp "ref/${big#sha256:}" "cut/${big#sha256:}" &&
	grep "blobs/$big" "$PROXY_LOG" >requests &&
	test_line_count = 2 requests &&
	test_grep "range=- status=200 .*cut=" requests &&
	test_grep "range=bytes=[1-9][0-9]*- status=206" requests
'

test_expect_success 'a transfer that stalls halfway times out, then resumes with Range' '
	start_proxy cutting --name stallcut --digest "$big" --after 40% --mode stall &&
	mkdir stallcut &&
	"$FETCH" -c "$PWD/retry.json" --plain-http --only-blobs --blobs stallcut \
		--blob "$big:$big_size" "$PROXY/big:v1" >out &&
	test_grep "^resume $big [1-9]" out &&
	test_grep "^blob $big $big_size$" out &&
	test_grep "range=bytes=[1-9][0-9]*- status=206" "$PROXY_LOG"
'

test_expect_success 'a whole image through a proxy that cuts six blob transfers' '
	start_proxy cutting --name cutall --count 6 --after 50% &&
	mkdir cutall &&
	echo "{\"registry_retries\": 5}" >five.json &&
	"$FETCH" -c "$PWD/five.json" --plain-http --blobs cutall "$PROXY/big:v1" >out &&
	test "$(grep -c "^resume " out)" -ge 4 &&
	test "$(grep -c "^blob " out)" = 4 &&
	check_blobs cutall
'

test_expect_success '503 twice, then the blob: retried with backoff' '
	start_proxy flaky --name flaky2 --fail 2 --status 503 --match /blobs/ &&
	mkdir flaky2 &&
	"$FETCH" -c "$PWD/retry.json" --plain-http -l info --blobs flaky2 "$PROXY/app:v1" >out 2>err &&
	test "$(grep -c "^blob " out)" = 3 &&
	check_blobs flaky2 &&
	test "$(grep -c "flaky" "$PROXY_LOG")" = 6 &&
	test_grep "retrying.*retry=2" err
'

test_expect_success 'retries are bounded: unavailable after registry_retries' '
	start_proxy flaky --name flaky9 --fail 9 --status 500 --match /manifests/ &&
	test_expect_code 1 "$FETCH" -c "$PWD/retry.json" --plain-http "$PROXY/app:v1" >out &&
	test_grep "^error unavailable after 2 retries: manifest .* answered 500" out &&
	test "$(grep -c "flaky" "$PROXY_LOG")" = 3
'

test_expect_success 'a connection closed without an answer is retried' '
	start_proxy flaky --name closer --fail 1 --status 0 &&
	"$FETCH" -c "$PWD/retry.json" --plain-http "$PROXY/app:v1" >out &&
	test_grep "^manifest " out
'

test_expect_success '429 with Retry-After is honoured' '
	start_proxy flaky --name busy --fail 1 --status 429 --retry-after 1 --match /manifests/ &&
	start=$(date +%s%N) &&
	"$FETCH" -c "$PWD/retry.json" --plain-http "$PROXY/app:v1" >out &&
	end=$(date +%s%N) &&
	test_grep "^manifest " out &&
	test $(((end - start) / 1000000)) -ge 900
'

test_expect_success 'a 4xx other than 401/408/429 fails at once' '
	start_proxy flaky --name gone --fail 9 --status 400 --match /manifests/ &&
	test_expect_code 1 "$FETCH" -c "$PWD/retry.json" --plain-http "$PROXY/app:v1" >out &&
	test_grep "^error invalid_argument manifest .* answered 400" out &&
	test "$(grep -c "flaky" "$PROXY_LOG")" = 1
'

test_expect_success 'a blob larger than its descriptor is refused' '
	start_proxy lying --name extra --mode extra --digest "$big" &&
	mkdir extra &&
	test_expect_code 1 "$FETCH" --plain-http --only-blobs --blobs extra --blob "$big:$big_size" \
		"$PROXY/big:v1" >out &&
	test_grep "^error invalid_argument blob .$big.: the registry announced $((big_size + 16)) bytes" out
'

test_expect_success 'bytes past Content-Length are not taken' '
	start_proxy lying --name overrun --mode overrun --digest "$big" &&
	mkdir overrun &&
	"$FETCH" --plain-http --only-blobs --blobs overrun --blob "$big:$big_size" \
		"$PROXY/big:v1" >out &&
	test_grep "^blob $big $big_size$" out
'

test_expect_success 'a flipped byte is caught by whoever verifies the sink (same size)' '
	start_proxy lying --name flip --mode flip --digest "$big" &&
	mkdir flip &&
	test_expect_code 1 "$FETCH" --plain-http --only-blobs --blobs flip --blob "$big:$big_size" \
		"$PROXY/big:v1" >out &&
	test_grep "^error invalid_argument blob $big: wrote $big_size bytes of digest" out
'

test_expect_success 'a manifest whose bytes do not match Docker-Content-Digest or the digest asked' '
	start_proxy lying --name mlie --mode manifest &&
	test_expect_code 1 "$FETCH" --plain-http "$PROXY/app:v1" >out &&
	test_grep "^error invalid_argument manifest .*Docker-Content-Digest .* does not match the bytes" out &&
	d=$(image_digest app:v1) &&
	test_expect_code 1 "$FETCH" --plain-http "$PROXY/app@$d" >out &&
	test_grep "^error invalid_argument manifest .*the registry sent bytes of digest" out
'

test_expect_success 'stop the fixtures' '
	stop_fixtures
'

test_done
