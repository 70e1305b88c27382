#!/bin/sh
test_description='content store: whole-blob uploads, reads with Range, namespaces, labels, filters, deletion, events'
. "$(dirname "$0")/lib/test-lib.sh"

C=/v1/namespaces/default/content
T=/v1/namespaces/team/content
EMPTY=sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

test_lazy_prereq NOASAN '! ldd "$BERTHD" | grep -q libasan'

# want STATUS [ERROR_CODE]: the last api call answered STATUS (and, for an
# error, a JSON error body with ERROR_CODE).
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

# blob_file DIGEST: where the store keeps it
blob_file () {
	echo "root/content/blobs/sha256/${1#sha256:}"
}

# header NAME: the value of a response header of the last api call
header () {
	tr -d "\r" <headers | sed -n "s/^$1: //Ip" | tail -n 1
}

# The blobs here are referenced by no image and no lease: keep the garbage
# collector (t2003) from taking them while this script looks at them.
NOGC='"gc_delay": 3600'

test_expect_success 'start berthd' '
	echo "{$NOGC}" >config.json &&
	start_berthd
'

test_expect_success 'an empty store lists no blobs and no ingests' '
	api GET $C && want 200 && jq -e ".blobs == []" out &&
	api GET $C/ingests && want 200 && jq -e ".ingests == []" out &&
	api GET /v1/plugins && want 200 &&
	jq -e ".plugins[] | select(.id == \"content\") | .status == \"ok\" and .type == \"io.berth.content.v1\"" out
'

test_expect_success 'PUT .../data stores a blob: 201 with its info' '
	printf "hello berth\n" >small &&
	d=$(digest_of small) && echo "$d" >small.digest &&
	api PUT "$C/$d/data" --data-binary @small && want 201 &&
	jq -e --arg d "$d" ".digest == \$d and .size == 12 and .labels == {} and
		(.created_at | length > 0) and .updated_at == .created_at" out &&
	test_path_is_file "$(blob_file "$d")" &&
	test_cmp small "$(blob_file "$d")" &&
	api GET "$C/$d" && want 200 && jq -e --arg d "$d" ".digest == \$d and .size == 12" out &&
	api GET $C && want 200 && jq -e --arg d "$d" "[.blobs[].digest] == [\$d]" out
'

test_expect_success 'GET .../data serves the bytes with their headers; HEAD too' '
	d=$(cat small.digest) &&
	api GET "$C/$d/data" && want 200 && test_cmp small out &&
	test "$(header Content-Type)" = application/octet-stream &&
	test "$(header Docker-Content-Digest)" = "$d" &&
	test "$(header Accept-Ranges)" = bytes &&
	test "$(header Content-Length)" = 12 &&
	api HEAD "$C/$d/data" && want 200 && test_must_be_empty out &&
	test "$(header Content-Length)" = 12
'

test_expect_success 'a 50 MiB random blob goes up and comes back byte-identical' '
	head -c 52428800 /dev/urandom >big &&
	d=$(digest_of big) && echo "$d" >big.digest &&
	api PUT "$C/$d/data" -T big && want 201 &&
	jq -e ".size == 52428800" out &&
	api GET "$C/$d/data" && want 200 &&
	cmp big out &&
	cmp big "$(blob_file "$d")"
'

test_expect_success NOASAN 'neither the upload nor the download held the blob in memory' '
	hwm=$(awk "/^VmHWM/ {print \$2}" /proc/$BERTHD_PID/status) &&
	say "berthd peak RSS: $hwm kB" &&
	test "$hwm" -lt 32768
'

