#!/bin/sh

test_description='diff: layers applied by a confined worker (t/helpers/diff-apply)'

. "$(dirname "$0")/lib/test-lib.sh"

APPLY=$BERTH_BUILD_DIR/t/helpers/diff-apply
MKLAYER="python3 $TEST_DIRECTORY/helpers/mklayer.py"
TREE="python3 $TEST_DIRECTORY/helpers/tree.py"
test -x "$APPLY" || { skip_all='t/helpers/diff-apply is not built'; test_done; }
test_have_prereq ROOT || { skip_all='extraction restores owners and devices: needs root'; test_done; }
command -v python3 >/dev/null || { skip_all='needs python3'; test_done; }

sha () {
	sha256sum <"$1" | cut -d" " -f1
}

# apply_ok OUT ARGS...: diff-apply succeeds and its one result line is OUT.
apply_ok () {
	out_=$1 &&
	shift &&
	"$APPLY" "$@" >"$out_" 2>"$out_.err" &&
	test_line_count = 1 "$out_"
}

# apply_fails ARGS...: diff-apply fails and prints its error to ./err-line.
apply_fails () {
	test_expect_code 1 "$APPLY" "$@" >err-line 2>err-stderr &&
	cat err-line &&
	grep "^error " err-line
}

# diff_id_of FILE: the uncompressed stream's digest, as a diffID.
diff_id_of () {
	case "$1" in
	*.gz) echo "sha256:$(gzip -dc "$1" | sha256sum | cut -d" " -f1)" ;;
	*.zst) echo "sha256:$(zstd -dc -q "$1" | sha256sum | cut -d" " -f1)" ;;
	*) echo "sha256:$(sha "$1")" ;;
	esac
}

# opaque DIR: the value of its trusted.overlay.opaque xattr.
opaque () {
	python3 -c 'import os,sys; print(os.getxattr(sys.argv[1], "trusted.overlay.opaque").decode())' "$1"
}

