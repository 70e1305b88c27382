#!/bin/sh
test_description='berth-shim without berthd: handshake, lifecycle, exit statuses, stdio, errors and cleanup'
test_no_berthd=t
. "$(dirname "$0")/lib/test-lib.sh"

SHIM=$BERTH_BUILD_DIR/berth-shim
CALL=$TEST_DIRECTORY/helpers/shim-call
RUNC=$(command -v runc)
RUNC_ROOT=$TRASH_DIRECTORY/runc
# runc names its cgroups after the container: unique across parallel runs
PREFIX=t5001-$$

if ! test_have_prereq ROOT || ! test_have_prereq RUNC || ! test_have_prereq JQ ||
	! test -x /bin/busybox; then
	skip_all='needs root, runc, jq and /bin/busybox'
	test_expect_success 'no sanitizer report from any shim' '
	for f in sanitizer.*; do
		test -e "$f" || continue
		cat "$f" && return 1
	done
'

test_done
fi
if ! test -x "$SHIM"; then
	skip_all="berth-shim is not built in $BERTH_BUILD_DIR"
	test_expect_success 'no sanitizer report from any shim' '
	for f in sanitizer.*; do
		test -e "$f" || continue
		cat "$f" && return 1
	done
'

test_done
fi

test_lazy_prereq NOASAN '! ldd "$SHIM" | grep -q libasan'

# The shim's stderr is /dev/null once it has reported: sanitizer reports of
# the detached shim go to files, checked by the last test.
ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$TRASH_DIRECTORY/sanitizer"
UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$TRASH_DIRECTORY/sanitizer"
export ASAN_OPTIONS UBSAN_OPTIONS

