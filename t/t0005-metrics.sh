#!/bin/sh
test_description='/metrics: Prometheus text with process, HTTP, SSE and event figures'
. "$(dirname "$0")/lib/test-lib.sh"

test_expect_success 'start berthd and make some traffic' '
	echo "{}" >config.json &&
	start_berthd &&
	api GET /v1/version && api GET /v1/version && api GET /nope &&
	api PUT /v1/namespaces/m1 && api PUT /v1/namespaces/m1 &&
	api POST /v1/events -d "{\"namespace\":\"default\",\"topic\":\"/m/x\"}"
'

test_expect_success 'text format with HELP and TYPE for each family' '
	curl -s -D headers --unix-socket "$BERTH_SOCK" http://berth/metrics >m &&
	grep -i "^Content-Type: text/plain; version=0.0.4" headers &&
	for f in process_cpu_seconds_total process_resident_memory_bytes process_open_fds \
		 process_max_fds process_start_time_seconds process_threads \
		 berth_http_requests_total berth_http_request_duration_seconds \
		 berth_sse_subscribers berth_events_published_total; do
		grep "^# TYPE $f " m || return 1
	done
'

test_expect_success 'requests are counted by route, method and code' '
	grep "^berth_http_requests_total{route=\"/v1/version\",method=\"GET\",code=\"200\"} 2\$" m &&
	grep "^berth_http_requests_total{route=\"unmatched\",method=\"GET\",code=\"404\"} 1\$" m &&
	grep "^berth_http_requests_total{route=\"/v1/namespaces/{ns}\",method=\"PUT\",code=\"201\"} 1\$" m &&
	grep "^berth_http_requests_total{route=\"/v1/namespaces/{ns}\",method=\"PUT\",code=\"409\"} 1\$" m
'

test_expect_success 'the duration histogram is cumulative and ends with +Inf = count' '
	grep "^berth_http_request_duration_seconds_bucket{route=\"/v1/version\",method=\"GET\",le=\"+Inf\"} 2\$" m &&
	grep "^berth_http_request_duration_seconds_count{route=\"/v1/version\",method=\"GET\"} 2\$" m &&
	grep "^berth_http_request_duration_seconds_bucket{route=\"/v1/version\"" m |
		sed "s/.* //" >counts &&
	sort -n -c counts
'

test_expect_success 'no series is exposed twice' '
	grep -v "^#" m | sed "s/ [^ ]*\$//" | sort | uniq -d >dups &&
	test_must_be_empty dups
'

test_expect_success 'events published and SSE subscribers' '
	grep "^berth_events_published_total 2\$" m &&
	grep "^berth_sse_subscribers 0\$" m &&
	{ curl -s -N --unix-socket "$BERTH_SOCK" http://berth/v1/events >/dev/null & } &&
	cpid=$! &&
	test_wait_for 5 eval "curl -s --unix-socket \"$BERTH_SOCK\" http://berth/metrics | grep -q \"^berth_sse_subscribers 1\$\"" &&
	kill $cpid
'

test_expect_success 'a client that leaves an idle stream is released at once, not at the next heartbeat' '
	{ curl -s -N --unix-socket "$BERTH_SOCK" "http://berth/v1/events?topic=/none" >/dev/null & } &&
	cpid=$! &&
	test_wait_for 5 eval "curl -s --unix-socket \"$BERTH_SOCK\" http://berth/metrics | grep -q \"^berth_sse_subscribers 1\$\"" &&
	kill $cpid &&
	# the heartbeat is 15 s away: only watching the socket can notice this
	test_wait_for 3 eval "curl -s --unix-socket \"$BERTH_SOCK\" http://berth/metrics | grep -q \"^berth_sse_subscribers 0\$\"" &&
	curl -s --unix-socket "$BERTH_SOCK" http://berth/metrics >m2 &&
	grep "^berth_http_requests_in_flight 1\$" m2
'

test_expect_success 'process figures are plausible' '
	rss=$(sed -n "s/^process_resident_memory_bytes //p" m) &&
	test "$rss" -gt 100000 &&
	grep "^process_threads 1\$" m &&
	stop_berthd
'

test_done
