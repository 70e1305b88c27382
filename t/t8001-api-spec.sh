#!/bin/sh
test_description='api-spec/openapi.yaml: the routes berthd serves, valid OpenAPI 3.1, every recorded response'
. "$(dirname "$0")/lib/test-lib.sh"

SPEC=$SRCDIR/api-spec/openapi.yaml
CONFORMANCE=$SRCDIR/t/conformance

if ! test_have_prereq NODE; then
	skip_all='node is missing (contrib/install-deps.sh installs it)'
	test_done
fi

validate () {
	node "$CONFORMANCE/validate.mjs" "$@"
}

# want STATUS [ERROR_CODE]: the last api call answered STATUS (and, for an
# error, a JSON error body with ERROR_CODE).
want () {
	if test "$(cat status)" != "$1"; then
		echo "status $(cat status), want $1; body:" && cat out
		return 1
	fi
	test -z "$2" || jq -e --arg c "$2" '.error.code == $c' out >/dev/null || {
		echo "want error code $2; body:" && cat out
		return 1
	}
}

test_expect_success 'the conformance packages are installed (npm ci --prefix t/conformance)' '
	if ! test_path_is_file "$CONFORMANCE/node_modules/.package-lock.json"
	then
		echo "run contrib/install-deps.sh (or npm ci --prefix t/conformance)" &&
		false
	fi
'

test_expect_success 'route parity: every route is in the spec, every operation is served' '
	"$BERTHD" --print-routes >routes &&
	test -s routes &&
	validate routes "$SPEC" routes
'

test_expect_success 'route parity can fail: a missing and an extra route are reported' '
	{ cat routes && echo "DELETE /v1/version"; } | grep -v "^GET /healthz\$" >routes.bad &&
	test_must_fail validate routes "$SPEC" routes.bad >parity.out &&
	cat parity.out &&
	test_grep "served but not in the spec: DELETE /v1/version" parity.out &&
	test_grep "in the spec but not served: GET /healthz" parity.out
'

test_expect_success 'the spec is valid OpenAPI 3.1 and its schemas compile' '
	validate spec "$SPEC"
'

test_expect_success 'spec validation can fail: a misspelt keyword, a dangling $ref' '
	sed "s/additionalProperties: false/additionalPropertis: false/" "$SPEC" >bad1.yaml &&
	! cmp -s "$SPEC" bad1.yaml &&
	test_must_fail validate spec bad1.yaml >bad1.out &&
	test_grep "unknown keyword: \"additionalPropertis\"" bad1.out &&
	sed "s|#/components/schemas/Version|#/components/schemas/Versio|" "$SPEC" >bad2.yaml &&
	test_must_fail validate spec bad2.yaml >bad2.out &&
	test_grep "unresolved \$ref #/components/schemas/Versio" bad2.out
'

# ---- real requests, recorded in $BERTH_RESPONSE_LOG by api -------------

test_expect_success 'start berthd' '
	start_berthd
'

test_expect_success 'introspection: version, healthz, server, plugins, metrics' '
	api GET /v1/version && want 200 &&
	api HEAD /v1/version && want 200 &&
	api GET /healthz && want 200 &&
	api GET /v1/server && want 200 &&
	api GET /v1/plugins && want 200 &&
	api GET "/v1/plugins?filter=status==ok" && want 200 &&
	jq -e ".plugins | length > 0" out &&
	api GET "/v1/plugins?filter=id~=%22(%22" && want 400 invalid_argument &&
	api GET "/v1/server?verbose=1" && want 400 invalid_argument &&
	api GET /metrics && want 200 &&
	test_grep "^berth_http_requests_total" out
'

test_expect_success 'namespaces: create, get, list, patch, delete' '
	api PUT /v1/namespaces/spec-a && want 201 &&
	api PUT /v1/namespaces/spec-b -H "Content-Type: application/json" \
		-d "{\"labels\":{\"team\":\"infra\",\"tier\":\"1\"}}" && want 201 &&
	api GET /v1/namespaces/spec-b && want 200 &&
	jq -e ".labels.team == \"infra\"" out &&
	api GET /v1/namespaces && want 200 &&
	api GET "/v1/namespaces?filter=labels.%22team%22==infra&filter=name==default" && want 200 &&
	jq -e "[.namespaces[].name] == [\"default\", \"spec-b\"]" out &&
	api PATCH /v1/namespaces/spec-b -H "Content-Type: application/merge-patch+json" \
		-d "{\"labels\":{\"team\":null,\"x\":\"y\"}}" && want 200 &&
	jq -e ".labels == {\"tier\":\"1\",\"x\":\"y\"}" out &&
	api DELETE /v1/namespaces/spec-a && want 204 &&
	test_must_be_empty out &&
	api HEAD /v1/namespaces/spec-b && want 200