test_expect_success 'Range: first byte, last 10 bytes, middle, open-ended (206)' '
	d=$(cat big.digest) &&
	api GET "$C/$d/data" -H "Range: bytes=0-0" && want 206 &&
	test "$(header Content-Range)" = "bytes 0-0/52428800" &&
	test "$(header Content-Length)" = 1 &&
	head -c 1 big >expect && cmp expect out &&
	api GET "$C/$d/data" -H "Range: bytes=-10" && want 206 &&
	test "$(header Content-Range)" = "bytes 52428790-52428799/52428800" &&
	tail -c 10 big >expect && cmp expect out &&
	api GET "$C/$d/data" -H "Range: bytes=1000000-1999999" && want 206 &&
	test "$(header Content-Range)" = "bytes 1000000-1999999/52428800" &&
	tail -c +1000001 big | head -c 1000000 >expect && cmp expect out &&
	api GET "$C/$d/data" -H "Range: bytes=52428000-" && want 206 &&
	test "$(header Content-Range)" = "bytes 52428000-52428799/52428800" &&
	tail -c 800 big >expect && cmp expect out &&
	api GET "$C/$d/data" -H "Range: bytes=52428790-99999999" && want 206 &&
	tail -c 10 big >expect && cmp expect out &&
	api HEAD "$C/$d/data" -H "Range: bytes=10-19" && want 206 &&
	test "$(header Content-Length)" = 10
'

test_expect_success 'Range: unsatisfiable is 416 with the size; several ranges get the whole blob' '
	d=$(cat big.digest) &&
	api GET "$C/$d/data" -H "Range: bytes=52428800-" && want 416 invalid_argument &&
	test "$(header Content-Range)" = "bytes */52428800" &&
	jq -e ".error.message | test(\"not satisfiable\")" out &&
	api GET "$C/$d/data" -H "Range: bytes=-0" && want 416 invalid_argument &&
	s=$(cat small.digest) &&
	api GET "$C/$s/data" -H "Range: bytes=0-1,4-5" && want 200 && test_cmp small out &&
	api GET "$C/$s/data" -H "Range: lines=1-2" && want 200 && test_cmp small out
'

test_expect_success 'the empty blob: stored, served, and any Range is 416' '
	: >empty &&
	api PUT "$C/$EMPTY/data" --data-binary @empty && want 201 &&
	jq -e ".size == 0" out &&
	api GET "$C/$EMPTY/data" && want 200 && test_must_be_empty out &&
	api GET "$C/$EMPTY/data" -H "Range: bytes=0-" && want 416 invalid_argument
'

test_expect_success 'a body that does not match the digest: 400, nothing stored, no ingest left' '
	printf "not the bytes you want" >liar &&
	d=$(digest_of small) && real=$(digest_of liar) &&
	api PUT "$C/$real/data" --data-binary @small && want 400 invalid_argument &&
	jq -e --arg d "$real" ".error.message | contains(\$d)" out &&
	api GET "$C/$real" && want 404 not_found &&
	test_path_is_missing "$(blob_file "$real")" &&
	api GET $C/ingests && want 200 && jq -e ".ingests == []" out &&
	test -z "$(ls root/content/ingest)"
'

test_expect_success 'PUT of a blob already in the namespace: 200 at once, the file is not rewritten' '
	d=$(cat big.digest) && f=$(blob_file "$d") &&
	before=$(stat -c "%i %Y" "$f") &&
	sent=$(curl -s --unix-socket "$BERTH_SOCK" -o put.out -w "%{http_code} %{size_upload}" \
		-T big "http://berth$C/$d/data") &&
	test "${sent% *}" = 200 &&
	test "${sent#* }" -lt 52428800 &&
	jq -e --arg d "$d" ".digest == \$d" put.out &&
	test "$(stat -c "%i %Y" "$f")" = "$before" &&
	api PUT "$C/$d/data" --data-binary @small && want 400 invalid_argument &&
	jq -e ".error.message | test(\"has 52428800 bytes, the body 12\")" out
'

