#!/bin/sh
test_description='berth content: push-blob, get, ls, label, rm, ingests against a real berthd'
. "$(dirname "$0")/lib/test-lib.sh"

test_lazy_prereq SCRIPT 'command -v script'

# sha256 FILE: the OCI digest of FILE.
sha256 () {
	echo "sha256:$(sha256sum "$1" | cut -d" " -f1)"
}

test_expect_success 'help and usage errors need no daemon' '
	for c in content "content ls" "content get" "content rm" "content label" \
		 "content ingests" "content push-blob"; do
		"$BERTH" $c --help >h 2>&1 && test -s h || return 1
	done &&
	grep "push-blob" h &&
	"$BERTH" content --help >h && grep "ingests" h &&
	test_expect_code 2 "$BERTH" content get 2>err &&
	test_expect_code 2 "$BERTH" content get sha256:abc 2>err &&
	grep "^berth: bad digest .sha256:abc." err &&
	test_expect_code 2 "$BERTH" content get SHA256:$(printf "%064d" 0) 2>err &&
	test_expect_code 2 "$BERTH" content rm sha256:$(printf "%064d" 0) nope 2>err &&
	test_expect_code 2 "$BERTH" content label sha256:$(printf "%064d" 0) novalue 2>err &&
	test_expect_code 2 "$BERTH" content push-blob 2>err &&
	test_expect_code 2 "$BERTH" content push-blob missing.bin 2>err &&
	grep "^berth: cannot open .missing.bin." err &&
	test_expect_code 2 "$BERTH" content push-blob . 2>err &&
	grep "not a regular file" err &&
	echo x >x &&
	test_expect_code 2 "$BERTH" content push-blob x sha256:zz 2>err &&
	test_expect_code 2 "$BERTH" content push-blob x $(sha256 x) extra 2>err &&
	test_expect_code 2 "$BERTH" content push-blob --label =v x 2>err
'

test_expect_success 'no daemon: exit 3' '
	echo data >f &&
	test_expect_code 3 "$BERTH" --address "$TRASH/nowhere.sock" content push-blob f 2>err &&
	grep "^berth: cannot connect to berthd" err &&
	test_expect_code 3 "$BERTH" --address "$TRASH/nowhere.sock" content ls 2>err
'

test_expect_success 'start berthd' '
	start_berthd
'

# Blobs nothing holds are collected: the tests hold theirs with this lease.
test_expect_success 'a lease holds what the tests push' '
	"$BERTH" leases create --id keep >id &&
	echo keep >expect && test_cmp expect id
'

test_expect_success 'push-blob computes the digest, prints it, and ls shows the blob' '
	printf "{\"hello\":\"world\"}\n" >small.json &&
	"$BERTH" content push-blob --lease keep small.json >d &&
	sha256 small.json >expect && test_cmp expect d &&
	"$BERTH" content ls >ls &&
	head -n1 ls | grep "^DIGEST *SIZE *AGE *LABELS$" &&
	grep "^$(cat d)  *18 B  *" ls &&
	"$BERTH" content ls -q >q && test_cmp expect q &&
	"$BERTH" content >ls2 && test_cmp ls ls2
'

test_expect_success 'push-blob of a big file streams it; get gives the same bytes' '
	head -c 20000000 /dev/urandom >big.bin &&
	"$BERTH" content push-blob --lease keep big.bin >d &&
	sha256 big.bin >expect && test_cmp expect d &&
	"$BERTH" content get "$(cat d)" >got.bin &&
	cmp big.bin got.bin &&
	"$BERTH" content get -o got2.bin "$(cat d)" &&
	cmp big.bin got2.bin &&
	"$BERTH" content ls >ls && grep "^$(cat d)  *19.1 MiB " ls
'

# Once berthd has the blob it answers a PUT before the body: the CLI waits
# for `100 Continue`, so it never sends the body into a closing connection
# (a broken pipe one push in ~25 before); a client that sends the body
# anyway gets the answer once berthd has read and dropped it.
test_expect_success 'push-blob of a blob berthd has: the answer, never a broken pipe' '
	i=0 &&
	while test $i -lt 60
	do
		"$BERTH" content push-blob --lease keep big.bin >d2 2>err &&
		test_cmp d d2 && test_must_be_empty err || return 1
		i=$((i + 1))
	done &&
	i=0 &&
	while test $i -lt 20
	do
		curl -s -o out -w "%{http_code} %{size_upload}\n" --unix-socket "$BERTH_SOCK" \
			-X PUT -H "Expect:" --data-binary @big.bin \
			"http://berth/v1/namespaces/default/content/$(cat d)/data" >code &&
		echo "200 20000000" >expect && test_cmp expect code &&
		jq -e ".digest == \"$(cat d)\"" out || return 1
		i=$((i + 1))
	done &&
	curl -s -o out -w "%{http_code} %{size_upload}\n" --unix-socket "$BERTH_SOCK" \
		-X PUT -H "Expect: 100-continue" --data-binary @big.bin \
		"http://berth/v1/namespaces/default/content/$(cat d)/data" >code &&
	echo "200 0" >expect && test_cmp expect code