# Whatever a failing test left: containers, mounts (the shims themselves
# are stray processes the harness kills).
cleanup_all () {
	for id in $("$RUNC" --root "$RUNC_ROOT" list -q 2>/dev/null); do
		"$RUNC" --root "$RUNC_ROOT" delete --force "$id" 2>/dev/null
	done
	for m in $(awk -v t="$TRASH_DIRECTORY/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo); do
		umount -l "$m" 2>/dev/null
	done
	return 0
}
test_atexit cleanup_all

# make_task NAME ARGS_JSON [JQ_FILTER_FOR_SHIM_JSON [JQ_FILTER_FOR_CONFIG]]:
# a task directory NAME, rootfs already there (empty "mounts").
make_task () {
	mkdir -p "$1/rootfs" &&
	jq --argjson a "$2" ".process.args = \$a | ${4:-.}" base.json >"$1/config.json" &&
	jq -n --arg id "$PREFIX-$1" --arg root "$RUNC_ROOT" --arg rt "$RUNC" \
		'{id: $id, namespace: "default", runtime: $rt, runtime_root: $root, mounts: []}' |
	jq "${3:-.}" >"$1/shim.json" &&
	if test "$(jq ".mounts | length" "$1/shim.json")" = 0; then
		cp -a image/. "$1/rootfs/"
	fi
}

# bind_image: the jq filter that makes the shim bind-mount image/ on rootfs/
bind_image () {
	echo ".mounts = [{type: \"bind\", source: \"$TRASH_DIRECTORY/image\", options: [\"rbind\"]}]"
}

# start_shim NAME: start the shim of task NAME; its report in NAME.out
start_shim () {
	"$SHIM" "$TRASH_DIRECTORY/$1" >"$1.out"
}

call () {
	"$CALL" "$TRASH_DIRECTORY/$1/shim.sock" "$2" ${3:+"$3"} >"$1.ans" && cat "$1.ans"
}

# want_result NAME JQ / want_error NAME CODE: the last answer of task NAME
want_result () {
	jq -e "has(\"result\") and (.result | $2)" "$1.ans" >/dev/null || {
		echo "answer:" && cat "$1.ans" && return 1
	}
}
want_error () {
	jq -e --arg c "$2" '.error.code == $c' "$1.ans" >/dev/null || {
		echo "want error $2, answer:" && cat "$1.ans" && return 1
	}
}

# wait_exit NAME: the exit notification (printed with exit.json's content
# read right after it) lands in NAME.exit; start the waiter before `start`.
wait_exit_bg () {
	rm -f "$1.ready" &&
	{ "$CALL" "$TRASH_DIRECTORY/$1/shim.sock" --event exit --ready "$1.ready" \
		--cat "$TRASH_DIRECTORY/$1/exit.json" >"$1.exit" & } &&
	test_wait_for 10 test -f "$1.ready"
}

mounted () {
	awk '{ print $5 }' /proc/self/mountinfo | grep -qxF "$TRASH_DIRECTORY/$1/rootfs"
}

shim_pid () {
	cat "$1/shim.pid"
}

shim_gone () {
	! test_pid_alive_ "$1"
}

# nothing_left NAME: no state file, no mount, no container of task NAME
nothing_left () {
	for f in shim.sock shim.pid init.pid exit.json runtime.log; do
		test_path_is_missing "$1/$f" || return 1
	done &&
	! mounted "$1" &&
	! "$RUNC" --root "$RUNC_ROOT" list -q | grep -qxF "$PREFIX-$1"
}

RFC3339NANO='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z$'

test_expect_success 'setup: a busybox image and a base config' '
	mkdir -p image/bin &&
	cp /bin/busybox image/bin/ &&
	for c in sh echo sleep true cat; do ln -s busybox image/bin/$c || return 1; done &&
	mkdir spec && (cd spec && "$RUNC" spec) &&
	jq ".process.terminal = false | .root.path = \"rootfs\" | .root.readonly = false" \
		spec/config.json >base.json
'

test_expect_success 'create (bind mount): the handshake prints the init pid, state is created' '
	make_task t42 "[\"sh\",\"-c\",\"exit 42\"]" "$(bind_image)" &&
	start_shim t42 7>starter-fd &&
	pid=$(jq -e .pid t42.out) &&
	test "$(cat t42/init.pid)" = "$pid" &&
	test_pid_alive_ "$(shim_pid t42)" &&
	test "$(stat -c %a t42/shim.sock)" = 600 &&
	mounted t42 &&
	call t42 state && want_result t42 ".id == \"$PREFIX-t42\" and .pid == $pid and .status == \"created\"" &&
	! jq -e ".result | has(\"exit_status\")" t42.ans &&
	! ls -l /proc/$(shim_pid t42)/fd | grep -q starter-fd
'

test_expect_success 'a second shim for the same task refuses and leaves the first alone' '
	spid=$(shim_pid t42) &&
	test_expect_code 1 "$SHIM" "$TRASH_DIRECTORY/t42" >second.out &&
	jq -e ".error.code == \"already_exists\"" second.out &&
	test "$(shim_pid t42)" = "$spid" &&
	call t42 state && want_result t42 ".status == \"created\""
'

test_expect_success 'start: exit 42 is announced after exit.json is on disk' '
	wait_exit_bg t42 && mv t42.ready t42.ready1 &&
	{ "$CALL" t42/shim.sock --event exit --ready t42.ready >t42.exit2 & } &&
	test_wait_for 10 test -f t42.ready &&
	call t42 start && want_result t42 ".pid == $(cat t42/init.pid)" &&
	test_wait_for 20 test -s t42.exit &&
	wait &&
	head -n 1 t42.exit | jq -e ".event == \"exit\" and .params.exit_status == 42" &&
	test_cmp t42.exit2 - <<-EOF &&
	$(head -n 1 t42.exit)
	EOF
	exited_at=$(head -n 1 t42.exit | jq -r .params.exited_at) &&
	echo "$exited_at" | grep -Eq "$RFC3339NANO" &&
	sed -n 2p t42.exit | jq -e --arg t "$exited_at" ".exit_status == 42 and .exited_at == \$t and .pid == $(cat t42/init.pid)" &&
	call t42 state && want_result t42 ".status == \"stopped\" and .exit_status == 42 and .exited_at == \"$exited_at\""
'

test_expect_success 'a client that connects later learns the exit through state; start again is refused' '
	call t42 state && want_result t42 ".status == \"stopped\" and .exit_status == 42" &&
	call t42 start && want_error t42 failed_precondition &&
	call t42 kill "{\"signal\":9}" && want_error t42 not_found
'

test_expect_success 'a bad request gets invalid_argument, the connection and the shim go on' '
	"$CALL" t42/shim.sock --raw "{\"id\":7,\"method\":\"fly\"}" >t42.ans &&
	jq -e ".id == 7 and .error.code == \"invalid_argument\"" t42.ans &&
	"$CALL" t42/shim.sock --raw "not json" >t42.ans &&
	jq -e ".id == null and .error.code == \"invalid_argument\"" t42.ans &&
	call t42 kill "{\"signal\":99}" && want_error t42 invalid_argument &&
	call t42 state && want_result t42 ".status == \"stopped\""
'

test_expect_success 'delete after the exit: answered, then the shim is gone and nothing is left' '
	spid=$(shim_pid t42) &&
	call t42 delete && want_result t42 ".exit_status == 42 and (.exited_at | length > 0)" &&
	test_wait_for 10 shim_gone $spid &&
	nothing_left t42 &&
	test_path_is_file t42/config.json && test_path_is_file t42/shim.json
'

test_expect_success 'kill SIGKILL: 137; delete while running is refused' '
	make_task k9 "[\"sleep\",\"3000\"]" &&
	start_shim k9 &&
	"$CALL" k9/shim.sock --count 3 --raw "$(printf "%s\n" \
		"{\"id\":1,\"method\":\"start\"}" "{\"id\":2,\"method\":\"state\"}" \
		"{\"id\":3,\"method\":\"start\"}")" >k9.ans &&
	jq -s -e "map(.id) == [1,2,3] and .[0].result.pid > 0 and
		.[1].result.status == \"running\" and .[2].error.code == \"failed_precondition\"" k9.ans &&
	call k9 delete && want_error k9 failed_precondition &&
	wait_exit_bg k9 &&
	call k9 kill "{\"signal\":9}" && want_result k9 ". == {}" &&
	test_wait_for 20 test -s k9.exit && wait &&
	head -n 1 k9.exit | jq -e ".params.exit_status == 137" &&
	call k9 delete && want_result k9 ".exit_status == 137" &&
	nothing_left k9
'

# Without a pid namespace sleep is not an init, so SIGTERM kills it.
NOPIDNS=".linux.namespaces |= map(select(.type != \"pid\"))"

test_expect_success 'kill SIGTERM: 143; the shim ignores SIGTERM itself' '
	make_task k15 "[\"sleep\",\"3000\"]" . "$NOPIDNS" &&
	start_shim k15 && call k15 start &&
	kill -TERM "$(shim_pid k15)" &&
	call k15 state && want_result k15 ".status == \"running\"" &&
	call k15 kill "{\"signal\":15}" &&
	test_wait_for 20 eval "call k15 state >/dev/null && jq -e \".result.status == \\\"stopped\\\"\" k15.ans >/dev/null" &&
	want_result k15 ".exit_status == 143" &&
	call k15 delete && nothing_left k15
'

test_expect_success 'kill with all reaches every process of the container' '
	make_task all "[\"sh\",\"-c\",\"sleep 3001 & exec sleep 3002\"]" . "$NOPIDNS" &&
	start_shim all && call all start &&
	test_wait_for 10 pgrep -f "^sleep 3001" &&
	wait_exit_bg all &&
	call all kill "{\"signal\":15,\"all\":true}" && want_result all ". == {}" &&
	test_wait_for 20 test -s all.exit && wait &&
	head -n 1 all.exit | jq -e ".params.exit_status == 143" &&
	test_wait_for 10 eval "! pgrep -f \"^sleep 3001\"" &&
	call all delete && nothing_left all
'

test_expect_success 'stdout and stderr go to the FIFOs the client made' '
	mkfifo fo fe &&
	make_task io "[\"sh\",\"-c\",\"echo to-out; echo to-err >&2; exit 3\"]" \
		".stdout = \"$TRASH_DIRECTORY/fo\" | .stderr = \"$TRASH_DIRECTORY/fe\"" &&
	{ cat fo >io.stdout & } && { cat fe >io.stderr & } &&
	start_shim io && wait_exit_bg io && call io start &&
	test_wait_for 20 test -s io.exit &&
	wait &&
	echo to-out >expect.out && echo to-err >expect.err &&
	test_cmp expect.out io.stdout && test_cmp expect.err io.stderr &&
	head -n 1 io.exit | jq -e ".params.exit_status == 3" &&
	call io delete && nothing_left io
'

# writer_blocked PID: a child of PID waits to write into a full pipe
writer_blocked () {
	for c in $(pgrep -P "$1"); do
		case "$(cat /proc/$c/wchan 2>/dev/null)" in
		pipe_write | pipe_wait_writable) return 0 ;;
		esac
	done
	return 1
}

