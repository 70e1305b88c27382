#!/bin/bash
# contrib/bench/api.sh: measure berthd's API against the targets of issue 2
# (one thread, idle RSS, GET /v1/version throughput and latency, SSE fan-out)
# and compare with Debian's containerd where that makes sense.
#
# Everything runs on loopback and a temporary directory; every process the
# script starts is stopped on exit. Run as root (containerd needs it).
# Exit status: 0 all targets met, 1 a target missed, 2 usage or set-up error.

set -eu

usage() {
	cat <<EOF
usage: contrib/bench/api.sh [options]

  --berthd PATH       berthd binary (default: BUILD_DIR/berthd)
  --build-dir DIR     build directory holding berthd (default: \$BERTH_BUILD_DIR or .)
  --duration SECONDS  length of each measured wrk run (default 10)
  --repeat N          wrk runs; the table shows their median (default 3)
  --idle SECONDS      how long both daemons idle before RSS is read (default 5)
  --subscribers N     SSE subscribers for the fan-out test (default 200)
  --events N          events published one at a time in the fan-out test (default 200)
  --connections N     wrk keep-alive connections (default 50)
  --runs N            hyperfine runs per command (default 50)
  --markdown FILE     also write the summary as a markdown table to FILE
  -h, --help          this help

Measures, against the targets of issue 2:
  - /proc/<berthd>/task entries, sampled every 50 ms through every phase, and
    clone()/clone3() calls made by berthd (perf tracepoints, if perf works);
  - VmRSS of berthd and of containerd (own temporary root, CRI disabled) after
    both idled, and of berthd after the load phases;
  - wrk -t1 -cN --latency on GET /v1/version over the TCP listener with the
    bearer token (keep-alive): requests/s, p50, p99;
  - hyperfine: one version call from a fresh client process, curl over
    berthd's socket vs ctr over containerd's (includes client start-up);
  - ssefan (contrib/bench/ssefan.c): time until an event published with
    POST /v1/events reached all N SSE subscribers, p50/p99/max.
Tools: wrk, hyperfine, curl, cc, containerd+ctr, perf (missing ones are skipped).
EOF
}

die() { echo "api.sh: $*" >&2; exit 2; }
note() { echo "api.sh: $*" >&2; }

here=$(cd "$(dirname "$0")" && pwd)
build_dir=${BERTH_BUILD_DIR:-.}
berthd=
duration=10
idle=5
nsubs=200
nevents=200
conns=50
runs=50
repeat=3
markdown=
cmdline="contrib/bench/api.sh $*"

while [ $# -gt 0 ]; do
	case $1 in
	--berthd) berthd=${2:?--berthd needs a path}; shift ;;
	--build-dir) build_dir=${2:?--build-dir needs a directory}; shift ;;
	--duration) duration=${2:?}; shift ;;
	--idle) idle=${2:?}; shift ;;
	--subscribers) nsubs=${2:?}; shift ;;
	--events) nevents=${2:?}; shift ;;
	--connections) conns=${2:?}; shift ;;
	--runs) runs=${2:?}; shift ;;
	--repeat) repeat=${2:?}; shift ;;
	--markdown) markdown=${2:?--markdown needs a file}; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done
for v in duration idle nsubs nevents conns runs repeat; do
	case ${!v} in '' | *[!0-9]*) die "option values must be whole numbers, not \`${!v}\`" ;; esac
done
[ "$duration" -ge 1 ] && [ "$duration" -le 600 ] || die "--duration must be 1..600"
[ "$idle" -le 600 ] || die "--idle must be at most 600"
[ "$repeat" -ge 1 ] && [ "$repeat" -le 10 ] || die "--repeat must be 1..10"
[ -n "$berthd" ] || berthd=$build_dir/berthd
[ -x "$berthd" ] || die "no berthd at \`$berthd\` (build it, or pass --berthd or --build-dir)"
berthd=$(cd "$(dirname "$berthd")" && pwd)/$(basename "$berthd")
if [ -n "$markdown" ]; then
	: >"$markdown" || die "cannot write \`$markdown\`"
