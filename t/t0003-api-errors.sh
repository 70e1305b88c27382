#!/bin/sh
test_description='API core: error model, bad input of every kind, berthd keeps serving'
. "$(dirname "$0")/lib/test-lib.sh"

# check STATUS CODE: the last api call answered STATUS with a JSON error CODE
check() {
	test "$(cat status)" = "$1" || { echo "status $(cat status), want $1"; cat out; return 1; }
	jq -e ".error.code == \"$2\" and (.error.message | length > 0)" out
}

alive() {
	api GET /healthz && test "$(cat status)" = 200
}

test_expect_success 'start berthd' '
	echo "{\"max_json_body\": 4096}" >config.json &&
	start_berthd
'

test_expect_success 'GET /v1/version' '
	api GET /v1/version && test "$(cat status)" = 200 &&
	jq -e ".api == \"v1\" and (.version | length > 0) and (.revision | length > 0)" out
'

test_expect_success 'unknown route: 404 JSON' '
	api GET /v1/nothing-here && check 404 not_found &&
	api GET / && check 404 not_found &&
	api GET /v2/version && check 404 not_found &&
	api GET /v1/version/ && check 404 not_found
'

test_expect_success 'wrong method: 405 JSON with Allow' '
	curl -s -D headers --unix-socket "$BERTH_SOCK" -X DELETE http://berth/v1/version >out &&
	grep "^HTTP/1.1 405" headers &&
	grep -i "^Allow: GET, HEAD" headers &&
	jq -e ".error.code == \"method_not_allowed\"" out &&
	api POST /v1/namespaces/default && check 405 method_not_allowed &&
	api BREW /v1/version && check 405 method_not_allowed
'

test_expect_success 'HEAD works where GET does' '
	curl -s -I --unix-socket "$BERTH_SOCK" http://berth/v1/version >headers &&
	grep "^HTTP/1.1 200" headers
'

test_expect_success 'malformed JSON: 400 invalid_argument' '
	api PUT /v1/namespaces/m1 -d "{\"labels\":" && check 400 invalid_argument &&
	grep -i "malformed JSON" out &&
	api PUT /v1/namespaces/m1 -d "not json at all" && check 400 invalid_argument &&
	api PUT /v1/namespaces/m1 -d "[1,2]" && check 400 invalid_argument &&
	api PUT /v1/namespaces/m1 -d "\"str\"" && check 400 invalid_argument &&
	api PUT /v1/namespaces/m1 -d "{\"labels\":{},\"labels\":{}}" && check 400 invalid_argument &&
	printf "{\"labels\":{\"a\":\"\\377\"}}" >badutf8 &&
	api PUT /v1/namespaces/m1 --data-binary @badutf8 && check 400 invalid_argument &&
	alive
'

test_expect_success 'wrong types and unknown fields: 400 naming the field' '
	api PUT /v1/namespaces/m1 -d "{\"labels\":[]}" && check 400 invalid_argument &&
	grep labels out &&
	api PUT /v1/namespaces/m1 -d "{\"labels\":{\"k\":1}}" && check 400 invalid_argument &&
	api PUT /v1/namespaces/m1 -d "{\"labels\":{\"k\":null}}" && check 400 invalid_argument &&
	api PUT /v1/namespaces/m1 -d "{\"lables\":{}}" && check 400 invalid_argument &&
	grep lables out &&
	api PATCH /v1/namespaces/default -d "{\"labels\":\"x\"}" && check 400 invalid_argument &&
	api GET /v1/namespaces/m1 && check 404 not_found
'

test_expect_success 'invalid names: 400' '
	api PUT /v1/namespaces/UPPER && check 400 invalid_argument &&
	api PUT /v1/namespaces/-lead && check 400 invalid_argument &&
	api PUT /v1/namespaces/trail- && check 400 invalid_argument &&
	api PUT /v1/namespaces/a..b && test "$(cat status)" = 201 &&
	api PUT "/v1/namespaces/sp%20ace" && check 400 invalid_argument &&
	api PUT "/v1/namespaces/sl%2Fash" && check 400 invalid_argument &&
	api PUT "/v1/namespaces/..%2F..%2Fetc" && check 400 invalid_argument &&
	long=$(printf "%077d" 0) &&
	api PUT "/v1/namespaces/$long" && check 400 invalid_argument &&
	ok=$(printf "a%074db" 0) &&
	api PUT "/v1/namespaces/$ok" && test "$(cat status)" = 201
