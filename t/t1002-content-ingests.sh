#!/bin/sh
test_description='content ingests: resumable writes with Content-Range across restarts and crashes, commit, abort, expiry'
. "$(dirname "$0")/lib/test-lib.sh"

C=/v1/namespaces/default/content
I=$C/ingests

want () {
	if test "$(cat status)" != "$1"; then
		echo "status $(cat status), want $1; body:" && head -c 2000 out && echo
		return 1
	fi
	test -z "$2" || jq -e --arg c "$2" '.error.code == $c' out >/dev/null || {
		echo "want error code $2; body:" && cat out
		return 1
	}
}

digest_of () {
	echo "sha256:$(sha256sum "$1" | cut -d" " -f1)"
}

header () {
	tr -d "\r" <headers | sed -n "s/^$1: //Ip" | tail -n 1
}

# put_range REF START END TOTAL FILE: PUT bytes START..END (inclusive) of FILE
put_range () {
	tail -c +$(($2 + 1)) "$5" | head -c $(($3 - $2 + 1)) >chunk &&
	api PUT "$I/$1" -H "Content-Range: bytes $2-$3/$4" --data-binary @chunk
}

# offset_of REF: the ingest's offset as listed
offset_of () {
	api GET "$I/$1" >/dev/null && test "$(cat status)" = 200 && jq -r .offset out
}

# The blobs here are referenced by no image and no lease: keep the garbage
# collector (t2003) from taking them while this script looks at them.
NOGC='"gc_delay": 3600'

test_expect_success 'start berthd' '
	echo "{$NOGC}" >config.json &&
	start_berthd
'

