#!/bin/sh
test_description='images: create, replace, list, filter, delete, names, events'
. "$(dirname "$0")/lib/test-lib.sh"

D1=sha256:1111111111111111111111111111111111111111111111111111111111111111
D2=sha256:2222222222222222222222222222222222222222222222222222222222222222
MT=application/vnd.oci.image.manifest.v1+json
IX=application/vnd.oci.image.index.v1+json

put_image() {
	api PUT "/v1/namespaces/${3:-default}/images/$1" \
		-d "{\"target\":{\"mediaType\":\"$MT\",\"digest\":\"$2\",\"size\":123}${4:+,\"labels\":$4}}"
}

test_expect_success 'start berthd' '
	echo "{}" >config.json &&
	start_berthd
'

test_expect_success 'no images at first' '
	api GET /v1/namespaces/default/images && test "$(cat status)" = 200 &&
	jq -e ".images == []" out
'

test_expect_success 'create an image: 201, name normalised as Docker does' '
	put_image redis $D1 default "{\"team\":\"db\"}" &&
	test "$(cat status)" = 201 &&
	jq -e ".name == \"docker.io/library/redis:latest\" and .target.digest == \"$D1\" and
		.target.size == 123 and .labels.team == \"db\"" out
'

test_expect_success 'get by short name and by percent-encoded full name' '
	api GET /v1/namespaces/default/images/redis && test "$(cat status)" = 200 &&
	jq -e ".name == \"docker.io/library/redis:latest\"" out &&
	api GET /v1/namespaces/default/images/docker.io%2Flibrary%2Fredis%3Alatest &&
	test "$(cat status)" = 200
'

test_expect_success 'replace: 200, labels kept when not given, replaced when given' '
	put_image redis $D2 &&
	test "$(cat status)" = 200 &&
	jq -e ".target.digest == \"$D2\" and .labels.team == \"db\" and .updated_at > .created_at" out &&
	put_image redis $D2 default "{\"x\":\"y\"}" &&
	jq -e ".labels == {\"x\":\"y\"}" out
'

test_expect_success 'registry names with ports and digests' '
	put_image localhost:5000%2Fapp%3Av1 $D1 && test "$(cat status)" = 201 &&
	jq -e ".name == \"localhost:5000/app:v1\"" out &&
	put_image "ghcr.io%2Fo%2Fr%40$D2" $D1 && test "$(cat status)" = 201 &&
	jq -e ".name == \"ghcr.io/o/r@$D2\"" out
'

test_expect_success 'list and filter' '
	api GET /v1/namespaces/default/images &&
	jq -r ".images[].name" out >names &&
	printf "docker.io/library/redis:latest\nghcr.io/o/r@%s\nlocalhost:5000/app:v1\n" $D2 >expect &&
	test_cmp expect names &&
	api GET "/v1/namespaces/default/images?filter=labels.x==y" &&
	jq -e "[.images[].name] == [\"docker.io/library/redis:latest\"]" out &&
	api GET "/v1/namespaces/default/images?filter=target.digest==$D1" &&
	jq -e ".images | length == 2" out &&
	api GET "/v1/namespaces/default/images?filter=name~=%5Elocalhost" &&
	jq -e ".images | length == 1" out
'

test_expect_success 'bad names and bad targets: 400' '
	put_image lower%2FUPPER $D1 && test "$(cat status)" = 400 &&
	jq -e ".error.code == \"invalid_argument\"" out &&
	put_image "a%40sha256%3Ashort" $D1 && test "$(cat status)" = 400 &&
	put_image ok md5:00 && test "$(cat status)" = 400 &&
	api PUT /v1/namespaces/default/images/ok -d "{\"target\":{\"digest\":\"$D1\",\"size\":1}}" &&
	test "$(cat status)" = 400 && grep mediaType out &&
	api PUT /v1/namespaces/default/images/ok -d "{\"target\":{\"mediaType\":\"$MT\",\"digest\":\"$D1\",\"size\":-1}}" &&
	test "$(cat status)" = 400 &&
	api PUT /v1/namespaces/default/images/ok -d "{\"target\":{\"mediaType\":\"$MT\",\"digest\":\"$D1\",\"size\":1},\"extra\":1}" &&
	test "$(cat status)" = 400 && grep extra out &&
	api PUT /v1/namespaces/default/images/ok -d "{}" && test "$(cat status)" = 400 &&
	api GET /v1/namespaces/default/images/ok && test "$(cat status)" = 404
'

test_expect_success 'writing into a new namespace creates it; it cannot be deleted while it holds images' '
	put_image busybox $D1 other && test "$(cat status)" = 201 &&
	api GET /v1/namespaces/other && test "$(cat status)" = 200 &&
	api DELETE /v1/namespaces/other && test "$(cat status)" = 412 &&
	grep images out &&
	api GET /v1/namespaces/default/images/busybox && test "$(cat status)" = 404
'

test_expect_success 'delete: 204, then 404; the namespace can go' '
	api DELETE /v1/namespaces/other/images/busybox && test "$(cat status)" = 204 &&
	api DELETE /v1/namespaces/other/images/busybox && test "$(cat status)" = 404 &&
	api DELETE /v1/namespaces/other && test "$(cat status)" = 204
'

test_expect_success 'delete ?sync=true answers after a collection' '
	put_image synced $D1 && test "$(cat status)" = 201 &&
	api DELETE "/v1/namespaces/default/images/synced?sync=true" && test "$(cat status)" = 204 &&
	api DELETE "/v1/namespaces/default/images/redis?sync=maybe" && test "$(cat status)" = 400
'

test_expect_success 'image events' '
	{ curl -s -N --unix-socket "$BERTH_SOCK" "http://berth/v1/events?since=0&topic=/images/" \
		--max-time 1 >ev || :; } &&
	grep "^event: /images/create" ev &&
	grep "^event: /images/update" ev &&
	grep "^event: /images/delete" ev &&
	grep "\"name\":\"docker.io/library/redis:latest\"" ev
'

test_expect_success 'images survive a restart' '
	stop_berthd &&
	start_berthd &&
	api GET /v1/namespaces/default/images/redis && test "$(cat status)" = 200 &&
	stop_berthd
'

test_done