json_field () {
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

test_expect_success 'setup: layers built with python tarfile, gzip and zstd' '
	echo original >canary &&
	$MKLAYER full full.tar &&
	gzip -9 -k full.tar &&
	zstd -q -19 full.tar -o full.tar.zst &&
	$MKLAYER base base.tar &&
	$MKLAYER whiteouts wh.tar &&
	$MKLAYER big big.tar && gzip -1 -k big.tar &&
	$MKLAYER hardlink-parent hl-parent.tar &&
	cat >full.expect <<-\EOT
	bin dir 0755 0:0 mtime=1500000004
	bin/ping file 0755 0:0 mtime=1500000008 size=4 sha=ab185873c38b xattr security.capability=b'"'"'\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00'"'"' xattr user.comment=b'"'"'pings'"'"'
	bin/sh link 0777 0:0 mtime=1500000009 -> /bin/busybox
	bin/su file 4755 0:0 mtime=1500000006 size=7 sha=fcd249947a42
	bin/tool file 0755 0:0 mtime=1500000005 size=20 sha=bf664cf84f00 links=2
	bin/tool-link file 0755 0:0 mtime=1500000005 size=20 sha=bf664cf84f00 links=2
	bin/wall file 2755 0:5 mtime=1500000007 size=7 sha=e0947ce357ca
	dev dir 0755 0:0 mtime=1500000013
	dev/loop9 block 0660 0:6 mtime=1500000015 dev=7,9
	dev/null char 0666 0:0 mtime=1500000014 dev=1,3
	etc dir 0755 0:0 mtime=1500000001
	etc/hosts file 0644 0:0 mtime=1500000002 size=20 sha=081ef9d53675
	etc/planted file 0644 0:0 mtime=1500000018 size=1 sha=2d711642b726 xattr user.kept=b'"'"'yes'"'"'
	etc/secret file 0600 1000:1000 mtime=1500000003.123456789 size=7 sha=82ba9d712d21
	home dir 0755 0:0 mtime=1500000019
	home/nobody dir 0700 65534:65534 mtime=1500000011
	home/nobody/big-id file 0640 100000:100001 mtime=1500000012 size=70000 sha=bca09f4a757d
	run dir 0755 0:0 mtime=1500000016
	run/fifo fifo 0620 2:3 mtime=1500000017
	tmp dir 1777 0:0 mtime=1500000010
	EOT
'

for c in tar tar.gz tar.zst; do
	test_expect_success "a $c layer: types, modes, owners, mtimes, xattrs, links, devices" '
		mkdir root-$c &&
		apply_ok out-$c root-$c full.$c &&
		test "$(stat -c %X root-$c/etc/hosts)" = 1500000002 &&
		test "$(stat -c %X root-$c/bin)" = 1500000004 &&
		$TREE root-$c >tree-$c &&
		test_cmp full.expect tree-$c &&
		test "$(json_field out-$c diff_id)" = "$(diff_id_of full.tar)" &&
		test "$(json_field out-$c tar_size)" = "$(wc -c <full.tar)" &&
		test "$(json_field out-$c entries)" = 21 &&
		test "$(stat -c %a root-$c)" = 755 &&
		test "$(stat -c %Y root-$c)" = 1500000000
	'
done

test_expect_success 'overlay xattrs in a layer are dropped, others kept' '
	python3 -c "import os,sys; print(os.listxattr(sys.argv[1]))" root-tar/etc/planted >xa &&
	grep "user.kept" xa &&
	! grep overlay xa
'

test_expect_success 'the expected diffID, when given, is verified: a match' '
	mkdir root-expect &&
	apply_ok out-expect --expect "$(diff_id_of full.tar)" \
		--media-type application/vnd.oci.image.layer.v1.tar+gzip root-expect full.tar.gz
'

test_expect_success 'a diffID mismatch fails the layer, naming both digests' '
	mkdir root-mismatch &&
	wrong=sha256:$(echo nope | sha256sum | cut -d" " -f1) &&
	apply_fails --expect "$wrong" root-mismatch full.tar.gz &&
	test_grep "error invalid_argument apply layer: diffID mismatch: the layer.s uncompressed stream is .$(diff_id_of full.tar)., the image config says .$wrong." err-line
'

test_expect_success 'a malformed expected diffID or media type is refused before any worker starts' '
	apply_fails --expect sha256:abc root-mismatch full.tar &&
	test_grep "error invalid_argument apply layer: expected diffID" err-line &&
	apply_fails --media-type application/x-rar root-mismatch full.tar &&
	test_grep "unsupported media type .application/x-rar." err-line &&
	apply_fails nowhere full.tar &&
	test_grep "error not_found apply layer: directory .nowhere." err-line
'

test_expect_success 'without berth-worker (not beside, not in PATH) a layer fails clearly' '
	mkdir root-noworker &&
	(PATH=/usr/bin:/bin && export PATH && apply_fails root-noworker full.tar) &&
	test_grep "error failed_precondition apply layer: berth-worker is not installed" err-line &&
	test -z "$(ls -A root-noworker)"
'

# truncate FILE N: its first N bytes, into trunc-N.FILE
truncate_to () {
	head -c "$2" "$1" >"trunc-$2.$1"
}

test_expect_success 'a truncated gzip stream fails the layer (mid-stream, in the trailer)' '
	size=$(wc -c <big.tar.gz) &&
	truncate_to big.tar.gz $((size / 2)) &&
	truncate_to big.tar.gz $((size - 4)) &&
	mkdir root-trunc &&
	apply_fails root-trunc trunc-$((size / 2)).big.tar.gz &&
	test_grep "error invalid_argument apply layer: decompress the layer: truncated gzip input$" err-line &&
	apply_fails root-trunc trunc-$((size - 4)).big.tar.gz &&
	test_grep "error invalid_argument apply layer: decompress the layer: truncated or corrupt stream$" err-line
'

test_expect_success 'a truncated zstd stream and a truncated tar fail the layer' '
	size=$(wc -c <full.tar.zst) &&
	truncate_to full.tar.zst $((size / 2)) &&
	mkdir root-trunc2 root-trunc3 &&
	apply_fails root-trunc2 trunc-$((size / 2)).full.tar.zst &&
	test_grep "error invalid_argument apply layer: read the layer: Truncated zstd input$" err-line &&
	truncate_to full.tar 20000 &&
	apply_fails root-trunc3 trunc-20000.full.tar &&
	test_grep "error invalid_argument apply layer: entry .home/nobody/big-id.: Truncated tar archive" err-line
'

test_expect_success 'garbage and empty input fail the layer' '
	head -c 100000 /dev/urandom >garbage &&
	mkdir root-garbage &&
	apply_fails root-garbage garbage &&
	test_grep "error invalid_argument apply layer: read the layer" err-line &&
	: >empty &&
	apply_fails root-garbage empty &&
	test_grep "error invalid_argument" err-line
'

test_expect_success 'a stream pushed with diff_job_write in small chunks gives the same tree' '
	mkdir root-stdin &&
	apply_ok out-stdin --stdin --chunk 777 root-stdin <full.tar.gz &&
	$TREE root-stdin >tree-stdin &&
	test_cmp full.expect tree-stdin &&
	test "$(json_field out-stdin diff_id)" = "$(diff_id_of full.tar)"
'

test_expect_success 'backpressure: a stopped worker fills the buffer, space is signalled after' '
	mkdir root-big &&
	apply_ok out-big --stdin --stop-worker --chunk 65536 root-big <big.tar.gz &&
	test_grep "buffer full, continuing the worker" out-big.err &&
	test "$(json_field out-big space_waits)" -ge 1 &&
	test "$(json_field out-big diff_id)" = "$(diff_id_of big.tar)" &&
	for i in 0 1 2 3; do
		test "$(wc -c <root-big/blob$i)" = 3145728 || return 1
	done
'

test_expect_success 'several layers at once, each into its own directory' '
	mkdir par1 par2 par3 &&
	"$APPLY" par1 full.tar.gz par2 big.tar.gz par3 full.tar.zst >par-out &&
	test_line_count = 3 par-out &&
	test "$(grep -c "\"diff_id\":\"$(diff_id_of full.tar)\"" par-out)" = 2 &&
	grep "\"dir\":\"par2\",\"diff_id\":\"$(diff_id_of big.tar)\"" par-out &&
	$TREE par3 >tree-par3 &&
	test_cmp full.expect tree-par3