test_expect_success 'a blob on disk written into another namespace: 201 at once, no new file; the namespace is created' '
	d=$(cat big.digest) && f=$(blob_file "$d") &&
	before=$(stat -c "%i %Y" "$f") &&
	api GET /v1/namespaces/team && want 404 &&
	api PUT "$T/$d/data" --data-binary @small && want 400 invalid_argument &&
	api GET "$T/$d" && want 404 not_found &&
	sent=$(curl -s --unix-socket "$BERTH_SOCK" -o put.out -w "%{http_code} %{size_upload}" \
		-T big "http://berth$T/$d/data") &&
	test "${sent% *}" = 201 &&
	test "${sent#* }" -lt 52428800 &&
	test "$(stat -c "%i %Y" "$f")" = "$before" &&
	api GET /v1/namespaces/team && want 200 &&
	api GET "$T/$d" && want 200 && jq -e ".size == 52428800" out
'

test_expect_success 'a blob is visible only in the namespaces that wrote it' '
	s=$(cat small.digest) && b=$(cat big.digest) &&
	api GET "$T/$s" && want 404 not_found &&
	api GET "$T/$s/data" && want 404 not_found &&
	api GET $T && want 200 && jq -e --arg b "$b" "[.blobs[].digest] == [\$b]" out &&
	api GET $C && want 200 && jq -e ".blobs | length == 3" out
'

test_expect_success 'reads in a namespace that does not exist: empty lists, 404 for blobs (as containerd)' '
	s=$(cat small.digest) &&
	api GET /v1/namespaces/nosuch/content && want 200 && jq -e ".blobs == []" out &&
	api GET /v1/namespaces/nosuch/content/ingests && want 200 && jq -e ".ingests == []" out &&
	api GET "/v1/namespaces/nosuch/content/$s" && want 404 not_found &&
	api GET "/v1/namespaces/nosuch/content/$s/data" && want 404 not_found &&
	api DELETE "/v1/namespaces/nosuch/content/$s" && want 404 not_found &&
	api GET /v1/namespaces/nosuch && want 404 not_found &&
	api GET /v1/namespaces/No_Such/content && want 400 invalid_argument
'

test_expect_success 'PATCH merges labels (null removes one), per namespace' '
	d=$(cat big.digest) &&
	api PATCH "$C/$d" -d "{\"labels\":{\"k\":\"v\",\"x.y/z\":\"1\",\"gone\":\"soon\"}}" &&
	want 200 &&
	jq -e ".labels == {\"k\":\"v\",\"x.y/z\":\"1\",\"gone\":\"soon\"}" out &&
	api PATCH "$C/$d" -d "{\"labels\":{\"gone\":null}}" && want 200 &&
	jq -e ".labels == {\"k\":\"v\",\"x.y/z\":\"1\"} and .updated_at > .created_at" out &&
	api GET "$C/$d" && jq -e ".labels.k == \"v\"" out &&
	api GET "$T/$d" && jq -e ".labels == {}" out &&
	api PATCH "$C/$d" -d "{}" && want 200 &&
	api PATCH "$C/$d" -d "{\"labels\":{\"k\":1}}" && want 400 invalid_argument &&
	api PATCH "$C/$d" -d "{\"lables\":{}}" && want 400 invalid_argument &&
	api PATCH "$C/$EMPTY" -d "{\"labels\":{\"e\":\"1\"}}" && want 200 &&
	api PATCH "$T/$EMPTY" -d "{\"labels\":{}}" && want 404 not_found
'

test_expect_success 'filters on the list: labels, digest, size, OR' '
	b=$(cat big.digest) && s=$(cat small.digest) &&
	list () { api GET "$C?$1" && want 200 && jq -r "[.blobs[].digest] | sort | join(\" \")" out; } &&
	test "$(list "filter=labels.k==v")" = "$b" &&
	test "$(list "filter=labels.%22x.y%2Fz%22==1")" = "$b" &&
	test "$(list "filter=labels.k==w")" = "" &&
	test "$(list "filter=digest==$s")" = "$s" &&
	test "$(list "filter=size==0")" = "$EMPTY" &&
	test "$(list "filter=labels.e")" = "$EMPTY" &&
	test "$(list "filter=size==12&filter=size==0" | wc -w)" = 2 &&
	api GET "$C?filter=%3D%3D" && want 400 invalid_argument
