#!/bin/sh
test_description='berth pull and berth images against a real registry and berthd'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/registry.sh"

test_lazy_prereq SCRIPT 'command -v script'

test_expect_success 'pull: help and usage errors need no daemon' '
	for c in pull images "images ls" "images inspect" "images rm" "images tag"; do
		"$BERTH" $c --help >h 2>&1 && test -s h || return 1
	done &&
	"$BERTH" pull --help >h &&
	grep "goes on" h && grep -e "--platform" h && grep -e "--password-stdin" h &&
	test_expect_code 2 "$BERTH" pull 2>err && grep "^berth: missing the image REF" err &&
	test_expect_code 2 "$BERTH" pull a b 2>err &&
	test_expect_code 2 "$BERTH" pull "Not/Lowercase" 2>err &&
	grep "^berth: .*invalid reference format" err &&
	test_expect_code 2 "$BERTH" pull --platform linux busybox 2>err &&
	grep "^berth: bad --platform" err &&
	test_expect_code 2 "$BERTH" pull --platform "linux/a b" busybox 2>err &&
	test_expect_code 2 "$BERTH" pull --password-stdin busybox 2>err &&
	grep "needs --user" err &&
	echo tok >tok &&
	test_expect_code 2 "$BERTH" pull --user u:p --registry-token-file tok busybox 2>err &&
	test_expect_code 2 "$BERTH" pull --user u:p --password-stdin busybox 2>err &&
	test_expect_code 2 "$BERTH" pull --registry-token-file nofile busybox 2>err &&
	test_expect_code 2 "$BERTH" images tag onlyone 2>err &&
	test_expect_code 2 "$BERTH" images inspect 2>err &&
	test_expect_code 2 "$BERTH" images rm 2>err &&
	test_expect_code 3 "$BERTH" --address "$TRASH/nowhere.sock" pull busybox 2>err &&
	grep "^berth: cannot connect to berthd" err
'

test_have_prereq REGISTRY || {
	skip_all='needs docker-registry, skopeo, umoci, busybox-static (see t/lib/registry.sh)'
	test_done
}

test_expect_success 'start a registry with test images, and berthd' '
	start_registry &&
	push_image test/busybox &&
	push_image test/multi --from multi &&
	push_image test/docker --format v2s2 &&
	start_berthd
'

# no_ansi FILE: FILE holds no escape character.
no_ansi () {
	! grep "$(printf "\033")" "$1"
}

test_expect_success 'pull prints one line per state change when not on a terminal' '
	ref=$REGISTRY/test/busybox:latest &&
	digest=$(image_digest test/busybox) &&
	image_blobs test/busybox >blobs &&
	test_line_count = 3 blobs &&
	"$BERTH" pull --plain-http "$ref" >out 2>err &&
	test_must_be_empty err &&
	no_ansi out &&
	grep "^resolving $ref$" out &&
	grep "^resolved $ref: manifest $digest (.*)$" out &&
	grep "^manifest $digest: 2 layers$" out &&
	while read -r b; do
		grep "^$b downloading [0-9.]* [KM]*i*B$" out &&
		grep "^$b done [0-9.]* [KM]*i*B$" out &&
		test $(grep -c "^$b " out) -le 6 || return 1
	done <blobs &&
	tail -n +2 blobs >layers &&
	while read -r b; do
		grep "^$b extracting$" out &&
		grep "^$b unpacked sha256:[0-9a-f]\{64\}$" out || return 1
	done <layers &&
	grep "^unpacked overlayfs sha256:[0-9a-f]\{64\}$" out &&
	grep "^elapsed: [0-9.]*s  total: .* (.*/s)$" out &&
	tail -n1 out >last &&
	echo "$ref $digest" >expect && test_cmp expect last
'

test_expect_success 'the image is recorded; a second pull finds the blobs there' '
	"$BERTH" images ls >ls &&
	head -n1 ls | grep "^NAME *TYPE *DIGEST *SIZE *LABELS$" &&
	grep "^$ref  *manifest  *$digest  *[0-9.]* [KM]*i*B$" ls &&
	"$BERTH" images ls -q >q && echo "$ref" >expect && test_cmp expect q &&
	"$BERTH" pull "$ref" >out2 &&
	while read -r b; do
		grep "^$b exists " out2 || return 1
	done <blobs &&
	! grep downloading out2 &&
	grep "total: 0 B" out2 &&
	tail -n1 out2 >last && echo "$ref $digest" >expect && test_cmp expect last
'

