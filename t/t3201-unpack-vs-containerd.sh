#!/bin/sh
test_description='unpacked root filesystems: berth against containerd 1.6, path by path'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/registry.sh"
. "$TEST_DIRECTORY/lib/containerd.sh"
# Test bodies are single-quoted: expanded when they run.
# shellcheck disable=SC2016

# The same images (busybox and contrib/fixtures/special-image.py's) are
# pulled with unpacking by a private containerd 1.6 and by berthd; both
# root filesystems are mounted read-only and described by
# t/helpers/rootfs-manifest; the descriptions must be identical.
#
# berth's side, per ../shared/design/API.md: POST .../images/pull with
# "unpack": true leaves the image's layers as committed snapshots of the
# overlayfs snapshotter named by their chain IDs; a view of the top one
# (POST .../snapshotters/overlayfs/snapshots {"key","parent","kind":"view"})
# gives the mounts of the image's root filesystem. busybox is pulled through
# the API, the special image with `berth pull`, which unpacks by default.

MANIFEST="$REGISTRY_PYTHON $TEST_DIRECTORY/helpers/rootfs-manifest"
NS=default
SNAPS=/v1/namespaces/$NS/snapshotters/overlayfs/snapshots

test_lazy_prereq XATTR_FS '
	: >f && "$REGISTRY_PYTHON" -c "import os; os.setxattr(\"f\", \"user.t\", b\"1\")"
'

# ---------------------------------------------------------------------------
# The manifest tool itself, on a tree whose description is known.

test_expect_success ROOT,XATTR_FS 'rootfs-manifest describes a small tree exactly' '
	mkdir -p tree/a tree/b tree/dev tree/x &&
	printf "x\n" >tree/a/z1 &&
	ln tree/a/z1 tree/a/z2 &&
	ln tree/a/z1 tree/b/link &&
	ln -s ../a/z1 tree/b/sym &&
	printf "space\n" >"tree/c d" &&
	: >tree/x/empty &&
	mkfifo tree/dev/fifo &&
	mknod tree/dev/null c 1 3 &&
	mknod tree/dev/sda b 8 0 &&
	"$REGISTRY_PYTHON" -c "import os
