# t/lib/registry.sh: registries, test images and misbehaving servers.
# shellcheck shell=sh
#
# Sourced, after test-lib.sh, by the scripts that pull or push:
#
#	. "$(dirname "$0")/lib/test-lib.sh"
#	. "$TEST_DIRECTORY/lib/registry.sh"
#
# Sourcing starts nothing. Everything listens on 127.0.0.1, on a port the
# kernel picks, and keeps its files under $TRASH/fixtures/. Needs
# docker-registry (CNCF distribution 2.8), skopeo, umoci, busybox-static,
# python3, openssl, curl, jq, flock and (for --htpasswd) apache2-utils;
# the REGISTRY prerequisite checks them.
#
# Registries (start_*/stop_* must run in the test's main shell, not in a
# subshell or a pipeline: they set variables):
#
#   start_registry [--name NAME] [--htpasswd USER:PASS] [--token]
#                  [--creds USER:PASS] [--anonymous-pull] [--no-oauth]
#	Starts docker-registry (storage, config.yml and registry.log in
#	$TRASH/fixtures/registry-NAME/), waits (10 s at most) until /v2/
#	answers, exports REGISTRY (127.0.0.1:PORT), REGISTRY_PID, REGISTRY_DIR.
#	NAME defaults to "registry"; others can run at once under other names.
#	--htpasswd: basic auth (bcrypt) for USER:PASS. --token: token auth
#	backed by t/helpers/token-server.py (a fresh RSA key and self-signed
#	certificate; credentials --creds, default tester:s3cret), realm
#	http://TOKEN_SERVER/token, service berth-test-NAME; also exports
#	TOKEN_SERVER (127.0.0.1:PORT), TOKEN_SERVER_PID and TOKEN_LOG (one line
#	per token request). --anonymous-pull: pull tokens without
#	credentials; --no-oauth: the token server answers POST (containerd's
#	OAuth2 flow) with 404. With auth, REGISTRY_CREDS (USER:PASS),
#	REGISTRY_USER and REGISTRY_PASSWORD are exported, else they are empty.
#   registry_addr [NAME]	prints NAME's 127.0.0.1:PORT.
#   token_requests [NAME]	prints how many tokens NAME's token server issued.
#   stop_registry [NAME]	stops NAME (and its token server).
#
# Misbehaving servers (python3, stdlib only; each also ends by itself when
# the script is gone):
#
#   start_proxy KIND [--name NAME] [--upstream HOST:PORT] [OPTIONS...]
#	KIND: cutting, lying, flaky (t/helpers/KIND-proxy.py, forwarding to
#	--upstream, default $REGISTRY) or hanging (t/helpers/hanging-server.py).
#	OPTIONS go to the helper (see the top of each). Exports PROXY
#	(127.0.0.1:PORT), PROXY_PID and PROXY_LOG (one line per request:
#	"GET /v2/... range=bytes=N- status=206 sent=M [cut=K]"). NAME defaults
#	to KIND.
#   proxy_addr NAME		prints NAME's 127.0.0.1:PORT.
#   stop_proxy NAME		stops it.
#   stop_fixtures		stops every registry, token server and proxy of
#				the script. Left running, they are killed at exit
#				by the harness (as stray processes).
#
# Images: built from busybox-static with umoci, once per machine and
# version of these files, cached under $BERTH_TRASH_ROOT/images/ (a lock
# keeps parallel scripts apart; a build takes about a second). Their
# digests are the same on every build from the same busybox:
#
#   busybox  OCI manifest, linux/amd64, two layers (t/helpers/mkimage.py):
#	1: bin/busybox, its applet symlinks (-> /bin/busybox) in bin, sbin,
#	   usr/bin, usr/sbin; etc/passwd (root, daemon, user 1000, nobody),
#	   etc/group, etc/hostname, etc/motd, opt/old/{a,b}, home/user
#	   (1000:1000), root (0700), tmp (1777), dev, proc, sys, var.
#	2: etc/.wh.motd (whiteout), opt/old/.wh..wh..opq and opt/old/c (an
#	   opaque dir), usr/local/bin/setuid-tool (4755),
#	   usr/share/berth/hello.txt, hello.link (symlink -> hello.txt),
#	   hello.hard (hardlink of hello.txt), var/empty/ (an empty dir),
#	   home/user/owned.txt (1000:1000, 0640).
#	Config: Entrypoint ["/bin/busybox"], Cmd ["echo","hello from busybox"],
#	Env PATH=... and IMAGE_PLATFORM=linux/amd64, WorkingDir /home/user,
#	User root, label org.berth.test=busybox.
#   multi    OCI index: linux/amd64 (busybox's manifest) and linux/arm64/v8
#	(same layers, config arm64/v8 with IMAGE_PLATFORM=linux/arm64/v8).
#   big-MB   busybox plus a third layer: big/random.bin, MB MiB of
#	pseudo-random bytes (made by big_test_image MB).
#   special  OCI manifest for the host's architecture, four layers (gzip,
#	gzip, zstd, uncompressed) with every kind of entry an unpacker must
#	get right: hardlinks, symlinks, setuid/setgid/sticky, odd modes,
#	xattrs (security.capability too), a fifo, devices, several owners,
#	mtimes with nanoseconds, whiteouts, an opaque dir, replaced entries
#	(contrib/fixtures/special-image.py, which lists them; needs zstd:
#	the SPECIAL_IMAGE prerequisite).
#
#   push_image NAME[:TAG] [--from busybox|multi|big-MB|special] [--format oci|v2s2]
#              [--registry HOST:PORT] [--creds USER:PASS]
#	skopeo copy (--all for an index) of the image --from (default
#	busybox) to docker://REGISTRY/NAME:TAG (TAG defaults to latest).
#	--format v2s2: Docker schema2 media types (a manifest list for
#	multi). --registry defaults to $REGISTRY, --creds to $REGISTRY_CREDS.
#   image_digest NAME[:TAG] [--registry R] [--creds U:P]
#	prints the digest of the manifest the registry serves for NAME:TAG.
#   image_blobs NAME[:TAG] [--platform OS/ARCH[/VARIANT]] [--registry R]
#               [--creds U:P]
#	prints the config digest, then each layer digest, one per line; of
#	the --platform manifest (default linux/amd64) when NAME:TAG is an index.
#   big_test_image MB	builds big-MB (cached); prints its big layer's digest.
#   image_layout [IMAGE]	prints the OCI layout holding IMAGE (default busybox).
#   registry_curl [--registry R] [--creds U:P] PATH [CURL ARGS...]
#	curl http://R/PATH (GET unless CURL ARGS say otherwise), doing basic
#	or bearer auth as the registry asks; the body on stdout; fails on an
#	HTTP error.

