# t/lib/containerd.sh: a private containerd 1.6, to compare berth with.
# shellcheck shell=sh
#
# Sourced, after test-lib.sh, by the scripts that check berth against
# containerd (t/t3201-unpack-vs-containerd.sh):
#
#	. "$(dirname "$0")/lib/test-lib.sh"
#	. "$TEST_DIRECTORY/lib/containerd.sh"
#
# Sourcing starts nothing. Needs Debian's containerd (containerd and ctr,
# 1.6), root and overlayfs; the CONTAINERD prerequisite checks them.
# containerd's root, state, socket, config and log live under
# $TRASH/containerd/ (the socket path must stay under 107 bytes): nothing
# of the machine's own containerd is used or touched.
#
#   start_containerd
#	Writes a config (version 2; CRI, and the other plugins this needs
#	not, disabled; the default snapshotter overlayfs), starts containerd
#	in the background and waits (20 s at most) until `ctr version`
#	answers. Exports CONTAINERD_SOCK, CONTAINERD_PID, CONTAINERD_DIR.
#	Fails, with the log's tail on stderr and the reason in
#	CONTAINERD_ERROR (one line, for a skip message), when it cannot.
#	Must run in the test's main shell.
#   ctrd [ARGS...]		ctr against it: ctr -a $CONTAINERD_SOCK ARGS.
#   containerd_pull NS REF	ctr -n NS images pull --plain-http REF: fetches and
#				unpacks into overlayfs snapshots (the output in
#				./ctr-pull.log, printed when it fails).
#   containerd_mount NS REF DIR
#	Mounts REF's root filesystem read-only at DIR (created): ctr images
#	mount, i.e. a view snapshot (key DIR) of the image's top chain ID,
#	an overlay of its layers. Remembered, for containerd_unmount_all.
#   containerd_unmount NS DIR	Unmounts DIR and removes its view.
#   containerd_unmount_all	Unmounts every DIR still mounted (umount -l
#				when containerd is gone).
#   stop_containerd		Unmounts everything, then SIGTERM, 5 s, SIGKILL.
#				Registered with test_atexit: runs at exit anyway.
#   image_chain_id DIFFID...	Prints the chain ID of the layers DIFFID...,
#				bottom first: chainID(L0) = diffID(L0),
#				chainID(Ln) = sha256(chainID(Ln-1) + " " +
#				diffID(Ln)), as "sha256:HEX" (OCI image-spec).

# Shell code in single quotes is expanded later.
# shellcheck disable=SC2016

CONTAINERD_SOCK=
CONTAINERD_PID=
CONTAINERD_DIR=$TRASH_DIRECTORY/containerd
CONTAINERD_ERROR=
export CONTAINERD_SOCK CONTAINERD_PID CONTAINERD_DIR
# the directories mounted by containerd_mount, still mounted: "NS:DIR" words
# (DIR without spaces)
containerd_mounts_=

test_lazy_prereq CONTAINERD '
	command -v containerd && command -v ctr && test "$(id -u)" = 0 &&
	{ grep -qw overlay /proc/filesystems || modprobe overlay; } &&
	grep -qw overlay /proc/filesystems
'

