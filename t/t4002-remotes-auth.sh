#!/bin/sh

test_description='registry client: basic auth, the token flow, config.json and per-request credentials'

. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/registry.sh"

FETCH=$BERTH_BUILD_DIR/t/helpers/remotes-fetch
test -x "$FETCH" || { skip_all='t/helpers/remotes-fetch is not built'; test_done; }
test_have_prereq REGISTRY || { skip_all='needs docker-registry, skopeo, umoci, busybox'; test_done; }

USER_=alice
PASS_='pa ss:w0rd,"x'
B64=$(printf '%s:%s' "$USER_" "$PASS_" | base64 -w0)

# docker_config AUTH-OBJECT: $HOME/.docker/config.json with auths for $REGISTRY.
docker_config () {
	mkdir -p "$HOME/.docker" &&
	printf '{"auths": {"%s": %s}}\n' "$REGISTRY" "$1" >"$HOME/.docker/config.json"
}

# no_secrets FILE...: neither the password, its base64 form nor a JWT.
no_secrets () {
	for f in "$@"; do
		! grep -F -e "$PASS_" -e "$B64" -e "s3cret" "$f" &&
		! grep -E -e "eyJ[A-Za-z0-9_-]{10,}" -e "Authorization" -e "Basic [A-Za-z0-9+/=]{8,}" "$f" ||
		return 1
	done
}

test_expect_success HTPASSWD 'setup: a registry with basic auth (htpasswd, bcrypt)' '
	start_registry --htpasswd "$USER_:$PASS_" &&
	push_image app:v1 &&
	image_blobs app:v1 >blobs
'

test_expect_success HTPASSWD 'without credentials: unauthenticated' '
	test_expect_code 1 "$FETCH" --plain-http "$REGISTRY/app:v1" >out 2>err &&
	test_grep "^error unauthenticated .$REGISTRY. requires authentication for .app." out
'

test_expect_success HTPASSWD 'credentials from config.json (base64 auth)' '
	docker_config "{\"auth\": \"$B64\"}" &&
	mkdir b1 &&
	"$FETCH" --plain-http -l trace --blobs b1 "$REGISTRY/app:v1" >out 2>err &&
	test_grep "^manifest " out &&
	test "$(grep -c "^blob " out)" = 3 &&
	no_secrets out err
'

test_expect_success HTPASSWD 'credentials from config.json (username and password)' '
	jq -n --arg u "$USER_" --arg p "$PASS_" "{username: \$u, password: \$p}" >entry &&
	docker_config "$(cat entry)" &&
	"$FETCH" --plain-http "$REGISTRY/app:v1" >out &&
	test_grep "^manifest " out
'

test_expect_success HTPASSWD 'credentials from a config.json named by docker_config' '
	mv "$HOME/.docker/config.json" named.json &&
	echo "{\"docker_config\": \"$PWD/named.json\"}" >cfg.json &&
	"$FETCH" -c "$PWD/cfg.json" --plain-http "$REGISTRY/app:v1" >out &&
	test_grep "^manifest " out &&
	test_expect_code 1 "$FETCH" --plain-http "$REGISTRY/app:v1" >out &&
	test_grep "^error unauthenticated" out
'

test_expect_success HTPASSWD 'a malformed config.json named by docker_config is a start-up error' '
	echo "{\"auths\": {\"x\": {\"auth\": \"!!\"}}}" >broken.json &&
	echo "{\"docker_config\": \"$PWD/broken.json\"}" >cfg2.json &&
	test_expect_code 1 "$FETCH" -c "$PWD/cfg2.json" --plain-http "$REGISTRY/app:v1" >out &&
	test_grep "^error invalid_argument docker config .*broken.json.*auths.\"x\".auth" out
'