os.setxattr(\"tree/x\", \"user.k\", b\"\\x00\\x01v\")
os.setxattr(\"tree/x/empty\", \"user.e\", b\"\")
os.setxattr(\"tree/x/empty\", \"user.a\", b\"A\")" &&
	chmod 0755 tree tree/b tree/x &&
	chmod 0750 tree/a &&
	chmod 0640 tree/a/z1 &&
	chmod 4755 "tree/c d" &&
	chmod 1777 tree/dev &&
	chmod 0600 tree/dev/fifo tree/x/empty &&
	chmod 0666 tree/dev/null &&
	chmod 0660 tree/dev/sda &&
	chown 1:1 tree/a &&
	chown 1000:65534 tree/a/z1 &&
	chown -h 1000:1000 tree/b/sym &&
	touch -d @1700000000.123456789 tree/a/z1 &&
	touch -h -d @1000000000 tree/b/sym &&
	for p in "tree/c d" tree/dev/fifo tree/dev/null tree/dev/sda tree/x/empty \
		tree/a tree/b tree/dev tree/x; do
		touch -h -d @1704067200 "$p" || return 1
	done &&
	x=$(printf "x\n" | sha256sum | cut -d" " -f1) &&
	s=$(printf "space\n" | sha256sum | cut -d" " -f1) &&
	e=$(sha256sum </dev/null | cut -d" " -f1) &&
	T=1704067200.000000000 &&
	cat >expect <<-EOF &&
	/ dir 0755 0:0
	/a dir 0750 1:1 mtime=$T
	/a/z1 file 0640 1000:65534 size=2 sha256=$x mtime=1700000000.123456789 hardlink=/a/z1
	/a/z2 file 0640 1000:65534 size=2 sha256=$x mtime=1700000000.123456789 hardlink=/a/z1
	/b dir 0755 0:0 mtime=$T
	/b/link file 0640 1000:65534 size=2 sha256=$x mtime=1700000000.123456789 hardlink=/a/z1
	/b/sym symlink 0777 1000:1000 target=../a/z1 mtime=1000000000.000000000
	/c\\x20d file 4755 0:0 size=6 sha256=$s mtime=$T
	/dev dir 1777 0:0 mtime=$T
	/dev/fifo fifo 0600 0:0 mtime=$T
	/dev/null char 0666 0:0 rdev=1:3 mtime=$T
	/dev/sda block 0660 0:0 rdev=8:0 mtime=$T
	/x dir 0755 0:0 mtime=$T xattr:user.k=000176
	/x/empty file 0600 0:0 size=0 sha256=$e mtime=$T xattr:user.a=41 xattr:user.e=
	EOF
	$MANIFEST tree >actual &&
	test_cmp expect actual &&
	sed "/^\/[^ ]* dir /s/ mtime=[^ ]*//" expect >expect.nodir &&
	$MANIFEST --no-dir-mtime tree >actual &&
	test_cmp expect.nodir actual &&
	sed "s/ mtime=[^ ]*//" expect >expect.none &&
	$MANIFEST --no-mtime tree >actual &&
	test_cmp expect.none actual
'

test_expect_success 'rootfs-manifest: usage errors' '
	test_must_fail $MANIFEST 2>err && grep "^usage:" err &&
	test_must_fail $MANIFEST --frob . 2>err && grep "^usage:" err &&
	test_must_fail $MANIFEST nowhere 2>err && grep "nowhere is not a directory" err
'

test_expect_success SPECIAL_IMAGE 'the special image: deterministic, its diff_ids and media types right' '
	"$REGISTRY_PYTHON" "$SRCDIR/contrib/fixtures/special-image.py" sp1 >d1 &&
	"$REGISTRY_PYTHON" "$SRCDIR/contrib/fixtures/special-image.py" --tag other sp2 >d2 &&
	test_cmp d1 d2 &&
	test_must_fail "$REGISTRY_PYTHON" "$SRCDIR/contrib/fixtures/special-image.py" sp1 2>err &&
	grep "exists and is not empty" err &&
	m=$(jq -r ".manifests[0].digest" sp1/index.json) &&
	test "$m" = "$(cat d1)" &&
	test "sha256:$(sha256sum <"sp1/blobs/sha256/${m#sha256:}" | cut -d" " -f1)" = "$m" &&
	jq -r ".layers[] | .mediaType + \" \" + .digest" "sp1/blobs/sha256/${m#sha256:}" >layers &&
	c=$(jq -r .config.digest "sp1/blobs/sha256/${m#sha256:}") &&
	jq -r ".rootfs.diff_ids[]" "sp1/blobs/sha256/${c#sha256:}" >diff_ids &&
	cut -d" " -f1 layers >types &&
	printf "application/vnd.oci.image.layer.v1.tar%s\n" +gzip +gzip +zstd "" >expect &&
	test_cmp expect types &&
	i=0 &&
	while read -r t d; do
		i=$((i + 1)) &&
		f=sp1/blobs/sha256/${d#sha256:} &&
		test "sha256:$(sha256sum <"$f" | cut -d" " -f1)" = "$d" &&
		case "$t" in
		*+gzip) gzip -dc <"$f" ;;
		*+zstd) zstd -dcq <"$f" ;;
		*) cat "$f" ;;
		esac >layer.tar &&
		test "sha256:$(sha256sum <layer.tar | cut -d" " -f1)" = "$(sed -n "${i}p" diff_ids)" || return 1
	done <layers &&
	test "$i" = 4 &&
	jq -e ".os == \"linux\" and (.history | length) == 4" "sp1/blobs/sha256/${c#sha256:}"
'

# ---------------------------------------------------------------------------
# Set-up: a registry with the two images, a private containerd, berthd.

if ! test_have_prereq REGISTRY; then
	test_prereq_why CTRD "needs docker-registry, skopeo, umoci, busybox-static (contrib/install-deps.sh)"
elif ! test_have_prereq SPECIAL_IMAGE; then
	test_prereq_why CTRD "needs zstd for the special image (contrib/install-deps.sh)"
elif ! test_have_prereq CONTAINERD; then
	test_prereq_why CTRD "needs containerd 1.6 (containerd, ctr), root and overlayfs (contrib/install-deps.sh installs containerd)"
elif ! start_containerd 2>containerd-start.err; then
	test_prereq_why CTRD "containerd could not start: $CONTAINERD_ERROR"
else
	test_set_prereq CTRD
fi
test_prereq_why BERTH_UNPACK "berth cannot unpack: its pull with unpack was not tried"

test_expect_success CTRD 'start a registry with the test images, and berthd' '
	start_registry &&
	push_image test/busybox &&
	push_image test/special --from special &&
	start_berthd
'

# chain_id IMAGE: the top chain ID of test/IMAGE's linux/amd64 manifest, from
# its config's rootfs.diff_ids; the config in IMAGE.config.json.
# shellcheck disable=SC2046 # one word per diffID
chain_id () {
	image_blobs "test/$1" >"$1.blobs" &&
	registry_curl "/v2/test/$1/blobs/$(head -n 1 "$1.blobs")" >"$1.config.json" &&
	image_chain_id $(jq -r ".rootfs.diff_ids[]" "$1.config.json")
}

# ---------------------------------------------------------------------------
# containerd's side.

for img in busybox special; do
	test_expect_success CTRD "containerd pulls and unpacks $img; its rootfs described" '
		containerd_pull $NS "$REGISTRY/test/$img:latest" &&
		chain=$(chain_id $img) &&
		ctrd -n $NS snapshots --snapshotter overlayfs ls >snaps &&
		awk -v c="$chain" "\$1 == c && \$NF == \"Committed\" { f = 1 } END { exit !f }" snaps &&
		containerd_mount $NS "$REGISTRY/test/$img:latest" "$TRASH/c-$img" &&
		$MANIFEST "c-$img" >"$img.containerd" &&
		containerd_unmount $NS "$TRASH/c-$img" &&
		test_line_count -gt 10 "$img.containerd"
	'
done

test_expect_success CTRD 'containerd unpacks the same rootfs again: the manifest is deterministic' '
	containerd_pull again "$REGISTRY/test/special:latest" &&
	ctrd -n again snapshots --snapshotter overlayfs ls >snaps &&
	test_line_count = 5 snaps &&
	containerd_mount again "$REGISTRY/test/special:latest" "$TRASH/c-again" &&
	$MANIFEST c-again >special.again &&
	containerd_unmount again "$TRASH/c-again" &&
	test_cmp special.containerd special.again
'

# has FILE LINE...: FILE holds every LINE, whole.
has () {
	has_f_=$1
	shift
	for has_l_ in "$@"; do
		grep -Fx -e "$has_l_" "$has_f_" >/dev/null || {
			echo "has: no line \"$has_l_\" in $has_f_; lines for that path:" >&2
			grep -F -e "${has_l_%% *} " "$has_f_" >&2
			return 1
		}
	done
}

# lacks FILE PATH...: FILE describes none of PATH... (nor anything below).
lacks () {
	lacks_f_=$1
	shift
	for lacks_p_ in "$@"; do
		if grep -F -e "$lacks_p_ " -e "$lacks_p_/" "$lacks_f_" >&2; then
			echo "lacks: $lacks_f_ describes $lacks_p_" >&2
			return 1
		fi
	done
}

sha () {
	printf "$1" | sha256sum | cut -d" " -f1
}

test_expect_success CTRD 'busybox as containerd unpacks it: whiteout, opaque dir, setuid, links' '
	T=1704067200.000000000 &&
	bb=$(sha256sum <"$(command -v busybox)" | cut -d" " -f1) &&
	hello=$(sha "hello from layer 2\n") &&
	has busybox.containerd \
		"/ dir 0755 0:0" \
		"/bin/busybox file 0755 0:0 size=$(wc -c <"$(command -v busybox)") sha256=$bb mtime=$T" \
		"/bin/sh symlink 0777 0:0 target=/bin/busybox mtime=$T" \
		"/tmp dir 1777 0:0 mtime=$T" \
		"/root dir 0700 0:0 mtime=$T" \
		"/opt/old/c file 0644 0:0 size=36 sha256=$(sha "layer 2 c: the only file of opt/old\n") mtime=$T" \
		"/usr/local/bin/setuid-tool file 4755 0:0 size=13 sha256=$(sha "#!/bin/sh\nid\n") mtime=$T" \
		"/usr/share/berth/hello.txt file 0644 0:0 size=19 sha256=$hello mtime=$T hardlink=/usr/share/berth/hello.hard" \
		"/usr/share/berth/hello.hard file 0644 0:0 size=19 sha256=$hello mtime=$T hardlink=/usr/share/berth/hello.hard" \
		"/usr/share/berth/hello.link symlink 0777 0:0 target=hello.txt mtime=$T" \
		"/home/user/owned.txt file 0640 1000:1000 size=30 sha256=$(sha "owned by 1000:1000, mode 0640\n") mtime=$T" &&
	lacks busybox.containerd /etc/motd /opt/old/a /opt/old/b &&
	grep "^/opt/old/" busybox.containerd >old &&
	test_line_count = 1 old
'

test_expect_success CTRD 'the special image as containerd unpacks it: every special entry' '
	T=1704067200.000000000 &&
	T3=1704067203.000000000 &&
	T4=1704067204.000000000 &&
	script=$(sha "#!/bin/sh\nid\n") &&
	hl=$(sha "one inode, three names\n") &&
	bb=$(sha256sum <"$(command -v busybox)" | cut -d" " -f1) &&
	bbsize=$(wc -c <"$(command -v busybox)") &&
	has special.containerd \
		"/ dir 0755 0:0" \
		"/bin/sh symlink 0777 0:0 target=busybox mtime=$T" \
		"/bin/ls symlink 0777 0:0 target=/bin/busybox mtime=$T" \
		"/etc dir 0755 0:0 mtime=$T4" \
		"/etc/special-release file 0644 0:0 size=34 sha256=$(sha "special 1 (an uncompressed layer)\n") mtime=$T4" \
		"/special dir 0755 0:0 mtime=$T4" \
		"/special/hl/a file 0640 0:1 size=23 sha256=$hl mtime=1600000000.500000000 hardlink=/special/hl/a" \
		"/special/hl/b file 0640 0:1 size=23 sha256=$hl mtime=1600000000.500000000 hardlink=/special/hl/a" \
		"/special/hl/c file 0640 0:1 size=23 sha256=$hl mtime=1600000000.500000000 hardlink=/special/hl/a" \
		"/special/links/rel symlink 0777 0:0 target=../hl/a mtime=$T" \
		"/special/links/abs symlink 0777 0:0 target=/etc/passwd mtime=$T" \
		"/special/links/dangling symlink 0777 0:0 target=does/not/exist mtime=$T" \
		"/special/links/dir symlink 0777 0:0 target=../modes mtime=$T" \
		"/special/links/owned symlink 0777 1000:1000 target=/tmp mtime=1234567890.000000001" \
		"/special/modes/setuid file 4755 0:0 size=13 sha256=$script mtime=$T" \
		"/special/modes/setgid file 2755 0:1 size=13 sha256=$script mtime=$T" \
		"/special/modes/setuid-setgid file 6711 1000:1000 size=13 sha256=$script mtime=$T" \
		"/special/modes/sticky-file file 1644 0:0 size=7 sha256=$(sha "sticky\n") mtime=$T" \
		"/special/modes/m0600 file 0600 0:0 size=5 sha256=$(sha "0600\n") mtime=$T" \
		"/special/modes/m0444 file 0444 0:0 size=5 sha256=$(sha "0444\n") mtime=$T" \
		"/special/modes/m0711 file 0711 0:0 size=5 sha256=$(sha "0711\n") mtime=$T" \
		"/special/modes/m0000 file 0000 0:0 size=5 sha256=$(sha "0000\n") mtime=$T" \
		"/special/modes/sticky-dir dir 1777 0:0 mtime=$T" \
		"/special/modes/setgid-dir dir 2775 0:1000 mtime=$T" \
		"/special/modes/d0711 dir 0711 1:1 mtime=$T" \
		"/special/modes/d0555 dir 0555 0:0 mtime=$T" \
		"/special/xattr dir 0755 0:0 mtime=$T xattr:user.dir=$(printf "on a directory" | od -An -tx1 | tr -d " \n")" \
		"/special/xattr/file file 0644 0:0 size=7 sha256=$(sha "xattrs\n") mtime=$T xattr:user.binary=000102feff xattr:user.comment=68656c6c6f xattr:user.empty=" \
		"/special/xattr/capbin file 0755 0:0 size=$bbsize sha256=$bb mtime=$T xattr:security.capability=0100000200200000000000000000000000000000" \
		"/special/dev/fifo fifo 0620 1000:1000 mtime=$T" \
		"/special/dev/null char 0666 0:0 rdev=1:3 mtime=$T" \
		"/special/dev/loop0 block 0660 0:65534 rdev=7:0 mtime=$T" \
		"/special/owners dir 0755 1:1 mtime=$T4" \
		"/special/owners/u0 file 0644 0:0 size=5 sha256=$(sha "root\n") mtime=$T" \
		"/special/owners/u1 file 0640 1:65534 size=29 sha256=$(sha "daemon, rewritten by layer 4\n") mtime=$T4" \
		"/special/owners/u1000 file 0600 1000:1000 size=5 sha256=$(sha "user\n") mtime=$T" \
		"/special/owners/u65534 file 0444 65534:65534 size=7 sha256=$(sha "nobody\n") mtime=$T" \
		"/special/owners/mixed file 0664 1000:65534 size=13 sha256=$(sha "user:nogroup\n") mtime=$T" \
		"/special/owners/home dir 0750 1000:1000 mtime=$T" \
		"/special/times/epoch file 0644 0:0 size=5 sha256=$(sha "1970\n") mtime=0.000000000" \
		"/special/times/y2001 file 0644 0:0 size=5 sha256=$(sha "2001\n") mtime=1000000000.000000000" \
		"/special/times/ns file 0644 0:0 size=12 sha256=$(sha "nanoseconds\n") mtime=1700000000.123456789" \
		"/special/times/y2038 file 0644 0:0 size=5 sha256=$(sha "2038\n") mtime=2147483647.000000000" \
		"/special/empty file 0644 0:0 size=0 sha256=$(sha "") mtime=$T" \
		"/special/opaque dir 0750 0:1 mtime=$T3" \
		"/special/opaque/new.txt file 0644 0:0 size=26 sha256=$(sha "the only entry of opaque/\n") mtime=$T3" \
		"/special/f2link symlink 0777 0:0 target=hl/a mtime=$T3" \
		"/special/link2dir dir 0700 1000:1000 mtime=$T3" \
		"/special/link2dir/file file 0644 1000:1000 size=35 sha256=$(sha "in the dir that replaced a symlink\n") mtime=$T3" &&
	lacks special.containerd /etc/group /special/gone.txt /special/deldir \
		/special/opaque/x /special/opaque/y /special/opaque/sub &&
	grep "^/special/opaque/" special.containerd >opq &&
	test_line_count = 1 opq &&
	grep "^/special/link2dir/" special.containerd >l2d &&
	test_line_count = 1 l2d &&
	! grep "\.wh\." special.containerd &&
	! grep "xattr:trusted\.overlay" special.containerd &&
	grep " hardlink=" special.containerd >links &&
	test_line_count = 3 links
'

# ---------------------------------------------------------------------------
# berth's side.

test_expect_success CTRD 'berth pulls busybox with unpack' '
	jq -n --arg r "$REGISTRY/test/busybox:latest" "{ref: \$r, unpack: true, plain_http: true}" >body &&
	api POST /v1/namespaces/$NS/images/pull -H "Content-Type: application/json" -d @body &&
	test "$(cat status)" = 200 &&
	tail -n 1 out | jq -e ".status == \"done\"" &&
	test_set_prereq BERTH_UNPACK
'

# berth_mounts_: the directories berth_mount mounted, still mounted
berth_mounts_=
berth_unmount_all () {
	for d in $berth_mounts_; do
		umount "$d" 2>/dev/null || umount -l "$d" 2>/dev/null
	done
	berth_mounts_=
}
test_atexit berth_unmount_all

# berth_mount DIR: mount berth's mounts (a snapshot's, in ./out) at DIR,
# read-only: one overlay (its options joined by commas) or one bind.
berth_mount () {
	mkdir -p "$1" &&
	test "$(jq ".mounts | length" out)" = 1 &&
	mtype=$(jq -r ".mounts[0].type" out) &&
	msrc=$(jq -r ".mounts[0].source" out) &&
	mopts=$(jq -r ".mounts[0].options | join(\",\")" out) &&
	echo "berth view mount: type=$mtype source=$msrc options=$mopts" &&
	case "$mtype" in
	overlay)
		mount -t overlay -o "$mopts" "$msrc" "$1"
		;;
	bind)
		mount --bind "$msrc" "$1" &&
		berth_mounts_="$berth_mounts_ $1" &&
		mount -o remount,bind,ro "$1"
		;;
	*)
		echo "berth_mount: unexpected mount type $mtype" >&2 && false
		;;
	esac &&
	berth_mounts_="$berth_mounts_ $1"
}

