#!/bin/sh
test_description='the berth CLI against a real berthd'
. "$(dirname "$0")/lib/test-lib.sh"

test_expect_success 'berth --help and --version need no daemon' '
	"$BERTH" --help >help &&
	grep "Exit status" help && grep "namespaces" help &&
	"$BERTH" --version >v && grep "[0-9]" v &&
	for c in version namespaces events plugins server "namespaces ls" \
		 "namespaces create" "namespaces rm" "namespaces label"; do
		"$BERTH" $c --help >h 2>&1 && test -s h || return 1
	done
'

test_expect_success 'no daemon: one line, exit 3' '
	test_expect_code 3 "$BERTH" --address "$TRASH/nowhere.sock" namespaces ls 2>err &&
	test_line_count = 1 err &&
	grep "^berth: cannot connect to berthd at" err
'

test_expect_success 'usage errors: exit 2' '
	test_expect_code 2 "$BERTH" frobnicate 2>err && grep "^berth: " err &&
	test_expect_code 2 "$BERTH" namespaces explode 2>err &&
	test_expect_code 2 "$BERTH" namespaces create 2>err &&
	test_expect_code 2 "$BERTH" namespaces ls --nope 2>err &&
	test_expect_code 2 "$BERTH" namespaces create x notalabel 2>err
'

test_expect_success 'start berthd' '
	echo "{}" >config.json &&
	start_berthd
'

test_expect_success 'berth version shows client and server' '
	"$BERTH" version >out &&
	grep "^Client:" out && grep "^Server:" out &&
	test $(grep -c "Version:" out) = 2 &&
	"$BERTH" --json version >out.json &&
	jq -e ".server.api == \"v1\" and (.client.version | length > 0)" out.json
'

test_expect_success 'namespaces create, ls, label, rm' '
	"$BERTH" namespaces create web env=prod team=a &&
	"$BERTH" ns create batch &&
	"$BERTH" namespaces ls >ls &&
	head -n1 ls >header && grep "^NAME *LABELS" header &&
	grep "^web  *env=prod,team=a\$" ls &&
	grep "^batch" ls &&
	"$BERTH" namespaces ls -q >names &&
	printf "batch\ndefault\nweb\n" >expect && test_cmp expect names &&
	"$BERTH" namespaces label web team= zone=eu &&
	api GET /v1/namespaces/web &&
	jq -e ".labels == {\"env\":\"prod\",\"zone\":\"eu\"}" out &&
	"$BERTH" namespaces ls -q --filter labels.zone==eu >f && echo web >expect && test_cmp expect f &&
	"$BERTH" namespaces rm batch >rm.out && grep batch rm.out &&
	"$BERTH" ns ls -q >names && printf "default\nweb\n" >expect && test_cmp expect names
'

test_expect_success 'daemon errors: one line with the server message, exit 1 (bad names: 2)' '
	test_expect_code 1 "$BERTH" namespaces create web 2>err &&
	test_line_count = 1 err && grep "^berth: namespace .web. already exists" err &&
	test_expect_code 2 "$BERTH" namespaces create BAD 2>err &&
	grep "^berth: invalid namespace name" err &&
	test_expect_code 1 "$BERTH" namespaces rm default 2>err &&
	grep "^berth: " err
'

test_expect_success 'rm of several names reports each and fails if any failed' '
	"$BERTH" ns create one && "$BERTH" ns create two &&
	test_expect_code 1 "$BERTH" ns rm one ghost two >out 2>err &&
	grep one out && grep two out && grep ghost err &&
	"$BERTH" ns ls -q >names && printf "default\nweb\n" >expect && test_cmp expect names
'

test_expect_success '--json prints the raw answer' '
	"$BERTH" --json namespaces ls >j &&
	jq -e ".namespaces | map(.name) == [\"default\",\"web\"]" j
'

test_expect_success 'BERTH_ADDRESS and --address both work' '
	"$BERTH" --address "$BERTH_SOCK" server >s1 &&
	BERTH_ADDRESS=$BERTH_SOCK "$BERTH" server >s2 &&
	test_cmp s1 s2 &&
	grep "PID: *$BERTHD_PID" s1
'

test_expect_success 'berth plugins lists the plugin table' '
	"$BERTH" plugins >p &&
	grep "^TYPE *ID *STATUS" p &&
	grep "io.berth.metadata.v1 *lmdb *ok" p &&
	"$BERTH" --json plugins >pj &&
	jq -e "[.plugins[] | select(.status != \"ok\")] | length == 0" pj
'

test_expect_success 'berth events follows the stream, one line per event' '
	{ "$BERTH" events --topic /namespaces/ >ev 2>ev.err & } &&
	epid=$! &&
	test_when_finished "kill $epid 2>/dev/null || :" &&
	sleep 0.3 &&
	"$BERTH" ns create evt &&
	"$BERTH" ns rm evt &&
	api POST /v1/events -d "{\"namespace\":\"default\",\"topic\":\"/other\"}" &&
	test_wait_for 5 eval "test \$(wc -l <ev) -ge 2" &&
	kill -INT $epid && wait $epid &&
	grep " evt /namespaces/create {" ev &&
	grep " evt /namespaces/delete {" ev &&
	! grep /other ev
'

test_expect_success 'berth events --since replays, --json gives one object per line' '
	api POST /v1/events -d "{\"namespace\":\"default\",\"topic\":\"/cli/x\",\"event\":{\"n\":1}}" &&
	id=$(jq -r .id out) &&
	{ "$BERTH" --json events --since $((id - 1)) --topic /cli/ >evj & } &&
	epid=$! &&
	test_wait_for 5 eval "test -s evj" &&
	kill -INT $epid && wait $epid &&
	head -n1 evj | jq -e ".id == $id and .topic == \"/cli/x\" and .event.n == 1"
'

test_expect_success 'berth events exits 0 when berthd shuts down' '
	{ "$BERTH" events >ev2 2>ev2.err & } &&
	epid=$! &&
	sleep 0.3 &&
	stop_berthd &&
	wait $epid &&
	grep "shutting down" ev2.err
'

test_expect_success 'over TCP with a token' '
	port=$(python3 -c "import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); print(s.getsockname()[1])") &&
	echo "tcp-token-abcdefghijklmnop" >token &&
	start_berthd --listen 127.0.0.1:$port --token-file "$TRASH/token" &&
	"$BERTH" --address http://127.0.0.1:$port --token-file "$TRASH/token" ns ls -q >n &&
	grep default n &&
	BERTH_TOKEN=tcp-token-abcdefghijklmnop "$BERTH" --address http://127.0.0.1:$port version &&
	test_expect_code 1 "$BERTH" --address http://127.0.0.1:$port ns ls 2>err &&
	grep "bearer token" err &&
	stop_berthd
'

test_done
