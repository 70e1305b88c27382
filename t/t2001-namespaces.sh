#!/bin/sh
test_description='namespaces: CRUD, labels, filters, the default namespace, durability'
. "$(dirname "$0")/lib/test-lib.sh"

test_expect_success 'start berthd' '
	echo "{}" >config.json &&
	start_berthd
'

test_expect_success '"default" always exists' '
	api GET /v1/namespaces && test "$(cat status)" = 200 &&
	jq -e "[.namespaces[].name] == [\"default\"]" out &&
	api GET /v1/namespaces/default && test "$(cat status)" = 200 &&
	jq -e ".name == \"default\" and .labels == {}" out
'

test_expect_success 'create without a body, then with labels' '
	api PUT /v1/namespaces/plain && test "$(cat status)" = 201 &&
	jq -e ".name == \"plain\" and .labels == {} and (.created_at | length > 0)" out &&
	api PUT /v1/namespaces/team-a -d "{\"labels\":{\"owner\":\"alice\",\"tier\":\"gold\"}}" &&
	test "$(cat status)" = 201 &&
	jq -e ".labels == {\"owner\":\"alice\",\"tier\":\"gold\"}" out &&
	api PUT /v1/namespaces/team.b -d "{\"labels\":{\"owner\":\"bob\",\"a.b/c\":\"dotted\"}}" &&
	test "$(cat status)" = 201
'

test_expect_success 'creating a taken name is 409 already_exists' '
	api PUT /v1/namespaces/plain && test "$(cat status)" = 409 &&
	jq -e ".error.code == \"already_exists\"" out &&
	api PUT /v1/namespaces/default && test "$(cat status)" = 409
'

test_expect_success 'list is sorted by name' '
	api GET /v1/namespaces &&
	jq -r ".namespaces[].name" out >names &&
	printf "default\nplain\nteam-a\nteam.b\n" >expect &&
	test_cmp expect names
'

test_expect_success 'PATCH merges labels; null removes one' '
	api PATCH /v1/namespaces/team-a -d "{\"labels\":{\"tier\":null,\"zone\":\"eu\"}}" &&
	test "$(cat status)" = 200 &&
	jq -e ".labels == {\"owner\":\"alice\",\"zone\":\"eu\"}" out &&
	jq -e ".updated_at > .created_at" out &&
	api GET /v1/namespaces/team-a &&
	jq -e ".labels == {\"owner\":\"alice\",\"zone\":\"eu\"}" out &&
	api PATCH /v1/namespaces/team-a -d "{}" && test "$(cat status)" = 200 &&
	api PATCH /v1/namespaces/ghost -d "{\"labels\":{}}" && test "$(cat status)" = 404
'

test_expect_success 'filters: name, labels, regex, AND, OR, presence' '
	list() { api GET "/v1/namespaces?$1" && jq -r "[.namespaces[].name] | join(\" \")" out; } &&
	test "$(list "filter=name==plain")" = "plain" &&
	test "$(list "filter=labels.owner==alice")" = "team-a" &&
	test "$(list "filter=labels.owner")" = "team-a team.b" &&
	test "$(list "filter=name~=%5Eteam")" = "team-a team.b" &&
	test "$(list "filter=labels.owner==bob,name~=team")" = "team.b" &&
	test "$(list "filter=name==plain&filter=name==default")" = "default plain" &&
	test "$(list "filter=labels.%22a.b%2Fc%22==dotted")" = "team.b" &&
	test "$(list "filter=labels.owner!=alice")" = "default plain team.b" &&
	test "$(list "filter=name==nobody")" = ""
'

test_expect_success 'delete: 204, then 404' '
	api DELETE /v1/namespaces/plain && test "$(cat status)" = 204 && test ! -s out &&
	api GET /v1/namespaces/plain && test "$(cat status)" = 404 &&
	api DELETE /v1/namespaces/plain && test "$(cat status)" = 404 &&
	jq -e ".error.code == \"not_found\"" out
'

test_expect_success 'default cannot be deleted: 412 failed_precondition' '
	api DELETE /v1/namespaces/default && test "$(cat status)" = 412 &&
	jq -e ".error.code == \"failed_precondition\"" out
'

test_expect_success 'namespaces and labels survive a restart' '
	stop_berthd &&
	start_berthd &&
	api GET /v1/namespaces/team-a && test "$(cat status)" = 200 &&
	jq -e ".labels == {\"owner\":\"alice\",\"zone\":\"eu\"}" out &&
	api GET /v1/namespaces/plain && test "$(cat status)" = 404
'

test_expect_success 'namespaces survive kill -9 right after the answer (durable commit)' '
	api PUT /v1/namespaces/durable -d "{\"labels\":{\"k\":\"v\"}}" &&
	test "$(cat status)" = 201 &&
	kill_berthd &&
	start_berthd &&
	api GET /v1/namespaces/durable && test "$(cat status)" = 200 &&
	jq -e ".labels.k == \"v\"" out
'

test_expect_success 'many namespaces' '
	for i in $(seq 1 100); do
		api PUT /v1/namespaces/bulk-$i >/dev/null && test "$(cat status)" = 201 || return 1
	done &&
	api GET "/v1/namespaces?filter=name~=%5Ebulk-" &&
	test "$(jq ".namespaces | length" out)" = 100 &&
	stop_berthd
'

test_done
