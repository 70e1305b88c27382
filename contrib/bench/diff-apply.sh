#!/bin/sh
# contrib/bench/diff-apply.sh: throughput of one layer applied by src/diff's
# confined worker (t/helpers/diff-apply, built by `make check`), beside GNU
# tar on the same layer. Not a test: it prints figures.
#
#   contrib/bench/diff-apply.sh [--build-dir DIR] [--runs N] [LAYER.tar.gz]
#
# Without LAYER, one is built from /usr/bin, /usr/include and
# /usr/share/perl (about 210 MB of gzip here). Everything happens under a
# temporary directory, removed at exit.
set -eu

build=${BERTH_BUILD_DIR:-.}
runs=3
while [ $# -gt 0 ]; do
	case $1 in
	--build-dir) build=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	-h|--help) sed -n '2,10p' "$0"; exit 0 ;;
	*) break ;;
	esac
done
apply=$build/t/helpers/diff-apply
[ -x "$apply" ] || { echo "diff-apply.sh: $apply is not built (make check TESTS=)" >&2; exit 2; }

tmp=$(mktemp -d /var/tmp/berth-diff-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
layer=${1:-}
if [ -z "$layer" ]; then
	layer=$tmp/layer.tar.gz
	echo "building $layer from /usr ..." >&2
	tar -C / -cf - usr/bin usr/include usr/share/perl 2>/dev/null | gzip -6 >"$layer"
fi
csize=$(stat -c %s "$layer")

now() { date +%s.%N; }
run_apply() {
	t0=$(now)
	"$apply" "$tmp/d$i" "$layer" >"$tmp/out"
	t1=$(now)
}
run_tar() {
	t2=$(now)
	tar -C "$tmp/t$i" --numeric-owner --xattrs -xzf "$layer" && sync -f "$tmp/t$i"
	t3=$(now)
}
# Trees are removed at the end only (ext4 creates files more slowly right
# after mass deletions), and the order alternates.
i=0
while [ "$i" -lt "$runs" ]; do
	i=$((i + 1))
	mkdir "$tmp/d$i" "$tmp/t$i"
	if [ $((i % 2)) = 1 ]; then run_apply; run_tar; else run_tar; run_apply; fi
	awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v cs="$csize" -v out="$(cat "$tmp/out")" 'BEGIN {
		match(out, /"tar_size":[0-9]+/); us = substr(out, RSTART + 11, RLENGTH - 11)
		match(out, /"entries":[0-9]+/); n = substr(out, RSTART + 10, RLENGTH - 10)
		s = b - a
		printf "diff-apply: %.2f s  %.0f MB/s compressed  %.0f MB/s uncompressed  %.0f files/s  (tar -xz + sync: %.2f s)\n",
			s, cs / s / 1e6, us / s / 1e6, n / s, d - c
	}'
done
