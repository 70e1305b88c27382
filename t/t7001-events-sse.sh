#!/bin/sh
test_description='events: SSE stream, filters, replay, heartbeats, publish, many and bad subscribers'
. "$(dirname "$0")/lib/test-lib.sh"

SSE="python3 $TEST_DIRECTORY/helpers/sse-clients.py"

# Run the SSE client helper in the background; its output goes to $1.out.
sse_bg() {
	name=$1
	shift
	rm -f "$name.ready" "$name.out"
	$SSE --socket "$BERTH_SOCK" --ready "$name.ready" "$@" >"$name.out" 2>&1 &
	echo $! >"$name.pid"
	test_wait_for 10 eval "test -e $name.ready"
}

sse_wait() {
	wait "$(cat "$1.pid")"
}

publish() {
	api POST /v1/events -d "{\"namespace\":\"$1\",\"topic\":\"$2\",\"event\":${3:-{\}}}" &&
	test "$(cat status)" = 201
}

test_expect_success 'start berthd with a small ring and fast heartbeats' '
	cat >config.json <<-\EOF &&
	{"event_ring_size": 32, "sse_heartbeat_interval": 0.3}
	EOF
	start_berthd
'

test_expect_success 'POST /v1/events publishes and answers with the id' '
	publish default /test/one "{\"k\":\"v\"}" &&
	jq -e ".id > 0 and .topic == \"/test/one\" and .namespace == \"default\"" out &&
	jq -r .id out >first_id
'

test_expect_success 'POST /v1/events validates its body' '
	api POST /v1/events -d "{\"namespace\":\"default\",\"topic\":\"no-slash\"}" &&
	test "$(cat status)" = 400 && jq -e ".error.code == \"invalid_argument\"" out &&
	api POST /v1/events -d "{\"namespace\":\"Bad\",\"topic\":\"/a\"}" &&
	test "$(cat status)" = 400 &&
	api POST /v1/events -d "{\"topic\":\"/a\"}" &&
	test "$(cat status)" = 400 && grep namespace out &&
	api POST /v1/events -d "{\"namespace\":\"default\",\"topic\":\"/a\",\"event\":5}" &&
	test "$(cat status)" = 400 &&
	api POST /v1/events -d "{\"namespace\":\"default\",\"topic\":\"/a\",\"extra\":1}" &&
	test "$(cat status)" = 400 && grep extra out
'

test_expect_success 'a live subscriber receives events as SSE frames' '
	sse_bg live --expect 2 --comments &&
	publish default /test/a &&
	publish other /test/b &&
	sse_wait live &&
	grep "^0 2 " live.out
'