test_expect_success 'resumable ingest, chunk 1 of 3: 201 with its status and Upload-Offset' '
	head -c 3000000 /dev/urandom >three &&
	d=$(digest_of three) && echo "$d" >three.digest &&
	put_range layer-1 0 999999 3000000 three && want 201 &&
	jq -e --arg d "$d" ".ref == \"layer-1\" and .offset == 1000000 and .total == 3000000 and
		(has(\"expected\") | not)" out &&
	test "$(header Upload-Offset)" = 1000000 &&
	api GET $I && want 200 &&
	jq -e "[.ingests[] | {ref, offset}] == [{\"ref\":\"layer-1\",\"offset\":1000000}]" out
'

test_expect_success 'the ingest survives a clean restart; chunk 2' '
	stop_berthd &&
	start_berthd &&
	test "$(offset_of layer-1)" = 1000000 &&
	test "$(header Upload-Offset)" = 1000000 &&
	put_range layer-1 1000000 1999999 3000000 three && want 200 &&
	jq -e ".offset == 2000000" out
'

test_expect_success 'and a crash (kill -9); chunk 3, then commit: the blob reads back identical' '
	kill_berthd &&
	start_berthd &&
	test "$(offset_of layer-1)" = 2000000 &&
	put_range layer-1 2000000 2999999 3000000 three && want 200 &&
	jq -e ".offset == 3000000" out &&
	d=$(cat three.digest) &&
	api GET "$C/$d" && want 404 not_found &&
	api POST "$I/layer-1/commit" -d "{\"digest\":\"$d\",\"size\":3000000,\"labels\":{\"l\":\"1\"}}" &&
	want 201 &&
	jq -e --arg d "$d" ".digest == \$d and .size == 3000000 and .labels == {\"l\":\"1\"}" out &&
	api GET "$C/$d/data" && want 200 && cmp three out &&
	api GET $I && want 200 && jq -e ".ingests == []" out &&
	api GET "$I/layer-1" && want 404 not_found &&
	test -z "$(ls root/content/ingest)"
'

test_expect_success 'a write that does not start at the offset: 416 naming the offset' '
	printf 0123456789 >ten &&
	api PUT "$I/w" -H "Content-Range: bytes 0-9/20" --data-binary @ten && want 201 &&
	api PUT "$I/w" -H "Content-Range: bytes 5-14/20" --data-binary @ten &&
	want 416 invalid_argument &&
	test "$(header Upload-Offset)" = 10 &&
	jq -e ".error.message | test(\"at offset 10\")" out &&
	api PUT "$I/w" -H "Content-Range: bytes 0-9/20" --data-binary @ten &&
	want 416 invalid_argument &&
	test "$(offset_of w)" = 10 &&
	api PUT "$I/fresh" -H "Content-Range: bytes 3-12/20" --data-binary @ten &&
	want 416 invalid_argument &&
	test "$(header Upload-Offset)" = 0 &&
	api GET "$I/fresh" && want 404 not_found
'

test_expect_success 'bad Content-Range, length mismatch, writes past the total: 400' '
	api PUT "$I/w" -H "Content-Range: bytes 10-19" --data-binary @ten && want 400 invalid_argument &&
	api PUT "$I/w" -H "Content-Range: bytes=10-19/20" --data-binary @ten && want 400 invalid_argument &&
	api PUT "$I/w" -H "Content-Range: bytes 10-29/20" --data-binary @ten && want 400 invalid_argument &&
	api PUT "$I/w" -H "Content-Range: bytes 10-14/20" --data-binary @ten && want 400 invalid_argument &&
	api PUT "$I/w" -H "Content-Range: bytes 10-19/30" --data-binary @ten && want 400 invalid_argument &&
	jq -e ".error.message | test(\"total of 20\")" out &&
	api PUT "$I/w" -H "Content-Range: bytes 10-19/*" --data-binary @ten -H "Transfer-Encoding: chunked" &&
	want 200 && jq -e ".offset == 20 and .total == 20" out &&
	api PUT "$I/w" --data-binary @ten && want 400 invalid_argument &&
	test "$(offset_of w)" = 20
'

test_expect_success 'commit with the wrong digest or size: 400, the ingest is kept; then commit right' '
	printf 01234567890123456789 >twenty && d=$(digest_of twenty) &&
	api POST "$I/w/commit" -d "{\"digest\":\"$(digest_of ten)\"}" && want 400 invalid_argument &&
	jq -e --arg d "$d" ".error.message | contains(\$d)" out &&
	test "$(offset_of w)" = 20 &&
	api POST "$I/w/commit" -d "{\"digest\":\"$d\",\"size\":19}" && want 400 invalid_argument &&
	api GET $I && jq -e "[.ingests[].ref] == [\"w\"]" out &&
	api POST "$I/w/commit" -d "{\"digest\":\"md5:x\"}" && want 400 invalid_argument &&
	api POST "$I/w/commit" -d "{\"digst\":\"$d\"}" && want 400 invalid_argument &&
	api POST "$I/nope/commit" -d "{\"digest\":\"$d\"}" && want 404 not_found &&
	api POST "$I/w/commit" -d "{\"digest\":\"$d\"}" && want 201 &&
	api GET "$C/$d/data" && want 200 && test_cmp twenty out
'

test_expect_success 'writes without Content-Range append; ?expected is checked at commit' '
	printf abc >abc && d=$(digest_of abc) &&
	printf ab >ab && printf c >c &&
	api PUT "$I/plain?expected=$d" --data-binary @ab && want 201 &&
	jq -e --arg d "$d" ".offset == 2 and .expected == \$d and .total == 0" out &&
	api PUT "$I/plain" --data-binary @c && want 200 && jq -e ".offset == 3" out &&
	api PUT "$I/plain?expected=$(digest_of ab)" --data-binary @c && want 400 invalid_argument &&
	api POST "$I/plain/commit" && want 201 &&
	jq -e --arg d "$d" ".digest == \$d" out
'

test_expect_success 'bytes */TOTAL declares the size of an empty ingest' '
	api PUT "$I/declared" -H "Content-Range: bytes */5" && want 201 &&
	jq -e ".offset == 0 and .total == 5" out &&
	api PUT "$I/declared" -H "Content-Range: bytes */5" --data-binary @ab && want 400 invalid_argument
'

test_expect_success 'abort: DELETE the ingest, 204 then 404' '
	api DELETE "$I/declared" && want 204 && test_must_be_empty out &&
	api GET "$I/declared" && want 404 not_found &&
	api DELETE "$I/declared" && want 404 not_found
'

test_expect_success 'an ingest expecting a blob already on disk: 409, and the namespace gets the blob' '
	d=$(cat three.digest) &&
	api GET "/v1/namespaces/other/content/$d" && want 404 &&
	api PUT "/v1/namespaces/other/content/ingests/dup?expected=$d" -H "Content-Range: bytes 0-9/3000000" \
		--data-binary @ten && want 409 already_exists &&
	api GET "/v1/namespaces/other/content/$d" && want 200 &&
	api GET /v1/namespaces/other/content/ingests && jq -e ".ingests == []" out
'

test_expect_success 'refs: percent-encoded slashes work; bad refs are 400' '
	api PUT "$I/docker.io%2Flibrary%2Fx@sha256:1" --data-binary @ab && want 201 &&
	jq -e ".ref == \"docker.io/library/x@sha256:1\"" out &&
	api GET $I && jq -e "[.ingests[].ref] | index(\"docker.io/library/x@sha256:1\") != null" out &&
	api DELETE "$I/docker.io%2Flibrary%2Fx@sha256:1" && want 204 &&
	api PUT "$I/a%2F..%2Fb" --data-binary @ab && want 400 invalid_argument &&
	api PUT "$I/sp%20ace" --data-binary @ab && want 400 invalid_argument &&
	long=$(head -c 256 /dev/zero | tr "\\0" r) &&
	api PUT "$I/$long" --data-binary @ab && want 400 invalid_argument &&
	api GET "$I/$long" && want 400 invalid_argument &&
	api PUT "$I/x?expected=sha256:XYZ" --data-binary @ab && want 400 invalid_argument &&
	api PUT "$I/x?offset=1" --data-binary @ab && want 400 invalid_argument
'

test_expect_success 'a ref being written is locked: 503 for another writer or an abort; free once the client leaves' '
	head -c 4000000 /dev/urandom >slow &&
	{ curl -s --unix-socket "$BERTH_SOCK" --limit-rate 200K -T slow -o /dev/null \
		"http://berth$I/locked" & } &&
	curl_pid=$! &&
	test_when_finished "kill $curl_pid 2>/dev/null || :" &&
	test_wait_for 10 sh -c "curl -s --unix-socket \"$BERTH_SOCK\" http://berth$I/locked | jq -e \".offset > 0\"" &&
	api PUT "$I/locked" --data-binary @ab && want 503 unavailable &&
	jq -e ".error.message | test(\"locked\")" out &&
	api DELETE "$I/locked" && want 503 unavailable &&
	kill $curl_pid && { wait $curl_pid || :; } &&
	test_wait_for 10 sh -c "curl -s -X DELETE -o /dev/null -w %{http_code} --unix-socket \"$BERTH_SOCK\" http://berth$I/locked | grep -q 204"
'

test_expect_success 'kill -9 during a whole-blob upload: no blob after restart, the ingest is listed and resumes' '
	head -c 20000000 /dev/urandom >large &&
	d=$(digest_of large) && echo "$d" >large.digest &&
	{ curl -s --unix-socket "$BERTH_SOCK" --limit-rate 2M -T large -o /dev/null \
		"http://berth$C/$d/data" & } &&
	curl_pid=$! &&
	test_when_finished "kill $curl_pid 2>/dev/null || :" &&
	test_wait_for 10 sh -c "test \$(curl -s --unix-socket \"$BERTH_SOCK\" http://berth$I/upload-$d | jq .offset) -gt 1000000" &&
	kill_berthd &&
	{ wait $curl_pid || :; } &&
	start_berthd &&
	api GET "$C/$d" && want 404 not_found &&
	api GET $C && jq -e --arg d "$d" "[.blobs[].digest] | index(\$d) == null" out &&
	test_path_is_missing "root/content/blobs/sha256/${d#sha256:}" &&
	api GET "$I/upload-$d" && want 200 &&
	jq -e --arg d "$d" ".expected == \$d and .total == 20000000 and .offset > 0 and .offset < 20000000" out &&
	off=$(jq .offset out) &&
	put_range "upload-$d" "$off" 19999999 20000000 large && want 200 &&
	api POST "$I/upload-$d/commit" && want 201 &&
	api GET "$C/$d/data" && want 200 && cmp large out
'

test_expect_success 'kill -9 during an upload, then abort the ingest it left' '
	head -c 20000000 /dev/urandom >large2 &&
	d=$(digest_of large2) &&
	{ curl -s --unix-socket "$BERTH_SOCK" --limit-rate 2M -T large2 -o /dev/null \
		"http://berth$C/$d/data" & } &&
	curl_pid=$! &&
	test_when_finished "kill $curl_pid 2>/dev/null || :" &&
	test_wait_for 10 sh -c "test \$(curl -s --unix-socket \"$BERTH_SOCK\" http://berth$I/upload-$d | jq .offset) -gt 0" &&
	kill_berthd &&
	{ wait $curl_pid || :; } &&
	start_berthd &&
	api GET "$I/upload-$d" && want 200 &&
	api DELETE "$I/upload-$d" && want 204 &&
	api GET $I && jq -e ".ingests == []" out &&
	test -z "$(ls root/content/ingest)" &&
	api GET "$C/$d" && want 404 not_found
'

test_expect_success 'a new whole-blob upload starts over whatever an earlier one left' '
	d=$(digest_of large2) &&
	head -c 1000 large2 >head &&
	api PUT "$I/upload-$d" --data-binary @head && want 201 &&
	api PUT "$C/$d/data" -T large2 && want 201 &&
	api GET "$C/$d/data" && cmp large2 out &&
	api GET $I && jq -e ".ingests == []" out
'

test_expect_success 'idle ingests expire (ingest_expiry), on the timer and at start' '
	stop_berthd &&
	echo "{\"ingest_expiry\": 1, $NOGC}" >config.json &&
	start_berthd &&
	api PUT "$I/short-lived" --data-binary @ab && want 201 &&
	test_wait_for 10 sh -c "curl -s --unix-socket \"$BERTH_SOCK\" http://berth$I | jq -e \".ingests == []\"" &&
	test_grep "msg=\"ingest expired\" namespace=default ref=short-lived" berthd.log &&
	echo "{\"ingest_expiry\": 3600, $NOGC}" >config.json &&
	stop_berthd &&
	start_berthd &&
	api PUT "$I/after-restart" --data-binary @ab && want 201 &&
	stop_berthd &&
	echo "{\"ingest_expiry\": 1, $NOGC}" >config.json &&
	f=$(ls -d root/content/ingest/*/data) &&
	test_wait_for 10 sh -c "test \$((\$(date +%s) - \$(stat -c %Y $f))) -ge 2" &&
	start_berthd &&
	api GET $I && want 200 && jq -e ".ingests == []" out &&
	test -z "$(ls root/content/ingest)"
'

test_expect_success 'stop berthd' '
	stop_berthd
'

test_done
