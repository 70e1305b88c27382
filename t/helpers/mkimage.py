#!/usr/bin/env python3
"""Build the pieces of the test images that umoci cannot make by itself.

Used by t/lib/registry.sh; stdlib only. Every archive is deterministic
(fixed mtime, numeric owners, sorted entries), so the same busybox binary
always gives the same layer digests.

  mkimage.py layers BUSYBOX OUTDIR
      OUTDIR/layer1.tar: a busybox rootfs (static /bin/busybox, its applet
      symlinks from `busybox --list-full`, /etc/passwd, /etc/group, files
      that layer 2 hides); OUTDIR/layer2.tar: a setuid file, a symlink, a
      hardlink, an empty dir, a file owned by 1000:1000, a whiteout
      (etc/.wh.motd) and an opaque dir (opt/old/.wh..wh..opq).

  mkimage.py big OUT.tar MB
      one file, big/random.bin, of MB MiB of pseudo-random bytes (the same
      bytes every time: a seeded random.Random), for transfer-cut tests.

  mkimage.py mediatype LAYOUT
      adds "mediaType" to every tagged image manifest of the OCI layout
      LAYOUT (umoci writes none), updating index.json.

  mkimage.py index LAYOUT TAG NEWTAG
      turns the linux/amd64 manifest tagged TAG in the OCI layout LAYOUT
      into a two-platform index tagged NEWTAG: linux/amd64 (TAG's own
      manifest, whose config must carry Env IMAGE_PLATFORM=linux/amd64) and
      linux/arm64/v8 (the same layers, a config saying arm64/v8 with
      IMAGE_PLATFORM=linux/arm64/v8). Prints the index digest.
"""
import hashlib
import io
import json
import os
import random
import struct
import subprocess
import sys
import tarfile

MTIME = 1704067200  # 2024-01-01T00:00:00Z
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"

PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
"""
GROUP = """root:x:0:
daemon:x:1:
user:x:1000:
nogroup:x:65534:
"""


def is_static_elf(path):
    """True when the ELF file at path has no PT_INTERP (no dynamic loader)."""
    with open(path, "rb") as f:
        ident = f.read(16)
        if ident[:4] != b"\x7fELF" or ident[4] != 2:
            return False
        end = "<" if ident[5] == 1 else ">"
        f.seek(0x20)
        (phoff,) = struct.unpack(end + "Q", f.read(8))
        f.seek(0x36)
        phentsize, phnum = struct.unpack(end + "HH", f.read(4))
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            (ptype,) = struct.unpack(end + "I", f.read(4))
            if ptype == 3:
                return False
    return True


class Layer:
    """Entries of one layer tar, written sorted by name."""

    def __init__(self):
        self.entries = {}

    def _info(self, name, kind, mode, uid=0, gid=0):
        ti = tarfile.TarInfo(name)
        ti.type = kind
        ti.mode = mode
        ti.uid, ti.gid = uid, gid
        ti.uname = ti.gname = ""
        ti.mtime = MTIME
        return ti

    def dir(self, name, mode=0o755, uid=0, gid=0):
        self.entries[name] = (self._info(name, tarfile.DIRTYPE, mode, uid, gid), None)

    def file(self, name, data, mode=0o644, uid=0, gid=0):
        if isinstance(data, str):
            data = data.encode()
        ti = self._info(name, tarfile.REGTYPE, mode, uid, gid)
        ti.size = len(data)
        self.entries[name] = (ti, data)

    def bigfile(self, name, size, chunks, mode=0o644):
        ti = self._info(name, tarfile.REGTYPE, mode)
        ti.size = size
        self.entries[name] = (ti, chunks)

    def symlink(self, name, target):
        ti = self._info(name, tarfile.SYMTYPE, 0o777)
        ti.linkname = target
        self.entries[name] = (ti, None)

    def hardlink(self, name, target):
        ti = self._info(name, tarfile.LNKTYPE, 0o644)
        ti.linkname = target
        self.entries[name] = (ti, None)

    def parents(self):
        """Add every missing parent directory (0755, root)."""
        for name in list(self.entries):
            parts = name.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in self.entries:
                    self.dir(d)

    def write(self, path):
        self.parents()
        with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
            # parents before children; hardlinks after their targets
            names = sorted(self.entries, key=lambda n: (self.entries[n][0].type == tarfile.LNKTYPE, n))
            for name in names:
                ti, data = self.entries[name]
                if data is None:
                    tar.addfile(ti)
                elif isinstance(data, bytes):
                    tar.addfile(ti, io.BytesIO(data))
                else:
                    tar.addfile(ti, ChunkReader(data))


class ChunkReader(io.RawIOBase):
    """A file-like object over an iterator of byte chunks."""

    def __init__(self, chunks):
        self.chunks = iter(chunks)
        self.buf = b""

    def readable(self):
        return True

    def read(self, n=-1):
        while n < 0 or len(self.buf) < n:
            try:
                self.buf += next(self.chunks)
            except StopIteration:
                break
        if n < 0:
            out, self.buf = self.buf, b""
        else:
            out, self.buf = self.buf[:n], self.buf[n:]
        return out


def layers(busybox, outdir):
    if not is_static_elf(busybox):
        sys.exit(f"mkimage: {busybox} is not a static ELF binary (install busybox-static)")
    applets = subprocess.run([busybox, "--list-full"], check=True,
                             capture_output=True, text=True).stdout.split()
    with open(busybox, "rb") as f:
        binary = f.read()

    l1 = Layer()
    for d, mode in (("bin", 0o755), ("dev", 0o755), ("etc", 0o755), ("home", 0o755),
                    ("proc", 0o555), ("root", 0o700), ("sys", 0o555), ("tmp", 0o1777),
                    ("usr", 0o755), ("usr/bin", 0o755), ("usr/sbin", 0o755),
                    ("sbin", 0o755), ("var", 0o755), ("opt", 0o755), ("opt/old", 0o755)):
        l1.dir(d, mode)
    l1.dir("home/user", 0o755, 1000, 1000)
    l1.file("bin/busybox", binary, 0o755)
    for a in applets:
        if a != "bin/busybox":
            l1.symlink(a, "/bin/busybox")
    l1.file("etc/passwd", PASSWD)
    l1.file("etc/group", GROUP)
    l1.file("etc/hostname", "busybox\n")
    l1.file("etc/motd", "layer 1 motd: layer 2 whites this file out\n")
    l1.file("opt/old/a", "layer 1 a: hidden by layer 2's opaque opt/old\n")
    l1.file("opt/old/b", "layer 1 b: hidden by layer 2's opaque opt/old\n")
    l1.write(os.path.join(outdir, "layer1.tar"))

    l2 = Layer()
    l2.dir("etc")
    l2.file("etc/.wh.motd", b"")
    l2.dir("opt")
    l2.dir("opt/old")
    l2.file("opt/old/.wh..wh..opq", b"")
    l2.file("opt/old/c", "layer 2 c: the only file of opt/old\n")
    l2.file("usr/local/bin/setuid-tool", "#!/bin/sh\nid\n", 0o4755)
    l2.file("usr/share/berth/hello.txt", "hello from layer 2\n")
    l2.symlink("usr/share/berth/hello.link", "hello.txt")
    l2.hardlink("usr/share/berth/hello.hard", "usr/share/berth/hello.txt")
    l2.dir("var/empty", 0o755)
    l2.file("home/user/owned.txt", "owned by 1000:1000, mode 0640\n", 0o640, 1000, 1000)
    l2.dir("home")
    l2.dir("home/user", 0o755, 1000, 1000)
    l2.write(os.path.join(outdir, "layer2.tar"))


def prng(size):
    """size pseudo-random bytes, the same every time, in 1 MiB chunks."""
    rng = random.Random(20240101)
    left = size
    while left > 0:
        n = min(left, 1 << 20)
        left -= n
        yield rng.randbytes(n)


def big(out, mb):
    size = int(mb) << 20
    layer = Layer()
    layer.dir("big")
    layer.bigfile("big/random.bin", size, prng(size))
    layer.write(out)


def blob_path(layout, digest):
    algo, hexd = digest.split(":", 1)
    return os.path.join(layout, "blobs", algo, hexd)


def put_blob(layout, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = blob_path(layout, digest)
    if not os.path.exists(path):
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, path)
    return digest, len(data)


def canonical(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def mediatype(layout):
    """Give every manifest tagged in LAYOUT a mediaType field (umoci
    writes none; registries' manifests have one)."""
    path = os.path.join(layout, "index.json")
    with open(path) as f:
        top = json.load(f)
    for desc in top["manifests"]:
        if desc["mediaType"] != MT_MANIFEST:
            continue
        with open(blob_path(layout, desc["digest"]), "rb") as f:
            manifest = json.load(f)
        if "mediaType" in manifest:
            continue
        manifest = {"schemaVersion": manifest.pop("schemaVersion"), "mediaType": MT_MANIFEST,
                    **manifest}
        desc["digest"], desc["size"] = put_blob(layout, json.dumps(manifest).encode())
    with open(path + ".tmp", "w") as f:
        json.dump(top, f)
    os.rename(path + ".tmp", path)


def index(layout, tag, newtag):
    with open(os.path.join(layout, "index.json")) as f:
        top = json.load(f)
    ref = "org.opencontainers.image.ref.name"
    desc = next(d for d in top["manifests"] if d.get("annotations", {}).get(ref) == tag)
    with open(blob_path(layout, desc["digest"]), "rb") as f:
        manifest = json.load(f)
    with open(blob_path(layout, manifest["config"]["digest"]), "rb") as f:
        config = json.load(f)
    if config.get("architecture") != "amd64":
        sys.exit(f"mkimage: {tag} is not linux/amd64")

    arm = dict(config)
    arm["architecture"] = "arm64"
    arm["variant"] = "v8"
    arm["config"] = dict(config.get("config", {}))
    arm["config"]["Env"] = [e for e in arm["config"].get("Env", [])
                            if not e.startswith("IMAGE_PLATFORM=")] + ["IMAGE_PLATFORM=linux/arm64/v8"]
    cdigest, csize = put_blob(layout, canonical(arm))
    arm_manifest = dict(manifest)
    arm_manifest["config"] = dict(manifest["config"], digest=cdigest, size=csize)
    mdigest, msize = put_blob(layout, canonical(arm_manifest))

    idx = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": MT_MANIFEST, "digest": desc["digest"], "size": desc["size"],
             "platform": {"architecture": "amd64", "os": "linux"}},
            {"mediaType": MT_MANIFEST, "digest": mdigest, "size": msize,
             "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
        ],
    }
    idigest, isize = put_blob(layout, canonical(idx))
    top["manifests"] = [d for d in top["manifests"]
                        if d.get("annotations", {}).get(ref) != newtag]
    top["manifests"].append({
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "digest": idigest, "size": isize, "annotations": {ref: newtag}})
    tmp = os.path.join(layout, "index.json.tmp")
    with open(tmp, "w") as f:
        json.dump(top, f)
    os.rename(tmp, os.path.join(layout, "index.json"))
    print(idigest)


def main(argv):
    if len(argv) == 4 and argv[1] == "layers":
        layers(argv[2], argv[3])
    elif len(argv) == 4 and argv[1] == "big":
        big(argv[2], argv[3])
    elif len(argv) == 3 and argv[1] == "mediatype":
        mediatype(argv[2])
    elif len(argv) == 5 and argv[1] == "index":
        index(argv[2], argv[3], argv[4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
