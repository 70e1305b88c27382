#!/bin/bash
# contrib/bench/soak.sh: run berthd under mixed load for a while and watch
# for leaks (issue 7): its RSS, open descriptors, mounts, shims and LMDB
# file, sampled every few seconds.
#
# A fresh berthd on a temporary root, a loopback docker-registry holding a
# busybox image (built from busybox-static with umoci, as contrib/bench/run.sh
# does) and a "churn" image with a random 1 MiB layer. The load, all at once:
#   - pulls: remove the churn image, collect garbage, pull it again (a real
#     download and unpack every time);
#   - runs: `berth run --rm busybox /bin/true`, one after the other;
#   - execs: add/start/wait/logs/delete an exec in a long-running container;
#   - events: three SSE subscribers connecting and leaving at random;
#   - bad requests: malformed JSON, unknown routes and exec ids, bad
#     digests and references, a client that leaves mid-request.
# The load first runs for --warmup seconds, stops, and the quiet daemon is
# sampled (the baseline); then it runs for --duration seconds while samples
# are taken, stops, and the quiet daemon is sampled again. Verdict: with no
# load, descriptors, mounts and shims are back at the baseline exactly, and
# RSS within max(1 MiB, 5%) of it (--no-rss-check: not judged, for
# sanitizer builds whose allocator keeps freed memory in quarantine); the
# slopes over the loaded samples are reported. Every process, mount and
# file the script makes is removed on exit. Run as root.
# Exit status: 0 no growth, 1 growth found or load failed, 2 usage/set-up.

set -eu

usage() {
	cat <<EOF
usage: contrib/bench/soak.sh [options]

  --build-dir DIR   build directory holding berthd, berth, berth-shim, berth-worker
                    (default: \$BERTH_BUILD_DIR or .)
  --tmpdir DIR      where the root, state and registry go (default /var/tmp)
  --duration S      seconds of loaded run after the warm-up (default 3600)
  --warmup S        seconds of warm-up load before the baseline (default 30)
  --interval S      seconds between samples (default 5)
  --csv FILE        also write the samples to FILE
  --markdown FILE   also write the summary as markdown to FILE
  --no-rss-check    report RSS, do not judge it (sanitizer builds)
  -h, --help        this help
EOF
}

die() { echo "soak.sh: $*" >&2; exit 2; }
note() { echo "soak.sh: $*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build_dir=${BERTH_BUILD_DIR:-.}
tmpbase=/var/tmp
duration=3600
warmup=30
interval=5
csv=
markdown=
rss_check=1
while [ $# -gt 0 ]; do
	case $1 in
	--build-dir) build_dir=${2:?}; shift ;;
	--tmpdir) tmpbase=${2:?}; shift ;;
	--duration) duration=${2:?}; shift ;;
	--warmup) warmup=${2:?}; shift ;;
	--interval) interval=${2:?}; shift ;;
	--csv) csv=${2:?}; shift ;;
	--markdown) markdown=${2:?}; shift ;;
	--no-rss-check) rss_check= ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done
for v in duration warmup interval; do
	case ${!v} in '' | *[!0-9]*) die "--$v wants a whole number, not \`${!v}\`" ;; esac
	[ "${!v}" -ge 1 ] || die "--$v must be at least 1"
done
[ "$(id -u)" = 0 ] || die "run as root (containers)"
build_dir=$(cd "$build_dir" && pwd)
BERTHD=$build_dir/berthd
BERTH=$build_dir/berth
for b in "$BERTHD" "$BERTH" "$build_dir/berth-shim" "$build_dir/berth-worker"; do
	[ -x "$b" ] || die "no \`$b\` (build first, or pass --build-dir)"
done
for t in curl jq docker-registry skopeo umoci busybox python3 runc; do
	have "$t" || die "$t is needed"
done

# ---- temporary directory, processes, clean-up ----