# Shell code in single quotes is expanded later.
# shellcheck disable=SC2016

REGISTRY=
REGISTRY_PID=
REGISTRY_DIR=
REGISTRY_CREDS=
REGISTRY_USER=
REGISTRY_PASSWORD=
TOKEN_SERVER=
TOKEN_SERVER_PID=
TOKEN_LOG=
PROXY=
PROXY_PID=
PROXY_LOG=
REGISTRY_FIXTURES=$TRASH_DIRECTORY/fixtures
REGISTRY_HELPERS=$TEST_DIRECTORY/helpers
REGISTRY_PYTHON=${REGISTRY_PYTHON:-python3}
# the helpers outlive a stuck script by a minute at most
REGISTRY_LIFETIME=$((${BERTH_TEST_TIMEOUT:-300} + 60))
test "$REGISTRY_LIFETIME" -gt 60 || REGISTRY_LIFETIME=3600
REGISTRY_ACCEPT='application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json'
export REGISTRY REGISTRY_PID REGISTRY_DIR REGISTRY_CREDS REGISTRY_USER REGISTRY_PASSWORD \
	TOKEN_SERVER TOKEN_SERVER_PID TOKEN_LOG PROXY PROXY_PID PROXY_LOG
# what we started: "kind:name:pid" words
registry_started_=

test_lazy_prereq REGISTRY '
	command -v docker-registry && command -v skopeo && command -v umoci &&
	command -v busybox && command -v openssl && command -v flock &&
	command -v jq && command -v curl && command -v "$REGISTRY_PYTHON"
'
test_lazy_prereq HTPASSWD 'command -v htpasswd'
test_lazy_prereq SPECIAL_IMAGE 'test_have_prereq REGISTRY && command -v zstd'

# registry_name_ok_ NAME: NAME is usable in a path.
registry_name_ok_ () {
	case "$1" in
	'' | *[!A-Za-z0-9._-]*)
		echo "registry.sh: bad name '$1' (letters, digits, . _ -)" >&2
		return 1
		;;
	esac
}

# registry_running_ KIND NAME: KIND:NAME was started and not stopped.
registry_running_ () {
	for reg_e_ in $registry_started_; do
		case "$reg_e_" in
		"$1:$2:"*) return 0 ;;
		esac
	done
	return 1
}

# registry_forget_ KIND NAME: drop KIND:NAME from the started list; its
# pid in reg_found_ (fails when it is not there).
registry_forget_ () {
	reg_keep_=
	reg_found_=
	for reg_e_ in $registry_started_; do
		case "$reg_e_" in
		"$1:$2:"*) reg_found_=${reg_e_##*:} ;;
		*) reg_keep_="$reg_keep_ $reg_e_" ;;
		esac
	done
	registry_started_=$reg_keep_
	test -n "$reg_found_"
}

