#!/usr/bin/env python3
"""mklayer.py KIND OUT.tar [ARG]: build the layer tars of t/t3101-diff-apply.sh.

KIND is one of the functions below (dashes for underscores). ARG is a path
some hostile layers aim at (a canary file outside the target directory).
"""
import io
import struct
import sys
import tarfile


def add(t, name, typ=tarfile.REGTYPE, data=b"", mode=0o644, uid=0, gid=0,
        mtime=1600000000, link="", pax=None, dev=(0, 0)):
    ti = tarfile.TarInfo(name)
    ti.type = typ
    ti.mode = mode
    ti.uid, ti.gid = uid, gid
    ti.uname = ti.gname = ""
    ti.mtime = mtime
    ti.linkname = link
    ti.devmajor, ti.devminor = dev
    if pax:
        ti.pax_headers = pax
    if typ in (tarfile.REGTYPE, tarfile.LNKTYPE) and data:
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
    else:
        t.addfile(ti)


# security.capability: vfs_cap_data v2, effective, cap_net_bind_service
CAP = struct.pack("<IIIII", 0x02000001, 1 << 10, 0, 0, 0).decode("latin-1")


def full(t, _):
    add(t, "./", tarfile.DIRTYPE, mode=0o755, mtime=1500000000)
    add(t, "etc/", tarfile.DIRTYPE, mode=0o755, mtime=1500000001)
    add(t, "etc/hosts", data=b"127.0.0.1 localhost\n", mode=0o644, mtime=1500000002)
    add(t, "etc/secret", data=b"s3cret\n", mode=0o600, uid=1000, gid=1000,
        pax={"mtime": "1500000003.123456789"})
    add(t, "bin/", tarfile.DIRTYPE, mode=0o755, mtime=1500000004)
    add(t, "bin/tool", data=b"#!/bin/sh\necho tool\n", mode=0o755, mtime=1500000005)
    add(t, "bin/su", data=b"setuid\n", mode=0o4755, mtime=1500000006)
    add(t, "bin/wall", data=b"setgid\n", mode=0o2755, gid=5, mtime=1500000007)
    add(t, "bin/ping", data=b"cap\n", mode=0o755, mtime=1500000008,
        pax={"SCHILY.xattr.security.capability": CAP,
             "SCHILY.xattr.user.comment": "pings"})
    add(t, "bin/tool-link", tarfile.LNKTYPE, link="bin/tool", mtime=1500000005)
    add(t, "bin/sh", tarfile.SYMTYPE, link="/bin/busybox", mode=0o777, mtime=1500000009)
    add(t, "tmp/", tarfile.DIRTYPE, mode=0o1777, mtime=1500000010)
    add(t, "home/", tarfile.DIRTYPE, mode=0o755, mtime=1500000019)
    add(t, "home/nobody/", tarfile.DIRTYPE, mode=0o700, uid=65534, gid=65534,
        mtime=1500000011)
    add(t, "home/nobody/big-id", data=b"x" * 70000, mode=0o640, uid=100000, gid=100001,
        mtime=1500000012)
    add(t, "dev/", tarfile.DIRTYPE, mode=0o755, mtime=1500000013)
    add(t, "dev/null", tarfile.CHRTYPE, mode=0o666, dev=(1, 3), mtime=1500000014)
    add(t, "dev/loop9", tarfile.BLKTYPE, mode=0o660, gid=6, dev=(7, 9), mtime=1500000015)
    add(t, "run/", tarfile.DIRTYPE, mode=0o755, mtime=1500000016)
    add(t, "run/fifo", tarfile.FIFOTYPE, mode=0o620, uid=2, gid=3, mtime=1500000017)
    # overlay xattrs come from whiteouts only: this one is dropped
    add(t, "etc/planted", data=b"x", pax={"SCHILY.xattr.trusted.overlay.redirect": "/x",
                                         "SCHILY.xattr.user.kept": "yes"},
        mtime=1500000018)


def base(t, _):
    """A parent layer for the native (delete) whiteout mode."""
    for d in ("gonedir/", "gonedir/b/", "opq/", "opq/old2/", "opq2/"):
        add(t, d, tarfile.DIRTYPE, mode=0o755)
    for f in ("keep.txt", "gone.txt", "gonedir/a", "gonedir/b/c", "opq/old1",
              "opq/old2/x", "opq2/old", "opq/replaced"):
        add(t, f, data=b"base " + f.encode() + b"\n")