test_expect_success 'a FIFO nobody reads holds back the container, never the shim' '
	mkfifo stuck &&
	make_task full "[\"sh\",\"-c\",\"while true; do cat /bin/busybox; done\"]" \
		".stdout = \"$TRASH_DIRECTORY/stuck\"" &&
	start_shim full && call full start &&
	test_wait_for 20 writer_blocked "$(cat full/init.pid)" &&
	call full state && want_result full ".status == \"running\"" &&
	rss=$(awk "/^VmRSS:/ { print \$2 }" /proc/$(shim_pid full)/status) &&
	echo "shim rss ${rss} kB" && { ! test_have_prereq NOASAN || test "$rss" -lt 8192; } &&
	wait_exit_bg full &&
	call full kill "{\"signal\":9}" &&
	test_wait_for 20 test -s full.exit && wait &&
	head -n 1 full.exit | jq -e ".params.exit_status == 137" &&
	call full delete && nothing_left full
'

test_expect_success 'log:true appends stdout and stderr to <dir>/log' '
	make_task lg "[\"sh\",\"-c\",\"echo one; echo two >&2\"]" "$(bind_image) | .log = true" &&
	start_shim lg && wait_exit_bg lg && call lg start &&
	test_wait_for 20 test -s lg.exit && wait &&
	printf "one\ntwo\n" >expect && test_cmp expect lg/log &&
	call lg delete && nothing_left lg && test_cmp expect lg/log