test_expect_success HTPASSWD 'per-request credentials' '
	rm -f "$HOME/.docker/config.json" &&
	mkdir b2 &&
	"$FETCH" --plain-http -l trace --user "$USER_:$PASS_" --blobs b2 "$REGISTRY/app:v1" >out 2>err &&
	test "$(grep -c "^blob " out)" = 3 &&
	no_secrets out err
'

test_expect_success HTPASSWD 'per-request credentials win over config.json' '
	docker_config "{\"auth\": \"$(printf "%s" "$USER_:wrong" | base64 -w0)\"}" &&
	test_expect_code 1 "$FETCH" --plain-http "$REGISTRY/app:v1" >out &&
	test_grep "^error unauthenticated .$REGISTRY. refused the credentials" out &&
	"$FETCH" --plain-http --user "$USER_:$PASS_" "$REGISTRY/app:v1" >out &&
	test_grep "^manifest " out
'

test_expect_success HTPASSWD 'wrong per-request credentials: unauthenticated, nothing leaked' '
	rm -f "$HOME/.docker/config.json" &&
	test_expect_code 1 "$FETCH" --plain-http -l trace --user "$USER_:not-$PASS_" \
		"$REGISTRY/app:v1" >out 2>err &&
	test_grep "^error unauthenticated .$REGISTRY. refused the credentials for .app." out &&
	! grep -F "not-$PASS_" out err &&
	no_secrets out err &&
	stop_registry
'

test_expect_success 'setup: a registry with token auth' '
	start_registry --token --creds "$USER_:$PASS_" &&
	push_image app:v1 &&
	push_image other:v1
'

test_expect_success 'token flow with config.json credentials; one token for many blobs' '
	docker_config "{\"auth\": \"$B64\"}" &&
	mkdir t1 &&
	before=$(token_requests) &&
	"$FETCH" --plain-http -l trace --blobs t1 "$REGISTRY/app:v1" >out 2>err &&
	test "$(grep -c "^blob " out)" = 3 &&
	after=$(token_requests) &&
	test $((after - before)) = 1 &&
	test_grep "user=$USER_ scope=repository:app:pull" "$TOKEN_LOG" &&
	no_secrets out err
'

test_expect_success 'token flow with per-request credentials' '
	rm -f "$HOME/.docker/config.json" &&
	"$FETCH" --plain-http --user "$USER_:$PASS_" "$REGISTRY/other:v1" >out &&
	test_grep "^manifest " out
'

test_expect_success 'token flow without credentials: unauthenticated' '
	test_expect_code 1 "$FETCH" --plain-http "$REGISTRY/app:v1" >out &&
	test_grep "^error unauthenticated" out
'

test_expect_success 'token flow with wrong credentials: unauthenticated, nothing leaked' '
	test_expect_code 1 "$FETCH" --plain-http -l trace --user "$USER_:bad" "$REGISTRY/app:v1" >out 2>err &&
	test_grep "^error unauthenticated .*refused the credentials" out &&
	no_secrets out err
'

test_expect_success 'a bearer token given per request is sent as is' '
	tok=$(curl -sf -u "$USER_:$PASS_" \
		"http://$TOKEN_SERVER/token?service=berth-test-registry&scope=repository:app:pull" | jq -r .token) &&
	test -n "$tok" &&
	"$FETCH" --plain-http --token "$tok" -l trace "$REGISTRY/app:v1" >out 2>err &&
	test_grep "^manifest " out &&
	! grep -F "$tok" out err &&
	test_expect_code 1 "$FETCH" --plain-http --token "not-a-token" "$REGISTRY/app:v1" >out &&
	test_grep "^error unauthenticated" out &&
	stop_registry
'

test_expect_success 'anonymous pull tokens' '
	start_registry --token --anonymous-pull &&
	push_image app:v1 &&
	"$FETCH" --plain-http "$REGISTRY/app:v1" >out &&
	test_grep "^manifest " out &&
	test_grep "user=- scope=repository:app:pull" "$TOKEN_LOG"
'

test_expect_success 'stop the registries' '
	stop_fixtures
'

test_done
