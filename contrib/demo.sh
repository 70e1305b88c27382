#!/bin/sh
# berth's main job, for now: start berthd on a temporary root, drive it with
# the berth CLI and with curl (version, namespaces, plugins, events), pull an
# image from a loopback registry and unpack it into snapshots, mount its root
# filesystem, run containers from it (`berth run`, `berth tasks`), show the
# events, stop it.
# Usage: contrib/demo.sh [BUILD_DIR]   (default: $BERTH_BUILD_DIR, else ./)
set -eu

build=${1:-${BERTH_BUILD_DIR:-.}}
build=$(cd "$build" && pwd)
BERTHD=$build/berthd
BERTH=$build/berth
[ -x "$BERTHD" ] && [ -x "$BERTH" ] || {
	echo "demo: no berthd/berth in $build (build first, or pass the build dir)" >&2
	exit 1
}

top=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/berth-demo.XXXXXX)
pid=
events=
registry=
cleanup() {
	# containers outlive berthd (their shims detach): remove them first
	if [ -n "$pid" ] && [ -S "${sock:-}" ]; then
		for t in $("$BERTH" --address "$sock" tasks ls -q 2>/dev/null); do
			"$BERTH" --address "$sock" tasks rm -f "$t" >/dev/null 2>&1 || :
		done
		for c in $("$BERTH" --address "$sock" containers ls -q 2>/dev/null); do
			"$BERTH" --address "$sock" containers rm "$c" >/dev/null 2>&1 || :
		done
	fi
	[ -n "$events" ] && kill "$events" 2>/dev/null || :
	[ -n "$registry" ] && kill "$registry" 2>/dev/null || :
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || :
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

sock=$tmp/state/berthd.sock
echo '{}' >"$tmp/config.json"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step "berthd --root $tmp/root --state $tmp/state --config $tmp/config.json &"
"$BERTHD" --root "$tmp/root" --state "$tmp/state" --config "$tmp/config.json" \
	2>"$tmp/berthd.log" &
pid=$!
i=0
until curl -sf --unix-socket "$sock" http://berth/healthz >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 100 ] || { cat "$tmp/berthd.log"; echo "demo: berthd did not start" >&2; exit 1; }
	sleep 0.05
done
export BERTH_ADDRESS=$sock

step "berth events > events.txt &   # follow the event stream"
"$BERTH" events >"$tmp/events.txt" 2>&1 &
events=$!
sleep 0.3

step "berth version"
"$BERTH" version
step "curl --unix-socket $sock http://berth/v1/version"
curl -s --unix-socket "$sock" http://berth/v1/version
step "berth namespaces create demo env=test team=berth"
"$BERTH" namespaces create demo env=test team=berth
step "berth namespaces label demo team="
"$BERTH" namespaces label demo team=
step "berth namespaces ls"
"$BERTH" namespaces ls
step "curl -X PUT --unix-socket $sock http://berth/v1/namespaces/ci -d '{\"labels\":{\"owner\":\"curl\"}}'"
curl -s -X PUT --unix-socket "$sock" http://berth/v1/namespaces/ci -d '{"labels":{"owner":"curl"}}'
step "curl --unix-socket $sock 'http://berth/v1/namespaces?filter=labels.owner==curl'"
curl -s --unix-socket "$sock" 'http://berth/v1/namespaces?filter=labels.owner==curl'
step "curl -X POST --unix-socket $sock http://berth/v1/events -d '{\"namespace\":\"demo\",\"topic\":\"/demo/hello\",\"event\":{\"msg\":\"hi\"}}'"
curl -s -X POST --unix-socket "$sock" http://berth/v1/events \
	-d '{"namespace":"demo","topic":"/demo/hello","event":{"msg":"hi"}}'
step "berth namespaces rm demo ci"
"$BERTH" namespaces rm demo ci
step "berth plugins"
"$BERTH" plugins

# A pull from a registry on loopback: an image built here from busybox-static
# with umoci, served by Debian's docker-registry.
if command -v docker-registry >/dev/null && command -v skopeo >/dev/null &&
	command -v umoci >/dev/null && command -v busybox >/dev/null; then
	step "build a busybox image with umoci; serve it with docker-registry on 127.0.0.1"
	mkdir -p "$tmp/work"
	python3 "$top/t/helpers/mkimage.py" layers "$(command -v busybox)" "$tmp/work" >/dev/null
	umoci init --layout "$tmp/oci"
	umoci new --image "$tmp/oci:busybox"
	umoci raw add-layer --image "$tmp/oci:busybox" "$tmp/work/layer1.tar"
	umoci raw add-layer --image "$tmp/oci:busybox" "$tmp/work/layer2.tar"
	umoci config --image "$tmp/oci:busybox" --os linux --architecture amd64 \
		--config.entrypoint /bin/busybox --config.cmd sh
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	cat >"$tmp/registry.yml" <<-EOF
	version: 0.1
	log:
	  level: error
	storage:
	  filesystem:
	    rootdirectory: $tmp/registry
	http:
	  addr: 127.0.0.1:$port
	EOF
	docker-registry serve "$tmp/registry.yml" >"$tmp/registry.log" 2>&1 &
	registry=$!
	i=0
	until curl -sf "http://127.0.0.1:$port/v2/" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "demo: the registry did not start" >&2; exit 1; }
		sleep 0.05
	done
	skopeo copy -q --dest-tls-verify=false "oci:$tmp/oci:busybox" \
		"docker://127.0.0.1:$port/demo/busybox:latest"
	step "berth pull 127.0.0.1:$port/demo/busybox:latest"
	"$BERTH" pull "127.0.0.1:$port/demo/busybox:latest"
	step "berth images ls"
	"$BERTH" images ls
	step "berth content ls"
	"$BERTH" content ls
	step "berth pull 127.0.0.1:$port/demo/busybox:latest   # again: nothing to fetch or unpack"
	"$BERTH" pull "127.0.0.1:$port/demo/busybox:latest"
	step "berth snapshots tree   # the layers, unpacked and committed under their chain IDs"
	"$BERTH" snapshots tree
	chain=$("$BERTH" --json snapshots ls | python3 -c 'import json,sys
s=json.load(sys.stdin)["snapshots"]
parents={x.get("parent") for x in s}
print([x["name"] for x in s if x["kind"]=="committed" and x["name"] not in parents][0])')
	step "berth snapshots view demo-view $chain"
	"$BERTH" snapshots view demo-view "$chain" >/dev/null
	mkdir -p "$tmp/rootfs"
	step "berth snapshots mounts demo-view $tmp/rootfs   # prints the mount command"
	cmd=$("$BERTH" snapshots mounts demo-view "$tmp/rootfs")
	echo "$cmd"
	step "sh -c \"\$(berth snapshots mounts ...)\"; ls $tmp/rootfs; $tmp/rootfs/bin/busybox echo hi"
	sh -c "$cmd"
	ls "$tmp/rootfs"
	"$tmp/rootfs/bin/busybox" echo "hello from the unpacked image"
	umount "$tmp/rootfs"
	"$BERTH" snapshots rm demo-view
	img=127.0.0.1:$port/demo/busybox:latest
	step "berth run --rm $img demo echo hello"
	"$BERTH" run --rm "$img" demo echo hello
	step "berth run --rm --env GREETING=hi --user 1000 --cwd /tmp $img demo sh -c 'echo \$GREETING from \$(id -u) in \$(pwd); exit 3'"
	"$BERTH" run --rm --env GREETING=hi --user 1000 --cwd /tmp "$img" demo \
		sh -c 'echo $GREETING from $(id -u) in $(pwd); exit 3' && st=0 || st=$?
	echo "exit status: $st"
	step "berth run -d $img sleeper sh -c 'echo started; exec sleep 600'"
	"$BERTH" run -d "$img" sleeper sh -c 'echo started; exec sleep 600'
	step "berth tasks ls"
	"$BERTH" tasks ls
	step "berth tasks kill -s KILL sleeper; berth tasks wait sleeper"
	"$BERTH" tasks kill -s KILL sleeper
	"$BERTH" tasks wait sleeper || :
	step "berth tasks logs sleeper"
	"$BERTH" tasks logs sleeper
	step "berth tasks rm sleeper; berth containers rm sleeper"
	"$BERTH" tasks rm sleeper
	"$BERTH" containers rm sleeper
	step "berth containers ls"
	"$BERTH" containers ls
else
	echo "(docker-registry, skopeo, umoci or busybox-static missing: no pull shown)"
fi
step "berth server"
"$BERTH" server
step "curl --unix-socket $sock 'http://berth/v1/events?since=0&topic=/tasks/' --max-time 1   # replay"
curl -s --unix-socket "$sock" 'http://berth/v1/events?since=0&topic=/tasks/' --max-time 1 || :
step "curl --unix-socket $sock http://berth/v1/namespaces/nope   # errors are JSON"
curl -s --unix-socket "$sock" http://berth/v1/namespaces/nope

sleep 0.2
step "cat events.txt   # what 'berth events' printed"
cat "$tmp/events.txt"
step "kill -TERM berthd"
kill -TERM "$pid"
wait "$pid" && status=0 || status=$?
pid=
wait "$events" 2>/dev/null || :
events=
echo "berthd exited with status $status"
echo
echo "berthd's log:"
cat "$tmp/berthd.log"
[ "$status" -eq 0 ]
