#!/bin/bash
# contrib/bench/mkimage.sh: build (or reuse) the big multi-layer OCI image
# that contrib/bench/pull.sh pulls: a few hundred MB of this machine's own
# files (libraries, man pages and docs, binaries, python's stdlib, headers)
# as gzip layers in an OCI image layout, tagged `1`.
#
# The layers are tar streams written by GNU tar from a sorted file list
# (root-owned, POSIX format, mtimes clamped), compressed with gzip -n; the
# config and manifest are written here with their digests and diff_ids. The
# image is cached under CACHE/<key>, the key being a hash of this recipe and
# of the selected files' paths, sizes and mtimes: the same machine gets the
# same image back without rebuilding; a changed /usr gets a new one.
#
# Prints the layout's directory on stdout; its summary.tsv holds per layer
# the file/dir/symlink counts, the tar size (uncompressed) and the gzip size.
# Exit status: 0 built or reused, 2 usage or build error.

set -eu

usage() {
	cat <<EOF
usage: contrib/bench/mkimage.sh [--cache DIR] [--jobs N] [--force]

  --cache DIR   where images are kept (default /var/tmp/berth-bench-image)
  --jobs N      layers compressed at once (default: number of CPUs)
  --force       rebuild even if the cache holds this image
  --print       print the recipe and exit
EOF
}

die() { echo "mkimage.sh: $*" >&2; exit 2; }
note() { echo "mkimage.sh: $*" >&2; }

cache=/var/tmp/berth-bench-image
jobs=$(nproc 2>/dev/null || echo 2)
force=
print=
while [ $# -gt 0 ]; do
	case $1 in
	--cache) cache=${2:?--cache needs a directory}; shift ;;
	--jobs) jobs=${2:?}; shift ;;
	--force) force=1 ;;
	--print) print=1 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done
case $jobs in '' | *[!0-9]* | 0) die "--jobs must be a positive whole number" ;; esac

# The recipe: one line per source directory. Layers are built in the order
# of their first line; a layer may take several directories. Within a
# directory, entries are taken in byte order of their paths; regular files
# larger than MAXFILE are skipped, and the directory stops contributing once
# its regular files would pass CAP bytes. Bump the version when the way a
# layer is written changes.
recipe_version=1
recipe() {
	cat <<'EOF'
# layer   directory                     maxfile  cap
libs      usr/lib/x86_64-linux-gnu      8M       130M
docs      usr/share/man                 1M       100M
docs      usr/share/doc                 1M       60M
docs      usr/share/zoneinfo            1M       10M
bin       usr/bin                       8M       80M
bin       usr/sbin                      8M       20M
python    usr/lib/python3.11            4M       80M
python    usr/lib/python3               4M       50M
headers   usr/include                   1M       30M
locale    usr/share/locale              1M       10M
EOF
}
if [ -n "$print" ]; then
	recipe
	exit 0
fi

for t in tar gzip sha256sum find sort jq; do
	command -v "$t" >/dev/null 2>&1 || die "$t is needed"
done
tar --version 2>/dev/null | grep -q 'GNU tar' || die "GNU tar is needed"

bytes() {
	case $1 in
	*K) echo $((${1%K} * 1024)) ;;
	*M) echo $((${1%M} * 1024 * 1024)) ;;
	*G) echo $((${1%G} * 1024 * 1024 * 1024)) ;;
	*) echo "$1" ;;
	esac
}

work=$(mktemp -d "${TMPDIR:-/tmp}/berth-mkimage.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- select the files of each layer ----

layers=()
while read -r layer dir maxfile cap; do
	case $layer in '' | '#'*) continue ;; esac
	case " ${layers[*]-} " in *" $layer "*) ;; *) layers+=("$layer") ;; esac
	[ -d "/$dir" ] || { note "no /$dir on this machine: that part of layer $layer is empty"; continue; }
	max=$(bytes "$maxfile")
	lim=$(bytes "$cap")
	# TYPE SIZE MTIME PATH, one a line; names with a newline or a backslash
	# could not go through tar's file list: skipped
	(cd / && find "$dir" -xdev \( -type d -o -type l -o \( -type f -size -"$((max + 1))"c \) \) \
		-printf '%y %s %T@ %p\n') 2>/dev/null |
		grep -v '\\' | LC_ALL=C sort -k4 |
		awk -v lim="$lim" '
			$1 == "f" { if (tot + $2 > lim) exit; tot += $2 }
			{ print }' >>"$work/$layer.list"