# registry_kill_ PID: SIGTERM, wait up to 2 s, then SIGKILL; reap it.
registry_kill_ () {
	kill -TERM "$1" 2>/dev/null
	reg_i_=0
	while test_pid_alive_ "$1" && test "$reg_i_" -lt 40; do
		sleep 0.05
		reg_i_=$((reg_i_ + 1))
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

# registry_helper_ KIND NAME DIR SCRIPT ARGS...: start the python helper
# SCRIPT in the background (files in DIR), wait (10 s) until it listens;
# sets reg_pid_ and reg_port_.
registry_helper_ () {
	reg_hkind_=$1 reg_hname_=$2 reg_hdir_=$3 reg_hscript_=$4
	shift 4
	rm -f "$reg_hdir_/port"
	"$REGISTRY_PYTHON" "$REGISTRY_HELPERS/$reg_hscript_" --port-file "$reg_hdir_/port" \
		--parent $$ --lifetime "$REGISTRY_LIFETIME" --log "$reg_hdir_/requests.log" "$@" \
		</dev/null >>"$reg_hdir_/stdout.log" 2>&1 5>&- 7>&- &
	reg_pid_=$!
	registry_started_="$registry_started_ $reg_hkind_:$reg_hname_:$reg_pid_"
	reg_deadline_=$(($(date +%s) + 10))
	while ! test -s "$reg_hdir_/port"; do
		if ! test_pid_alive_ "$reg_pid_"; then
			echo "registry.sh: $reg_hscript_ ($reg_hname_) exited before it listened:" >&2
			tail -n 20 "$reg_hdir_/stdout.log" >&2
			registry_forget_ "$reg_hkind_" "$reg_hname_"
			wait "$reg_pid_"
			return 1
		fi
		if test "$(date +%s)" -gt "$reg_deadline_"; then
			echo "registry.sh: $reg_hscript_ ($reg_hname_) did not listen within 10 s" >&2
			return 1
		fi
		sleep 0.05
	done
	read -r reg_port_ <"$reg_hdir_/port"
}

# start_registry [--name NAME] [--htpasswd USER:PASS] [--token]
# [--creds USER:PASS] [--anonymous-pull] [--no-oauth]: see the top.
start_registry () {
	test_in_main_shell_ || BUG "start_registry in a subshell: REGISTRY would be lost"
	reg_name_=registry reg_htpasswd_='' reg_token_='' reg_creds_='' reg_anon_='' reg_nooauth_=''
	while test "$#" -gt 0; do
		case "$1" in
		--name) reg_name_=$2 && shift ;;
		--htpasswd) reg_htpasswd_=$2 && shift ;;
		--token) reg_token_=t ;;
		--creds) reg_creds_=$2 && shift ;;
		--anonymous-pull) reg_anon_=--anonymous-pull ;;
		--no-oauth) reg_nooauth_=--no-oauth ;;
		*) BUG "start_registry: unknown option '$1'" ;;
		esac
		shift
	done
	registry_name_ok_ "$reg_name_" || return 1
	if registry_running_ registry "$reg_name_"; then
		echo "start_registry: $reg_name_ already runs" >&2
		return 1
	fi
	test -n "$reg_htpasswd_" && test -n "$reg_token_" &&
		BUG "start_registry: --htpasswd or --token, not both"
	test -n "$reg_htpasswd_" && reg_creds_=$reg_htpasswd_
	test -n "$reg_token_" && test -z "$reg_creds_" && reg_creds_=tester:s3cret
	reg_dir_=$REGISTRY_FIXTURES/registry-$reg_name_
	mkdir -p "$reg_dir_/data" || return 1
	{
		echo "version: 0.1"
		echo "log:"
		echo "  level: info"
		echo "  formatter: text"
		echo "storage:"
		echo "  filesystem:"
		echo "    rootdirectory: $reg_dir_/data"
		echo "  delete:"
		echo "    enabled: true"
		echo "  maintenance:"
		echo "    uploadpurging:"
		echo "      enabled: false"
		echo "http:"
		echo "  addr: 127.0.0.1:0"
		echo "  secret: berth-test-$reg_name_"
	} >"$reg_dir_/config.yml" || return 1
	reg_tserver_='' reg_tpid_='' reg_tlog_=''
	if test -n "$reg_htpasswd_"; then
		command -v htpasswd >/dev/null || {
			echo "start_registry: --htpasswd needs htpasswd (apache2-utils)" >&2
			return 1
		}
		htpasswd -Bbn "${reg_htpasswd_%%:*}" "${reg_htpasswd_#*:}" >"$reg_dir_/htpasswd" || return 1
		{
			echo "auth:"
			echo "  htpasswd:"
			echo "    realm: berth-test"
			echo "    path: $reg_dir_/htpasswd"
		} >>"$reg_dir_/config.yml" || return 1
	elif test -n "$reg_token_"; then
		mkdir -p "$reg_dir_/token" || return 1
		if ! openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=berth-test-token" \
			-keyout "$reg_dir_/token/key.pem" -out "$reg_dir_/token/cert.pem" \
			>"$reg_dir_/token/openssl.log" 2>&1; then
			cat "$reg_dir_/token/openssl.log" >&2
			return 1
		fi
		# shellcheck disable=SC2086 # the empty options vanish
		registry_helper_ token "$reg_name_" "$reg_dir_/token" token-server.py \
			--cert "$reg_dir_/token/cert.pem" --key "$reg_dir_/token/key.pem" \
			--issuer berth-test-token-issuer --service "berth-test-$reg_name_" \
			--user "${reg_creds_%%:*}" --password "${reg_creds_#*:}" \
			$reg_anon_ $reg_nooauth_ || return 1
		reg_tserver_=127.0.0.1:$reg_port_
		reg_tpid_=$reg_pid_
		reg_tlog_=$reg_dir_/token/requests.log
		{
			echo "auth:"
			echo "  token:"
			echo "    realm: http://$reg_tserver_/token"
			echo "    service: berth-test-$reg_name_"
			echo "    issuer: berth-test-token-issuer"
			echo "    rootcertbundle: $reg_dir_/token/cert.pem"
		} >>"$reg_dir_/config.yml" || return 1
	fi
	rm -f "$reg_dir_/addr"
	printf '=== start_registry %s\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" >>"$reg_dir_/registry.log"
	reg_mark_=$(wc -l <"$reg_dir_/registry.log")
	docker-registry serve "$reg_dir_/config.yml" \
		</dev/null >>"$reg_dir_/registry.log" 2>&1 5>&- 7>&- &
	reg_pid_=$!
	registry_started_="$registry_started_ registry:$reg_name_:$reg_pid_"
	reg_deadline_=$(($(date +%s) + 10))
	reg_addr_=
	while :; do
		if test -z "$reg_addr_"; then
			# distribution logs the address it got for port 0
			reg_addr_=$(sed -n "$reg_mark_,\$s/.*msg=\"listening on \\(127\\.0\\.0\\.1:[0-9][0-9]*\\)\".*/\\1/p" \
				"$reg_dir_/registry.log" | head -n 1)
		fi
		if test -n "$reg_addr_"; then
			case "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$reg_addr_/v2/")" in
			200 | 401) break ;;
			esac
		fi
		if ! test_pid_alive_ "$reg_pid_"; then
			echo "start_registry: docker-registry ($reg_name_) exited:" >&2
			tail -n 20 "$reg_dir_/registry.log" >&2
			registry_forget_ registry "$reg_name_"
			wait "$reg_pid_"
			return 1
		fi
		if test "$(date +%s)" -gt "$reg_deadline_"; then
			echo "start_registry: docker-registry ($reg_name_) not ready within 10 s:" >&2
			tail -n 20 "$reg_dir_/registry.log" >&2
			return 1
		fi
		sleep 0.05
	done
	echo "$reg_addr_" >"$reg_dir_/addr"
	REGISTRY=$reg_addr_
	REGISTRY_PID=$reg_pid_
	REGISTRY_DIR=$reg_dir_
	REGISTRY_CREDS=$reg_creds_
	REGISTRY_USER=
	REGISTRY_PASSWORD=
	if test -n "$reg_creds_"; then
		REGISTRY_USER=${reg_creds_%%:*}
		REGISTRY_PASSWORD=${reg_creds_#*:}
	fi
	TOKEN_SERVER=$reg_tserver_
	TOKEN_SERVER_PID=$reg_tpid_
	TOKEN_LOG=$reg_tlog_
}