'

test_expect_success 'push-blob with a digest: berthd checks it, a mismatch stores nothing' '
	echo "some bytes" >given &&
	"$BERTH" content push-blob --lease keep given "$(sha256 given)" >d &&
	sha256 given >expect && test_cmp expect d &&
	"$BERTH" content ls -q >before &&
	echo "other bytes" >wrong &&
	echo "yet other bytes" >unpushed &&
	test_expect_code 1 "$BERTH" content push-blob wrong "$(sha256 unpushed)" 2>err &&
	test_line_count = 1 err && grep "^berth: " err &&
	test_expect_code 1 "$BERTH" content push-blob wrong "sha256:$(printf "%064d" 7)" 2>err &&
	grep "^berth: .*sha256:0000000000000000000000000000000000000000000000000000000000000007" err &&
	"$BERTH" content ls -q >after && test_cmp before after
'

test_expect_success 'push-blob --label sets labels; --json prints the info' '
	echo labelled >l.txt &&
	"$BERTH" content push-blob --lease keep --label a=1 --label b=two l.txt >d &&
	"$BERTH" content ls >ls &&
	grep "^$(cat d) .* a=1,b=two$" ls &&
	echo labelled-json >lj.txt &&
	"$BERTH" --json content push-blob --lease keep --label k=v lj.txt >j &&
	jq -e ".digest == \"$(sha256 lj.txt)\" and .size == 14 and .labels.k == \"v\"" j
'

test_expect_success 'content label sets and removes labels' '
	d=$(sha256 l.txt) &&
	"$BERTH" content label "$d" a= c=3 &&
	"$BERTH" --json content ls --filter "digest==$d" >j &&
	jq -e ".blobs | length == 1 and .[0].labels == {\"b\":\"two\",\"c\":\"3\"}" j &&
	"$BERTH" content ls -q --filter "labels.c==3" >q &&
	echo "$d" >expect && test_cmp expect q &&
	"$BERTH" --json content label "$d" b= >j &&
	jq -e ".labels == {\"c\":\"3\"}" j &&
	test_expect_code 1 "$BERTH" content label "sha256:$(printf "%064d" 1)" x=y 2>err &&
	grep "^berth: .*not found" err
'

test_expect_success 'get of a missing blob: exit 1, no file left behind' '
	test_expect_code 1 "$BERTH" content get -o nope.bin "sha256:$(printf "%064d" 1)" 2>err &&
	test_line_count = 1 err && grep "^berth: .*not found" err &&
	test_path_is_missing nope.bin &&
	! ls nope.bin.* 2>/dev/null
'

test_expect_success 'get checks the digest while it streams: a corrupt blob fails' '
	head -c 300000 /dev/urandom >c.bin &&
	d=$("$BERTH" content push-blob --lease keep c.bin) &&
	blob=$TRASH/root/content/blobs/sha256/${d#sha256:} &&
	test_path_is_file "$blob" &&
	chmod u+w "$blob" &&
	printf "X" | dd of="$blob" bs=1 seek=1000 conv=notrunc 2>/dev/null &&
	echo old >target.bin &&
	test_expect_code 1 "$BERTH" content get -o target.bin "$d" 2>err &&
	grep "^berth: digest mismatch" err &&
	echo old >expect && test_cmp expect target.bin &&
	! ls target.bin.* 2>/dev/null &&
	test_expect_code 1 "$BERTH" content get "$d" >/dev/null 2>err &&
	grep "^berth: digest mismatch.*not the blob" err &&
	"$BERTH" content rm "$d"
'

test_expect_success SCRIPT 'get refuses to write a binary blob to a terminal, not a text one' '
	d=$(sha256 big.bin) &&
	test_expect_code 2 script -qec "\"$BERTH\" content get $d" /dev/null >tty.out &&
	grep "is binary: refusing to write it to a terminal" tty.out &&
	test $(wc -c <tty.out) -lt 1000 &&
	script -qec "\"$BERTH\" content get $(sha256 small.json)" /dev/null >tty.out &&
	grep "\"hello\":\"world\"" tty.out
'

test_expect_success SCRIPT 'push-blob shows progress on a terminal, the digest on stdout' '
	head -c 3000000 /dev/urandom >p.bin &&
	script -qec "\"$BERTH\" content push-blob --lease keep p.bin" /dev/null >tty.out &&
	grep "$(sha256 p.bin)" tty.out &&
	grep "2.9 MiB/2.9 MiB" tty.out &&
	printf "\033\133K" >csi && grep -F -f csi tty.out &&
	"$BERTH" content push-blob --lease keep p.bin >plain.out 2>plain.err &&
	test_must_be_empty plain.err
'

test_expect_success 'ingests lists writes in progress' '
	printf 0123456789 >part &&
	api PUT /v1/namespaces/default/content/ingests/my-upload \
		-H "Content-Range: bytes 0-9/100" --data-binary @part &&
	case "$(cat status)" in 2*) ;; *) cat out && false ;; esac &&
	"$BERTH" content ingests >in &&
	head -n1 in | grep "^REF *OFFSET *TOTAL *EXPECTED *UPDATED$" &&
	grep "^my-upload  *10 B  *100 B  *-  *.* ago$" in &&
	"$BERTH" content ingests -q >q && echo my-upload >expect && test_cmp expect q &&
	"$BERTH" --json content ingests >j &&
	jq -e ".ingests[0].ref == \"my-upload\" and .ingests[0].offset == 10" j &&
	api DELETE /v1/namespaces/default/content/ingests/my-upload &&
	"$BERTH" content ingests -q >q && test_must_be_empty q