tmp=$(mktemp -d "$tmpbase/berth-soak.XXXXXX")
pids=()
load_pids=()
bpid=
umount_under() {
	local m
	awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r |
		while IFS= read -r m; do
			umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
		done
}
berth_shims() {
	local f
	for f in "$tmp"/state/tasks/*/*/shim.pid; do
		[ -f "$f" ] && cat "$f"
	done 2>/dev/null || true
}
stop_load() {
	local p
	for p in "${load_pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${load_pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	load_pids=()
}
cleanup() {
	local rc=$? p id
	trap - EXIT INT TERM
	stop_load
	if [ -n "$bpid" ] && kill -0 "$bpid" 2>/dev/null; then
		for id in $(B tasks ls -q 2>/dev/null); do
			B tasks rm -f "$id" >/dev/null 2>&1 || true
		done
	fi
	for p in $(berth_shims); do
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
	for r in "$tmp"/state/runc/*; do
		[ -d "$r" ] || continue
		for id in $(runc --root "$r" list -q 2>/dev/null); do
			runc --root "$r" delete --force "$id" >/dev/null 2>&1 || true
		done
	done
	umount_under "$tmp"
	rm -rf --one-file-system "$tmp"
	# the namespace's cgroup directories runc leaves (berth/<ns> under each
	# hierarchy), once empty
	if [ -n "${ns:-}" ]; then
		for d in /sys/fs/cgroup/*/berth/"$ns" /sys/fs/cgroup/berth/"$ns"; do
			[ -d "$d" ] && rmdir "$d" 2>/dev/null
		done
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

. "$here/lib.sh"

# ---- the images, the registry ----

note "working in $tmp"
mkdir -p "$tmp/churn/data"
bench_busybox_oci "$tmp/oci"
head -c 1048576 /dev/urandom >"$tmp/churn/data/blob"
tar -C "$tmp/churn" -cf "$tmp/churn.tar" data
umoci new --image "$tmp/oci:churn"
umoci raw add-layer --image "$tmp/oci:churn" "$tmp/churn.tar"
umoci config --image "$tmp/oci:churn" --os linux --architecture amd64
bench_registry
ref=127.0.0.1:$port/soak/busybox:latest
churn=127.0.0.1:$port/soak/churn:latest
bench_push "$tmp/oci:busybox" "$ref"
bench_push "$tmp/oci:churn" "$churn"

# ---- berthd ----

sock=$tmp/state/berthd.sock
mkdir -p "$tmp/root" "$tmp/state"
echo '{}' >"$tmp/berthd.json"
"$BERTHD" --root "$tmp/root" --state "$tmp/state" --socket "$sock" \
	--config "$tmp/berthd.json" 2>>"$tmp/berthd.log" &
bpid=$!
pids+=("$bpid")
for _ in $(seq 200); do
	curl -sf --unix-socket "$sock" http://berth/healthz >/dev/null 2>&1 && break
	kill -0 "$bpid" 2>/dev/null || break
	sleep 0.05
done
curl -sf --unix-socket "$sock" http://berth/healthz >/dev/null 2>&1 ||
	die "berthd would not start: $(tail -n 5 "$tmp/berthd.log")"
# A namespace of this run's own: containers' cgroups are /berth/<ns>/<id>,
# and another soak (or test) running beside this one must not share them.
ns=soak-$$
B() { "$BERTH" --address "$sock" -n "$ns" "$@"; }
api() { # METHOD PATH [curl args]: prints the status
	local m=$1 p=$2
	shift 2
	curl -s -o /dev/null -w '%{http_code}' --unix-socket "$sock" -X "$m" "http://berth$p" "$@" || echo 000
}
NS=/v1/namespaces/$ns
B pull --plain-http -q "$ref" >/dev/null || die "berth pull failed: $(tail -n 5 "$tmp/berthd.log")"
B run -d "$ref" soak-x sleep 100000000 >/dev/null || die "berth run -d failed"

# ---- the load ----

fails=$tmp/fails
: >"$fails"
fail() { echo "$(date +%T) $*" >>"$fails"; }
count() { echo >>"$tmp/count.$1"; } # one operation of kind $1 done (loaded phase)

load_pulls() {
	while [ "$(date +%s)" -lt "$1" ]; do
		B images rm "$churn" >/dev/null 2>&1 || true
		api POST /v1/gc >/dev/null
		B pull --plain-http -q "$churn" >/dev/null 2>&1 && count pulls || fail "pull $churn"
	done
}
load_runs() {
	local i=0
	while [ "$(date +%s)" -lt "$1" ]; do
		i=$((i + 1))
		B run --rm "$ref" "soak-r$2-$i" /bin/true >/dev/null 2>&1 && count runs ||
			fail "run soak-r$2-$i"
	done
}
load_execs() {
	local i=0 C=$NS/containers/soak-x/task st
	while [ "$(date +%s)" -lt "$1" ]; do
		i=$((i + 1))
		st=$(api POST "$C/exec" -d "{\"exec_id\":\"e$2-$i\",\"process\":{\"args\":[\"echo\",\"hi\"]},\"log\":true}")
		[ "$st" = 201 ] || { fail "exec add e$2-$i: $st"; continue; }
		st=$(api POST "$C/exec/e$2-$i/start")
		[ "$st" = 200 ] || fail "exec start e$2-$i: $st"
		st=$(api POST "$C/exec/e$2-$i/wait" --max-time 30)
		[ "$st" = 200 ] || fail "exec wait e$2-$i: $st"
		api GET "$C/logs?exec_id=e$2-$i" >/dev/null
		st=$(api DELETE "$C/exec/e$2-$i")
		[ "$st" = 200 ] && count execs || fail "exec delete e$2-$i: $st"
	done
}
load_events() {
	while [ "$(date +%s)" -lt "$1" ]; do
		curl -sN --max-time "$((RANDOM % 3 + 1))" --unix-socket "$sock" \
			"http://berth/v1/events?since=0" >/dev/null 2>&1 || true
		count sse
	done
}
load_bad() {
	local st
	while [ "$(date +%s)" -lt "$1" ]; do
		st=$(api POST "$NS/containers" -d '{"id":"x",')
		[ "$st" = 400 ] || fail "malformed JSON: $st"
		st=$(api GET /v1/nowhere)
		[ "$st" = 404 ] || fail "unknown route: $st"
		st=$(api GET "$NS/content/sha256:zzzz")
		[ "$st" = 400 ] || fail "bad digest: $st"
		st=$(api POST "$NS/containers/soak-x/task/exec" -d '{"exec_id":"../x","process":{"args":["true"]}}')
		[ "$st" = 400 ] || fail "bad exec id: $st"
		st=$(api POST "$NS/containers/soak-x/task/exec/nope/start")
		[ "$st" = 404 ] || fail "unknown exec: $st"
		st=$(api POST "$NS/images/pull" -d '{"ref":"::not a ref::"}')
		[ "$st" = 400 ] || [ "$st" = 404 ] || fail "bad reference: $st"
		# a client that leaves mid-body
		curl -s --max-time 0.2 --unix-socket "$sock" -X POST -H 'Content-Length: 100000' \
			--data-binary '{"id":' "http://berth$NS/containers" >/dev/null 2>&1 || true
		count bad
		sleep 0.05
	done
}

start_load() { # END: names of this phase's containers and execs carry END,
	# so those a stopped phase left half made never collide with the next's
	load_pulls "$1" &
	load_pids+=($!)
	load_runs "$1" "$1" &
	load_pids+=($!)
	load_execs "$1" "$1" &
	load_pids+=($!)
	for k in 1 2 3; do
		load_events "$1" &
		load_pids+=($!)
	done
	load_bad "$1" &
	load_pids+=($!)
}

# ---- samples ----

lmdb_file=
sample() { # PHASE: prints "t phase rss_kib fds mounts shims lmdb_bytes registry_conns"
	local rss fds conns mounts shims lmdb t
	t=$(date +%s)
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$bpid/status" 2>/dev/null || echo 0)
	fd_list >"$tmp/fds.now"
	# libcurl keeps finished connections to the registry for reuse (a pull
	# opens one or several, as many as it fetched blobs at once): counted
	# apart, they are not descriptors berthd lost
	conns=$(grep -c ' registry connection$' "$tmp/fds.now" || true)
	fds=$(($(wc -l <"$tmp/fds.now") - conns))
	mounts=$(awk -v d="$tmp/" 'index($5, d) == 1' /proc/self/mountinfo | wc -l)
	shims=$(berth_shims | wc -l)
	[ -n "$lmdb_file" ] || lmdb_file=$(find "$tmp/root" -name data.mdb 2>/dev/null | head -n 1)
	lmdb=$(stat -c %s "$lmdb_file" 2>/dev/null || echo 0)
	echo "$t $1 $rss $fds $mounts $shims $lmdb $conns"
}
# what berthd's descriptors point at (for the report when their count grew);
# TCP sockets whose peer is the registry's port are marked
fd_list() {
	local f
	for f in /proc/"$bpid"/fd/*; do
		printf '%s %s\n' "${f##*/}" "$(readlink "$f" 2>/dev/null)"
	done | awk -v port="$(printf '%04X' "$port")" '
		FILENAME != "-" { split($3, r, ":"); if (r[2] == port) reg[$10] = 1; next }
		{ ino = $2; gsub(/[^0-9]/, "", ino)
		  printf "%s -> %s%s\n", $1, $2, ($2 ~ /^socket:/ && ino in reg) ? " registry connection" : "" }
	' /proc/net/tcp /proc/net/tcp6 -
}
# let the quiet daemon settle: nothing running but soak-x, events drained
quiesce() {
	local n
	for _ in $(seq 100); do
		n=$(B tasks ls -q 2>/dev/null | wc -l)
		[ "$n" -le 1 ] && break
		sleep 0.1
	done
	sleep 2
}