'

test_expect_success 'namespaces: 400 malformed JSON, unknown field, bad name, unknown parameter' '
	api PUT /v1/namespaces/spec-c -d "{\"labels\":" && want 400 invalid_argument &&
	api PUT /v1/namespaces/spec-c -d "{\"lables\":{}}" && want 400 invalid_argument &&
	api PATCH /v1/namespaces/spec-b -d "{\"labels\":{\"k\":1}}" && want 400 invalid_argument &&
	api PUT /v1/namespaces/Bad_Name && want 400 invalid_argument &&
	api GET /v1/namespaces/-x && want 400 invalid_argument &&
	api GET "/v1/namespaces?limit=1" && want 400 invalid_argument &&
	api GET "/v1/namespaces?filter=%3D%3D" && want 400 invalid_argument
'

test_expect_success 'namespaces: 404, 409, 412' '
	api GET /v1/namespaces/nosuch && want 404 not_found &&
	api PATCH /v1/namespaces/nosuch -d "{}" && want 404 not_found &&
	api DELETE /v1/namespaces/nosuch && want 404 not_found &&
	api PUT /v1/namespaces/spec-b && want 409 already_exists &&
	api DELETE /v1/namespaces/default && want 412 failed_precondition
'

test_expect_success '405 with Allow, 404 for no route' '
	api POST /v1/namespaces/spec-b && want 405 method_not_allowed &&
	test_grep -i "^Allow: GET, HEAD, PUT, PATCH, DELETE" headers &&
	api DELETE /v1/events && want 405 method_not_allowed &&
	test_grep -i "^Allow: GET, HEAD, POST" headers &&
	api GET /v1/nowhere && want 404 not_found
'

test_expect_success '413 for a JSON body over the limit (Content-Length and chunked)' '
	head -c 1100000 /dev/zero | tr "\\0" " " >big.json &&
	api PUT /v1/namespaces/spec-big --data-binary @big.json && want 413 payload_too_large &&
	api PUT /v1/namespaces/spec-big -H "Transfer-Encoding: chunked" --data-binary @big.json &&
	want 413 payload_too_large &&
	api GET /v1/namespaces/spec-big && want 404 not_found
'

test_expect_success 'events: publish 201, 400 for a bad topic, missing field, unknown field' '
	api POST /v1/events -d "{\"namespace\":\"spec-b\",\"topic\":\"/spec/test\",\"event\":{\"n\":1}}" &&
	want 201 &&
	jq -e ".topic == \"/spec/test\" and (.id | type == \"number\")" out &&
	api POST /v1/events -d "{\"namespace\":\"default\",\"topic\":\"/spec/empty\"}" && want 201 &&
	api POST /v1/events -d "{\"namespace\":\"default\",\"topic\":\"spec\"}" && want 400 invalid_argument &&
	api POST /v1/events -d "{\"namespace\":\"default\"}" && want 400 invalid_argument &&
	api POST /v1/events -d "{\"namespace\":\"default\",\"topic\":\"/a\",\"x\":1}" &&
	want 400 invalid_argument
'

test_expect_success 'events: the SSE stream (first frames), 400 for a bad Last-Event-ID or since' '
	test_expect_code 28 api GET "/v1/events?since=0&topic=/spec/" -m 1 &&
	want 200 &&
	test_grep -i "^Content-Type: text/event-stream" headers &&
	test_grep "^retry: " out &&
	test_grep "^event: /spec/test\$" out &&
	test_grep "^data: {.*\"topic\":\"/spec/test\"" out &&
	test_expect_code 28 api GET /v1/events -m 1 && want 200 &&
	api GET /v1/events -H "Last-Event-ID: abc" && want 400 invalid_argument &&
	api GET "/v1/events?since=-1" && want 400 invalid_argument &&
	api GET "/v1/events?topic=nostartslash" && want 400 invalid_argument &&
	api GET "/v1/events?namespace=Bad" && want 400 invalid_argument &&
	api GET "/v1/events?bogus=1" && want 400 invalid_argument
'

test_expect_failure 'an over-long request line gets a JSON error (libmicrohttpd answers 414 in HTML)' '
	long=$(head -c 70000 /dev/zero | tr "\\0" a) &&
	api GET "/v1/namespaces/$long" &&
	want 414 &&
	jq -e ".error.code" out
'

