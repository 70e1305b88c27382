#!/bin/sh
test_description='berth snapshots: ls, tree, info, mounts (pasteable), usage, prepare, view, commit, rm, label'
. "$(dirname "$0")/lib/test-lib.sh"

test_expect_success 'help and usage errors need no daemon' '
	for c in snapshots "snapshots ls" "snapshots tree" "snapshots info" "snapshots mounts" \
		 "snapshots usage" "snapshots prepare" "snapshots view" "snapshots commit" \
		 "snapshots rm" "snapshots label" "snapshot ls"; do
		"$BERTH" $c --help >h 2>&1 && test -s h || return 1
	done &&
	"$BERTH" snapshots --help >h && grep "tree" h && grep "mounts" h &&
	test_expect_code 2 "$BERTH" snapshots info --snapshotter native 2>err &&
	grep "^berth: missing the snapshot KEY" err &&
	test_expect_code 2 "$BERTH" snapshots mounts --snapshotter native k 2>err &&
	test_expect_code 2 "$BERTH" snapshots commit --snapshotter native name 2>err &&
	test_expect_code 2 "$BERTH" snapshots rm --snapshotter native 2>err &&
	test_expect_code 2 "$BERTH" snapshots ls --bogus 2>err &&
	test_expect_code 2 "$BERTH" snapshots prepare --snapshotter native --label =v k 2>err
'

test_expect_success 'no daemon: exit 3' '
	test_expect_code 3 "$BERTH" --address "$TRASH/nowhere.sock" snapshots ls 2>err &&
	grep "^berth: cannot connect to berthd" err
'

test_expect_success ROOT 'start berthd' '
	echo "{\"gc_delay\": 3600}" >config.json &&
	start_berthd
'

test_expect_success 'prepare, commit, view; ls shows KEY PARENT KIND' '
	"$BERTH" snapshots prepare base >out && test_must_be_empty out &&
	"$BERTH" snapshots commit --label team=a layer1 base &&
	"$BERTH" snapshots prepare work layer1 &&
	"$BERTH" snapshots view v1 layer1 &&
	"$BERTH" snapshots prepare --label x=y lone &&
	"$BERTH" snapshots ls >ls.out &&
	cat >expect <<-\EOF &&
	KEY     PARENT  KIND
	layer1          committed
	lone            active
	v1      layer1  view
	work    layer1  active
	EOF
	test_cmp expect ls.out &&
	"$BERTH" snapshots ls -q --filter kind==committed >q.out &&
	echo layer1 >expect && test_cmp expect q.out &&
	"$BERTH" --json snapshots ls >j.out && jq -e ".snapshots | length == 4" j.out
'

test_expect_success 'tree draws children under their parents' '
	"$BERTH" snapshots commit layer2 work &&
	"$BERTH" snapshots prepare top layer2 &&
	"$BERTH" snapshots tree >tree.out &&
	cat >expect <<-\EOF &&
	 layer1
	  \_ layer2
	    \_ top
	  \_ v1
	 lone
	EOF
	test_cmp expect tree.out
'

test_expect_success 'info and label' '
	"$BERTH" snapshots info layer2 >info.out &&
	jq -e ".name == \"layer2\" and .parent == \"layer1\" and .kind == \"committed\"" info.out &&
	"$BERTH" snapshots label lone z=1 x= >lab.out &&
	echo z=1 >expect && test_cmp expect lab.out &&
	"$BERTH" snapshots info lone | jq -e ".labels == {\"z\":\"1\"}"
'

test_expect_success 'the printed mount commands mount (bind, ro bind, overlay)' '
	mkdir -p mnt &&
	"$BERTH" snapshots mounts lone mnt >cmd &&
	grep "^mount -o rw,rbind .*/snapshots/overlayfs/[0-9]*/fs $TRASH_DIRECTORY/mnt\$" cmd &&
	sh cmd && test_when_finished "umount mnt 2>/dev/null || :" &&
	echo hello >mnt/hello && umount mnt &&
	"$BERTH" snapshots commit lonely lone &&
	"$BERTH" snapshots prepare --target mnt child lonely >cmd &&
	grep "^mount -t overlay overlay -o workdir=.*,upperdir=.*,lowerdir=.* $TRASH_DIRECTORY/mnt\$" cmd &&
	sh cmd && test "$(cat mnt/hello)" = hello && echo more >mnt/more && umount mnt &&
	"$BERTH" snapshots view --target mnt lv lonely >cmd &&
	grep "^mount -o ro,rbind " cmd &&
	sh cmd && test "$(cat mnt/hello)" = hello &&
	test_must_fail sh -c "echo x >mnt/x" && umount mnt
'

test_expect_success 'a deep chain: the mount command stays pasteable' '
	parent=lonely && i=1 &&
	while test $i -le 120
	do
		"$BERTH" snapshots prepare "k$i" "$parent" &&
		"$BERTH" snapshots commit "c$i" "k$i" &&
		parent=c$i && i=$((i + 1)) || return 1
	done &&
	"$BERTH" snapshots prepare deep c120 &&
	"$BERTH" snapshots mounts deep mnt >cmd &&
	grep "^(cd .*/snapshots/overlayfs && mount -t overlay overlay -o workdir=[0-9]*/work," cmd &&
	sh cmd && test_when_finished "umount mnt 2>/dev/null || :" &&
	test "$(cat mnt/hello)" = hello && umount mnt
'

test_expect_success 'usage' '
	"$BERTH" snapshots usage lonely child >u.out &&
	head -1 u.out | grep "^KEY  *SIZE  *INODES\$" &&
	grep "^lonely .* 2\$" u.out && grep "^child " u.out
'

test_expect_success 'rm: exit 1 for children and missing keys, others still removed' '
	test_expect_code 1 "$BERTH" snapshots rm lonely 2>err &&
	grep "^berth: snapshot .lonely. has children" err &&
	test_expect_code 1 "$BERTH" snapshots rm nope lv 2>err >out &&
	grep "^berth: snapshot .nope. not found" err &&
	echo lv >expect && test_cmp expect out &&
	test_expect_code 1 "$BERTH" --json snapshots info lv 2>err &&
	grep "^berth: snapshot .lv. not found" err
'

test_expect_success '--snapshotter: native, and an unknown one' '
	"$BERTH" snapshots prepare --snapshotter native nb &&
	"$BERTH" snapshots ls --snapshotter native -q >n.out &&
	echo nb >expect && test_cmp expect n.out &&
	test_expect_code 1 "$BERTH" snapshots ls --snapshotter zfs 2>err &&
	grep "^berth: snapshotter .zfs. not found" err &&
	test_expect_code 1 "$BERTH" snapshots commit c lone 2>err
'

test_done
