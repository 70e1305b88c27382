#!/bin/sh
test_description='spec: the default OCI spec against containerd 1.6 (`ctr oci spec`), and runc running a generated one'
. "$(dirname "$0")/lib/test-lib.sh"
# Test bodies are single-quoted: expanded when they run.
# shellcheck disable=SC2016

# `ctr oci spec` prints containerd's default Linux spec (populateDefaultUnixSpec)
# without a daemon. berth's default spec (t/helpers/spec-gen --default) must
# be the same field by field, but for one deliberate difference: berth adds
# Docker's read-only cgroup mount at /sys/fs/cgroup. spec_generate()'s full
# spec keeps that shape and adds args, env, hostname and seccomp.

GEN=$BERTH_BUILD_DIR/t/helpers/spec-gen
test -x "$GEN" || { skip_all='t/helpers/spec-gen is not built'; test_done; }
command -v jq >/dev/null || { skip_all='needs jq'; test_done; }

test_lazy_prereq CTR 'ctr oci spec >/dev/null 2>&1'
test_lazy_prereq RUNC 'command -v runc >/dev/null && command -v busybox >/dev/null'

# shape FILE: the fields both specs must share, one per line.
shape () {
	jq -S '{ociVersion, root, user: .process.user, cwd: .process.cwd,
		caps: .process.capabilities, rlimits: .process.rlimits,
		nnp: .process.noNewPrivileges, terminal: .process.terminal,
		namespaces: .linux.namespaces, masked: .linux.maskedPaths,
		readonly: .linux.readonlyPaths, resources: .linux.resources,
		cgroupsPath: .linux.cgroupsPath}' "$1"
}

test_expect_success CTR 'the default spec is containerd'\''s, field by field' '
	ctr oci spec >ctr.json &&
	"$GEN" --default --ns default --id "" >ours.json &&
	shape ctr.json >expect &&
	shape ours.json >actual &&
	test_cmp expect actual
'

test_expect_success CTR 'the same mounts, in order, plus a read-only /sys/fs/cgroup' '
	jq -S "[.mounts[]]" ctr.json >expect &&
	jq -S "[.mounts[] | select(.destination != \"/sys/fs/cgroup\")]" ours.json >actual &&
	test_cmp expect actual &&
	jq -c ".mounts[] | select(.destination == \"/sys/fs/cgroup\")" ours.json >cg &&
	echo "{\"destination\":\"/sys/fs/cgroup\",\"type\":\"cgroup\",\"source\":\"cgroup\",\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"relatime\",\"ro\"]}" >expect &&
	test_cmp expect cg
'

test_expect_success CTR 'a generated spec keeps the shape; only its own fields differ' '
	"$GEN" --ns default --id c1 --args "[\"sh\"]" >gen.json &&
	shape ctr.json | jq "del(.cgroupsPath, .user)" >expect &&
	shape gen.json | jq "del(.cgroupsPath, .user)" >actual &&
	test_cmp expect actual &&
	jq -c ".linux.cgroupsPath, .process.user, .process.args, .hostname, .linux.seccomp.defaultAction" \
		gen.json >actual &&
	cat >expect <<-\EOF &&
	"/berth/default/c1"
	{"uid":0,"gid":0,"additionalGids":[0]}
	["sh"]
	"c1"
	"SCMP_ACT_ERRNO"
	EOF
	test_cmp expect actual
'

test_expect_success CTR 'spec_validate: containerd'\''s spec lacks only args' '
	test_expect_code 1 "$GEN" --validate ctr.json 2>err &&
	grep "^error invalid_argument spec: \`process.args\` is required" err &&
	jq ".process.args = [\"sh\"]" ctr.json >ctr-args.json &&
	"$GEN" --validate ctr-args.json >out &&
	echo ok >expect &&
	test_cmp expect out
'

test_expect_success 'spec-gen reports bad overrides as invalid_argument' '
	test_expect_code 1 "$GEN" --id c --args "[\"sh\"]" --memory -1 2>err &&
	grep "^error invalid_argument \`memory\` -1" err &&
	test_expect_code 1 "$GEN" --id c --args "[\"sh\"]" --cwd rel 2>err &&
	grep "^error invalid_argument \`cwd\` \`rel\` must be an absolute path" err &&
	test_expect_code 1 "$GEN" --id c 2>err &&
	grep "^error invalid_argument no command" err &&
	test_expect_code 1 "$GEN" --args "[\"sh\"]" 2>err &&
	grep "^error invalid_argument a container id is required" err
'

# A small root filesystem: a static busybox, /etc/passwd and /etc/group.
make_rootfs () {
	mkdir -p bundle/rootfs/bin bundle/rootfs/etc bundle/rootfs/data &&
	cp "$(command -v busybox)" bundle/rootfs/bin/busybox &&
	for a in sh id cat hostname grep touch; do
		ln -s busybox "bundle/rootfs/bin/$a" || return 1
	done &&
	printf "root:x:0:0:root:/root:/bin/sh\nbob:x:1000:1000::/home/bob:/bin/sh\n" \
		>bundle/rootfs/etc/passwd &&
	printf "root:x:0:\nbob:x:1000:\nwheel:x:10:bob\n" >bundle/rootfs/etc/group &&
	mkdir shared && echo hello >shared/f
}

test_expect_success ROOT,RUNC 'runc runs a generated spec: user, groups, caps, seccomp, mounts' '
	make_rootfs &&
	id=t5002-$$ &&
	"$GEN" --id "$id" --ns t5002 --layer "$PWD/bundle/rootfs" --user bob --readonly \
		--hostname box --pids 64 --memory 67108864 \
		--mounts "[\"$PWD/shared:/data:ro\"]" \
		--args "[\"sh\",\"-c\",\"id; hostname; echo \$HOME; cat /data/f; grep -E \\\"^(Seccomp|NoNewPrivs|CapBnd):\\\" /proc/self/status; touch /x 2>/dev/null || echo rootfs-ro\"]" \
		>bundle/config.json &&
	(cd bundle && runc --root "$PWD/../runc-root" run "$id") >out 2>runc.err &&
	cat >expect <<-\EOF &&
	uid=1000(bob) gid=1000(bob) groups=10(wheel),1000(bob)
	box
	/home/bob
	hello
	CapBnd:	00000000a80425fb
	NoNewPrivs:	1
	Seccomp:	2
	rootfs-ro
	EOF
	test_cmp expect out
'

test_expect_success ROOT,RUNC 'the seccomp profile refuses unshare, which the caps allow' '
	"$GEN" --id "t5002b-$$" --ns t5002 --layer "$PWD/bundle/rootfs" \
		--args "[\"sh\",\"-c\",\"busybox unshare -U true 2>&1; echo rc=\$?\"]" \
		>bundle/config.json &&
	(cd bundle && runc --root "$PWD/../runc-root" run "t5002b-$$") >out 2>runc.err &&
	grep "Operation not permitted" out &&
	grep "^rc=1" out &&
	jq "del(.linux.seccomp)" bundle/config.json >config.tmp &&
	mv config.tmp bundle/config.json &&
	(cd bundle && runc --root "$PWD/../runc-root" run "t5002c-$$") >out 2>runc.err &&
	echo rc=0 >expect &&
	test_cmp expect out
'

test_done