test_expect_success 'the stream is text/event-stream with ids, event names and JSON data' '
	publish default /test/fmt "{\"x\":1}" &&
	id=$(jq -r .id out) &&
	{ curl -s -N --unix-socket "$BERTH_SOCK" -D headers \
		"http://berth/v1/events?since=$((id - 1))" --max-time 1 >stream || test $? = 28; } &&
	grep -i "^content-type: text/event-stream" headers &&
	grep "^id: $id\$" stream &&
	grep "^event: /test/fmt\$" stream &&
	sed -n "s/^data: //p" stream | head -n1 >data.json &&
	jq -e ".topic == \"/test/fmt\" and .namespace == \"default\" and .event.x == 1 and
		(.timestamp | test(\"^[0-9]{4}-[0-9]{2}-[0-9]{2}T.*Z$\"))" data.json &&
	grep "^retry: " stream
'

test_expect_success '?namespace= and ?topic= filter the stream' '
	sse_bg nsf --path "/v1/events?namespace=other" --expect 1 &&
	sse_bg tf --path "/v1/events?topic=/keep&topic=/also" --expect 2 &&
	publish default /keep/x &&
	publish other /drop/y &&
	publish default /also/z &&
	sse_wait nsf && sse_wait tf &&
	id_y=$(($(jq -r .id out) - 1)) && id_z=$(jq -r .id out) &&
	grep "^0 1 $id_y " nsf.out &&
	grep "^0 2 $((id_y - 1)),$id_z " tf.out
'

test_expect_success 'Last-Event-ID replays what the ring still holds, then goes live' '
	publish default /r/1 && a=$(jq -r .id out) &&
	publish default /r/2 && b=$(jq -r .id out) &&
	publish default /r/3 && c=$(jq -r .id out) &&
	$SSE --socket "$BERTH_SOCK" --header "Last-Event-ID: $a" --path "/v1/events?topic=/r/" \
		--expect 2 >replay.out &&
	grep "^0 2 $b,$c " replay.out
'

test_expect_success '?since= replays too, and Last-Event-ID wins over it' '
	$SSE --socket "$BERTH_SOCK" --path "/v1/events?topic=/r/&since=$b" --expect 1 >since.out &&
	grep "^0 1 $c " since.out &&
	$SSE --socket "$BERTH_SOCK" --header "Last-Event-ID: $b" \
		--path "/v1/events?topic=/r/&since=0" --expect 1 >both.out &&
	grep "^0 1 $c " both.out
'

test_expect_success 'an id older than the ring replays everything held and says what was lost' '
	for i in $(seq 1 40); do publish default /flood/$i || return 1; done &&
	$SSE --socket "$BERTH_SOCK" --header "Last-Event-ID: $a" --expect 32 --comments >old.out &&
	grep "^0 32 " old.out &&
	grep "no longer held" old.out
'

test_expect_success 'since=0 replays the whole ring' '
	$SSE --socket "$BERTH_SOCK" --path "/v1/events?since=0" --expect 32 >all.out &&
	grep "^0 32 " all.out
'

test_expect_success 'a bad Last-Event-ID or since is 400 invalid_argument' '
	api GET /v1/events -H "Last-Event-ID: abc" &&
	test "$(cat status)" = 400 && jq -e ".error.code == \"invalid_argument\"" out &&
	api GET "/v1/events?since=-1" &&
	test "$(cat status)" = 400 &&
	api GET "/v1/events?since=99999999999999999999999" &&
	test "$(cat status)" = 400 &&
	api GET "/v1/events?namespace=BAD" &&
	test "$(cat status)" = 400 &&
	api GET "/v1/events?topic=noslash" &&
	test "$(cat status)" = 400 &&
	api GET "/v1/events?bogus=1" &&
	test "$(cat status)" = 400
'

test_expect_success 'an id from the future means live only' '
	sse_bg fut --header "Last-Event-ID: 18446744073709551615" --expect 1 &&
	publish default /future/x && id=$(jq -r .id out) &&
	sse_wait fut && grep "^0 1 $id " fut.out
'

test_expect_success 'idle subscribers get heartbeat comments' '
	{ $SSE --socket "$BERTH_SOCK" --path "/v1/events?topic=/nothing" --expect 1 \
		--timeout 1.5 --comments >hb.out || :; } &&
	grep "heartbeat" hb.out
'

test_expect_success 'clients that disconnect mid-stream do not hurt the server' '
	sse_bg gone -n 20 --expect 1 --disconnect-after 1 &&
	publish default /bye/1 && publish default /bye/2 && publish default /bye/3 &&
	sse_wait gone &&
	test_wait_for 5 eval "api GET /metrics && grep -q \"^berth_sse_subscribers 0\$\" out" &&
	api GET /v1/version && test "$(cat status)" = 200
'

test_expect_success 'a client killed while its stream is idle (suspended) is cleaned up' '
	{ curl -s -N --unix-socket "$BERTH_SOCK" "http://berth/v1/events?topic=/idle" \
		>/dev/null & } &&
	cpid=$! &&
	test_wait_for 5 eval "api GET /metrics && grep -q \"^berth_sse_subscribers 1\$\" out" &&
	kill -9 $cpid &&
	{ wait $cpid || :; } &&
	publish default /idle/x &&
	test_wait_for 5 eval "api GET /metrics && grep -q \"^berth_sse_subscribers 0\$\" out"
'

test_expect_success '200 subscribers at once all get every event' '
	sse_bg many -n 200 --expect 5 --timeout 30 &&
	for i in 1 2 3 4 5; do publish default /many/$i || return 1; done &&
	sse_wait many &&
	test_line_count = 201 many.out &&
	test $(grep -c " 5 .* open\$" many.out) = 200 &&
	test "$(berthd_threads)" = 1
'

test_expect_success 'a subscriber that stops reading is dropped, memory stays bounded' '
	{ python3 -c "
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(sys.argv[1]); s.sendall(b\"GET /v1/events HTTP/1.1\\r\\nHost: b\\r\\n\\r\\n\")
time.sleep(30)" "$BERTH_SOCK" & } &&
	spid=$! &&
	test_when_finished "kill $spid 2>/dev/null || :" &&
	test_wait_for 5 eval "api GET /metrics && grep -q \"^berth_sse_subscribers 1\$\" out" &&
	rss0=$(awk "/^VmRSS/ {print \$2}" /proc/$BERTHD_PID/status) &&
	big=$(head -c 30000 /dev/zero | tr "\\0" x) &&
	for i in $(seq 1 80); do
		publish default /big/$i "{\"b\":\"$big\"}" || return 1
	done &&
	test_wait_for 15 eval "api GET /metrics && grep -q \"^berth_sse_subscribers 0\$\" out" &&
	grep "^berth_sse_subscribers_dropped_total [1-9]" out &&
	rss1=$(awk "/^VmRSS/ {print \$2}" /proc/$BERTHD_PID/status) &&
	say "RSS before ${rss0} kB, after ${rss1} kB" &&
	# ASan keeps freed memory in quarantine: the bound only means something without it
	if ldd "$BERTHD" | grep -q libasan; then
		say "sanitizer build: RSS bound not checked"
	else
		test $((rss1 - rss0)) -lt 8000
	fi &&
	api GET /v1/version && test "$(cat status)" = 200
'

test_expect_success 'namespace changes publish /namespaces/* events' '
	sse_bg nsev --path "/v1/events?topic=/namespaces/" --expect 3 &&
	api PUT /v1/namespaces/evns -d "{\"labels\":{\"a\":\"b\"}}" &&
	api PATCH /v1/namespaces/evns -d "{\"labels\":{\"c\":\"d\"}}" &&
	api DELETE /v1/namespaces/evns &&
	sse_wait nsev &&
	grep "^0 3 " nsev.out &&
	{ curl -s -N --unix-socket "$BERTH_SOCK" "http://berth/v1/events?since=0&topic=/namespaces/" \
		--max-time 1 >ns.stream || :; } &&
	grep "^event: /namespaces/create" ns.stream &&
	grep "^event: /namespaces/update" ns.stream &&
	grep "^event: /namespaces/delete" ns.stream &&
	grep "\"namespace\":\"evns\",\"topic\":\"/namespaces/update\",\"event\":{\"name\":\"evns\",\"labels\":{\"a\":\"b\",\"c\":\"d\"}}" ns.stream
'

test_expect_success 'SIGTERM with open streams: each ends cleanly, berthd exits 0 within 2 s' '
	publish default /last && jq -r .id out >last_id &&
	sse_bg term -n 3 --until-closed --comments --timeout 10 &&
	start=$(date +%s%N) &&
	stop_berthd &&
	end=$(date +%s%N) &&
	sse_wait term &&
	test $(grep -c " closed comments=.*shutting down" term.out) = 3 &&
	say "stopped in $(( (end - start) / 1000000 )) ms" &&
	test $(( (end - start) / 1000000 )) -lt 2000
'

test_expect_success 'ids keep growing across a restart' '
	last=$(cat last_id) &&
	start_berthd &&
	publish default /after/restart &&
	test "$(jq -r .id out)" -gt "$last" &&
	stop_berthd
'

test_done