'

test_expect_success 'overlay mode: whiteouts become 0/0 char devices and opaque xattrs' '
	mkdir ovl &&
	apply_ok out-ovl ovl wh.tar &&
	test "$(stat -c "%F %t:%T %u:%g" ovl/gone.txt)" = "character special file 0:0 0:0" &&
	test "$(stat -c "%F %t:%T" ovl/gonedir)" = "character special file 0:0" &&
	test "$(stat -c "%F %t:%T" ovl/deep/er/ghost)" = "character special file 0:0" &&
	test "$(opaque ovl/opq)" = y &&
	test "$(opaque ovl/fresh)" = y &&
	test "$(stat -c %a ovl/opq)" = 750 &&
	test "$(cat ovl/opq/new_before ovl/opq/new_after ovl/opq/replaced)" = "before
after
new" &&
	find ovl -name ".wh.*" >whs &&
	test_line_count = 0 whs &&
	test "$(json_field out-ovl entries)" = 10
'

test_expect_success 'delete mode (native): whiteouts remove, opaque clears what the layer did not write' '
	mkdir nat &&
	apply_ok out-base --delete nat base.tar &&
	test -f nat/gone.txt && test -f nat/gonedir/b/c && test -f nat/opq/old2/x &&
	apply_ok out-nat --delete nat wh.tar &&
	(cd nat && find . | sort) >nat-tree &&
	cat >nat-expect <<-\EOT &&
	.
	./deep
	./deep/er
	./fresh
	./keep.txt
	./opq
	./opq/new_after
	./opq/new_before
	./opq/replaced
	./opq2
	./opq2/old
	EOT
	test_cmp nat-expect nat-tree &&
	test "$(cat nat/opq/replaced)" = new &&
	test "$(cat nat/keep.txt)" = "base keep.txt" &&
	test_must_fail opaque nat/opq 2>/dev/null