def whiteouts(t, _):
    add(t, ".wh.gone.txt")
    add(t, ".wh.gonedir")
    add(t, "opq/", tarfile.DIRTYPE, mode=0o750, mtime=1500000020)
    add(t, "opq/new_before", data=b"before\n")
    add(t, "opq/replaced", data=b"new\n")
    add(t, "opq/.wh..wh..opq")
    add(t, "opq/new_after", data=b"after\n")
    add(t, "fresh/.wh..wh..opq")
    add(t, "deep/er/.wh.ghost")
    add(t, "x/.wh..wh.plnk/")


def hardlink_parent(t, _):
    add(t, "keep-link", tarfile.LNKTYPE, link="keep.txt")


def hardlink_elsewhere(t, _):
    add(t, "b", tarfile.LNKTYPE, link="a-from-a-parent-layer")


def dotdot(t, _):
    add(t, "ok", data=b"fine\n")
    add(t, "../canary", data=b"pwned\n")


def absolute(t, canary):
    add(t, canary, data=b"pwned\n")


def symlink_write(t, canary):
    add(t, "evil", tarfile.SYMTYPE, link=canary.rsplit("/", 1)[0])
    add(t, "evil/canary", data=b"pwned\n")


def symlink_rel_write(t, _):
    add(t, "d/", tarfile.DIRTYPE)
    add(t, "d/up", tarfile.SYMTYPE, link="../..")
    add(t, "d/up/canary", data=b"pwned\n")


def hardlink_shadow(t, _):
    add(t, "shadow", tarfile.LNKTYPE, link="/etc/shadow")


def hardlink_shadow_rel(t, _):
    add(t, "shadow", tarfile.LNKTYPE, link="../../../../../../../../etc/shadow")


def hardlink_outside(t, canary):
    add(t, "c", tarfile.LNKTYPE, link=canary)


def hardlink_device_data(t, _):
    """A hardlink that carries data (pax allows it), to a device node."""
    add(t, "null", tarfile.CHRTYPE, mode=0o666, dev=(1, 3))
    add(t, "through", data=b"pwned\n", pax={"comment": "a pax entry keeps a hardlink's data"})
    t.fileobj.flush()
    patch_to_hardlink(t.name, "through", "null")


def whiteout_through_symlink(t, canary):
    add(t, "evil", tarfile.SYMTYPE, link=canary.rsplit("/", 1)[0])
    add(t, "evil/.wh.canary")


def symlink_swap(t, _):
    """A directory seen, then replaced by a symlink, then written through."""
    add(t, "real/", tarfile.DIRTYPE)
    add(t, "a/", tarfile.DIRTYPE)
    add(t, "a/b/", tarfile.DIRTYPE)
    add(t, "a/b/first", data=b"ok\n")
    add(t, "a", tarfile.SYMTYPE, link="real")
    add(t, "a/b/c", data=b"pwned\n")


def hardlink_via_symlink(t, _):
    add(t, "real/", tarfile.DIRTYPE)
    add(t, "real/f", data=b"f\n")
    add(t, "s", tarfile.SYMTYPE, link="real")
    add(t, "h", tarfile.LNKTYPE, link="s/f")


def dir_over_symlink(t, _):
    """A directory entry where a symlink is: the symlink goes (as containerd)."""
    add(t, "real/", tarfile.DIRTYPE, mode=0o755, mtime=1500000030)
    add(t, "d", tarfile.SYMTYPE, link="real")
    add(t, "d/", tarfile.DIRTYPE, mode=0o700, mtime=1500000031)
    add(t, "d/inside", data=b"in\n")


def bad_whiteout(t, _):
    add(t, "dir/.wh..", data=b"")


def big(t, _):
    import random
    rnd = random.Random(3101)
    for i in range(4):
        add(t, "blob%d" % i, data=rnd.randbytes(3 << 20))


def patch_to_hardlink(path, name, link):
    """Turn the regular file header `name` of the tar at path into a hardlink
    to `link` that keeps its size and data (tarfile cannot write those)."""
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        for off in range(0, len(data), 512):
            h = data[off:off + 512]
            if h[:100].rstrip(b"\0") == name.encode() and h[156:157] == b"0":
                h[156:157] = b"1"
                h[157:257] = link.encode().ljust(100, b"\0")
                h[148:156] = b" " * 8
                h[148:156] = b"%06o\0 " % sum(h)
                data[off:off + 512] = h
                f.seek(0)
                f.write(data)
                return
    raise SystemExit("no header " + name)


def main():
    kind, out = sys.argv[1].replace("-", "_"), sys.argv[2]
    arg = sys.argv[3] if len(sys.argv) > 3 else ""
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
        globals()[kind](t, arg)


main()
