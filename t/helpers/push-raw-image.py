#!/usr/bin/env python3
"""push-raw-image.py: push a small, deliberately made (often broken) image
to a registry through the distribution API, bypassing every tool that would
check it.

usage: push-raw-image.py REGISTRY REPO:TAG KIND [CANARY]

KIND:
  ok          two gzip layers (a file, a dir, a symlink; then a whiteout)
  diffid      one valid gzip layer; the config's diff_id is another digest
  truncated   one gzip layer cut in the middle (its digest is of the cut bytes)
  garbage     one "gzip" layer of random bytes
  traversal   an entry ../../..CANARY... (path traversal) in layer 2
  absolute    an entry with the absolute path CANARY in layer 1
  symlink     `evil` -> dirname(CANARY), then `evil/<basename>` written through it
  hardlink    a hardlink to /etc/shadow, then one to CANARY
  zstd        two layers, the second tar+zstd (needs the zstd command)
  xlink       two layers, the second with a hardlink to a file of the first

Prints the manifest digest. The registry must allow anonymous pushes
(t/lib/registry.sh's plain registry does).
"""
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import urllib.request

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def tar_of(entries):
    """entries: (name, kind, extra) with kind file/dir/symlink/hardlink."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, extra in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime = 1700000000
            if kind == "file":
                data = extra.encode() if isinstance(extra, str) else extra
                ti.size = len(data)
                ti.mode = 0o644
                t.addfile(ti, io.BytesIO(data))
            elif kind == "dir":
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
                t.addfile(ti)
            elif kind == "symlink":
                ti.type = tarfile.SYMTYPE
                ti.linkname = extra
                ti.mode = 0o777
                t.addfile(ti)
            elif kind == "hardlink":
                ti.type = tarfile.LNKTYPE
                ti.linkname = extra
                t.addfile(ti)
    return buf.getvalue()


def gz(b):
    return gzip.compress(b, mtime=0)


def zst(b):
    return subprocess.run(["zstd", "-q", "-c"], input=b, stdout=subprocess.PIPE,
                          check=True).stdout


class Registry:
    def __init__(self, addr, repo):
        self.base = "http://%s/v2/%s" % (addr, repo)

    def req(self, method, url, data=None, headers=None):
        r = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        with urllib.request.urlopen(r, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()

    def blob(self, data):
        d = sha(data)
        _, h, _ = self.req("POST", self.base + "/blobs/uploads/")
        loc = h["Location"]
        if loc.startswith("/"):
            loc = self.base.split("/v2/")[0] + loc
        sep = "&" if "?" in loc else "?"
        self.req("PUT", loc + sep + "digest=" + d, data=data,
                 headers={"Content-Type": "application/octet-stream"})
        return d

    def manifest(self, tag, data, mt):
        self.req("PUT", self.base + "/manifests/" + tag, data=data,
                 headers={"Content-Type": mt})
        return sha(data)


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    addr, reftag, kind = sys.argv[1:4]
    canary = sys.argv[4] if len(sys.argv) > 4 else "/tmp/berth-canary"
    repo, _, tag = reftag.partition(":")
    tag = tag or "latest"
    base = [("etc", "dir", None), ("etc/hostname", "file", "raw\n"),
            ("bin", "dir", None), ("bin/sh.txt", "file", "not a shell\n"),
            ("link", "symlink", "etc/hostname")]
    layers = []  # (tar bytes, blob bytes, media type)
    fake_diff = None
    if kind == "ok":
        t1 = tar_of(base)
        t2 = tar_of([("etc", "dir", None), ("etc/.wh.hostname", "file", ""),
                     ("data", "dir", None), ("data/x", "file", "x\n")])
        layers = [(t1, gz(t1), MT_GZIP), (t2, gz(t2), MT_GZIP)]
    elif kind == "zstd":
        t1 = tar_of(base)
        t2 = tar_of([("data", "dir", None), ("data/z", "file", "zstd layer\n")])
        layers = [(t1, gz(t1), MT_GZIP), (t2, zst(t2), MT_ZSTD)]
    elif kind == "xlink":
        t1 = tar_of(base + [("shared", "dir", None), ("shared/data", "file", "linked\n")])
        t2 = tar_of([("shared", "dir", None), ("shared/link", "hardlink", "shared/data"),
                     ("new.txt", "file", "new\n")])
        layers = [(t1, gz(t1), MT_GZIP), (t2, gz(t2), MT_GZIP)]
    elif kind == "diffid":
        t1 = tar_of(base)
        layers = [(t1, gz(t1), MT_GZIP)]
        fake_diff = sha(b"not this layer")
    elif kind == "truncated":
        t1 = tar_of(base + [("big", "file", os.urandom(256 * 1024))])
        g = gz(t1)
        layers = [(t1, g[: len(g) // 2], MT_GZIP)]
    elif kind == "garbage":
        # a diff_id of its own: a chain unpacked already would be skipped
        t1 = tar_of(base + [("marker", "file", os.urandom(16))])
        layers = [(t1, os.urandom(4096), MT_GZIP)]
    elif kind == "traversal":
        t1 = tar_of(base)
        name = "../../../../../../../../../.." + canary
        t2 = tar_of([("ok.txt", "file", "fine\n"), (name, "file", "pwned\n")])
        layers = [(t1, gz(t1), MT_GZIP), (t2, gz(t2), MT_GZIP)]
    elif kind == "absolute":
        t1 = tar_of(base + [(canary, "file", "pwned\n")])
        layers = [(t1, gz(t1), MT_GZIP)]
    elif kind == "symlink":
        d, b = os.path.split(canary)
        t1 = tar_of(base + [("evil", "symlink", d), ("evil/" + b, "file", "pwned\n")])
        layers = [(t1, gz(t1), MT_GZIP)]
    elif kind == "hardlink":
        t1 = tar_of(base + [("shadow", "hardlink", "/etc/shadow"),
                            ("canary", "hardlink", canary)])
        layers = [(t1, gz(t1), MT_GZIP)]
    else:
        sys.exit("unknown kind " + kind)

    reg = Registry(addr, repo)
    diff_ids = [sha(t) for t, _, _ in layers]
    if fake_diff:
        diff_ids[0] = fake_diff
    config = json.dumps({
        "architecture": {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine,
                                                                    os.uname().machine),
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }, sort_keys=True).encode()
    cdig = reg.blob(config)
    descs = []
    for _, blob, mt in layers:
        descs.append({"mediaType": mt, "digest": reg.blob(blob), "size": len(blob)})
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": MT_MANIFEST,
        "config": {"mediaType": MT_CONFIG, "digest": cdig, "size": len(config)},
        "layers": descs,
    }, sort_keys=True).encode()
    print(reg.manifest(tag, manifest, MT_MANIFEST))


if __name__ == "__main__":
    main()