'

test_expect_success 'delete mode: a hardlink to a file of the parent layer works' '
	apply_ok out-nat-hl --delete nat hl-parent.tar &&
	test "$(stat -c %h nat/keep.txt)" = 2 &&
	test "$(stat -c %i nat/keep.txt)" = "$(stat -c %i nat/keep-link)"
'

test_expect_success 'a directory entry replaces a symlink instead of following it' '
	$MKLAYER dir-over-symlink dos.tar &&
	mkdir dos dos-nat &&
	apply_ok out-dos dos dos.tar &&
	apply_ok out-dos-nat --delete dos-nat dos.tar &&
	for r in dos dos-nat; do
		test "$(stat -c "%F %a %Y" $r/d)" = "directory 700 1500000031" &&
		test "$(stat -c "%a %Y" $r/real)" = "755 1500000030" &&
		test "$(cat $r/d/inside)" = in &&
		! test -e $r/real/inside || return 1
	done
'

test_expect_success 'overlay mode: a hardlink to a file of another layer fails clearly' '
	$MKLAYER hardlink-elsewhere hl.tar &&
	mkdir root-hl &&
	apply_fails root-hl hl.tar &&
	test_grep "error invalid_argument apply layer: entry .b.: hardlink target .a-from-a-parent-layer. is not in this layer" err-line
'

# Hostile layers: each fails naming the entry; nothing outside the target
# directory changes (the canary, /etc/shadow).
shadow_sum=$(sha256sum /etc/shadow 2>/dev/null | cut -d" " -f1)
canary_intact () {
	test "$(cat canary)" = original &&
	test "$(sha256sum /etc/shadow 2>/dev/null | cut -d" " -f1)" = "$shadow_sum" &&
	! test -e ../canary
}

hostile () {
	kind=$1 mode=$2 msg=$3
	test_expect_success "hostile ($mode): $kind" '
		$MKLAYER $kind $kind.tar "$PWD/canary" &&
		rm -rf target && mkdir target &&
		apply_fails $mode target $kind.tar &&
		test_grep "$msg" err-line &&
		canary_intact
	'
}
for mode in "" --delete; do
	hostile dotdot "$mode" "error invalid_argument apply layer: entry .\.\./canary.: path contains .\.\..$"
	hostile absolute "$mode" "error invalid_argument apply layer: entry ./.*/canary.: path is an absolute path$"
	hostile symlink-write "$mode" "error invalid_argument apply layer: entry .evil/canary.: .*symlink"
	hostile symlink-rel-write "$mode" "error invalid_argument apply layer: entry .d/up/canary.: .*"
	hostile hardlink-shadow "$mode" "error invalid_argument apply layer: entry .shadow.: hardlink target ./etc/shadow. is an absolute path$"
	hostile hardlink-shadow-rel "$mode" "error invalid_argument apply layer: entry .shadow.: hardlink target .*/etc/shadow. contains .\.\..$"
	hostile hardlink-outside "$mode" "error invalid_argument apply layer: entry .c.: hardlink target ./.*/canary. is an absolute path$"
	hostile hardlink-device-data "$mode" "error invalid_argument apply layer: entry .through.: hardlink with data to .null., not a regular file$"
	hostile whiteout-through-symlink "$mode" "error invalid_argument apply layer: entry .evil/\.wh\.canary.: cannot extract through symlink .evil.$"
	hostile symlink-swap "$mode" "error invalid_argument apply layer: entry .a/b/c.: cannot extract through symlink .a.$"
	hostile hardlink-via-symlink "$mode" "error invalid_argument apply layer: entry .h.: \(cannot extract through symlink .s.\|hardlink target .s/f. is not in this layer\)$"
	hostile bad-whiteout "$mode" "error invalid_argument apply layer: entry .dir/\.wh\.\..: whiteout names no file$"
done