test_expect_success 'pull --quiet prints only the name and digest' '
	"$BERTH" pull -q "$ref" >q &&
	echo "$ref $digest" >expect && test_cmp expect q
'

test_expect_success 'pull --json prints the progress objects, one per line' '
	"$BERTH" --json pull "$ref" >j &&
	while read -r line; do
		echo "$line" | jq -e "type == \"object\" and has(\"status\")" >/dev/null || return 1
	done <j &&
	head -n1 j | jq -e ".status == \"resolving\" and .ref == \"$ref\"" &&
	tail -n1 j | jq -e ".status == \"done\" and .image.name == \"$ref\" and .image.target.digest == \"$digest\"" &&
	grep "\"status\": *\"resolved\"" j
'

test_expect_success 'pull of an index picks --platform and says so' '
	mref=$REGISTRY/test/multi:latest &&
	mdigest=$(image_digest test/multi) &&
	"$BERTH" pull --platform linux/arm64/v8 "$mref" >out &&
	grep "^resolved $mref: index $mdigest " out &&
	grep "^platform linux/arm64\(/v8\)\{0,1\}: manifest sha256:[0-9a-f]*$" out &&
	image_blobs test/multi --platform linux/arm64/v8 | head -n1 >config &&
	grep "^$(cat config) done" out &&
	"$BERTH" images ls >ls &&
	grep "^$mref  *index  *$mdigest " ls
'

test_expect_success 'pull of Docker schema2 media types' '
	dref=$REGISTRY/test/docker:latest &&
	"$BERTH" pull "$dref" >out &&
	"$BERTH" images ls >ls &&
	grep "^$dref  *manifest  *$(image_digest test/docker) " ls
'

test_expect_success 'a missing tag: one error line, exit 1' '
	test_expect_code 1 "$BERTH" pull "$REGISTRY/test/busybox:nope" >out 2>err &&
	test_line_count = 1 err &&
	grep "^berth: .*not found" err &&
	test_expect_code 1 "$BERTH" pull -q "$REGISTRY/test/nothing" >out 2>err &&
	test_must_be_empty out &&
	grep "^berth: .*not found" err &&
	test_expect_code 1 "$BERTH" --json pull "$REGISTRY/test/busybox:nope" >j 2>err &&
	tail -n1 j | jq -e ".status == \"error\" and .error.code == \"not_found\"" &&
	grep "^berth: " err
'

test_expect_success 'an unreachable registry: exit 1, no hang' '
	port=$(python3 -c "import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); print(s.getsockname()[1])") &&
	test_expect_code 1 "$BERTH" pull --plain-http "127.0.0.1:$port/test/busybox" >out 2>err &&
	test_line_count = 1 err && grep "^berth: " err
'

test_expect_success SCRIPT 'on a terminal: bars redrawn in place and a summary' '
	"$BERTH" images rm --sync "$ref" "$mref" "$dref" &&
	script -qec "\"$BERTH\" pull $ref" /dev/null >tty.out &&
	printf "\033\133K" >el && grep -F -f el tty.out &&
	printf "\033\133[0-9]*A" >up && grep -f up tty.out &&
	grep "|+++*|  " tty.out &&
	grep "elapsed: [0-9.]*s  total: .* (.*/s)" tty.out &&
	grep "layer\|sha256:[0-9a-f]\{12\}: *done" tty.out &&
	tr -d "\r" <tty.out | tail -n1 >last &&
	echo "$ref $digest" >expect && test_cmp expect last
'

test_expect_success 'images inspect prints the record; short names work' '
	"$BERTH" images inspect "$ref" >i &&
	jq -e ".name == \"$ref\" and .target.digest == \"$digest\" and (.created_at | length > 0)" i &&
	"$BERTH" --json images ls >j &&
	jq -e ".images | length == 1" j &&
	test_expect_code 1 "$BERTH" images inspect nope 2>err &&
	grep "^berth: .*nope.* not found" err
'

test_expect_success 'images tag copies target and labels; refuses to overwrite' '
	"$BERTH" images tag "$ref" "$REGISTRY/test/copy:v1" >t &&
	echo "$REGISTRY/test/copy:v1" >expect && test_cmp expect t &&
	"$BERTH" images inspect "$REGISTRY/test/copy:v1" >i &&
	jq -e ".target.digest == \"$digest\"" i &&
	"$BERTH" images tag "$ref" short:v2 >t &&
	echo docker.io/library/short:v2 >expect && test_cmp expect t &&
	"$BERTH" images inspect short:v2 >i &&
	jq -e ".name == \"docker.io/library/short:v2\"" i &&
	test_expect_code 1 "$BERTH" images tag "$ref" short:v2 2>err &&
	grep "already exists" err &&
	"$BERTH" images tag --force "$ref" short:v2 &&
	test_expect_code 1 "$BERTH" images tag nope x:1 2>err &&
	grep "^berth: .*not found" err &&
	"$BERTH" images ls -q --filter "name~=short" >q &&
	echo docker.io/library/short:v2 >expect && test_cmp expect q