'

test_expect_success 'stdin from a FIFO: cat echoes it and ends at its EOF' '
	mkfifo si so &&
	make_task in "[\"cat\"]" \
		".stdin = \"$TRASH_DIRECTORY/si\" | .stdout = \"$TRASH_DIRECTORY/so\"" &&
	{ cat so >in.stdout & } &&
	start_shim in && wait_exit_bg in && call in start &&
	printf "hello\nstdin\n" >si &&
	test_wait_for 20 test -s in.exit && wait &&
	printf "hello\nstdin\n" >expect && test_cmp expect in.stdout &&
	head -n 1 in.exit | jq -e ".params.exit_status == 0" &&
	call in delete && nothing_left in
'

test_expect_success 'a dying client changes nothing; delete of a created task kills it first' '
	make_task cr "[\"sleep\",\"3000\"]" &&
	start_shim cr &&
	rm -f cr.ready &&
	{ "$CALL" cr/shim.sock --event exit --ready cr.ready & } &&
	test_wait_for 10 test -f cr.ready && kill -9 $! &&
	call cr state && want_result cr ".status == \"created\"" &&
	spid=$(shim_pid cr) &&
	call cr delete && want_result cr ".exit_status == 137" &&
	test_wait_for 10 shim_gone $spid &&
	nothing_left cr
'