test_expect_success 'the worker is confined: socket, chroot, mount, unshare, exec, fork are refused' '
	mkdir root-probe &&
	BERTH_TEST_DIFF_PROBE=1 test_expect_code 1 "$APPLY" root-probe full.tar >probe &&
	test_grep "confinement probe: socket=EPERM chroot=EPERM mount=EPERM unshare=EPERM execve=EPERM fork=EPERM prctl=EPERM stat_proc=No such file or directory$" probe
'

# confined PID: the process has a seccomp filter and no_new_privs.
confined () {
	grep "^Seccomp:[[:space:]]*2$" /proc/$1/status &&
	grep "^NoNewPrivs:[[:space:]]*1$" /proc/$1/status
}

# worker_paused DIR: a worker with a stdin that stays open and empty; sets
# $helper, $worker (the decompressor) and $extractor (its child).
worker_paused () {
	rm -f fifo && mkfifo fifo &&
	{ "$APPLY" --stdin --print-pid "$1" <fifo >paused-out 2>paused-err & } &&
	helper=$! &&
	exec 9>fifo &&
	test_wait_for 20 grep -q "^pid " paused-err &&
	worker=$(sed -n "s/^pid //p" paused-err) &&
	test_wait_for 20 grep -q "^Seccomp:[[:space:]]*2" /proc/$worker/status &&
	extractor=$(tr -d " " </proc/$worker/task/$worker/children) &&
	test -n "$extractor" &&
	test_wait_for 20 grep -q "^Seccomp:[[:space:]]*2" /proc/$extractor/status
}

test_expect_success 'a running worker: both processes filtered, no_new_privs, rooted in the directory' '
	mkdir root-paused &&
	worker_paused root-paused &&
	confined $worker &&
	confined $extractor &&
	test "$(readlink /proc/$worker/root)" = "$PWD/root-paused" &&
	test "$(readlink /proc/$extractor/root)" = "$PWD/root-paused" &&
	test "$(ls /proc/$extractor/fd | sort -n | tr "\n" " ")" = "0 1 2 " &&
	ls /proc/$worker/fd >worker-fds &&
	test_line_count = 5 worker-fds &&
	for fd in $(cat worker-fds); do
		readlink /proc/$worker/fd/$fd | grep "^pipe:" || return 1
	done &&
	exec 9>&- &&
	test_expect_code 1 wait $helper &&
	test_grep "error invalid_argument" paused-out
'

test_expect_success 'a worker killed mid-layer is reported with its signal, its extractor dies too' '
	mkdir root-killed &&
	worker_paused root-killed &&
	kill -9 $worker &&
	exec 9>&- &&
	test_expect_code 1 wait $helper &&
	test_grep "error internal apply layer: unpack worker $worker killed by signal 9" paused-out &&
	test_wait_for 20 test_must_fail kill -0 $extractor 2>/dev/null
'

test_expect_success 'an extractor killed mid-layer fails the layer with its signal' '
	mkdir root-killed2 &&
	worker_paused root-killed2 &&
	kill -9 $extractor &&
	exec 9>&- &&
	test_expect_code 1 wait $helper &&
	test_grep "error internal apply layer: layer extractor killed by signal 9" paused-out
'

test_expect_success 'kill -9 of the daemon side takes its workers along (no strays)' '
	mkdir root-orphan &&
	worker_paused root-orphan &&
	kill -9 $helper &&
	test_wait_for 20 test_must_fail kill -0 $worker 2>/dev/null &&
	test_wait_for 20 test_must_fail kill -0 $extractor 2>/dev/null &&
	exec 9>&-
'

test_expect_success BERTHD,JQ 'berthd lists the diff plugin' '
	start_berthd &&
	api GET /v1/plugins && test "$(cat status)" = 200 &&
	jq -e ".plugins[] | select(.type == \"io.berth.diff.v1\") | .id == \"walking\" and .status == \"ok\"" out &&
	stop_berthd
'

test_expect_success 'cancel kills the worker and done never fires' '
	mkdir root-cancel &&
	"$APPLY" --cancel root-cancel big.tar.gz >cancel-out &&
	grep "^cancelled [0-9]* signal 9$" cancel-out &&
	! grep -v "^cancelled" cancel-out
'

test_done