samples=$tmp/samples
: >"$samples"
note "warm-up load for ${warmup}s"
start_load $(($(date +%s) + warmup))
sleep "$warmup"
stop_load
quiesce
rm -f "$tmp"/count.*
base=$(sample quiet-before)
cp "$tmp/fds.now" "$tmp/fds.before"
echo "$base" >>"$samples"
note "baseline: $base"
note "load for ${duration}s, a sample every ${interval}s"
end=$(($(date +%s) + duration))
start_load "$end"
while [ "$(date +%s)" -lt "$end" ]; do
	sleep "$interval"
	kill -0 "$bpid" 2>/dev/null || { note "berthd died: $(tail -n 5 "$tmp/berthd.log")"; exit 1; }
	sample load >>"$samples"
done
stop_load
quiesce
final=$(sample quiet-after)
cp "$tmp/fds.now" "$tmp/fds.after"
echo "$final" >>"$samples"
note "after: $final"
[ -z "$csv" ] || { echo "time,phase,rss_kib,fds,mounts,shims,lmdb_bytes,registry_conns"; tr ' ' ',' <"$samples"; } >"$csv"

# ---- verdict ----

# least-squares slope per minute of column C over the loaded samples
slope() {
	awk -v c="$1" '$2 == "load" { if (!n) x0 = $1; n++; x = $1 - x0; y = $c
		      sx += x; sy += y; sxx += x * x; sxy += x * y }
		END { d = n * sxx - sx * sx; if (n < 2 || d == 0) { print 0; exit }
		      printf "%.2f", 60 * (n * sxy - sx * sy) / d }' "$samples"
}
col() { echo "$1" | awk -v c="$2" '{ print $c }'; }
bad=0
verdict_line() { # NAME BEFORE AFTER OK SLOPE UNIT
	local v=PASS
	if [ "$4" = skip ]; then
		v="not judged"
	elif [ "$4" != 1 ]; then
		v=FAIL
		bad=1
	fi
	printf '| %s | %s | %s | %s %s/min | %s |\n' "$1" "$2" "$3" "$5" "$6" "$v"
}
rb=$(col "$base" 3) ra=$(col "$final" 3)
rss_ok=$(awk -v a="$ra" -v b="$rb" 'BEGIN { t = b * 0.05; if (t < 1024) t = 1024; print (a <= b + t) ? 1 : 0 }')
[ -n "$rss_check" ] || rss_ok=skip
fb=$(col "$base" 4) fa=$(col "$final" 4)
mb=$(col "$base" 5) ma=$(col "$final" 5)
sb=$(col "$base" 6) sa=$(col "$final" 6)
lb=$(col "$base" 7) la=$(col "$final" 7)
nload=$(awk '$2 == "load"' "$samples" | wc -l)
nfail=$(wc -l <"$fails")
summary=$tmp/summary
{
	echo "soak: ${duration}s of load after ${warmup}s of warm-up, $nload samples every ${interval}s; $(date -u +%FT%TZ), $(nproc) CPUs"
	echo
	echo "| metric | quiet before | quiet after | slope under load | verdict |"
	echo "|---|---|---|---|---|"
	verdict_line "berthd RSS (KiB)" "$rb" "$ra" "$rss_ok" "$(slope 3)" KiB
	verdict_line "berthd open fds (registry connections apart)" "$fb" "$fa" "$([ "$fa" -le "$fb" ] && echo 1 || echo 0)" "$(slope 4)" ""
	verdict_line "mounts under the root" "$mb" "$ma" "$([ "$ma" -eq "$mb" ] && echo 1 || echo 0)" "$(slope 5)" ""
	verdict_line "shims" "$sb" "$sa" "$([ "$sa" -eq "$sb" ] && echo 1 || echo 0)" "$(slope 6)" ""
	verdict_line "LMDB file (bytes)" "$lb" "$la" skip "$(slope 7)" B
	verdict_line "idle registry connections kept by libcurl" "$(col "$base" 8)" "$(col "$final" 8)" skip "$(slope 8)" ""
	echo
	n() { cat "$tmp/count.$1" 2>/dev/null | wc -l; }
	echo "operations under load: $(n pulls) pulls (remove, gc, pull), $(n runs) \`run --rm\`," \
		"$(n execs) execs, $(n sse) SSE subscriptions, $(n bad) rounds of 7 bad requests"
	echo
	echo "load failures: $nfail"
} >"$summary"
cat "$summary"
[ -z "$markdown" ] || cp "$summary" "$markdown"
if [ "$fa" -gt "$fb" ]; then
	echo "descriptors open after the load and not before:"
	diff <(grep -v ' registry connection$' "$tmp/fds.before") \
		<(grep -v ' registry connection$' "$tmp/fds.after") | sed -n 's/^> /  /p'
fi
if [ "$nfail" -gt 0 ]; then
	echo "first load failures:"
	head -n 20 "$fails"
	bad=1
fi
# berthd stops cleanly (LeakSanitizer reports at exit, in sanitizer builds)
kill -TERM "$bpid"
brc=0
wait "$bpid" || brc=$?
if [ "$brc" -ne 0 ]; then
	echo "berthd exited with $brc at SIGTERM: $(tail -n 5 "$tmp/berthd.log")"
	bad=1
fi
if grep -q "ERROR: \(Address\|Leak\|Undefined\)Sanitizer\|runtime error:" "$tmp/berthd.log"; then
	echo "sanitizer report in berthd's log:"
	grep -A 20 "Sanitizer\|runtime error:" "$tmp/berthd.log" | head -n 40
	bad=1
fi
exit "$bad"