# The mounting above, checked now with the layers of containerd's own
# mount of the special image, given in the shape of berth's API: all of
# them as one overlay (lowerdir only: read-only), the bottom one as a bind
# mount (what a single-layer view gives). The snapshots stay referenced by
# the image while they are mounted: containerd's GC leaves them alone.
test_expect_success CTRD 'berth_mount mounts views given as API.md describes them' '
	containerd_mount $NS "$REGISTRY/test/special:latest" "$TRASH/c-glue" &&
	lower=$(awk -v d="$TRASH/c-glue" "\$2 == d { print \$4 }" /proc/self/mounts |
		tr , "\n" | sed -n "s/^lowerdir=//p") &&
	test -n "$lower" &&
	jq -n --arg l "lowerdir=$lower" "{mounts: [{type: \"overlay\", source: \"overlay\", options: [\$l]}]}" >out &&
	berth_mount "$TRASH/glue" &&
	grep " $TRASH/glue overlay ro[, ]" /proc/self/mounts &&
	$MANIFEST glue >glue.manifest &&
	test_cmp special.containerd glue.manifest &&
	umount "$TRASH/glue" &&
	jq -n --arg s "${lower##*:}" "{mounts: [{type: \"bind\", source: \$s, options: [\"ro\", \"rbind\"]}]}" >out &&
	berth_mount "$TRASH/glue" &&
	test_path_is_file glue/bin/busybox &&
	test_path_is_missing glue/special &&
	test_must_fail touch glue/new 2>err &&
	grep -i "read-only" err &&
	umount "$TRASH/glue" &&
	containerd_unmount $NS "$TRASH/c-glue"