'

test_expect_success 'bad percent-encoding and NUL bytes in the path: 400' '
	api GET "/v1/namespaces/%zz" && check 400 invalid_argument &&
	api GET "/v1/namespaces/a%00b" && check 400 invalid_argument &&
	api GET "/v1/namespaces?filter=%" && check 400 invalid_argument &&
	alive
'

test_expect_success 'unknown query parameters: 400' '
	api GET "/v1/namespaces?bogus=1" && check 400 invalid_argument && grep bogus out &&
	api GET "/v1/version?x" && check 400 invalid_argument
'

test_expect_success 'bad filters: 400' '
	api GET "/v1/namespaces?filter=name%3D%3D" && check 400 invalid_argument &&
	api GET "/v1/namespaces?filter=name~%3D%22(%22" && check 400 invalid_argument &&
	api GET "/v1/plugins?filter=%2C%2C" && check 400 invalid_argument
'

test_expect_success 'bodies over the limit: 413, by Content-Length and chunked' '
	head -c 5000 /dev/zero | tr "\\0" " " >big &&
	api PUT /v1/namespaces/big --data-binary @big && check 413 payload_too_large &&
	api PUT /v1/namespaces/big -H "Transfer-Encoding: chunked" --data-binary @big &&
	check 413 payload_too_large &&
	head -c 3000000 /dev/zero >huge &&
	api PUT /v1/namespaces/big -H "Transfer-Encoding: chunked" --data-binary @huge &&
	check 413 payload_too_large &&
	api GET /v1/namespaces/big && check 404 not_found &&
	alive
'

test_expect_success 'a body just under the limit is fine' '
	printf "{\"labels\":{\"k\":\"%s\"}}" "$(head -c 3000 /dev/zero | tr "\\0" v)" >fits &&
	api PUT /v1/namespaces/fits --data-binary @fits && test "$(cat status)" = 201
'

test_expect_success 'garbage on the socket does not hurt' '
	python3 - "$BERTH_SOCK" <<-\PY &&
	import os, socket, sys
	for payload in (b"NOT HTTP AT ALL\r\n\r\n",
	                b"GET /v1/version HTTP/1.1\r\nHost: b\r\nContent-Length: -5\r\n\r\n",
	                b"GET /v1/version HTTP/1.1\r\n" + b"X: y\r\n" * 5000 + b"\r\n",
	                os.urandom(100000)):
	    s = socket.socket(socket.AF_UNIX)
	    s.connect(sys.argv[1])
	    s.settimeout(5)
	    try:
	        s.sendall(payload)
	        s.recv(4096)
	    except OSError:
	        pass
	    s.close()
	PY
	alive
'

test_expect_success 'a client that disconnects mid-body does not hurt' '
	python3 -c "
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b\"PUT /v1/namespaces/half HTTP/1.1\\r\\nHost: b\\r\\nContent-Length: 1000\\r\\n\\r\\n{\\\"labels\\\"\")
s.close()" "$BERTH_SOCK" &&
	alive &&
	api GET /v1/namespaces/half && check 404 not_found
'

test_expect_success 'a very long URL is refused, not a crash' '
	long=$(head -c 70000 /dev/zero | tr "\\0" a) &&
	{ api GET "/v1/namespaces/$long" >/dev/null 2>&1 || :; } &&
	test "$(cat status)" -ge 400 &&
	alive
'

test_expect_success 'keep-alive: many requests on one connection' '
	urls="" &&
	for i in $(seq 1 50); do urls="$urls http://berth/v1/version"; done &&
	curl -s --unix-socket "$BERTH_SOCK" $urls >many &&
	test $(grep -c "\"api\":\"v1\"" many) = 50
'

test_expect_success 'every error seen was JSON with the API error model, berthd still one thread' '
	test "$(berthd_threads)" = 1 &&
	stop_berthd
'

test_done