done < <(recipe)
[ ${#layers[@]} -gt 0 ] || die "empty recipe"

# the parents of every selected directory, so that each layer is a tree
for l in "${layers[@]}"; do
	[ -s "$work/$l.list" ] || die "layer $l selects no files on this machine"
	awk '{ p = $0; sub(/^[^ ]+ [^ ]+ [^ ]+ /, "", p); while (sub(/\/[^\/]*$/, "", p)) print "d 0 0 " p }' "$work/$l.list" |
		LC_ALL=C sort -u -k4 >"$work/$l.parents"
	LC_ALL=C sort -u -k4 "$work/$l.list" "$work/$l.parents" >"$work/$l.sel"
done

key=$({
	echo "berth bench image recipe v$recipe_version"
	recipe
	for l in "${layers[@]}"; do
		echo "== $l"
		# directory mtimes are clamped in the tar, and change whenever a
		# package is installed: only their paths make the key
		awk '$1 == "d" { $2 = 0; $3 = 0 } { print }' "$work/$l.sel"
	done
} | sha256sum | cut -c1-16)
out=$cache/$key

if [ -z "$force" ] && [ -f "$out/done" ]; then
	note "reusing $out"
	echo "$out"
	exit 0
fi

# ---- write the layers ----

mkdir -p "$cache" || die "cannot create \`$cache\`"
rm -rf "$out.tmp"
mkdir -p "$out.tmp/blobs/sha256"
note "building the image in $out (${#layers[@]} layers, $jobs at a time)"

# one layer: tar from the list, hashed (diff_id) and gzipped (digest) in one pass
build_layer() {
	local l=$1
	cut -d' ' -f4- "$work/$l.sel" >"$work/$l.paths"
	tar -C / --no-recursion --verbatim-files-from -T "$work/$l.paths" \
		--format=posix --pax-option='exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime,delete=mtime' \
		--numeric-owner --owner=0 --group=0 --mtime=@1704067200 --clamp-mtime \
		-cf - 2>"$work/$l.tarerr" |
		tee >(sha256sum | cut -d' ' -f1 >"$work/$l.diffid") >(wc -c >"$work/$l.tarsize") |
		gzip -n -6 >"$work/$l.tar.gz"
	[ ! -s "$work/$l.tarerr" ] || { cat "$work/$l.tarerr" >&2; return 1; }
}
export -f build_layer
export work
printf '%s\n' "${layers[@]}" | xargs -P "$jobs" -I{} bash -c 'build_layer "$1"' _ {} ||
	die "a layer could not be built"
# the tee'd hashes finish in process substitutions: wait for their files
for l in "${layers[@]}"; do
	for _ in $(seq 100); do
		[ -s "$work/$l.diffid" ] && [ -s "$work/$l.tarsize" ] && break
		sleep 0.1
	done
	[ -s "$work/$l.diffid" ] || die "no diff_id for layer $l"
done

# ---- config, manifest, index ----

blob() { # FILE -> moved into the layout; prints "sha256:<hex> size"
	local h s
	h=$(sha256sum "$1" | cut -d' ' -f1)
	s=$(stat -c %s "$1")
	mv "$1" "$out.tmp/blobs/sha256/$h"
	echo "sha256:$h $s"
}

printf 'layer\tfiles\tdirs\tsymlinks\ttar_bytes\tgz_bytes\tdiff_id\tdigest\n' >"$work/summary.tsv"
diffids=()
layer_descs=()
for l in "${layers[@]}"; do
	read -r digest size < <(blob "$work/$l.tar.gz")
	diffid=sha256:$(cat "$work/$l.diffid")
	diffids+=("$diffid")
	layer_descs+=("$(jq -cn --arg d "$digest" --argjson s "$size" \
		'{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $d, size: $s}')")
	read -r nf nd nl < <(awk '{ c[$1]++ } END { print c["f"] + 0, c["d"] + 0, c["l"] + 0 }' "$work/$l.sel")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$l" "$nf" "$nd" "$nl" "$(tr -d ' ' <"$work/$l.tarsize")" \
		"$size" "$diffid" "$digest" >>"$work/summary.tsv"
done

jq -cn --args '{
	architecture: "amd64", os: "linux",
	created: "2024-01-01T00:00:00Z",
	config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["/bin/sh"] },
	rootfs: { type: "layers", diff_ids: $ARGS.positional },
	history: [ $ARGS.positional[] | { created: "2024-01-01T00:00:00Z", created_by: "contrib/bench/mkimage.sh" } ]
}' "${diffids[@]}" >"$work/config.json"
read -r cdigest csize < <(blob "$work/config.json")

printf '%s\n' "${layer_descs[@]}" | jq -cs --arg d "$cdigest" --argjson s "$csize" '{
	schemaVersion: 2,
	mediaType: "application/vnd.oci.image.manifest.v1+json",
	config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: $d, size: $s },
	layers: .
}' >"$work/manifest.json"
read -r mdigest msize < <(blob "$work/manifest.json")

jq -cn --arg d "$mdigest" --argjson s "$msize" '{
	schemaVersion: 2,
	manifests: [ { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s,
		annotations: { "org.opencontainers.image.ref.name": "1" } } ]
}' >"$out.tmp/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$out.tmp/oci-layout"
printf 'config\t-\t-\t-\t%s\t%s\t-\t%s\n' "$csize" "$csize" "$cdigest" >>"$work/summary.tsv"
printf 'manifest\t-\t-\t-\t%s\t%s\t-\t%s\n' "$msize" "$msize" "$mdigest" >>"$work/summary.tsv"
mv "$work/summary.tsv" "$out.tmp/summary.tsv"
recipe >"$out.tmp/recipe.txt"
date -u +%Y-%m-%dT%H:%M:%SZ >"$out.tmp/done"
rm -rf "$out"
mv "$out.tmp" "$out"
note "built $out"
echo "$out"