'

for img in busybox special; do
	test_expect_success CTRD,BERTH_UNPACK "$img: berth's rootfs equals containerd's" '
		if test $img != busybox; then
			"$BERTH" -n $NS pull --plain-http "$REGISTRY/test/$img:latest" >pull.out
		fi &&
		chain=$(chain_id $img) &&
		api GET "$SNAPS/$chain" &&
		test "$(cat status)" = 200 &&
		jq -e ".kind == \"committed\"" out &&
		jq -n --arg p "$chain" --arg k "cmp-$img" "{key: \$k, parent: \$p, kind: \"view\"}" >body &&
		api POST "$SNAPS" -H "Content-Type: application/json" -d @body &&
		case "$(cat status)" in 200 | 201) ;; *) cat out >&2 && false ;; esac &&
		berth_mount "$TRASH/b-$img" &&
		$MANIFEST "b-$img" >"$img.berth" &&
		umount "$TRASH/b-$img" &&
		api DELETE "$SNAPS/cmp-$img" &&
		test "$(cat status)" = 204 &&
		test_cmp "$img.containerd" "$img.berth"
	'
done

test_expect_success CTRD 'stop containerd: nothing of it stays mounted' '
	stop_containerd &&
	! grep " $TRASH/" /proc/self/mounts
'

test_done