# registry_addr [NAME]: the address of a running registry.
registry_addr () {
	test -s "$REGISTRY_FIXTURES/registry-${1:-registry}/addr" || {
		echo "registry_addr: no registry ${1:-registry} runs" >&2
		return 1
	}
	cat "$REGISTRY_FIXTURES/registry-${1:-registry}/addr"
}

# token_requests [NAME]: how many tokens NAME's token server issued.
token_requests () {
	reg_tport_=$REGISTRY_FIXTURES/registry-${1:-registry}/token/port
	test -s "$reg_tport_" || {
		echo "token_requests: ${1:-registry} has no token server" >&2
		return 1
	}
	curl -sf --max-time 5 "http://127.0.0.1:$(cat "$reg_tport_")/stats" | jq -e .tokens
}

# stop_registry [NAME]: stop a registry and its token server.
stop_registry () {
	test_in_main_shell_ || BUG "stop_registry in a subshell"
	reg_name_=${1:-registry}
	registry_forget_ registry "$reg_name_" || {
		echo "stop_registry: no registry $reg_name_ was started" >&2
		return 1
	}
	reg_p_=$reg_found_
	registry_kill_ "$reg_p_"
	if test "$REGISTRY_PID" = "$reg_p_"; then
		REGISTRY='' REGISTRY_PID='' TOKEN_SERVER='' TOKEN_SERVER_PID=''
	fi
	rm -f "$REGISTRY_FIXTURES/registry-$reg_name_/addr"
	if registry_forget_ token "$reg_name_"; then
		registry_kill_ "$reg_found_"
		rm -f "$REGISTRY_FIXTURES/registry-$reg_name_/token/port"
	fi
	return 0
}

