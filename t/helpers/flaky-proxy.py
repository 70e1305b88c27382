#!/usr/bin/env python3
"""A registry proxy whose first answers fail.

The first --fail K requests (default 1) of each path (query string aside)
that matches --match (a Python regex, default: every path) get --status
(default 503, with a registry-style JSON error and, with --retry-after S,
a Retry-After header), or with --status 0 a connection closed without an
answer; later requests of that path are forwarded to --upstream.
--log gets one line per request (see cutting-proxy.py), "flaky" on those
that failed.
"""
import json
import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture  # noqa: E402


class Handler(fixture.ForwardingHandler):
    def intercept(self):
        a = self.server.args
        path = self.path.split("?", 1)[0]
        if not re.search(a.match, path):
            return False
        if fixture.count(self.server, path) > a.fail:
            return False
        if a.status == 0:
            self.cut()
            self.logline(0, 0, "flaky")
            return True
        body = json.dumps({"errors": [{"code": "UNAVAILABLE",
                                       "message": "flaky-proxy: try again later"}]}).encode()
        self.send_response_only(a.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        if a.retry_after is not None:
            self.send_header("Retry-After", str(a.retry_after))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.logline(a.status, len(body), "flaky")
        return True


def main():
    p = fixture.proxy_args(__doc__)
    p.add_argument("--fail", type=int, default=1, help="failed answers per path before forwarding")
    p.add_argument("--status", type=int, default=503, help="status of the failures (0: close)")
    p.add_argument("--match", default="", help="regex: only paths matching it fail")
    p.add_argument("--retry-after", type=int, help="Retry-After seconds on the failures")
    args = p.parse_args()
    fixture.serve(Handler, args)


if __name__ == "__main__":
    main()
