#!/usr/bin/env python3
"""A server that stops answering.

  --mode accept   accepts connections and never reads or answers them.
  --mode headers  reads each request, answers "200 OK" with the headers of
                  a registry (Content-Length: --length, default 1048576),
                  sends --after bytes of the body (default 0), then stalls.
Connections stay open until the client leaves or the server ends. --log
gets "connect" per connection and, in headers mode, the request line.
Prints the port; see fixture.py for --port-file, --parent, --lifetime.
"""
import os
import socket
import sys
import threading

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture  # noqa: E402


def handle(conn, args, log):
    conn.settimeout(None)
    try:
        if args.mode == "headers":
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            line = data.split(b"\r\n", 1)[0].decode("latin-1")
            log.write(f"request {line}")
            conn.sendall((
                "HTTP/1.1 200 OK\r\n"
                "Content-Type: application/octet-stream\r\n"
                "Docker-Distribution-API-Version: registry/2.0\r\n"
                f"Content-Length: {args.length}\r\n\r\n").encode() + b"\0" * args.after)
        fixture.STOP.wait()
    except OSError:
        pass
    finally:
        conn.close()


def main():
    p = fixture.common_args(__doc__)
    p.add_argument("--mode", choices=("accept", "headers"), default="accept")
    p.add_argument("--length", type=int, default=1 << 20)
    p.add_argument("--after", type=int, default=0)
    args = p.parse_args()
    log = fixture.Log(args.log)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    fixture.start_watchdog(args)
    fixture.announce(sock.getsockname()[1], args.port_file)
    while True:
        conn, _ = sock.accept()
        log.write("connect")
        threading.Thread(target=handle, args=(conn, args, log), daemon=True).start()


if __name__ == "__main__":
    main()