fi
have() { command -v "$1" >/dev/null 2>&1; }
have curl || die "curl is needed"

# ---- temporary directory, processes, clean-up ----

tmp=$(mktemp -d /tmp/berth-bench.XXXXXX)
pids=()
cleanup() {
	local rc=$? p i
	trap - EXIT INT TERM
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		for i in $(seq 30); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# stop one process we started, politely, bounded; its exit status in $stopped_rc
stopped_rc=
stop_pid() {
	local p=$1 i rc=0
	kill -TERM "$p" 2>/dev/null || true
	for i in $(seq 50); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$p" 2>/dev/null; then
		kill -KILL "$p" 2>/dev/null || true
		note "pid $p ignored SIGTERM for 5 s: killed"
	fi
	wait "$p" 2>/dev/null || rc=$?
	forget_pid "$p"
	stopped_rc=$rc
}
# a process we started has been waited for: nothing left to stop
forget_pid() {
	local keep=() i
	for i in "${pids[@]}"; do [ "$i" = "$1" ] || keep+=("$i"); done
	pids=("${keep[@]}")
}

set_phase() {
	echo "$1" >"$tmp/phase.new" && mv "$tmp/phase.new" "$tmp/phase"
	note "== $1"
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
rss_note() {
	note "$1: $(awk '/^(VmRSS|RssAnon|RssFile|VmHWM):/ { printf "%s %s kB  ", $1, $2 }' "/proc/$2/status")"
}
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
threads_of() { local t=(/proc/"$1"/task/*); echo "${#t[@]}"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
# wrk prints 812.00us / 1.23ms / 2.01s
to_ms() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
		else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.3f", v * 60000 }
		else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
		else printf "nan" }'
}
# compare two decimals: le A B -> true when A <= B
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else printf "-" }'; }

rows=$tmp/rows
: >"$rows"
failed=0
# row METRIC BERTH CONTAINERD RATIO TARGET RESULT
row() {
	printf '%s|%s|%s|%s|%s|%s\n' "$@" >>"$rows"
	[ "$6" != FAIL ] || failed=1
}
verdict() { if "$@"; then echo PASS; else echo FAIL; fi; }

# ---- berthd ----

mkdir -p "$tmp/b/root" "$tmp/b/state"
echo '{}' >"$tmp/b/config.json"
(umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/b/token")
token=$(cat "$tmp/b/token")
bsock=$tmp/b/berthd.sock

bpid=
for try in 1 2 3 4 5; do
	port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
	if have ss && [ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]; then
		continue
	fi
	"$berthd" --root "$tmp/b/root" --state "$tmp/b/state" --socket "$bsock" \
		--config "$tmp/b/config.json" --listen "127.0.0.1:$port" \
		--token-file "$tmp/b/token" 2>"$tmp/b/log" &
	bpid=$!
	pids+=("$bpid")
	for i in $(seq 50); do
		kill -0 "$bpid" 2>/dev/null || break
		curl -sf --max-time 1 --unix-socket "$bsock" http://berth/v1/version >/dev/null 2>&1 && break
		sleep 0.1
	done
	if kill -0 "$bpid" 2>/dev/null &&
		curl -sf --max-time 2 -H "Authorization: Bearer $token" \
			"http://127.0.0.1:$port/v1/version" >/dev/null 2>&1; then
		break
	fi
	note "berthd did not come up on port $port (try $try): $(tail -n 1 "$tmp/b/log")"
	stop_pid "$bpid"
	bpid=
done
[ -n "$bpid" ] || die "berthd would not start; last log: $(cat "$tmp/b/log")"
bversion=$(curl -sf --unix-socket "$bsock" http://berth/v1/version)
note "berthd pid $bpid, unix socket and 127.0.0.1:$port: $bversion"
# a wrong token must be refused, or wrk's numbers would measure 401s
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer not-the-token-at-all' \
	"http://127.0.0.1:$port/v1/version")
[ "$code" = 401 ] || note "warning: a wrong bearer token got HTTP $code, not 401"

# a second berthd in the default set-up (Unix socket only, no TCP listener,
# no token), as containerd runs: the idle RSS target is read on this one
mkdir -p "$tmp/p/root" "$tmp/p/state"
psock=$tmp/p/berthd.sock
"$berthd" --root "$tmp/p/root" --state "$tmp/p/state" --socket "$psock" \
	--config "$tmp/b/config.json" 2>"$tmp/p/log" &
plain_pid=$!
pids+=("$plain_pid")
for i in $(seq 50); do
	kill -0 "$plain_pid" 2>/dev/null || break
	curl -sf --max-time 1 --unix-socket "$psock" http://berth/v1/version >/dev/null 2>&1 && break
	sleep 0.1
done
curl -sf --max-time 1 --unix-socket "$psock" http://berth/v1/version >/dev/null 2>&1 ||
	die "the second berthd (Unix socket only) would not start: $(cat "$tmp/p/log")"

# thread count of berthd, every 50 ms, tagged with the current phase
set_phase start
(
	while [ -d "/proc/$bpid/task" ]; do
		read -r ph <"$tmp/phase" || ph=unknown
		t=(/proc/"$bpid"/task/*)
		[ -e "${t[0]}" ] && echo "$ph ${#t[@]}"
		sleep 0.05
	done
) >"$tmp/threads" 2>/dev/null &
pids+=("$!")
sampler=$!

# every clone()/clone3() berthd makes, however short-lived the thread
perfpid=
if have perf && perf stat -e syscalls:sys_enter_clone,syscalls:sys_enter_clone3 -x, \
	-o /dev/null -- true >/dev/null 2>&1; then
	perf stat -e syscalls:sys_enter_clone,syscalls:sys_enter_clone3 -x, \
		-o "$tmp/perf.clone" -p "$bpid" >/dev/null 2>&1 &
	perfpid=$!
	pids+=("$perfpid")
else
	note "perf tracepoints unavailable: thread check relies on sampling only"
fi

# ---- containerd, for comparison ----

cpid=
csock=$tmp/c/containerd.sock
cversion=
if ! have containerd; then
	note "containerd not installed: skipping comparison"
elif [ "$(id -u)" != 0 ]; then
	note "not root: containerd cannot start, skipping comparison"
else
	mkdir -p "$tmp/c/root" "$tmp/c/state" "$tmp/c/opt"
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
	containerd --config "$tmp/c/config.toml" >"$tmp/c/log" 2>&1 &
	cpid=$!
	pids+=("$cpid")
	for i in $(seq 100); do
		[ -S "$csock" ] && ctr --address "$csock" version >/dev/null 2>&1 && break
		kill -0 "$cpid" 2>/dev/null || break
		sleep 0.1
	done
	if cversion=$(ctr --address "$csock" version 2>/dev/null | awk '/^Server:/ { s = 1 } s && /Version:/ { print $2; exit }') &&
		[ -n "$cversion" ]; then
		note "containerd $cversion pid $cpid on $csock"
	else
		note "containerd did not start (see below): skipping comparison"
		tail -n 5 "$tmp/c/log" >&2
		stop_pid "$cpid"
		cpid=
	fi
fi

# ---- phase: idle ----

set_phase idle
note "both daemons idle for ${idle} s"
sleep "$idle" &
wait $!
b_idle=$(rss_kib "$plain_pid")
b_idle_tcp=$(rss_kib "$bpid")
rss_note "idle berthd (Unix socket only)" "$plain_pid"
rss_note "idle berthd (--listen, --token-file)" "$bpid"
p_threads=$(threads_of "$plain_pid")
stop_pid "$plain_pid"
c_idle=
c_threads=
if [ -n "$cpid" ]; then
	c_idle=$(rss_kib "$cpid")
	c_threads=$(threads_of "$cpid")
fi

# ---- phase: one version call from a fresh process (hyperfine) ----

hf_row=
if [ -n "$cpid" ] && have hyperfine; then
	set_phase hyperfine
	if hyperfine -N --style none --warmup 5 --runs "$runs" --export-csv "$tmp/hf.csv" \
		-n ctr "ctr --address $csock version" \
		-n curl "curl -sf --unix-socket $bsock http://berth/v1/version" >"$tmp/hf.out" 2>&1; then
		c_call=$(awk -F, '$1 == "ctr" { printf "%.2f", $2 * 1000 }' "$tmp/hf.csv")
		b_call=$(awk -F, '$1 == "curl" { printf "%.2f", $2 * 1000 }' "$tmp/hf.csv")
		hf_row="version call, fresh client process (mean; curl vs ctr, incl. client start-up)|$b_call ms|$c_call ms|$(ratio "$c_call" "$b_call")|-|info"
	else
		tail -n 5 "$tmp/hf.out" >&2
		note "hyperfine failed: skipping the version-call comparison"
	fi
elif [ -n "$cpid" ]; then
	note "hyperfine not installed: skipping the version-call comparison"
fi
if [ -n "$cpid" ]; then
	set_phase stop-containerd
	stop_pid "$cpid"
	cpid=
fi

# ---- phase: GET /v1/version with keep-alive (wrk) ----

# user+system jiffies of the whole machine, for "what else ran meanwhile"
# (irq and softirq time are left out: loopback TCP itself is softirq work)
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 }' /proc/stat; }
wrk_metric() {
	curl -sf --unix-socket "$bsock" http://berth/metrics |
		awk '/^berth_http_requests_total\{route="\/v1\/version",method="GET",code="200"\}/ { print $2 }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# user+system seconds of this shell's waited-for children so far; `times`
# must run in this shell (a $(...) subshell has children of its own)
child_cpu_to() {
	times >"$tmp/times"
	awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, x, "m"); sub("s", "", x[2]); t += x[1] * 60 + x[2] } print t }' \
		"$tmp/times" >"$1"
}

wrk_done=
if have wrk; then
	url="http://127.0.0.1:$port/v1/version"
	hz=$(getconf CLK_TCK)
	set_phase wrk-warmup
	wrk -t1 -c"$conns" -d2s -H "Authorization: Bearer $token" "$url" >"$tmp/wrk.warm" 2>&1 ||
		{ cat "$tmp/wrk.warm" >&2; die "wrk failed"; }
	m_before=$(wrk_metric)
	# connections berthd accepts during the runs: keep-alive means about one per wrk connection
	accpid=
	if [ -n "$perfpid" ]; then
		perf stat -e syscalls:sys_exit_accept4 --filter 'ret >= 0' \
			-e syscalls:sys_exit_accept --filter 'ret >= 0' -x, \
			-o "$tmp/perf.accept" -p "$bpid" >/dev/null 2>&1 &
		accpid=$!
		pids+=("$accpid")
		sleep 0.3
	fi
	set_phase wrk
	total=0
	: >"$tmp/wrk.runs"
	for r in $(seq "$repeat"); do
		note "run $r/$repeat: wrk -t1 -c$conns -d${duration}s --latency $url"
		ticks0=$(cpu_ticks "$bpid")
		busy0=$(busy_ticks)
		t0=$(date +%s.%N)
		child_cpu_to "$tmp/c0"
		# in the background, so that a signal to this script is handled at once
		wrk -t1 -c"$conns" -d"${duration}s" --latency -H "Authorization: Bearer $token" "$url" \
			>"$tmp/wrk.$r" 2>&1 &
		wpid=$!
		pids+=("$wpid")
		wait "$wpid" || { cat "$tmp/wrk.$r" >&2; die "wrk failed"; }
		forget_pid "$wpid"
		child_cpu_to "$tmp/c1"
		t1=$(date +%s.%N)
		busy1=$(busy_ticks)
		ticks1=$(cpu_ticks "$bpid")
		out=$tmp/wrk.$r
		rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
		n=$(awk '/requests in/ { print $1 }' "$out")
		p50=$(to_ms "$(awk '/Latency Distribution/ { d = 1 } d && $1 == "50%" { print $2; exit }' "$out")")
		p99=$(to_ms "$(awk '/Latency Distribution/ { d = 1 } d && $1 == "99%" { print $2; exit }' "$out")")
		non2xx=$(awk '/Non-2xx/ { print $NF }' "$out")
		sockerr=$(awk '/Socket errors/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$out")
		[ -n "$rps" ] && [ -n "$n" ] || { cat "$out" >&2; die "could not read wrk's output"; }
		[ "${non2xx:-0}" = 0 ] || die "wrk saw $non2xx non-2xx answers: the numbers would not be GET /v1/version"
		[ "${sockerr:-0}" = 0 ] || note "warning: wrk socket errors: $sockerr"
		total=$((total + n))
		# CPU, in % of one core: berthd, wrk, everything else on the machine
		read -r cpu wcpu other < <(awk -v a="$ticks0" -v b="$ticks1" -v s="$t0" -v e="$t1" -v hz="$hz" \
			-v b0="$busy0" -v b1="$busy1" -v c0="$(cat "$tmp/c0")" -v c1="$(cat "$tmp/c1")" 'BEGIN {
				wall = e - s; bd = (b - a) / hz; wk = c1 - c0
				o = (b1 - b0) / hz - bd - wk; if (o < 0) o = 0
				printf "%.0f %.0f %.0f\n", bd / wall * 100, wk / wall * 100, o / wall * 100 }')
		note "run $r: $rps req/s, p50 $p50 ms, p99 $p99 ms; CPU: berthd $cpu%, wrk $wcpu%, other processes $other% of one core"
		echo "$rps $p50 $p99 $cpu $other" >>"$tmp/wrk.runs"
	done
	b_after_wrk=$(rss_kib "$bpid")
	rss_note "berthd after wrk" "$bpid"
	accepted=
	if [ -n "$accpid" ]; then
		kill -INT "$accpid" 2>/dev/null || true
		wait "$accpid" 2>/dev/null || true
		if grep -q sys_exit_accept4 "$tmp/perf.accept" 2>/dev/null; then
			accepted=$(awk -F, '/sys_exit_accept/ { n += $1 } END { print n + 0 }' "$tmp/perf.accept")
		fi
	fi
	m_after=$(wrk_metric)
	# wrk counts requests completed in its window; berthd may have answered a
	# few more (in flight at the end), never fewer
	served=$((${m_after%.*} - ${m_before%.*}))
	note "berthd counted $served GET /v1/version 200s, wrk $total${accepted:+; connections accepted: $accepted}"
	[ "$served" -ge "$total" ] ||
		die "berthd's own counter ($served) is below wrk's ($total): wrk measured something else"
	if [ -n "$accepted" ] && [ "$accepted" -gt $(((conns + 1) * repeat * 2)) ]; then
		note "warning: berthd accepted $accepted connections for $repeat x $conns wrk connections: keep-alive was not held"
	fi
	rps=$(awk '{ print $1 }' "$tmp/wrk.runs" | median)
	p50=$(awk '{ print $2 }' "$tmp/wrk.runs" | median)
	p99=$(awk '{ print $3 }' "$tmp/wrk.runs" | median)
	rps_best=$(awk '{ print $1 }' "$tmp/wrk.runs" | sort -g | tail -n 1)
	p99_best=$(awk '{ print $3 }' "$tmp/wrk.runs" | sort -g | head -n 1)
	cpu=$(awk '{ print $4 }' "$tmp/wrk.runs" | median)
	other=$(awk '{ print $5 }' "$tmp/wrk.runs" | sort -g | tail -n 1)
	if [ "$other" -gt 15 ]; then
		note "warning: other processes used up to $other% of a core during wrk: the machine was not quiet, numbers are pessimistic"
	fi
	wrk_done=1
else
	note "wrk not installed: skipping the throughput test"
fi

# ---- phase: SSE fan-out ----

fan_done=
if have cc; then
	set_phase sse-build
	cc -O2 -o "$tmp/ssefan" "$here/ssefan.c" || die "could not build ssefan"
	set_phase sse-fanout
	note "ssefan: $nsubs subscribers, $nevents events"
	"$tmp/ssefan" -s "$bsock" -n "$nsubs" -e "$nevents" -T 60 >"$tmp/fan.out" 2>"$tmp/fan.err" &
	fpid=$!
	pids+=("$fpid")
	# sample while the subscribers are connected
	fan_rss=0
	while kill -0 "$fpid" 2>/dev/null; do
		kill -0 "$bpid" 2>/dev/null || die "berthd exited during the SSE test: $(tail -n 3 "$tmp/b/log")"
		r=$(rss_kib "$bpid")
		[ "$r" -le "$fan_rss" ] || fan_rss=$r
		sleep 0.05
	done
	stop_pid "$fpid"
	frc=$stopped_rc
	[ "$frc" = 0 ] || { cat "$tmp/fan.err" >&2; die "ssefan failed (exit $frc)"; }
	sed 's/^/  ssefan: /' "$tmp/fan.out" >&2
	fan() { sed -n "s/^$1=//p" "$tmp/fan.out"; }
	fan_done=1
else
	note "no C compiler: skipping the SSE fan-out test"
fi

# ---- phase: after load ----

# berthd should drop the closed SSE connections; wait (bounded) until its
# gauge says so, then read the RSS left after all load phases
set_phase settle
metric() { curl -sf --unix-socket "$bsock" http://berth/metrics | awk -v m="$1" '$1 == m { print $2 }'; }
released=
if [ -n "$fan_done" ]; then
	s0=$(date +%s.%N)
	for i in $(seq 50); do
		[ "$(metric berth_sse_subscribers)" = 0 ] && { released=$(awk -v s="$s0" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'); break; }
		sleep 0.5
	done
	[ -n "$released" ] || note "warning: berthd still counts $(metric berth_sse_subscribers) SSE subscribers 25 s after they closed"
fi
sleep 1
b_after=$(rss_kib "$bpid")
b_hwm=$(hwm_kib "$bpid")
rss_note "berthd after all load phases" "$bpid"
m_threads=$(metric process_threads)
set_phase stop
stop_pid "$bpid"
brc=$stopped_rc
sleep 0.1
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
clones=
if [ -n "$perfpid" ]; then
	kill -INT "$perfpid" 2>/dev/null || true
	wait "$perfpid" 2>/dev/null || true
	if grep -q sys_enter_clone3 "$tmp/perf.clone" 2>/dev/null; then
		clones=$(awk -F, '/sys_enter_clone/ { n += $1 } END { print n + 0 }' "$tmp/perf.clone")
	else
		note "perf did not report clone counts: thread check relies on sampling only"
	fi
fi
[ "$brc" = 0 ] || note "warning: berthd exited $brc on SIGTERM"

# ---- summary ----

thr_phases=$(awk '{ if (!($1 in mx) || $2 > mx[$1]) mx[$1] = $2; if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } }
	END { for (i = 1; i <= n; i++) printf "%s%s=%d", (i > 1 ? " " : ""), order[i], mx[order[i]] }' "$tmp/threads")
thr_max=$(awk 'BEGIN { m = 0 } $2 > m { m = $2 } END { print m }' "$tmp/threads")
thr_min=$(awk 'BEGIN { m = 999999 } $2 < m { m = $2 } END { print m }' "$tmp/threads")
thr_n=$(wc -l <"$tmp/threads")
note "thread samples: $thr_n, max per phase: $thr_phases; /metrics process_threads=$m_threads${clones:+; clone calls: $clones}"
thr_ok=false
[ "$thr_n" -gt 0 ] && [ "$thr_max" = 1 ] && [ "$thr_min" = 1 ] && [ "${clones:-0}" = 0 ] &&
	[ "$p_threads" = 1 ] && [ "$m_threads" = 1 ] && thr_ok=true
thr_val="$thr_max (max of $thr_n samples${clones:+, $clones clone calls})"
row "threads of berthd, every phase" "$thr_val" "${c_threads:--}${c_threads:+ (idle)}" "-" "= 1" "$(verdict $thr_ok)"

if [ -n "$c_idle" ]; then
	row "idle RSS after ${idle} s (Unix socket only)" "$(mib "$b_idle")" "$(mib "$c_idle")" \
		"$(ratio "$c_idle" "$b_idle")" "<= 6 MiB" "$(verdict le "$b_idle" 6144)"
else
	row "idle RSS after ${idle} s (Unix socket only)" "$(mib "$b_idle")" "-" "-" "<= 6 MiB" \
		"$(verdict le "$b_idle" 6144)"
fi
row "idle RSS after ${idle} s (with --listen, --token-file)" "$(mib "$b_idle_tcp")" "-" "-" "-" "info"
[ -z "$hf_row" ] || echo "$hf_row" >>"$rows"
if [ -n "$wrk_done" ]; then
	runs_note=
	[ "$repeat" = 1 ] || runs_note=", median of $repeat runs"
	best_rps=''
	best_p99=''
	[ "$repeat" = 1 ] || { best_rps=" (best $rps_best)"; best_p99=" (best $p99_best)"; }
	row "GET /v1/version req/s (wrk -t1 -c$conns -d${duration}s, keep-alive, TCP+token$runs_note)" "$rps$best_rps" "-" "-" ">= 15000" \
		"$(verdict le 15000 "$rps")"
	row "GET /v1/version p50 latency" "$p50 ms" "-" "-" "-" "info"
	row "GET /v1/version p99 latency" "$p99 ms$best_p99" "-" "-" "<= 5 ms" "$(verdict le "$p99" 5)"
	row "berthd CPU during wrk (one core = 100%)" "$cpu %" "-" "-" "-" "info"
	row "other processes' CPU during wrk (max)" "$other %" "-" "-" "-" "info"
	row "RSS after wrk" "$(mib "$b_after_wrk")" "-" "-" "-" "info"
fi
if [ -n "$fan_done" ]; then
	row "event to all $nsubs SSE subscribers, p50" "$(fan all_p50_ms) ms" "-" "-" "-" "info"
	row "event to all $nsubs SSE subscribers, p99" "$(fan all_p99_ms) ms" "-" "-" "<= 50 ms" \
		"$(verdict le "$(fan all_p99_ms)" 50)"
	row "event to all $nsubs SSE subscribers, max" "$(fan all_max_ms) ms" "-" "-" "-" "info"
	row "RSS with $nsubs SSE subscribers (peak)" "$(mib "$fan_rss")" "-" "-" "-" "info"
	if [ -n "$released" ]; then
		row "closed SSE subscribers released after" "$released s" "-" "-" "-" "info"
	else
		row "closed SSE subscribers released after" "not within 25 s" "-" "-" "-" "info"
	fi
fi
row "RSS after all load phases (peak VmHWM)" "$(mib "$b_after") ($(mib "$b_hwm"))" "-" "-" "-" "info"

cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
context="$(date -u +%Y-%m-%d), $(nproc) CPUs ($cpu_model), Linux $(uname -r); berthd $(echo "$bversion" |
	sed -n 's/.*"version":"\([^"]*\)".*"revision":"\([^"]*\)".*/\1 (\2)/p')${cversion:+, containerd $cversion (CRI disabled)}"

echo
echo "berth API benchmark: $context"
echo
{
	echo "metric|berth|containerd|containerd/berth|target|result"
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
		echo "| metric | berth | containerd | containerd / berth | target | result |"
		echo "|---|---|---|---|---|---|"
		sed 's/|/ | /g; s/^/| /; s/$/ |/' "$rows"
	} >"$markdown"
	note "markdown summary written to $markdown"
fi
exit "$failed"