# start_containerd: see the top.
start_containerd () {
	test_in_main_shell_ || BUG "start_containerd in a subshell: CONTAINERD_PID would be lost"
	CONTAINERD_ERROR=
	if test -n "$CONTAINERD_PID" && test_pid_alive_ "$CONTAINERD_PID"; then
		CONTAINERD_ERROR="containerd already runs (pid $CONTAINERD_PID)"
		echo "start_containerd: $CONTAINERD_ERROR" >&2
		return 1
	fi
	for ctrd_t_ in containerd ctr; do
		command -v "$ctrd_t_" >/dev/null || {
			CONTAINERD_ERROR="$ctrd_t_ is not installed (apt-get install containerd)"
			echo "start_containerd: $CONTAINERD_ERROR" >&2
			return 1
		}
	done
	if test "$(id -u)" != 0; then
		CONTAINERD_ERROR="containerd needs root"
		echo "start_containerd: $CONTAINERD_ERROR" >&2
		return 1
	fi
	ctrd_d_=$CONTAINERD_DIR
	CONTAINERD_SOCK=$ctrd_d_/c.sock
	if test "${#CONTAINERD_SOCK}" -gt 100; then
		CONTAINERD_ERROR="socket path too long: $CONTAINERD_SOCK (set a shorter BERTH_TRASH_ROOT)"
		echo "start_containerd: $CONTAINERD_ERROR" >&2
		return 1
	fi
	mkdir -p "$ctrd_d_/root" "$ctrd_d_/state" "$ctrd_d_/opt" || return 1
	cat >"$ctrd_d_/config.toml" <<EOF || return 1
version = 2
root = "$ctrd_d_/root"
state = "$ctrd_d_/state"
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "$CONTAINERD_SOCK"

[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$ctrd_d_/opt"
EOF
	printf '=== start_containerd %s\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" >>"$ctrd_d_/containerd.log"
	containerd --config "$ctrd_d_/config.toml" \
		</dev/null >>"$ctrd_d_/containerd.log" 2>&1 5>&- 7>&- &
	CONTAINERD_PID=$!
	ctrd_deadline_=$(($(date +%s) + 20))
	while :; do
		if test -S "$CONTAINERD_SOCK" &&
			ctr -a "$CONTAINERD_SOCK" version >"$ctrd_d_/version" 2>/dev/null; then
			break
		fi
		if ! test_pid_alive_ "$CONTAINERD_PID"; then
			wait "$CONTAINERD_PID"
			CONTAINERD_ERROR="containerd exited with status $? at start: $(grep -i 'level=\(fatal\|error\)' \
				"$ctrd_d_/containerd.log" | tail -n 1 | cut -c1-200)"
			echo "start_containerd: $CONTAINERD_ERROR" >&2
			tail -n 20 "$ctrd_d_/containerd.log" >&2
			CONTAINERD_PID=
			return 1
		fi
		if test "$(date +%s)" -gt "$ctrd_deadline_"; then
			CONTAINERD_ERROR="containerd (pid $CONTAINERD_PID) not ready within 20 s"
			echo "start_containerd: $CONTAINERD_ERROR" >&2
			tail -n 20 "$ctrd_d_/containerd.log" >&2
			stop_containerd
			return 1
		fi
		sleep 0.1
	done
	# the overlayfs snapshotter must have loaded: it is what is compared
	if ! ctr -a "$CONTAINERD_SOCK" plugins ls 2>/dev/null |
		awk '$1 == "io.containerd.snapshotter.v1" && $2 == "overlayfs" && $NF == "ok" { f = 1 } END { exit !f }'; then
		CONTAINERD_ERROR="containerd's overlayfs snapshotter did not load: $(ctr -a "$CONTAINERD_SOCK" plugins ls 2>&1 |
			awk '$2 == "overlayfs"' | tr -s ' ')"
		echo "start_containerd: $CONTAINERD_ERROR" >&2
		stop_containerd
		return 1
	fi
	return 0
}

# ctrd ARGS...: ctr against our containerd.
ctrd () {
	test -n "$CONTAINERD_SOCK" || BUG "ctrd before start_containerd"
	ctr -a "$CONTAINERD_SOCK" "$@"
}

# containerd_pull NS REF: see the top.
containerd_pull () {
	if ! ctrd -n "$1" images pull --plain-http "$2" >ctr-pull.log 2>&1; then
		echo "containerd_pull: ctr images pull --plain-http $2 failed:" >&2
		tail -n 20 ctr-pull.log >&2
		echo "--- containerd.log:" >&2
		tail -n 10 "$CONTAINERD_DIR/containerd.log" >&2
		return 1
	fi
}

