#!/usr/bin/env python3
"""A registry proxy that cuts (or stalls) blob downloads part way.

Forwards everything to --upstream. The first --count GETs of a blob (only
of --digest when given) that answer 200 or 206 get their full headers, then
--after bytes of the body (N bytes or P% of the body; default 50%), then:
  --mode cut    the connection is closed (the client sees a short body)
  --mode stall  nothing more is sent for --stall seconds (default: until
                the proxy ends), then the connection is closed.
Later GETs (a resumed download with Range: bytes=N-) are forwarded intact.

--log gets one line per request:
  GET /v2/NAME/blobs/sha256:... range=bytes=N- status=206 sent=M [cut=K]
("range=-" without a Range header). Prints the port; see fixture.py for
--port-file, --parent, --lifetime.
"""
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture  # noqa: E402


class Handler(fixture.ForwardingHandler):
    def body_plan(self, resp, headers):
        a = self.server.args
        m = fixture.BLOB_RE.match(self.path.split("?", 1)[0])
        if self.command != "GET" or not m or resp.status not in (200, 206):
            return None
        if a.digest and m.group(2) != a.digest:
            return None
        if fixture.count(self.server, "cut") > a.count:
            return None
        return headers, True

    def send_body(self, resp, plan, length):
        if not plan:
            return self.copy(resp, length)
        a = self.server.args
        n = min(fixture.parse_size(a.after, length), max(length - 1, 0))
        sent = self.copy(resp, n)
        self.note = f"{a.mode}={sent}"
        if a.mode == "stall":
            self.stall(a.stall if a.stall is not None else a.lifetime, sent)
        else:
            self.cut()
        return sent


def main():
    p = fixture.proxy_args(__doc__)
    p.add_argument("--after", default="50%", help="bytes (N) or share (P%%) of the body sent before the cut")
    p.add_argument("--digest", help="only cut this blob (sha256:...)")
    p.add_argument("--count", type=int, default=1, help="how many blob GETs to cut (default 1)")
    p.add_argument("--mode", choices=("cut", "stall"), default="cut")
    p.add_argument("--stall", type=float, help="seconds a stalled transfer waits before the close")
    args = p.parse_args()
    fixture.serve(Handler, args)


if __name__ == "__main__":
    main()
