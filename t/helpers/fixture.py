"""Shared code of the test servers in t/helpers (stdlib only).

Every server listens on 127.0.0.1 on a port the kernel picks, writes that
port to --port-file (atomically, once it listens) and to stdout, serves each
connection on its own thread, logs one line per request to --log, and ends
by itself: when the process --parent is gone (the test script) or after
--lifetime seconds, whichever comes first.

ForwardingHandler forwards every request to --upstream (a registry) over
HTTP/1.1 and streams the answer back; the proxies subclass it and change
what they forward through three hooks (intercept, body_plan, send_body).
"""
import argparse
import http.client
import http.server
import os
import re
import socket
import sys
import threading
import time

# not forwarded (Expect: the proxy answers 100-continue itself)
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
              "te", "trailer", "trailers", "transfer-encoding", "upgrade", "expect"}

BLOB_RE = re.compile(r"^/v2/(.+)/blobs/(sha256:[0-9a-f]{64})$")
MANIFEST_RE = re.compile(r"^/v2/(.+)/manifests/([^/]+)$")

STOP = threading.Event()


def common_args(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--port-file", help="write the listening port here")
    p.add_argument("--log", help="append one line per request here")
    p.add_argument("--parent", type=int, help="exit when this process is gone")
    p.add_argument("--lifetime", type=float, default=600, help="exit after this many seconds")
    return p


class Log:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()

    def write(self, line):
        if not self.path:
            return
        with self.lock:
            with open(self.path, "a") as f:
                f.write(line + "\n")


def watchdog(parent, lifetime):
    """Exit the process when the parent dies or the lifetime is over."""
    deadline = time.monotonic() + lifetime
    while time.monotonic() < deadline:
        if parent and not pid_alive(parent):
            break
        time.sleep(0.2)
    STOP.set()
    sys.stdout.flush()
    os._exit(0)


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def announce(port, port_file):
    if port_file:
        tmp = port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.rename(tmp, port_file)
    print(port, flush=True)


def start_watchdog(args):
    threading.Thread(target=watchdog, args=(args.parent, args.lifetime), daemon=True).start()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


def serve(handler, args, **attrs):
    """Run an HTTP server with handler until the watchdog ends the process."""
    server = Server(("127.0.0.1", 0), handler)
    server.args = args
    server.log = Log(args.log)
    server.counters = {}
    server.lock = threading.Lock()
    for k, v in attrs.items():
        setattr(server, k, v)
    start_watchdog(args)
    announce(server.server_address[1], args.port_file)
    server.serve_forever(poll_interval=0.2)


def count(server, key):
    """Increment and return the number of times key was seen (1 the first time)."""
    with server.lock:
        server.counters[key] = server.counters.get(key, 0) + 1
        return server.counters[key]


def parse_size(value, total):
    """'N' bytes or 'P%' of total."""
    if value.endswith("%"):
        return total * int(value[:-1]) // 100
    return int(value)


class ForwardingHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "berth-test-proxy"

    def log_message(self, fmt, *a):
        pass

    def do_GET(self):
        self.forward()

    do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = do_GET

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else None

    # Hooks for the proxies. intercept: answer without the upstream (return
    # True when done). body_plan: given the upstream response, return
    # (headers to send, plan) or None for a plain copy. send_body: write
    # the body following plan.
    def intercept(self):
        return False

    def body_plan(self, resp, headers):
        return None

    def send_body(self, resp, plan, length):
        return self.copy(resp, length)

    def logline(self, status, sent, note=""):
        rng = self.headers.get("Range") or "-"
        self.server.log.write(f"{self.command} {self.path} range={rng} status={status} sent={sent}"
                              + (f" {note}" if note else ""))

    def forward(self):
        self.note = ""
        self.logged = False
        body = self.read_body()
        if self.intercept():
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        if body is not None:
            headers["Content-Length"] = str(len(body))
        host, port = self.server.args.upstream.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        try:
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
        except OSError as e:
            self.send_error(502, f"upstream: {e}")
            self.logline(502, 0, "upstream-error")
            conn.close()
            return
        out = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
        length = resp.getheader("Content-Length")
        no_body = self.command == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200
        if length is None and not no_body:
            # chunked or read-to-close upstream: buffer it (small: errors, /v2/)
            data = resp.read()
            resp = BufferedResponse(resp, data)
            length = str(len(data))
            out.append(("Content-Length", length))
        plan = None if no_body else self.body_plan(resp, out)
        if plan is not None:
            out, plan = plan
        self.status = resp.status
        self.send_response_only(resp.status, resp.reason)
        for k, v in out:
            self.send_header(k, v)
        self.end_headers()
        sent = 0
        try:
            if not no_body:
                sent = self.send_body(resp, plan, int(length))
        except OSError:
            self.close_connection = True
        finally:
            conn.close()
        if not self.logged:
            self.logline(resp.status, sent, self.note)

    def copy(self, resp, n):
        """Copy n bytes of resp's body to the client; returns bytes sent."""
        sent = 0
        while sent < n:
            chunk = resp.read(min(65536, n - sent))
            if not chunk:
                break
            self.wfile.write(chunk)
            sent += len(chunk)
        self.wfile.flush()
        return sent

    def cut(self):
        """Close the client connection at once (mid-body)."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def stall(self, seconds, sent):
        """Send nothing more for seconds (or until the process ends); the
        request is logged first."""
        self.logline(self.status, sent, self.note)
        self.logged = True
        self.wfile.flush()
        STOP.wait(seconds)
        self.cut()


class BufferedResponse:
    """An http.client response whose body was already read."""

    def __init__(self, resp, data):
        self.status, self.reason = resp.status, resp.reason
        self._resp = resp
        self._data = data
        self._pos = 0

    def getheader(self, name, default=None):
        return self._resp.getheader(name, default)

    def read(self, n=-1):
        if n < 0:
            n = len(self._data) - self._pos
        out = self._data[self._pos:self._pos + n]
        self._pos += len(out)
        return out


def proxy_args(description):
    p = common_args(description)
    p.add_argument("--upstream", required=True, help="HOST:PORT of the registry")
    return p