# containerd_mount NS REF DIR: see the top.
containerd_mount () {
	case "$3" in
	*' '* | '') BUG "containerd_mount: DIR '$3' (none, or with spaces)" ;;
	esac
	mkdir -p "$3" || return 1
	ctrd_dir_=$(cd "$3" && pwd) || return 1
	if ! ctrd -n "$1" images mount "$2" "$ctrd_dir_" >ctr-mount.log 2>&1; then
		echo "containerd_mount: ctr images mount $2 $ctrd_dir_ failed:" >&2
		cat ctr-mount.log >&2
		return 1
	fi
	containerd_mounts_="$containerd_mounts_ $1:$ctrd_dir_"
	# ctr mounts read-only without --rw; make sure
	awk -v d="$ctrd_dir_" '$2 == d { split($4, o, ","); for (i in o) if (o[i] == "ro") f = 1 }
		END { exit !f }' /proc/self/mounts || {
		echo "containerd_mount: $ctrd_dir_ is not mounted read-only:" >&2
		grep " $ctrd_dir_ " /proc/self/mounts >&2
		return 1
	}
}

# containerd_mounted_ DIR: DIR is a mount point.
containerd_mounted_ () {
	awk -v d="$1" '$2 == d { f = 1 } END { exit !f }' /proc/self/mounts
}

# containerd_unmount NS DIR: see the top.
containerd_unmount () {
	ctrd_dir_=$(cd "$2" && pwd) || return 1
	ctrd_keep_=
	ctrd_ret_=0
	for ctrd_e_ in $containerd_mounts_; do
		test "$ctrd_e_" = "$1:$ctrd_dir_" || ctrd_keep_="$ctrd_keep_ $ctrd_e_"
	done
	containerd_mounts_=$ctrd_keep_
	if ! ctrd -n "$1" images unmount --rm "$ctrd_dir_" >ctr-unmount.log 2>&1; then
		echo "containerd_unmount: ctr images unmount --rm $ctrd_dir_ failed:" >&2
		cat ctr-unmount.log >&2
		ctrd_ret_=1
	fi
	if containerd_mounted_ "$ctrd_dir_"; then
		echo "containerd_unmount: $ctrd_dir_ is still mounted" >&2
		umount "$ctrd_dir_" 2>/dev/null || umount -l "$ctrd_dir_"
		ctrd_ret_=1
	fi
	return "$ctrd_ret_"
}

# containerd_unmount_all: see the top.
containerd_unmount_all () {
	for ctrd_e_ in $containerd_mounts_; do
		ctrd_ns_=${ctrd_e_%%:*}
		ctrd_dir_=${ctrd_e_#*:}
		if test -n "$CONTAINERD_PID" && test_pid_alive_ "$CONTAINERD_PID"; then
			ctrd -n "$ctrd_ns_" images unmount --rm "$ctrd_dir_" >/dev/null 2>&1
		fi
		if containerd_mounted_ "$ctrd_dir_"; then
			umount "$ctrd_dir_" 2>/dev/null || umount -l "$ctrd_dir_" 2>/dev/null
		fi
	done
	containerd_mounts_=
	return 0
}

# stop_containerd: see the top.
stop_containerd () {
	containerd_unmount_all
	test -n "$CONTAINERD_PID" || return 0
	kill -TERM "$CONTAINERD_PID" 2>/dev/null
	ctrd_i_=0
	while test_pid_alive_ "$CONTAINERD_PID" && test "$ctrd_i_" -lt 100; do
		sleep 0.05
		ctrd_i_=$((ctrd_i_ + 1))
	done
	kill -KILL "$CONTAINERD_PID" 2>/dev/null
	wait "$CONTAINERD_PID" 2>/dev/null
	CONTAINERD_PID=
	# containerd mounts nothing by itself for pulls; a crash mid-mount could
	# leave something below its root
	awk -v d="$CONTAINERD_DIR/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r |
	while IFS= read -r ctrd_m_; do
		umount "$ctrd_m_" 2>/dev/null || umount -l "$ctrd_m_" 2>/dev/null
	done
	return 0
}

if command -v test_atexit >/dev/null 2>&1; then
	test_atexit stop_containerd
fi

# image_chain_id DIFFID...: see the top.
image_chain_id () {
	test "$#" -ge 1 || BUG "image_chain_id needs at least one diffID"
	ctrd_chain_=$1
	shift
	for ctrd_diff_ in "$@"; do
		ctrd_chain_=sha256:$(printf '%s %s' "$ctrd_chain_" "$ctrd_diff_" | sha256sum | cut -d' ' -f1)
	done
	echo "$ctrd_chain_"
}