# start_proxy KIND [--name NAME] [--upstream HOST:PORT] [OPTIONS...]: see the top.
start_proxy () {
	test_in_main_shell_ || BUG "start_proxy in a subshell: PROXY would be lost"
	reg_kind_=$1
	test "$#" -gt 0 && shift
	case "$reg_kind_" in
	cutting | cut) reg_kind_=cutting reg_script_=cutting-proxy.py ;;
	lying | lie) reg_kind_=lying reg_script_=lying-proxy.py ;;
	flaky) reg_script_=flaky-proxy.py ;;
	hanging | hang) reg_kind_=hanging reg_script_=hanging-server.py ;;
	*) BUG "start_proxy: unknown kind '$reg_kind_' (cutting, lying, flaky, hanging)" ;;
	esac
	reg_pname_=$reg_kind_
	reg_up_=$REGISTRY
	# take our options out, keep the helper's (in order)
	reg_n_=$#
	while test "$reg_n_" -gt 0; do
		case "$1" in
		--name) reg_pname_=$2 && shift && reg_n_=$((reg_n_ - 1)) ;;
		--upstream) reg_up_=$2 && shift && reg_n_=$((reg_n_ - 1)) ;;
		*) set -- "$@" "$1" ;;
		esac
		shift
		reg_n_=$((reg_n_ - 1))
	done
	registry_name_ok_ "$reg_pname_" || return 1
	if test "$reg_kind_" != hanging; then
		test -n "$reg_up_" || {
			echo "start_proxy: no --upstream and no \$REGISTRY" >&2
			return 1
		}
		set -- --upstream "$reg_up_" "$@"
	fi
	if registry_running_ proxy "$reg_pname_"; then
		echo "start_proxy: $reg_pname_ already runs" >&2
		return 1
	fi
	reg_dir_=$REGISTRY_FIXTURES/proxy-$reg_pname_
	mkdir -p "$reg_dir_" &&
	registry_helper_ proxy "$reg_pname_" "$reg_dir_" "$reg_script_" "$@" || return 1
	echo "127.0.0.1:$reg_port_" >"$reg_dir_/addr"
	PROXY=127.0.0.1:$reg_port_
	PROXY_PID=$reg_pid_
	PROXY_LOG=$reg_dir_/requests.log
}

# proxy_addr NAME: the address of a running proxy.
proxy_addr () {
	test -s "$REGISTRY_FIXTURES/proxy-$1/addr" || {
		echo "proxy_addr: no proxy $1 runs" >&2
		return 1
	}
	cat "$REGISTRY_FIXTURES/proxy-$1/addr"
}

# stop_proxy NAME: stop a proxy.
stop_proxy () {
	test_in_main_shell_ || BUG "stop_proxy in a subshell"
	registry_forget_ proxy "$1" || {
		echo "stop_proxy: no proxy $1 was started" >&2
		return 1
	}
	reg_p_=$reg_found_
	registry_kill_ "$reg_p_"
	rm -f "$REGISTRY_FIXTURES/proxy-$1/addr"
	if test "$PROXY_PID" = "$reg_p_"; then
		PROXY='' PROXY_PID=''
	fi
	return 0
}

# stop_fixtures: stop everything this file started.
stop_fixtures () {
	for reg_e_ in $registry_started_; do
		registry_kill_ "${reg_e_##*:}"
	done
	registry_started_=
	rm -f "$REGISTRY_FIXTURES"/*/addr "$REGISTRY_FIXTURES"/*/token/port
	REGISTRY='' REGISTRY_PID='' TOKEN_SERVER='' TOKEN_SERVER_PID='' PROXY='' PROXY_PID=''
	return 0
}

# Stopped quietly at exit where the harness has a hook for it; otherwise
# its stray killer ends them.
if command -v test_atexit >/dev/null 2>&1; then
	test_atexit stop_fixtures
fi

# ---------------------------------------------------------------------------
# Images.

# registry_images_dir_: the cache directory for this busybox and this
# version of the builders (printed).
registry_images_dir_ () {
	reg_bb_=$(command -v busybox) || {
		echo "registry.sh: busybox is not installed (busybox-static)" >&2
		return 1
	}
	reg_key_=$({
		cat "$TEST_DIRECTORY/lib/registry.sh" "$REGISTRY_HELPERS/mkimage.py" \
			"$SRCDIR/contrib/fixtures/special-image.py" "$reg_bb_" &&
		umoci --version
	} | sha256sum | cut -c1-16) || return 1
	echo "$BERTH_TRASH_ROOT/images/$reg_key_"
}

