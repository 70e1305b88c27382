# contrib/bench/lib.sh: what run.sh, soak.sh and pull.sh share, sourced once they have
# $top (the source tree), $tmp (their working directory), the array pids
# (processes they stop at exit) and die().

# forget_pid PID: a process we started has been waited for (or killed
# here and reaped): not one to stop at exit, its pid may be another's
forget_pid() {
	local keep=() i
	for i in "${pids[@]}"; do [ "$i" = "$1" ] || keep+=("$i"); done
	pids=("${keep[@]}")
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# bench_busybox_oci LAYOUT: the busybox image (busybox-static in one layer,
# as t/lib builds it; command sh) as LAYOUT:busybox, an OCI layout.
bench_busybox_oci() {
	mkdir -p "$tmp/img"
	python3 "$top/t/helpers/mkimage.py" layers "$(command -v busybox)" "$tmp/img" >/dev/null
	[ -d "$1" ] || umoci init --layout "$1"
	umoci new --image "$1:busybox"
	umoci raw add-layer --image "$1:busybox" "$tmp/img/layer1.tar"
	umoci config --image "$1:busybox" --os linux --architecture amd64 --config.cmd sh
}

# bench_registry [STORAGE]: Debian's docker-registry on a free loopback
# port, its storage and log under $tmp/reg, ready; STORAGE is more lines of
# the config's `storage:` section (indented by two, as `filesystem:` is).
# Sets $port and $regpid, which joins pids.
bench_registry() {
	local _
	mkdir -p "$tmp/reg"
	port=$(free_port)
	cat >"$tmp/reg/config.yml" <<EOC
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $tmp/reg/data
${1:-}
http:
  addr: 127.0.0.1:$port
EOC
	docker-registry serve "$tmp/reg/config.yml" >"$tmp/reg/log" 2>&1 &
	regpid=$!
	pids+=("$regpid")
	for _ in $(seq 100); do
		curl -sf "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && return 0
		kill -0 "$regpid" 2>/dev/null || break
		sleep 0.05
	done
	die "docker-registry would not start: $(cat "$tmp/reg/log")"
}

# bench_push LAYOUT:TAG REF: push an image of an OCI layout to the registry.
bench_push() {
	skopeo copy -q --dest-tls-verify=false "oci:$1" "docker://$2" ||
		die "skopeo could not push $2"
}