# 80 layers whose lowerdir option is longer than a page: the shim mounts
# them with paths relative to their common parent (as containerd does).
test_expect_success 'a runtime command that hangs is killed and reported; the shim goes on' '
	printf "#!/bin/sh\nfor a; do test \"\$a\" = start && exec sleep 3003; done\nexec %s \"\$@\"\n" \
		"$RUNC" >hangrt &&
	chmod +x hangrt &&
	make_task hang "[\"sleep\",\"3000\"]" ".runtime = \"$TRASH_DIRECTORY/hangrt\"" &&
	env BERTH_SHIM_RUNTIME_TIMEOUT=1 "$SHIM" "$TRASH_DIRECTORY/hang" >hang.out &&
	call hang start && want_error hang internal &&
	jq -e ".error.message == \"hangrt start: timed out after 1 s\"" hang.ans &&
	! pgrep -f "^sleep 3003" &&
	call hang state && want_result hang ".status == \"created\"" &&
	call hang delete && want_result hang ".exit_status == 137" &&
	nothing_left hang
'

test_expect_success 'an overlay rootfs whose options pass a page size' '
	L=$TRASH_DIRECTORY/layers-with-quite-a-long-directory-name-for-each-one &&
	mkdir -p "$L/0000000000-bottom-layer-of-this-snapshot-chain" upper work &&
	cp -a image/. "$L/0000000000-bottom-layer-of-this-snapshot-chain/" &&
	lower=$L/0000000000-bottom-layer-of-this-snapshot-chain && i=1 &&
	while test $i -lt 80; do
		d=$L/$(printf %010d $i)-layer-of-this-snapshot-chain &&
		mkdir -p "$d" && echo $i >"$d/layer" &&
		lower=$d:$lower && i=$((i + 1)) || return 1
	done &&
	opts="lowerdir=$lower,upperdir=$TRASH_DIRECTORY/upper,workdir=$TRASH_DIRECTORY/work" &&
	test ${#opts} -gt 4096 &&
	make_task ov "[\"sh\",\"-c\",\"cat /layer; echo new >/new\"]" \
		".mounts = [{type: \"overlay\", source: \"overlay\", options: [\"$opts\"]}] | .log = true" &&
	start_shim ov && mounted ov &&
	wait_exit_bg ov && call ov start &&
	test_wait_for 20 test -s ov.exit && wait &&
	echo 79 >expect && test_cmp expect ov/log &&
	test_path_is_file upper/new &&
	call ov delete && nothing_left ov
'

test_expect_success 'a missing runtime: failed_precondition naming it, exit 1, nothing left' '
	make_task nort "[\"true\"]" "$(bind_image) | .runtime = \"/nonexistent/runc\"" &&
	test_expect_code 1 start_shim nort &&
	jq -e ".error.code == \"failed_precondition\" and (.error.message | contains(\"/nonexistent/runc\"))" nort.out &&
	nothing_left nort
'

test_expect_success 'a failing runtime: its own message, exit 1, nothing left' '
	printf "#!/bin/sh\necho \"boom: the runtime is broken\" >&2\nexit 1\n" >badrt &&
	chmod +x badrt &&
	make_task bad "[\"true\"]" "$(bind_image) | .runtime = \"$TRASH_DIRECTORY/badrt\"" &&
	test_expect_code 1 start_shim bad &&
	cat bad.out &&
	jq -e ".error.message | contains(\"boom: the runtime is broken\")" bad.out &&
	nothing_left bad
'

test_expect_success 'a process not in the image: runc says so, exit 1, nothing left' '
	make_task nx "[\"/nonexistent\"]" "$(bind_image)" &&
	test_expect_code 1 start_shim nx &&
	cat nx.out &&
	jq -e ".error.message | contains(\"/nonexistent\")" nx.out &&
	nothing_left nx
'

test_expect_success 'no sanitizer report from any shim' '
	for f in sanitizer.*; do
		test -e "$f" || continue
		cat "$f" && return 1
	done
'

test_done