# registry_build_ IMAGE: make sure the layout holding IMAGE (busybox,
# multi, big-MB, special) is built; print its directory. Built in a temporary
# directory renamed into place, under a lock: parallel scripts wait for
# each other and never see a half-built layout.
registry_build_ () {
	reg_img_=$1
	reg_cache_=$(registry_images_dir_) || return 1
	case "$reg_img_" in
	busybox | multi) reg_layout_=$reg_cache_/oci ;;
	special) reg_layout_=$reg_cache_/special ;;
	big-[0-9]*)
		case "${reg_img_#big-}" in
		*[!0-9]*) BUG "image $reg_img_: big-MB wants a number" ;;
		esac
		reg_layout_=$reg_cache_/$reg_img_
		;;
	*) BUG "unknown test image '$reg_img_' (busybox, multi, big-MB, special)" ;;
	esac
	if ! test -f "$reg_layout_/index.json"; then
		mkdir -p "$reg_cache_" &&
		(
			flock -w 300 9 || {
				echo "registry.sh: could not lock $BERTH_TRASH_ROOT/images/lock" >&2
				exit 1
			}
			test -f "$reg_layout_/index.json" && exit 0
			# other versions' caches, unused for an hour
			find "$BERTH_TRASH_ROOT/images" -mindepth 1 -maxdepth 1 -type d \
				! -path "$reg_cache_" -mmin +60 -exec rm -rf {} + 2>/dev/null
			reg_tmp_=$reg_layout_.tmp.$$
			rm -rf "$reg_tmp_" "$reg_tmp_.work"
			if registry_build_layout_ "$reg_img_" "$reg_tmp_" >"$reg_tmp_.log" 2>&1; then
				mv "$reg_tmp_" "$reg_layout_" && rm -f "$reg_tmp_.log"
			else
				echo "registry.sh: building image $reg_img_ failed:" >&2
				cat "$reg_tmp_.log" >&2
				rm -rf "$reg_tmp_" "$reg_tmp_.work" "$reg_tmp_.log"
				exit 1
			fi
		) 9>>"$BERTH_TRASH_ROOT/images/lock" || return 1
	fi
	echo "$reg_layout_"
}

# registry_build_layout_ IMAGE DIR: build the OCI layout holding IMAGE in DIR.
registry_build_layout_ () {
	if test "$1" = special; then
		"$REGISTRY_PYTHON" "$SRCDIR/contrib/fixtures/special-image.py" \
			--busybox "$(command -v busybox)" --tag special "$2" &&
		chmod -R a+rX "$2"
		return
	fi
	reg_created_=2024-01-01T00:00:00Z # mkimage.py's mtime
	mkdir -p "$2.work" &&
	"$REGISTRY_PYTHON" "$REGISTRY_HELPERS/mkimage.py" layers "$(command -v busybox)" "$2.work" &&
	umoci init --layout "$2" &&
	umoci new --image "$2:busybox" &&
	umoci raw add-layer --image "$2:busybox" --history.created "$reg_created_" \
		--history.created_by "mkimage.py layers: busybox rootfs" "$2.work/layer1.tar" &&
	umoci raw add-layer --image "$2:busybox" --history.created "$reg_created_" \
		--history.created_by "mkimage.py layers: whiteouts, links, setuid" "$2.work/layer2.tar" &&
	umoci config --no-history --image "$2:busybox" --created "$reg_created_" \
		--architecture amd64 --os linux \
		--config.entrypoint /bin/busybox \
		--config.cmd echo --config.cmd "hello from busybox" \
		--config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		--config.env IMAGE_PLATFORM=linux/amd64 \
		--config.workingdir /home/user --config.user root \
		--config.label org.berth.test=busybox &&
	"$REGISTRY_PYTHON" "$REGISTRY_HELPERS/mkimage.py" mediatype "$2" || return 1
	case "$1" in
	busybox | multi)
		"$REGISTRY_PYTHON" "$REGISTRY_HELPERS/mkimage.py" index "$2" busybox multi || return 1
		;;
	big-*)
		"$REGISTRY_PYTHON" "$REGISTRY_HELPERS/mkimage.py" big "$2.work/big.tar" "${1#big-}" &&
		umoci raw add-layer --image "$2:busybox" --tag "$1" --history.created "$reg_created_" \
			--history.created_by "mkimage.py big ${1#big-}" "$2.work/big.tar" || return 1
		;;
	esac
	"$REGISTRY_PYTHON" "$REGISTRY_HELPERS/mkimage.py" mediatype "$2" &&
	umoci gc --layout "$2" &&
	chmod -R a+rX "$2" &&
	rm -rf "$2.work"
}

