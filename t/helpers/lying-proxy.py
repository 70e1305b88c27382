#!/usr/bin/env python3
"""A registry proxy that serves wrong bytes.

Forwards everything to --upstream, except, by --mode:
  flip      GETs of a blob (of --digest when given, else of every blob):
            one byte of the body is inverted (at --offset of the blob,
            default its middle; a Range answer is corrupted only when it
            covers that offset). Same length, wrong digest.
  extra     GETs of a blob: --bytes more bytes (default 16) are appended
            and Content-Length says so (more than the descriptor's size).
  overrun   GETs of a blob: Content-Length is kept, --bytes more bytes
            follow the body, then the connection is closed.
  manifest  GETs of a manifest (of --ref, a tag or digest, when given):
            a newline is appended to the body (still valid JSON), while
            Docker-Content-Digest still names the original.
--count K limits the lies to the first K matching GETs (default: all).
--log gets one line per request (see cutting-proxy.py) with "lied=MODE".
"""
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture  # noqa: E402


class Handler(fixture.ForwardingHandler):
    def body_plan(self, resp, headers):
        a = self.server.args
        path = self.path.split("?", 1)[0]
        if self.command != "GET" or resp.status not in (200, 206):
            return None
        if a.mode == "manifest":
            m = fixture.MANIFEST_RE.match(path)
            if not m or (a.ref and m.group(2) != a.ref):
                return None
        else:
            m = fixture.BLOB_RE.match(path)
            if not m or (a.digest and m.group(2) != a.digest):
                return None
        if a.count and fixture.count(self.server, "lie") > a.count:
            return None
        length = int(resp.getheader("Content-Length"))
        if a.mode == "extra":
            headers = [(k, str(length + a.bytes)) if k.lower() == "content-length" else (k, v)
                       for k, v in headers]
        elif a.mode == "manifest":
            headers = [(k, str(length + 1)) if k.lower() == "content-length" else (k, v)
                       for k, v in headers]
        elif a.mode == "flip":
            start, total = 0, length
            cr = resp.getheader("Content-Range")
            if resp.status == 206 and cr:
                # bytes START-END/TOTAL
                rng, _, tot = cr.split(" ", 1)[1].partition("/")
                start = int(rng.split("-")[0])
                total = int(tot) if tot.isdigit() else start + length
            at = a.offset if a.offset is not None else total // 2
            if not start <= at < start + length:
                return None
            return headers, at - start
        return headers, True

    def send_body(self, resp, plan, length):
        a = self.server.args
        if plan is None:
            return self.copy(resp, length)
        self.note = f"lied={a.mode}"
        if a.mode == "flip":
            sent = self.copy(resp, plan)
            b = resp.read(1)
            if b:
                self.wfile.write(bytes([b[0] ^ 0xFF]))
                sent += 1
            return sent + self.copy(resp, length - sent)
        if a.mode == "manifest":
            sent = self.copy(resp, length)
            self.wfile.write(b"\n")
            return sent + 1
        sent = self.copy(resp, length)
        self.wfile.write(b"X" * a.bytes)
        sent += a.bytes
        if a.mode == "overrun":
            self.cut()
        return sent


def main():
    p = fixture.proxy_args(__doc__)
    p.add_argument("--mode", choices=("flip", "extra", "overrun", "manifest"), default="flip")
    p.add_argument("--digest", help="only lie about this blob (sha256:...)")
    p.add_argument("--ref", help="--mode manifest: only lie about this tag or digest")
    p.add_argument("--offset", type=int, help="--mode flip: the blob offset to corrupt")
    p.add_argument("--bytes", type=int, default=16, help="--mode extra/overrun: bytes added")
    p.add_argument("--count", type=int, default=0, help="lie to the first K GETs only (0: all)")
    args = p.parse_args()
    fixture.serve(Handler, args)


if __name__ == "__main__":
    main()