'

test_expect_success 'a namespace holding content cannot be deleted: 412' '
	api DELETE /v1/namespaces/team && want 412 failed_precondition &&
	jq -e ".error.message | contains(\"content\")" out
'

test_expect_success 'DELETE removes a blob from one namespace; the file goes with the last one' '
	d=$(cat big.digest) && f=$(blob_file "$d") &&
	api DELETE "$T/$d" && want 204 && test_must_be_empty out &&
	api GET "$T/$d" && want 404 not_found &&
	test_path_is_file "$f" &&
	api GET "$C/$d/data" -H "Range: bytes=0-3" && want 206 &&
	api DELETE "$C/$d" && want 204 &&
	test_path_is_missing "$f" &&
	api GET "$C/$d" && want 404 not_found &&
	api GET "$C/$d/data" && want 404 not_found &&
	api DELETE "$C/$d" && want 404 not_found &&
	api DELETE /v1/namespaces/team && want 204
'

test_expect_success 'deletions were published as /content/delete events' '
	d=$(cat big.digest) &&
	test_expect_code 28 api GET "/v1/events?since=0&topic=/content/" -m 1 &&
	want 200 &&
	grep "^data: " out | sed "s/^data: //" >events &&
	jq -e -s --arg d "$d" "map(select(.topic == \"/content/delete\" and .event.digest == \$d)) |
		map(.namespace) == [\"team\", \"default\"]" events
'

test_expect_success 'bad digests are 400 invalid_argument on every route' '
	for d in md5:d41d8cd98f00b204e9800998ecf8427e sha256:XYZ sha256:abc123 \
		sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855 nocolon
	do
		api GET "$C/$d" && want 400 invalid_argument &&
		api GET "$C/$d/data" && want 400 invalid_argument &&
		api PUT "$C/$d/data" --data-binary @small && want 400 invalid_argument &&
		api PATCH "$C/$d" -d "{}" && want 400 invalid_argument &&
		api DELETE "$C/$d" && want 400 invalid_argument || return 1
	done &&
	api GET "$C/md5:d41d8cd98f00b204e9800998ecf8427e" &&
	jq -e ".error.message | test(\"only sha256\")" out
'

test_expect_success 'unknown query parameters are 400' '
	s=$(cat small.digest) &&
	api GET "$C?limit=1" && want 400 invalid_argument &&
	api GET "$C/$s?x=1" && want 400 invalid_argument &&
	api GET "$C/$s/data?offset=1" && want 400 invalid_argument &&
	api PUT "$C/$s/data?x=1" --data-binary @small && want 400 invalid_argument
'

test_expect_success 'blobs and labels survive a restart' '
	stop_berthd &&
	start_berthd &&
	s=$(cat small.digest) &&
	api GET "$C/$s/data" && want 200 && test_cmp small out &&
	api GET "$C/$EMPTY" && want 200 && jq -e ".labels == {\"e\":\"1\"}" out &&
	api GET $C && jq -e ".blobs | length == 2" out
'

test_expect_success 'uploads over max_blob_upload are 413 (Content-Length or chunked); nothing is kept' '
	stop_berthd &&
	echo "{\"max_blob_upload\": 4096, $NOGC}" >config.json &&
	start_berthd &&
	head -c 5000 /dev/urandom >five &&
	d=$(digest_of five) &&
	api PUT "$C/$d/data" --data-binary @five && want 413 payload_too_large &&
	api PUT "$C/$d/data" -H "Transfer-Encoding: chunked" --data-binary @five &&
	want 413 payload_too_large &&
	api GET "$C/$d" && want 404 &&
	api GET $C/ingests && jq -e ".ingests == []" out &&
	head -c 4096 five >four && d=$(digest_of four) &&
	api PUT "$C/$d/data" --data-binary @four && want 201
'

test_expect_success 'stop berthd' '
	stop_berthd
'

test_done
