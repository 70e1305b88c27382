#!/bin/bash
# contrib/bench/run.sh: measure running containers against the targets of
# issue 5, with Debian's containerd 1.6 (ctr, runc) side by side in the same
# run, and bare `runc run` as the floor.
#
# A busybox image is built from busybox-static with umoci (as t/lib and
# contrib/demo.sh do), pushed to Debian's docker-registry on loopback and
# pulled by a fresh berthd and a fresh containerd on temporary roots under
# --tmpdir. Then:
#   1. serial latency of `berth run --rm IMG ID /bin/true` vs `ctr run --rm`
#      vs `runc run` of an equivalent bundle (umoci unpack + the spec berth
#      generates for the same command), alternating,
#      N runs each: median and p90; and, as information, `ctr run --rm
#      --seccomp` (ctr applies the default seccomp profile only when asked;
#      berth's default spec has it);
#   2. four concurrent create/start/wait/delete loops for --duration seconds
#      (`berth run --rm` / `ctr run --rm`, and as information `ctr run --rm
#      --seccomp`): containers per second;
#   3. 50 idle `sleep` containers each: PSS per shim (/proc/PID/smaps_rollup)
#      and the daemon's RSS; podman + conmon too when podman works;
#   4. live restore: 20 running containers, kill -9 the daemon, restart it,
#      time until its API lists all 20 running (polled with `berth tasks ls`;
#      containerd: `ctr tasks ls`); the median of 5 restarts each.
# Every daemon, shim and container the script starts is stopped on exit and
# its files removed. Run as root.
# Exit status: 0 all targets met, 1 a target missed, 2 usage or set-up error.

set -eu

usage() {
	cat <<EOF
usage: contrib/bench/run.sh [options]

  --build-dir DIR   build directory holding berthd, berth, berth-shim, berth-worker
                    (default: \$BERTH_BUILD_DIR or .)
  --tmpdir DIR      where roots, state and the registry go (default /var/tmp)
  --runs N          serial runs per side (default 30)
  --duration S      seconds of each concurrency-4 loop (default 30)
  --idle N          idle containers for the memory rows (default 50)
  --restore N       running containers for the live-restore row (default 20)
  --restore-runs N  restarts per side for that row, the median counts (default 5)
  --markdown FILE   also write the table as markdown to FILE
  -h, --help        this help
EOF
}

die() { echo "run.sh: $*" >&2; exit 2; }
note() { echo "run.sh: $*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build_dir=${BERTH_BUILD_DIR:-.}
tmpbase=/var/tmp
runs=30
duration=30
idle=50
restore=20
restore_runs=5
markdown=
cmdline="contrib/bench/run.sh $*"
while [ $# -gt 0 ]; do
	case $1 in
	--build-dir) build_dir=${2:?}; shift ;;
	--tmpdir) tmpbase=${2:?}; shift ;;
	--runs) runs=${2:?}; shift ;;
	--duration) duration=${2:?}; shift ;;
	--idle) idle=${2:?}; shift ;;
	--restore) restore=${2:?}; shift ;;
	--restore-runs) restore_runs=${2:?}; shift ;;
	--markdown) markdown=${2:?}; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done
for v in runs duration idle restore restore_runs; do
	case ${!v} in '' | *[!0-9]*) die "--${v//_/-} wants a whole number, not \`${!v}\`" ;; esac
	[ "${!v}" -ge 1 ] || die "--${v//_/-} must be at least 1"
done
[ "$(id -u)" = 0 ] || die "run as root (containers, containerd)"
build_dir=$(cd "$build_dir" && pwd)
BERTHD=$build_dir/berthd
BERTH=$build_dir/berth
for b in "$BERTHD" "$BERTH" "$build_dir/berth-shim" "$build_dir/berth-worker"; do
	[ -x "$b" ] || die "no \`$b\` (build first, or pass --build-dir)"
done
for t in curl jq docker-registry skopeo umoci busybox python3 runc; do
	have "$t" || die "$t is needed"
