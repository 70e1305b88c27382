#!/bin/sh
# Install everything berth needs to build, run and test on Debian 12.
# Idempotent: safe to run again. Must run as root.
set -eu

if [ "$(id -u)" != 0 ]; then
	echo "install-deps.sh: must run as root" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive

# Build toolchain and libraries.
pkgs="build-essential autoconf automake libtool pkg-config git
	libevent-dev libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev
	libarchive-dev liblmdb-dev libssl-dev libseccomp-dev"
# Runtime: OCI runtimes, image tooling and a registry for the tests.
pkgs="$pkgs runc crun docker-registry skopeo umoci busybox-static"
# CRIU, which runc runs for task checkpoint and restore (t/t6006 skips
# what needs it when `criu check` fails on the kernel).
pkgs="$pkgs criu"
# containerd 1.6, to compare unpacked root filesystems and pull times with
# (t/t3201-unpack-vs-containerd.sh, contrib/bench/pull.sh); zstd writes the
# zstd layer of the special test image (contrib/fixtures/special-image.py).
pkgs="$pkgs containerd zstd"
# Tests and benchmarks (apache2-utils: htpasswd, openssl: the token
# server's key, for the registry fixtures of t/lib/registry.sh; clang and
# libclang-rt-14-dev: libFuzzer, for `make fuzz`; llvm: llvm-symbolizer,
# for readable sanitizer reports).
pkgs="$pkgs curl jq perl python3 iproute2 util-linux procps psmisc apache2-utils openssl
	clang llvm libclang-rt-14-dev wrk hyperfine valgrind zstd attr"
# The API conformance test validates responses with an npm package; use the
# machine's Node.js when it has one, else Debian's.
command -v npm >/dev/null 2>&1 || pkgs="$pkgs nodejs npm"

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done

if [ -n "$missing" ]; then
	stamp=/var/lib/apt/periodic/berth-update-stamp
	if [ ! -e "$stamp" ] || [ -n "$(find "$stamp" -mmin +360 2>/dev/null)" ]; then
		apt-get update -q
		mkdir -p "$(dirname "$stamp")" && touch "$stamp"
	fi
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing
fi

# The API conformance test's node packages (t/t8001-api-spec.sh), exactly as
# pinned by t/conformance/package-lock.json. Only from a berth checkout, and
# only when node_modules is missing or older than the lock file.
conformance=$(cd "$(dirname "$0")/.." 2>/dev/null && pwd)/t/conformance
if [ -f "$conformance/package-lock.json" ] && command -v npm >/dev/null 2>&1; then
	if [ ! -f "$conformance/node_modules/.package-lock.json" ] ||
		[ "$conformance/package-lock.json" -nt "$conformance/node_modules/.package-lock.json" ]; then
		npm ci --prefix "$conformance" --no-audit --no-fund --loglevel=error >/dev/null
	fi
fi
