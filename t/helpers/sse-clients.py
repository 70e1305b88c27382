#!/usr/bin/env python3
"""Open N Server-Sent-Events clients on berthd's unix socket at once.

Used by the events tests: each client sends GET PATH (with optional extra
headers), parses the chunked SSE stream, and records the event ids it gets.
Once every client has seen the stream start, READY is printed (and the file
given by --ready is created) so the test can publish; the program ends when
every client has received --expect events, or at --timeout (exit 1).

Output: one line per client: "<client> <n-events> <ids comma-separated> <end>"
where end is "open", "closed" (server ended the stream) or "error".
With --disconnect-after K, each client closes its socket after K events
(a client that goes away mid-stream).
"""
import argparse
import os
import selectors
import socket
import sys
import time


class Client:
    def __init__(self, idx, path, sock_path, headers):
        self.idx = idx
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(sock_path)
        req = f"GET {path} HTTP/1.1\r\nHost: berth\r\nAccept: text/event-stream\r\n"
        for h in headers:
            req += h + "\r\n"
        req += "\r\n"
        self.sock.sendall(req.encode())
        self.sock.setblocking(False)
        self.raw = b""
        self.body = b""
        self.headers_done = False
        self.status = None
        self.chunked = False
        self.started = False
        self.ids = []
        self.comments = []
        self.end = "open"

    def feed(self, data):
        self.raw += data
        if not self.headers_done:
            i = self.raw.find(b"\r\n\r\n")
            if i < 0:
                return
            head = self.raw[:i].decode("latin-1").split("\r\n")
            self.status = int(head[0].split()[1])
            self.chunked = any(h.lower().startswith("transfer-encoding:") and "chunked" in h.lower()
                               for h in head[1:])
            self.raw = self.raw[i + 4:]
            self.headers_done = True
        if self.chunked:
            while True:
                i = self.raw.find(b"\r\n")
                if i < 0:
                    return self.parse()
                size = int(self.raw[:i].split(b";")[0], 16)
                if len(self.raw) < i + 2 + size + 2:
                    return self.parse()
                self.body += self.raw[i + 2:i + 2 + size]
                self.raw = self.raw[i + 2 + size + 2:]
                if size == 0:
                    self.end = "closed"
                    return self.parse()
        else:
            self.body += self.raw
            self.raw = b""
            self.parse()

    def parse(self):
        while True:
            i = self.body.find(b"\n\n")
            if i < 0:
                return
            frame = self.body[:i].decode()
            self.body = self.body[i + 2:]
            self.started = True
            for line in frame.split("\n"):
                if line.startswith("id: "):
                    self.ids.append(line[4:])
                elif line.startswith(":"):
                    self.comments.append(line[1:].strip())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--path", default="/v1/events")
    ap.add_argument("-n", "--clients", type=int, default=1)
    ap.add_argument("--expect", type=int, default=1, help="events each client waits for")
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=20)
    ap.add_argument("--ready", help="file to create once every stream has started")
    ap.add_argument("--disconnect-after", type=int, default=0)
    ap.add_argument("--until-closed", action="store_true",
                    help="wait until the server ends every stream")
    ap.add_argument("--comments", action="store_true", help="print comment lines too")
    a = ap.parse_args()

    sel = selectors.DefaultSelector()
    clients = []
    for i in range(a.clients):
        c = Client(i, a.path, a.socket, a.header)
        clients.append(c)
        sel.register(c.sock, selectors.EVENT_READ, c)
    deadline = time.monotonic() + a.timeout
    ready = False
    live = set(range(a.clients))
    while live and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.05):
            c = key.data
            try:
                data = c.sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                data = None
                c.end = "error"
            if not data:
                if c.end == "open":
                    c.end = "closed" if data is not None else "error"
                sel.unregister(c.sock)
                c.sock.close()
                live.discard(c.idx)
                continue
            c.feed(data)
            if c.status is not None and c.status != 200:
                c.end = "status-%d" % c.status
            if a.disconnect_after and len(c.ids) >= a.disconnect_after:
                sel.unregister(c.sock)
                c.sock.close()
                c.end = "disconnected"
                live.discard(c.idx)
            elif c.end == "closed" or c.end.startswith("status-"):
                sel.unregister(c.sock)
                c.sock.close()
                live.discard(c.idx)
            elif not a.until_closed and len(c.ids) >= a.expect:
                sel.unregister(c.sock)
                c.sock.close()
                live.discard(c.idx)
        if not ready and all(c.started or c.end != "open" for c in clients):
            ready = True
            print("READY", flush=True)
            if a.ready:
                open(a.ready, "w").close()
    ok = True
    for c in clients:
        line = "%d %d %s %s" % (c.idx, len(c.ids), ",".join(c.ids) or "-", c.end)
        if a.comments:
            line += " comments=" + "|".join(c.comments)
        print(line)
        if a.until_closed:
            ok = ok and c.end == "closed"
        elif not a.disconnect_after:
            ok = ok and len(c.ids) >= a.expect
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