done
[ -n "${EPOCHREALTIME:-}" ] || die "bash 5 is needed (EPOCHREALTIME)"
have_containerd=
if have containerd && have ctr && have containerd-shim-runc-v2; then
	have_containerd=1
else
	note "containerd, ctr or containerd-shim-runc-v2 missing: berth and runc alone"
fi

# ---- temporary directory, processes, clean-up ----

tmp=$(mktemp -d "$tmpbase/berth-run.XXXXXX")
pids=()
bpid=
cpid=
umount_under() {
	local m
	awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r |
		while IFS= read -r m; do
			umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
		done
}
# the shims of our daemons: berth's from their pid files, containerd's by
# the socket path they were given (only this run's)
berth_shims() {
	local f
	for f in "$tmp"/b/state/tasks/*/*/shim.pid; do
		[ -f "$f" ] && cat "$f"
	done 2>/dev/null || true
}
containerd_shims() {
	pgrep -f "containerd-shim-runc-v2 .*-address $tmp/c/" 2>/dev/null || true
}
cleanup() {
	local rc=$? p
	trap - EXIT INT TERM
	if [ -n "$bpid" ] && kill -0 "$bpid" 2>/dev/null; then
		berth_clear 2>/dev/null || true
	fi
	if [ -n "$cpid" ] && kill -0 "$cpid" 2>/dev/null; then
		containerd_clear 2>/dev/null || true
	fi
	[ -z "${podman_ok:-}" ] || podman_clear 2>/dev/null || true
	for p in $(berth_shims) $(containerd_shims); do
		kill -KILL "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		for _ in $(seq 50); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	# runc's containers of the floor runs and any left by a killed shim
	for r in "$tmp"/runc "$tmp"/b/state/runc/* "$tmp"/c/state/io.containerd.runtime.v2.task/*; do
		[ -d "$r" ] || continue
		for id in $(runc --root "$r" list -q 2>/dev/null); do
			runc --root "$r" delete --force "$id" >/dev/null 2>&1 || true
		done
	done
	umount_under "$tmp"
	rm -rf --one-file-system "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

. "$here/lib.sh"
now_ms() { # milliseconds since the epoch, with microseconds
	local t=$EPOCHREALTIME
	echo "${t%.*}${t#*.}" | awk '{ printf "%.3f", $1 / 1000 }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }'; }
p90() { sort -g | awk '{ v[NR] = $1 } END { if (!NR) { print "-"; exit } i = int(0.9 * NR + 0.999999); print v[i] }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'; }
verdict() { if "$@"; then echo PASS; else echo FAIL; fi; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else printf "-" }'; }
mul() { awk -v a="$1" -v b="$2" 'BEGIN { print a * b }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.2f MiB", k / 1024 }'; }
pss_kib() { awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# mean of the PSS of the given pids, in KiB
mean_pss() {
	local p n=0 sum=0
	for p in "$@"; do
		sum=$((sum + $(pss_kib "$p")))
		n=$((n + 1))
	done
	[ "$n" -gt 0 ] && echo $((sum / n)) || echo 0
}

rows=$tmp/rows
: >"$rows"
failed=0
# row METRIC BERTH CONTAINERD RATIO TARGET RESULT
row() {
	printf '%s|%s|%s|%s|%s|%s\n' "$@" >>"$rows"
	[ "$6" != FAIL ] || failed=1
}

# ---- the image, the registry ----

note "working in $tmp"
bench_busybox_oci "$tmp/oci"
bench_registry
ref=127.0.0.1:$port/bench/busybox:latest
bench_push "$tmp/oci:busybox" "$ref"

# the floor's bundle: the same root filesystem (config.json comes from berth
# below, once berthd runs: the spec berth generates, so the floor pays for
# the same seccomp profile, mounts and capabilities)
umoci unpack --image "$tmp/oci:busybox" "$tmp/bundle" >/dev/null
mkdir -p "$tmp/runc"

# ---- berthd ----

bsock=$tmp/b/state/berthd.sock
echo '{}' >"$tmp/berthd.json"
# Both daemons keep their state (sockets, bundles, shim and runc state) on
# a tmpfs, as /run/berth and /run/containerd are in their default setups.
state_tmpfs() {
	mkdir -p "$1"
	mountpoint -q "$1" || mount -t tmpfs -o mode=0711 tmpfs "$1" || die "cannot mount a tmpfs on $1"
}
berth_start() {
	mkdir -p "$tmp/b/root"
	state_tmpfs "$tmp/b/state"
	"$BERTHD" --root "$tmp/b/root" --state "$tmp/b/state" --socket "$bsock" \
		--config "$tmp/berthd.json" 2>>"$tmp/b/log" &
	bpid=$!
	pids+=("$bpid")
}
berth_ready() {
	for _ in $(seq 200); do
		curl -sf --unix-socket "$bsock" http://berth/healthz >/dev/null 2>&1 && return 0
		kill -0 "$bpid" 2>/dev/null || break
		sleep 0.05
	done
	die "berthd would not start: $(tail -n 5 "$tmp/b/log")"
}
B() { "$BERTH" --address "$bsock" -n bench "$@"; }
berth_clear() {
	local id
	for id in $(B tasks ls -q 2>/dev/null); do
		B tasks rm -f "$id" >/dev/null 2>&1 || true
	done
	for id in $(B containers ls -q 2>/dev/null); do
		B containers rm "$id" >/dev/null 2>&1 || true
	done
}
berth_start
berth_ready
B pull --plain-http -q "$ref" >/dev/null || die "berth pull failed: $(tail -n 5 "$tmp/b/log")"
bversion=$(curl -sf --unix-socket "$bsock" http://berth/v1/version | jq -r '"\(.version // "?") (\(.revision // "?"))"')
B containers create "$ref" floor /bin/true >/dev/null || die "berth containers create failed"
curl -sf --unix-socket "$bsock" http://berth/v1/namespaces/bench/containers/floor |
	jq '.spec | .root.path = "rootfs" | .linux.cgroupsPath = "/bench-floor"' \
	>"$tmp/bundle/config.json" || die "could not read berth's spec"
B containers rm floor >/dev/null || die "berth containers rm failed"

# ---- containerd ----

csock=$tmp/c/containerd.sock
containerd_start() {
	mkdir -p "$tmp/c/root" "$tmp/c/opt"
	state_tmpfs "$tmp/c/state"
	cat >"$tmp/c/config.toml" <<EOF
version = 2
root = "$tmp/c/root"
state = "$tmp/c/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "$csock"

[ttrpc]
  address = "$csock.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$tmp/c/opt"
EOF
	containerd --config "$tmp/c/config.toml" >>"$tmp/c/log" 2>&1 &
	cpid=$!
	pids+=("$cpid")
}
containerd_ready() { # the API answers
	for _ in $(seq 400); do
		[ -S "$csock" ] && ctr --address "$csock" version >/dev/null 2>&1 && return 0
		kill -0 "$cpid" 2>/dev/null || break
		sleep 0.025
	done
	die "containerd would not start: $(tail -n 5 "$tmp/c/log")"
}
C() { ctr --address "$csock" -n bench "$@"; }
containerd_clear() {
	local id
	for id in $(C tasks ls -q 2>/dev/null); do
		C tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true
	done
	for id in $(C tasks ls -q 2>/dev/null); do
		for _ in $(seq 50); do
			C tasks rm "$id" >/dev/null 2>&1 && break
			sleep 0.1
		done
	done
	for id in $(C containers ls -q 2>/dev/null); do
		C containers rm "$id" >/dev/null 2>&1 || true
	done
}
cversion=
if [ -n "$have_containerd" ]; then
	containerd_start
	containerd_ready
	C images pull --plain-http "$ref" >/dev/null || die "ctr images pull failed"
	cversion=$(ctr --address "$csock" version | awk '/^Server:/ { s = 1 } s && /Version:/ { print $2; exit }')
fi

# ---- 1. serial run --rm /bin/true ----

# busy_now: BUSY = the CPU time all processes have used since boot, in
# clock ticks (/proc/stat; read without a process of its own)
busy_now() {
	local _cpu u n s _idle _iow irq sirq st _rest
	read -r _cpu u n s _idle _iow irq sirq st _rest </proc/stat
	BUSY=$((u + n + s + irq + sirq + st))
}
tick_ms=$(awk -v hz="$(getconf CLK_TCK)" 'BEGIN { print 1000 / hz }')
# time_cmd FILE CMD...: append CMD's wall time in ms to FILE and the CPU
# time the whole machine spent meanwhile (every process: client, daemon,
# shims, runc, kernel) in ticks to FILE.cpu; fail on failure
time_cmd() {
	local f=$1 t0 t1 c0
	shift
	busy_now
	c0=$BUSY
	t0=${EPOCHREALTIME/./}
	"$@" >/dev/null 2>>"$tmp/errors" || { tail -n 3 "$tmp/errors" >&2; die "failed: $*"; }
	t1=${EPOCHREALTIME/./}
	busy_now
	echo $((BUSY - c0)) >>"$f.cpu"
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) / 1000 }' >>"$f"
}
# cpu_ms FILE: the mean CPU ms per command of FILE.cpu
cpu_ms() { awk -v t="$tick_ms" '{ s += $1 } END { if (NR) printf "%.1f", s * t / NR; else print "-" }' "$1.cpu"; }
note "== serial: $runs x run --rm /bin/true each (berth, ctr, runc), alternating"
: >"$tmp/lat.b"
: >"$tmp/lat.c"
: >"$tmp/lat.cs"
: >"$tmp/lat.r"
: >"$tmp/lat.b.cpu"
: >"$tmp/lat.c.cpu"
: >"$tmp/lat.cs.cpu"
: >"$tmp/lat.r.cpu"
# one warm-up each, not counted
B run --rm "$ref" warm /bin/true >/dev/null || die "berth run failed: $(tail -n 5 "$tmp/b/log")"
[ -z "$have_containerd" ] || C run --rm "$ref" warm /bin/true >/dev/null || die "ctr run failed"
runc --root "$tmp/runc" run --bundle "$tmp/bundle" warm >/dev/null || die "runc run failed"
for i in $(seq "$runs"); do
	if [ $((i % 2)) = 0 ]; then
		time_cmd "$tmp/lat.r" runc --root "$tmp/runc" run --bundle "$tmp/bundle" "r$i"
		[ -z "$have_containerd" ] || time_cmd "$tmp/lat.c" C run --rm "$ref" "s$i" /bin/true
		[ -z "$have_containerd" ] || time_cmd "$tmp/lat.cs" C run --rm --seccomp "$ref" "z$i" /bin/true
		time_cmd "$tmp/lat.b" B run --rm "$ref" "s$i" /bin/true
	else
		time_cmd "$tmp/lat.b" B run --rm "$ref" "s$i" /bin/true
		[ -z "$have_containerd" ] || time_cmd "$tmp/lat.c" C run --rm "$ref" "s$i" /bin/true
		[ -z "$have_containerd" ] || time_cmd "$tmp/lat.cs" C run --rm --seccomp "$ref" "z$i" /bin/true
		time_cmd "$tmp/lat.r" runc --root "$tmp/runc" run --bundle "$tmp/bundle" "r$i"
	fi
done
b_med=$(median <"$tmp/lat.b")
b_p90=$(p90 <"$tmp/lat.b")
r_med=$(median <"$tmp/lat.r")
r_p90=$(p90 <"$tmp/lat.r")
if [ -n "$have_containerd" ]; then
	c_med=$(median <"$tmp/lat.c")
	c_p90=$(p90 <"$tmp/lat.c")
	row "run --rm /bin/true, median of $runs" "$b_med ms" "$c_med ms" "$(ratio "$b_med" "$c_med")" \
		"<= 0.5x containerd" "$(verdict le "$b_med" "$(mul "$c_med" 0.5)")"
	row "run --rm /bin/true, p90" "$b_p90 ms" "$c_p90 ms" "$(ratio "$b_p90" "$c_p90")" "-" info
	# berth's default spec has the default seccomp profile (as Docker and
	# containerd's CRI apply it); ctr applies it only with --seccomp, and
	# runc compiling it is ~10 ms here: the same work on both sides
	cs_med=$(median <"$tmp/lat.cs")
	row "run --rm /bin/true, median, ctr with --seccomp (the profile berth applies by default)" \
		"$b_med ms" "$cs_med ms" "$(ratio "$b_med" "$cs_med")" "-" info
else
	row "run --rm /bin/true, median of $runs" "$b_med ms" "-" "-" "<= 0.5x containerd" n/a
	row "run --rm /bin/true, p90" "$b_p90 ms" "-" "-" "-" info
fi
row "bare runc run (the floor), median / p90" "$r_med / $r_p90 ms" "-" "$(ratio "$b_med" "$r_med") (berth/runc)" \
	"berth <= 2x runc" "$(verdict le "$b_med" "$(mul "$r_med" 2)")"
# CPU: the concurrent loop is bound by it (containers/s <= cores / CPU per
# container), and the floor (runc's run and delete, with the same spec)
# shows what is left to any runtime manager on this machine
b_cpu=$(cpu_ms "$tmp/lat.b")
r_cpu=$(cpu_ms "$tmp/lat.r")
if [ -n "$have_containerd" ]; then
	c_cpu=$(cpu_ms "$tmp/lat.c")
	cs_cpu=$(cpu_ms "$tmp/lat.cs")
	row "CPU per run --rm, all processes (mean of $runs); ctr with --seccomp: $cs_cpu ms" \
		"$b_cpu ms" "$c_cpu ms" "$(ratio "$b_cpu" "$c_cpu")" "-" info
else
	row "CPU per run --rm, all processes (mean of $runs)" "$b_cpu ms" "-" "-" "-" info
fi
row "CPU of bare runc run (the floor), all processes" "$r_cpu ms" "-" \
	"$(ratio "$b_cpu" "$r_cpu") (berth/runc)" "-" info

# where berth's time goes: the same five requests `berth run --rm` makes
# (the task created and started in one, `runc run --detach`), one by one
# with curl, each timed (the task gets no stdio here)
note "== berth's steps, 10 times with curl"
bcurl() { # bcurl FILE METHOD PATH [BODY]: time in ms appended to FILE; 2xx or die
	local f=$1 m=$2 path=$3 out
	out=$(curl -s -o "$tmp/step.out" -w '%{http_code} %{time_total}' --unix-socket "$bsock" \
		-X "$m" ${4:+-H 'Content-Type: application/json' -d "$4"} "http://berth/v1/namespaces/bench$path")
	case $out in 2*) ;; *) die "$m $path: $out $(cat "$tmp/step.out")" ;; esac
	echo "${out#* }" | awk '{ printf "%.3f\n", $1 * 1000 }' >>"$tmp/step.$f"
}
steps="container task+start wait delete-task delete-container"
for st in $steps; do : >"$tmp/step.$st"; done
for i in $(seq 10); do
	bcurl container POST /containers "{\"id\":\"st$i\",\"image\":\"$ref\",\"process\":{\"args\":[\"/bin/true\"]}}"
	bcurl task+start POST "/containers/st$i/task" '{"start":true}'
	bcurl wait POST "/containers/st$i/task/wait"
	bcurl delete-task DELETE "/containers/st$i/task"
	bcurl delete-container DELETE "/containers/st$i?cleanup=snapshot"
done
breakdown=
for st in $steps; do
	breakdown="$breakdown${breakdown:+, }$st $(median <"$tmp/step.$st")"
done
row "berth's steps, median ms of 10 (curl)" "$breakdown" "-" "-" "-" info

# ---- 2. concurrency 4 ----

# loop_worker OUT SIDE W END: run --rm until END (ms since the epoch); one
# line per container. The clock is read without a process (EPOCHREALTIME):
# the loop's own cost stays out of the containers/s of either side.
loop_worker() {
	local out=$1 side=$2 w=$3 n=0 end=$4
	while [ $((${EPOCHREALTIME/./} / 1000)) -lt "$end" ]; do
		n=$((n + 1))
		if [ "$side" = b ]; then
			B run --rm "$ref" "w$w-$n" /bin/true >/dev/null 2>>"$tmp/errors" || { echo fail >>"$out"; continue; }
		elif [ "$side" = cs ]; then
			C run --rm --seccomp "$ref" "w$w-$n" /bin/true >/dev/null 2>>"$tmp/errors" || { echo fail >>"$out"; continue; }
		else
			C run --rm "$ref" "w$w-$n" /bin/true >/dev/null 2>>"$tmp/errors" || { echo fail >>"$out"; continue; }
		fi
		echo ok >>"$out"
	done
}
# conc SIDE: containers per second of 4 loops for $duration s
conc() {
	local side=$1 w start end t0 t1 ok fail
	: >"$tmp/conc.$side"
	t0=$(now_ms)
	end=$((${t0%.*} + duration * 1000)) # mawk's printf %d stops at 2^31
	local wp=()
	for w in 1 2 3 4; do
		loop_worker "$tmp/conc.$side" "$side" "$w" "$end" &
		wp+=($!)
	done
	wait "${wp[@]}"
	t1=$(now_ms)
	ok=$(grep -c ok "$tmp/conc.$side" || true)
	fail=$(grep -c fail "$tmp/conc.$side" || true)
	[ "$ok" -gt 0 ] || die "no $side container ran in the concurrent loop: $(tail -n 3 "$tmp/errors")"
	[ "$fail" = 0 ] || note "warning: $fail of $side's concurrent runs failed: $(tail -n 2 "$tmp/errors")"
	awk -v n="$ok" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / ((b - a) / 1000) }'
}
note "== concurrency 4: create/start/wait/delete loops for $duration s each"
b_cps=$(conc b)
berth_clear
if [ -n "$have_containerd" ]; then
	c_cps=$(conc c)
	containerd_clear
	row "concurrency-4 run --rm loop, containers/s" "$b_cps" "$c_cps" "$(ratio "$b_cps" "$c_cps")" \
		">= 2x containerd" "$(verdict le "$(mul "$c_cps" 2)" "$b_cps")"
	cs_cps=$(conc cs)
	containerd_clear
	row "concurrency-4, ctr with --seccomp (the profile berth applies by default)" "$b_cps" \
		"$cs_cps" "$(ratio "$b_cps" "$cs_cps")" "-" info
else
	row "concurrency-4 run --rm loop, containers/s" "$b_cps" "-" "-" ">= 2x containerd" n/a
fi

# ---- 3. idle containers: shim and daemon memory ----

note "== $idle idle sleep containers each"
for i in $(seq "$idle"); do
	B run -d "$ref" "idle$i" sleep 1000000 >/dev/null || die "berth run -d failed: $(tail -n 3 "$tmp/b/log")"
done
[ "$(B tasks ls -q | wc -l)" = "$idle" ] || die "berth lists $(B tasks ls -q | wc -l) tasks, not $idle"
sleep 1
mapfile -t bshims < <(berth_shims)
b_pss=$(mean_pss "${bshims[@]}")
b_rss=$(rss_kib "$bpid")
berth_clear
if [ -n "$have_containerd" ]; then
	for i in $(seq "$idle"); do
		C run -d "$ref" "idle$i" sleep 1000000 >/dev/null || die "ctr run -d failed"
	done
	sleep 1
	mapfile -t cshims < <(containerd_shims)
	c_pss=$(mean_pss "${cshims[@]}")
	c_shim_rss=0
	for p in "${cshims[@]}"; do c_shim_rss=$((c_shim_rss + $(rss_kib "$p"))); done
	c_shim_rss=$((c_shim_rss / ${#cshims[@]}))
	c_rss=$(rss_kib "$cpid")
	containerd_clear
fi

# podman + conmon, where podman works
podman_ok=
podman_why=
podman_clear() { podman --root "$tmp/p/root" --runroot "$tmp/p/run" rm -f -a -t 0 >/dev/null 2>&1; }
if ! have podman; then
	podman_why="podman not installed (apt-get install -y podman failed or was not tried)"
elif ! have conmon; then
	podman_why="no conmon"
else
	P() { podman --root "$tmp/p/root" --runroot "$tmp/p/run" --storage-driver overlay \
		--cgroup-manager cgroupfs --events-backend none "$@"; }
	# runc: crun refuses this machine's hybrid cgroups; rlimits within the
	# hard ones (podman's defaults may exceed them)
	lim() { [ "$1" = unlimited ] && echo -1 || echo "$1"; }
	pargs=(--net none --runtime runc
		--ulimit "nofile=$(lim "$(ulimit -Sn)"):$(lim "$(ulimit -Hn)")"
		--ulimit "nproc=4096:4096") # runc init fails to set more here
	if P pull -q --tls-verify=false "$ref" >/dev/null 2>"$tmp/p.err" &&
		P run -d "${pargs[@]}" "$ref" sleep 1000000 >/dev/null 2>>"$tmp/p.err"; then
		podman_ok=1
		for i in $(seq 2 "$idle"); do
			P run -d "${pargs[@]}" "$ref" sleep 1000000 >/dev/null 2>>"$tmp/p.err" || { podman_ok=; break; }
		done
	fi
	if [ -n "$podman_ok" ]; then
		sleep 1
		mapfile -t pshims < <(pgrep -f "conmon .*$tmp/p/" || true)
		p_pss=$(mean_pss "${pshims[@]}")
	else
		podman_why="podman failed: $(tail -n 1 "$tmp/p.err")"
	fi
	podman_clear || true
fi
pinfo=
if [ -n "$podman_ok" ]; then
	pinfo="; conmon $(mib "$p_pss")"
	pcmp=$(verdict le "$b_pss" "$p_pss")
else
	pcmp=n/a
	note "podman row n/a: $podman_why"
fi
if [ -n "$have_containerd" ]; then
	row "PSS per shim, $idle idle containers (mean)" "$(mib "$b_pss")" "$(mib "$c_pss") (RSS $(mib "$c_shim_rss"))$pinfo" \
		"$(ratio "$b_pss" "$c_pss")" "<= conmon's" "$pcmp"
	row "daemon RSS with $idle containers" "$(mib "$b_rss")" "$(mib "$c_rss")" "$(ratio "$b_rss" "$c_rss")" \
		"<= 16 MiB" "$(verdict le "$b_rss" 16384)"
else
	row "PSS per shim, $idle idle containers (mean)" "$(mib "$b_pss")" "-$pinfo" "-" "<= conmon's" "$pcmp"
	row "daemon RSS with $idle containers" "$(mib "$b_rss")" "-" "-" "<= 16 MiB" "$(verdict le "$b_rss" 16384)"
fi
[ -n "$podman_ok" ] || row "podman + conmon" "-" "n/a: $podman_why" "-" "-" n/a

# ---- 4. live restore ----

# restore_once SIDE: kill -9 SIDE's daemon (its containers running),
# restart it, and append the ms until its own CLI lists them all running
# to $tmp/lr.SIDE (polled as a user would: berth tasks ls / ctr tasks ls)
restore_once() {
	local side=$1 t0 t1 n
	if [ "$side" = b ]; then
		kill -KILL "$bpid"
		wait "$bpid" 2>/dev/null || true
		forget_pid "$bpid"
		t0=$(now_ms)
		berth_start
		until [ "$(B tasks ls 2>/dev/null | awk '$3 == "running"' | wc -l)" = "$restore" ]; do
			kill -0 "$bpid" 2>/dev/null || die "berthd died on restart: $(tail -n 5 "$tmp/b/log")"
			[ $((${EPOCHREALTIME/./} / 1000 - ${t0%.*})) -le 20000 ] ||
				die "berthd did not list $restore running tasks within 20 s"
		done
	else
		kill -KILL "$cpid"
		wait "$cpid" 2>/dev/null || true
		forget_pid "$cpid"
		t0=$(now_ms)
		containerd_start
		until [ "$(ctr --address "$csock" -n bench tasks ls 2>/dev/null | awk '$3 == "RUNNING"' | wc -l)" = "$restore" ]; do
			kill -0 "$cpid" 2>/dev/null || die "containerd died on restart"
			[ $((${EPOCHREALTIME/./} / 1000 - ${t0%.*})) -le 20000 ] ||
				die "containerd did not list $restore running tasks within 20 s"
		done
	fi
	t1=$(now_ms)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", b - a }' >>"$tmp/lr.$side"
}
note "== live restore: $restore running containers, kill -9 the daemon, restart; $restore_runs times each"
: >"$tmp/lr.b"
: >"$tmp/lr.c"
for i in $(seq "$restore"); do
	B run -d "$ref" "lr$i" sleep 1000000 >/dev/null || die "berth run -d failed"
done
for i in $(seq "$restore_runs"); do
	restore_once b
done
b_lr=$(median <"$tmp/lr.b")
berth_clear
if [ -n "$have_containerd" ]; then
	for i in $(seq "$restore"); do
		C run -d "$ref" "lr$i" sleep 1000000 >/dev/null || die "ctr run -d failed"
	done
	for i in $(seq "$restore_runs"); do
		restore_once c
	done
	c_lr=$(median <"$tmp/lr.c")
	containerd_clear
	row "live restore of $restore: restart until all listed running, median of $restore_runs" \
		"$b_lr ms" "$c_lr ms" "$(ratio "$b_lr" "$c_lr")" "<= 0.5x containerd" \
		"$(verdict le "$b_lr" "$(mul "$c_lr" 0.5)")"
else
	row "live restore of $restore: restart until all listed running, median of $restore_runs" \
		"$b_lr ms" "-" "-" "<= 0.5x containerd" n/a
fi

# ---- the table ----

context="$(date -u +%Y-%m-%d), $(nproc) CPUs, Linux $(uname -r); berth $bversion${cversion:+, containerd $cversion}, runc $(runc --version | awk 'NR == 1 { print $3 }')"
echo
echo "berth run benchmark: $context"
echo
{
	echo "metric|berth|containerd|ratio|target|result"
	cat "$rows"
} | awk -F'|' '
	{ for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NR; nf = NF }
	END {
		for (r = 1; r <= n; r++) {
			line = ""
			for (i = 1; i <= nf; i++) line = line sprintf("%-" w[i] "s", c[r, i]) (i < nf ? "  " : "")
			print line
			if (r == 1) { line = ""; for (i = 1; i <= nf; i++) { s = sprintf("%" w[i] "s", ""); gsub(/ /, "-", s); line = line s (i < nf ? "  " : "") } print line }
		}
	}'
if [ -n "$markdown" ]; then
	{
		echo "Measured by \`$cmdline\` on $context."
		echo
		echo "| metric | berth | containerd | ratio | target | result |"
		echo "|---|---|---|---|---|---|"
		sed 's/|/ | /g; s/^/| /; s/$/ |/' "$rows"
	} >"$markdown"
fi
exit "$failed"
