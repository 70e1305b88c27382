#!/bin/sh
test_description='the optional TCP listener requires the bearer token'
. "$(dirname "$0")/lib/test-lib.sh"

port=$(python3 -c "import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); print(s.getsockname()[1])")
url=http://127.0.0.1:$port

test_expect_success 'start berthd with --listen and --token-file' '
	echo "{}" >config.json &&
	echo "s3cret-token-0123456789" >token &&
	chmod 600 token &&
	start_berthd --listen 127.0.0.1:$port --token-file "$TRASH/token"
'

test_expect_success 'no token: 401 unauthenticated, JSON, WWW-Authenticate' '
	curl -s -D headers -o out "$url/v1/version" &&
	grep "^HTTP/1.1 401" headers &&
	grep -i "^WWW-Authenticate: Bearer" headers &&
	jq -e ".error.code == \"unauthenticated\"" out
'

test_expect_success 'wrong token, wrong scheme, prefix of the token: 401' '
	for h in "Bearer nope" "Basic czNjcmV0" "Bearer s3cret-token" \
		 "Bearer s3cret-token-0123456789x" "Bearer "; do
		code=$(curl -s -o out -w "%{http_code}" -H "Authorization: $h" "$url/v1/version") &&
		test "$code" = 401 || return 1
	done
'

test_expect_success 'the right token: 200, any route' '
	curl -sf -H "Authorization: Bearer s3cret-token-0123456789" "$url/v1/version" >out &&
	jq -e ".api == \"v1\"" out &&
	curl -sf -X PUT -H "Authorization: Bearer s3cret-token-0123456789" \
		"$url/v1/namespaces/overtcp" >out &&
	jq -e ".name == \"overtcp\"" out
'

test_expect_success 'the unix socket needs no token' '
	api GET /v1/namespaces/overtcp && test "$(cat status)" = 200
'

test_expect_success 'the token never appears in the logs' '
	! grep "s3cret-token" "$TRASH/berthd.log"
'

test_expect_success 'stop' '
	stop_berthd
'

test_expect_success 'a token file that is missing or too short is refused (exit 2)' '
	echo short >short &&
	test_expect_code 2 "$BERTHD" --config config.json --root "$TRASH/r2" --state "$TRASH/s2" \
		--listen 127.0.0.1:$port --token-file "$TRASH/short" 2>err &&
	grep "at least 16" err &&
	test_expect_code 2 "$BERTHD" --config config.json --root "$TRASH/r2" --state "$TRASH/s2" \
		--listen 127.0.0.1:$port --token-file "$TRASH/missing" 2>err &&
	grep missing err
'

test_expect_success 'a bad listen address is refused (exit 2)' '
	test_expect_code 2 "$BERTHD" --config config.json --root "$TRASH/r3" --state "$TRASH/s3" \
		--listen nocolon --token-file "$TRASH/token" 2>err &&
	grep "HOST:PORT" err
'

test_done