'

test_expect_success 'content is per namespace' '
	"$BERTH" namespaces create other &&
	"$BERTH" -n other leases create --id keep &&
	echo only-here >o.txt &&
	"$BERTH" -n other content push-blob --lease keep o.txt >d &&
	"$BERTH" -n other content ls -q >q && test_cmp d q &&
	"$BERTH" content ls -q >q && ! grep "$(cat d)" q &&
	test_expect_code 1 "$BERTH" content get "$(cat d)" 2>err &&
	"$BERTH" -n other content get "$(cat d)" >got && test_cmp o.txt got &&
	"$BERTH" -n other content rm "$(cat d)" &&
	"$BERTH" -n other leases rm --sync keep &&
	"$BERTH" namespaces rm other
'

test_expect_success 'rm of several digests reports each and fails if any failed' '
	a=$(sha256 small.json) b=$(sha256 given) &&
	test_expect_code 1 "$BERTH" content rm "$a" "sha256:$(printf "%064d" 9)" "$b" >out 2>err &&
	printf "%s\n%s\n" "$a" "$b" >expect && test_cmp expect out &&
	test_line_count = 1 err && grep "^berth: .*not found" err &&
	"$BERTH" content ls -q >q && ! grep -e "$a" -e "$b" q
'

test_expect_success 'leases create, ls, rm' '
	"$BERTH" leases create --id build-1 --expires-in 30m --label team=a >id &&
	echo build-1 >expect && test_cmp expect id &&
	"$BERTH" leases create --expires-in 1h30m >id2 &&
	test -s id2 &&
	"$BERTH" leases create --id forever >/dev/null &&
	"$BERTH" leases ls >ls &&
	head -n1 ls | grep "^ID *CREATED *EXPIRES *LABELS$" &&
	grep "^build-1  *.* ago  *in 29 minutes  *team=a$" ls &&
	grep "^$(cat id2)  *.* ago  *in about an hour$" ls &&
	grep "^forever  *.* ago  *-$" ls &&
	"$BERTH" leases ls -q --filter labels.team==a >q &&
	echo build-1 >expect && test_cmp expect q &&
	"$BERTH" --json leases create --id j --expires-in 3600s >j &&
	jq -e ".id == \"j\" and (.expires_at | length > 0)" j &&
	"$BERTH" --json leases ls >j &&
	jq -e "[.leases[].id] | index(\"build-1\") != null" j &&
	test_expect_code 1 "$BERTH" leases create --id build-1 2>err &&
	grep "^berth: .*already exists" err &&
	test_expect_code 2 "$BERTH" leases create --expires-in 10x 2>err &&
	grep "^berth: bad --expires-in" err &&
	test_expect_code 2 "$BERTH" leases create --expires-in 0 2>err &&
	test_expect_code 2 "$BERTH" leases create --label nolabel 2>err &&
	test_expect_code 2 "$BERTH" leases create extra 2>err &&
	test_expect_code 1 "$BERTH" leases rm build-1 ghost "$(cat id2)" >out 2>err &&
	printf "build-1\n%s\n" "$(cat id2)" >expect && test_cmp expect out &&
	grep "^berth: .*ghost.*not found" err &&
	"$BERTH" lease rm --sync forever j &&
	"$BERTH" leases ls -q >q && echo keep >expect && test_cmp expect q
'

test_expect_success 'garbage collection takes what no lease holds' '
	echo held >held.txt && echo loose >loose.txt &&
	"$BERTH" content push-blob --lease keep held.txt >held &&
	"$BERTH" content push-blob loose.txt >loose &&
	api POST /v1/gc && test "$(cat status)" = 200 &&
	"$BERTH" content ls -q >q &&
	grep "$(cat held)" q && ! grep "$(cat loose)" q &&
	test_expect_code 1 "$BERTH" content push-blob --lease nosuch loose.txt 2>err &&
	grep "^berth: .*nosuch" err &&
	"$BERTH" leases rm --sync keep &&
	"$BERTH" content ls -q >q && test_must_be_empty q
'

test_expect_success 'berthd stops cleanly' '
	stop_berthd
'

test_done