# tcp METHOD PATH [CURL ARGS...]: as api, over the TCP listener; records
# the response in ./tcp.ndjson.
tcp () {
	tcp_method_=$1 tcp_path_=$2 &&
	shift 2 &&
	tcp_meta_=$(curl -s -D headers -o out -w "%{http_code} %{content_type}" \
		-X "$tcp_method_" "$@" "http://127.0.0.1:$port$tcp_path_") &&
	echo "${tcp_meta_%% *}" >status &&
	jq -cn --arg method "$tcp_method_" --arg path "$tcp_path_" \
		--argjson status "${tcp_meta_%% *}" --arg content_type "${tcp_meta_#* }" \
		--rawfile body out \
		"{method: \$method, path: \$path, status: \$status, content_type: \$content_type, body: \$body}" \
		>>tcp.ndjson
}

test_expect_success 'TCP listener: 401 without the bearer token, served with it' '
	stop_berthd &&
	port=$(python3 -c "import socket; s=socket.socket(); s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])") &&
	echo spec-token-0123456789 >token &&
	start_berthd --listen "127.0.0.1:$port" --token-file "$TRASH/token" &&
	tcp GET /v1/version && want 401 unauthenticated &&
	test_grep -i "^WWW-Authenticate: Bearer" headers &&
	tcp PUT /v1/namespaces/spec-tcp -H "Authorization: Bearer wrong-token-0123456789" &&
	want 401 unauthenticated &&
	tcp DELETE /v1/nowhere && want 401 unauthenticated &&
	tcp GET /v1/version -H "Authorization: Bearer spec-token-0123456789" && want 200 &&
	tcp PUT /v1/namespaces/spec-tcp -H "Authorization: Bearer spec-token-0123456789" &&
	want 201 &&
	api GET /v1/namespaces/spec-tcp && want 200 &&
	validate responses "$SPEC" tcp.ndjson
'

test_expect_success 'stop berthd' '
	stop_berthd
'

# ---- validate everything recorded -------------------------------------

test_expect_success 'every recorded response matches the spec' '
	test_path_is_file "$BERTH_RESPONSE_LOG" &&
	grep -c . "$BERTH_RESPONSE_LOG" &&
	validate responses "$SPEC" "$BERTH_RESPONSE_LOG"
'

test_expect_success 'response validation can fail: wrong bodies, statuses and content types are reported' '
	ts=2026-01-02T03:04:05.123456789Z &&
	cat >bad.ndjson <<-EOF &&
	{"method":"GET","path":"/v1/namespaces/default","status":200,"content_type":"application/json","body":"{\"labels\":{},\"created_at\":\"$ts\",\"updated_at\":\"$ts\"}"}
	{"method":"GET","path":"/v1/version","status":418,"content_type":"application/json","body":"{}"}
	{"method":"GET","path":"/v1/server","status":200,"content_type":"text/html","body":"<p>"}
	{"method":"PUT","path":"/v1/namespaces/Nope","status":201,"content_type":"application/json","body":"{\"name\":\"Nope\",\"labels\":{},\"created_at\":\"$ts\",\"updated_at\":\"$ts\"}"}
	{"method":"GET","path":"/v1/namespaces","status":200,"content_type":"application/json","body":"{\"namespaces\":[],\"extra\":1}"}
	{"method":"DELETE","path":"/v1/namespaces/x","status":204,"content_type":"","body":"oops"}
	{"method":"GET","path":"/v1/nowhere","status":200,"content_type":"application/json","body":"{}"}
	{"method":"GET","path":"/v1/events","status":200,"content_type":"text/event-stream","body":"id: 7\nevent: /a\ndata: {\"topic\":\"/a\"}\n\n"}
	{"method":"POST","path":"/v1/events","status":400,"content_type":"application/json","body":"{\"error\":{\"code\":\"bad_thing\",\"message\":\"x\"}}"}
	{"method":"GET","path":"/v1/version","status":431,"content_type":"","body":"<html></html>"}
	EOF
	test_must_fail validate responses "$SPEC" bad.ndjson >bad.out &&
	cat bad.out &&
	test_grep "GET /v1/namespaces/default -> 200: .* must have required property .name." bad.out &&
	test_grep "GET /v1/version -> 418: status 418 is not documented" bad.out &&
	test_grep "GET /v1/server -> 200: Content-Type .text/html. is not documented" bad.out &&
	test_grep "PUT /v1/namespaces/Nope -> 201: answered 201 for path parameter ns=.Nope." bad.out &&
	test_grep "GET /v1/namespaces -> 200: .*must NOT have additional properties" bad.out &&
	test_grep "DELETE /v1/namespaces/x -> 204: .*must have no body" bad.out &&
	test_grep "GET /v1/nowhere -> 200: status 200 for a path no route matches" bad.out &&
	test_grep "GET /v1/events -> 200: data .*must have required property .timestamp." bad.out &&
	test_grep "POST /v1/events -> 400: .*must be equal to one of the allowed values" bad.out &&
	test_grep "known deviation: GET /v1/version -> 431" bad.out &&
	test_grep "10 responses checked, 9 failures, 1 known deviations" bad.out
'

test_done