# image_layout [IMAGE]: the OCI layout directory holding IMAGE.
image_layout () {
	registry_build_ "${1:-busybox}"
}

# big_test_image MB: build big-MB; print its big layer's digest.
big_test_image () {
	reg_l_=$(registry_build_ "big-$1") || return 1
	reg_m_=$(jq -r --arg t "big-$1" \
		'.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' \
		"$reg_l_/index.json") &&
	jq -r '.layers[-1].digest' "$reg_l_/blobs/sha256/${reg_m_#sha256:}"
}

# registry_skopeo_ ARGS...: skopeo with a policy that accepts anything.
registry_skopeo_ () {
	mkdir -p "$REGISTRY_FIXTURES" || return 1
	if ! test -f "$REGISTRY_FIXTURES/policy.json"; then
		echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$REGISTRY_FIXTURES/policy.json" ||
			return 1
	fi
	skopeo --policy "$REGISTRY_FIXTURES/policy.json" "$@"
}

# push_image NAME[:TAG] [--from IMAGE] [--format oci|v2s2] [--registry R]
# [--creds U:P]: see the top.
push_image () {
	reg_ref_=$1
	test -n "$reg_ref_" || BUG "push_image needs a NAME[:TAG]"
	shift
	reg_from_=busybox reg_format_='' reg_reg_=$REGISTRY reg_creds_=$REGISTRY_CREDS
	while test "$#" -gt 0; do
		case "$1" in
		--from) reg_from_=$2 && shift ;;
		--format) reg_format_=$2 && shift ;;
		--registry) reg_reg_=$2 && shift ;;
		--creds) reg_creds_=$2 && shift ;;
		*) BUG "push_image: unknown option '$1'" ;;
		esac
		shift
	done
	case "$reg_ref_" in
	*:*) ;;
	*) reg_ref_=$reg_ref_:latest ;;
	esac
	test -n "$reg_reg_" || {
		echo "push_image: no --registry and no \$REGISTRY" >&2
		return 1
	}
	reg_l_=$(registry_build_ "$reg_from_") || return 1
	set -- copy --quiet --dest-tls-verify=false
	test "$reg_from_" = multi && set -- "$@" --all
	case "$reg_format_" in
	'') ;;
	oci | v2s2) set -- "$@" --format "$reg_format_" ;;
	*) BUG "push_image: --format oci or v2s2" ;;
	esac
	test -n "$reg_creds_" && set -- "$@" --dest-creds "$reg_creds_"
	registry_skopeo_ "$@" "oci:$reg_l_:$reg_from_" "docker://$reg_reg_/$reg_ref_"
}

# registry_token_ CREDS REALM SERVICE SCOPE: print a token from a token
# server (anonymous when CREDS is empty).
registry_token_ () {
	reg_trealm_=$2
	set -- "$1" -G --data-urlencode "service=$3" ${4:+--data-urlencode} ${4:+"scope=$4"}
	if test -n "$1"; then
		set -- "$@" -u "$1"
	fi
	shift
	curl -sf --max-time 30 "$@" "$reg_trealm_" | jq -er .token
}

# registry_curl [--registry R] [--creds U:P] PATH [CURL ARGS...]: see the top.
registry_curl () {
	reg_reg_=$REGISTRY reg_creds_=$REGISTRY_CREDS
	while :; do
		case "$1" in
		--registry) reg_reg_=$2 && shift 2 ;;
		--creds) reg_creds_=$2 && shift 2 ;;
		*) break ;;
		esac
	done
	reg_url_=http://$reg_reg_$1
	shift
	mkdir -p "$REGISTRY_FIXTURES" || return 1
	reg_h_=$REGISTRY_FIXTURES/curl-headers.$$
	reg_b_=$REGISTRY_FIXTURES/curl-body.$$
	if test -n "$reg_creds_"; then
		reg_code_=$(curl -s --max-time 30 -D "$reg_h_" -o "$reg_b_" -w '%{http_code}' \
			-u "$reg_creds_" "$@" "$reg_url_")
	else
		reg_code_=$(curl -s --max-time 30 -D "$reg_h_" -o "$reg_b_" -w '%{http_code}' \
			"$@" "$reg_url_")
	fi
	reg_chal_=$(tr -d '\r' <"$reg_h_" | sed -n 's/^[Ww][Ww][Ww]-[Aa]uthenticate: *Bearer //p')
	if test "$reg_code_" = 401 && test -n "$reg_chal_"; then
		reg_tok_=$(registry_token_ "$reg_creds_" \
			"$(echo "$reg_chal_" | sed -n 's/.*realm="\([^"]*\)".*/\1/p')" \
			"$(echo "$reg_chal_" | sed -n 's/.*service="\([^"]*\)".*/\1/p')" \
			"$(echo "$reg_chal_" | sed -n 's/.*scope="\([^"]*\)".*/\1/p')") || {
			echo "registry_curl: no token for $reg_url_" >&2
			rm -f "$reg_h_" "$reg_b_"
			return 1
		}
		reg_code_=$(curl -s --max-time 30 -D "$reg_h_" -o "$reg_b_" -w '%{http_code}' \
			-H "Authorization: Bearer $reg_tok_" "$@" "$reg_url_")
	fi
	cat "$reg_b_" 2>/dev/null
	rm -f "$reg_h_" "$reg_b_"
	case "$reg_code_" in
	2*) return 0 ;;
	esac
	echo "registry_curl: $reg_url_: HTTP $reg_code_" >&2
	return 1
}