'

test_expect_success 'images rm reports each name, --sync collects the content' '
	test_expect_code 1 "$BERTH" images rm short:v2 ghost "$REGISTRY/test/copy:v1" >out 2>err &&
	printf "short:v2\n%s\n" "$REGISTRY/test/copy:v1" >expect && test_cmp expect out &&
	test_line_count = 1 err && grep "ghost" err &&
	"$BERTH" content ls -q >q && test_line_count = 4 q &&
	"$BERTH" images rm --sync "$ref" &&
	"$BERTH" images ls -q >q && test_must_be_empty q &&
	"$BERTH" content ls -q >q && test_must_be_empty q
'

test_expect_success 'a blob begun earlier is resumed, and the plain lines say so' '
	big=$(big_test_image 8) &&
	push_image test/big --from big-8 &&
	registry_curl "/v2/test/big/blobs/$big" >big.blob &&
	size=$(wc -c <big.blob) &&
	head -c 3000000 big.blob >part &&
	api PUT "/v1/namespaces/default/content/ingests/layer-$big?expected=$big" \
		-H "Content-Range: bytes 0-2999999/$size" --data-binary @part &&
	case "$(cat status)" in 2*) ;; *) cat out && false ;; esac &&
	"$BERTH" content ingests >in &&
	grep "^layer-$big  *2.9 MiB  *8.0 MiB  *$big  " in &&
	"$BERTH" pull "$REGISTRY/test/big:latest" >out &&
	grep "^$big resuming at 2.9 MiB of 8.0 MiB$" out &&
	grep "^$big done 8.0 MiB$" out &&
	"$BERTH" content ingests -q >q && test_must_be_empty q &&
	"$BERTH" images rm --sync "$REGISTRY/test/big:latest"
'

test_expect_success 'Ctrl-C stops the client, not the pull' '
	start_proxy cutting --name stall --digest "$big" --after 30% --mode stall --stall 3 &&
	{ "$BERTH" pull "$PROXY/test/big:latest" >out 2>err & } &&
	bpid=$! &&
	test_when_finished "kill $bpid 2>/dev/null || :" &&
	test_wait_for 10 grep "^$big downloading" out &&
	kill -INT $bpid &&
	test_expect_code 1 wait $bpid &&
	grep "^berth: interrupted: the pull goes on in berthd" err &&
	test_wait_for 30 eval "\"\$BERTH\" images ls -q | grep -q test/big" &&
	stop_proxy stall
'

test_expect_success HTPASSWD 'basic auth: --user, a password on stdin, --password-stdin' '
	start_registry --name auth --htpasswd alice:s3cr3t-pw &&
	push_image test/busybox &&
	aref=$REGISTRY/test/busybox:latest &&
	test_expect_code 1 "$BERTH" pull "$aref" >out 2>err &&
	grep "^berth: " err &&
	"$BERTH" pull -q --user alice:s3cr3t-pw "$aref" >out 2>err &&
	grep "^$aref sha256:" out &&
	"$BERTH" images rm --sync "$aref" &&
	echo s3cr3t-pw | "$BERTH" pull -q --user alice "$aref" >out 2>err &&
	grep "^$aref sha256:" out &&
	"$BERTH" images rm --sync "$aref" &&
	printf "s3cr3t-pw\n" | "$BERTH" pull --user alice --password-stdin "$aref" >out 2>err &&
	tail -n1 out | grep "^$aref sha256:" &&
	echo wrong | test_expect_code 1 "$BERTH" pull --user alice "$aref" >out 2>err &&
	grep "^berth: " err &&
	! grep -e s3cr3t -e wrong out err &&
	! grep s3cr3t "$TRASH/berthd.log" &&
	: | test_expect_code 2 "$BERTH" pull --user alice --password-stdin "$aref" 2>err &&
	grep "empty password" err &&
	stop_registry auth
'

test_expect_success 'berthd stops cleanly' '
	stop_berthd
'

test_done
