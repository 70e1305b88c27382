#!/usr/bin/env python3
"""tree.py DIR: one line per path under DIR (sorted), for test_cmp:
PATH TYPE MODE UID:GID mtime=S[.NS] [size=N sha=12hex] [-> TARGET] [dev=MAJ,MIN]
[links=N] [xattr NAME=VALUE]... Values of xattrs print as Python bytes literals.
"""
import hashlib
import os
import stat
import sys

root = sys.argv[1]
lines = []
for d, dirs, files in os.walk(root):
    for name in dirs + files:
        p = os.path.join(d, name)
        st = os.lstat(p)
        rel = os.path.relpath(p, root)
        m = st.st_mode
        kind = {stat.S_IFREG: "file", stat.S_IFDIR: "dir", stat.S_IFLNK: "link",
                stat.S_IFCHR: "char", stat.S_IFBLK: "block", stat.S_IFIFO: "fifo"}.get(
                    stat.S_IFMT(m), "other")
        ns = st.st_mtime_ns
        mt = "%d" % (ns // 10**9) + (".%09d" % (ns % 10**9) if ns % 10**9 else "")
        f = [rel, kind, "%04o" % stat.S_IMODE(m), "%d:%d" % (st.st_uid, st.st_gid),
             "mtime=" + mt]
        if kind == "file":
            with open(p, "rb") as fh:
                f.append("size=%d sha=%s" % (st.st_size,
                                             hashlib.sha256(fh.read()).hexdigest()[:12]))
            if st.st_nlink > 1:
                f.append("links=%d" % st.st_nlink)
        if kind == "link":
            f.append("-> " + os.readlink(p))
        if kind in ("char", "block"):
            f.append("dev=%d,%d" % (os.major(st.st_rdev), os.minor(st.st_rdev)))
        for x in sorted(os.listxattr(p, follow_symlinks=False)):
            f.append("xattr %s=%r" % (x, os.getxattr(p, x, follow_symlinks=False)))
        lines.append(" ".join(f))
for line in sorted(lines):
    print(line)