# registry_ref_ NAME[:TAG|@DIGEST]: sets reg_repo_ and reg_tag_.
registry_ref_ () {
	case "$1" in
	*@*) reg_repo_=${1%%@*} reg_tag_=${1#*@} ;;
	*:*) reg_repo_=${1%:*} reg_tag_=${1##*:} ;;
	*) reg_repo_=$1 reg_tag_=latest ;;
	esac
}

# image_digest NAME[:TAG] [--registry R] [--creds U:P]: see the top.
image_digest () {
	registry_ref_ "$1"
	shift
	mkdir -p "$REGISTRY_FIXTURES" &&
	registry_curl "$@" "/v2/$reg_repo_/manifests/$reg_tag_" -H "Accept: $REGISTRY_ACCEPT" \
		>"$REGISTRY_FIXTURES/manifest.$$" || return 1
	echo "sha256:$(sha256sum <"$REGISTRY_FIXTURES/manifest.$$" | cut -d' ' -f1)"
	rm -f "$REGISTRY_FIXTURES/manifest.$$"
}

# image_blobs NAME[:TAG] [--platform P] [--registry R] [--creds U:P]: see the top.
image_blobs () {
	registry_ref_ "$1"
	shift
	reg_plat_=linux/amd64
	reg_n_=$#
	while test "$reg_n_" -gt 0; do
		case "$1" in
		--platform) reg_plat_=$2 && shift && reg_n_=$((reg_n_ - 1)) ;;
		*) set -- "$@" "$1" ;;
		esac
		shift
		reg_n_=$((reg_n_ - 1))
	done
	reg_m_=$(registry_curl "$@" "/v2/$reg_repo_/manifests/$reg_tag_" -H "Accept: $REGISTRY_ACCEPT") ||
		return 1
	if echo "$reg_m_" | jq -e '.manifests' >/dev/null; then
		reg_os_=${reg_plat_%%/*}
		reg_arch_=${reg_plat_#*/}
		reg_var_=
		case "$reg_arch_" in
		*/*) reg_var_=${reg_arch_#*/} reg_arch_=${reg_arch_%%/*} ;;
		esac
		reg_d_=$(echo "$reg_m_" | jq -r --arg os "$reg_os_" --arg arch "$reg_arch_" --arg var "$reg_var_" \
			'[.manifests[] | select(.platform.os == $os and .platform.architecture == $arch
				and ($var == "" or .platform.variant == $var))][0].digest // empty')
		test -n "$reg_d_" || {
			echo "image_blobs: no $reg_plat_ manifest in $reg_repo_:$reg_tag_" >&2
			return 1
		}
		reg_m_=$(registry_curl "$@" "/v2/$reg_repo_/manifests/$reg_d_" -H "Accept: $REGISTRY_ACCEPT") ||
			return 1
	fi
	echo "$reg_m_" | jq -r '.config.digest, .layers[].digest'
}

# Pulls through berthd's API (needs daemon.sh's api and $NS, the namespace's
# path, e.g. /v1/namespaces/default):
#   pull REF [JSON FIELDS]	POST $NS/images/pull; ./out holds the NDJSON
#				lines, ./last the last one
#   pull_ok REF [FIELDS]	... and it must end with "done"
#   pull_err CODE REF [FIELDS]	... and it must end with an error of CODE
pull() {
	ref=$1
	shift
	body="{\"ref\":\"$ref\"${1:+,$1}}"
	api POST "$NS/images/pull" -d "$body" &&
	tail -n1 out >last
}

pull_ok() {
	pull "$@" && test "$(cat status)" = 200 &&
	jq -e ".status == \"done\"" last >/dev/null ||
	{ echo "pull of $1 did not finish:"; cat out; return 1; }
}

pull_err() {
	code=$1
	shift
	pull "$@" && test "$(cat status)" = 200 &&
	jq -e ".status == \"error\" and .error.code == \"$code\"" last >/dev/null ||
	{ echo "pull of $1: want error $code, got:"; cat out; return 1; }
}
