#!/usr/bin/env python3
"""A stand-in session workspace for tests/it/gate.sh and tests/browser/gate.mjs (python3
standard library only).

  standin_workspace.py serve PORT LOG [PORT_FILE]
      HTTP on 127.0.0.1:PORT (0: the kernel picks one). With PORT_FILE, the bound port is
      written there (a temporary file renamed over it) once the socket listens. GET / answers an HTML page with the title "standin workspace";
      GET /echo answers JSON {"path", "cookie"} with the Cookie header it received;
      GET /ws with a WebSocket upgrade (RFC 6455) echoes each text message as "echo:<text>".
      Every request is appended to LOG as one line "METHOD PATH", so that a test can show
      that a refused request never reached the workspace.

  standin_workspace.py ws-client URL [COOKIE]
      Opens a WebSocket to URL (wss://HOST/PATH; the TCP connection goes to
      $GATE_CONNECT=ADDR:PORT when set, TLS without certificate checks, SNI and Host are
      HOST), sends "ping" and prints "101 echo:ping" on success, or the HTTP status line's
      code when the upgrade is refused. Exits 0 either way; 1 on a protocol error.
"""
import base64
import hashlib
import json
import os
import socket
import ssl
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
LOCK = threading.Lock()


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed")
        buf += chunk
    return buf


def read_frame(sock):
    """One frame: (opcode, payload); unmasks client frames."""
    b0, b1 = read_exact(sock, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", read_exact(sock, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", read_exact(sock, 8))[0]
    mask = read_exact(sock, 4) if b1 & 0x80 else None
    data = read_exact(sock, n)
    if mask:
        data = bytes(c ^ mask[i % 4] for i, c in enumerate(data))
    return b0 & 0x0F, data


def frame(opcode, data, masked):
    head = bytes([0x80 | opcode])
    n = len(data)
    mbit = 0x80 if masked else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack("!Q", n)
    if not masked:
        return head + data
    mask = os.urandom(4)
    return head + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(data))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    log_path = None

    def log_message(self, fmt, *args):
        pass

    def record(self):
        with LOCK, open(self.log_path, "a") as f:
            f.write(f"{self.command} {self.path}\n")

    def send_body(self, status, ctype, body):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.record()
        if self.path == "/ws" and self.headers.get("Upgrade", "").lower() == "websocket":
            return self.websocket()
        if self.path == "/echo":
            body = json.dumps({"path": self.path, "cookie": self.headers.get("Cookie", "")})
            return self.send_body(200, "application/json", body.encode())
        if self.path == "/":
            page = ("<!doctype html><title>standin workspace</title>"
                    "<h1 id=ws>standin workspace</h1>")
            return self.send_body(200, "text/html; charset=utf-8", page.encode())
        if self.path == "/favicon.ico":
            return self.send_body(204, "image/x-icon", b"")
        self.send_body(404, "text/plain", b"not found\n")

    def websocket(self):
        key = self.headers.get("Sec-WebSocket-Key", "")
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        sock = self.connection
        try:
            while True:
                op, data = read_frame(sock)
                if op == 8:  # close
                    sock.sendall(frame(8, b"", False))
                    break
                if op == 1:
                    sock.sendall(frame(1, b"echo:" + data, False))
        except (EOFError, OSError):
            pass
        self.close_connection = True


def serve(port, log, port_file=None):
    Handler.log_path = log
    open(log, "a").close()
    srv = ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
    srv.daemon_threads = True
    if port_file:
        with open(port_file + ".tmp", "w") as f:
            f.write("%d\n" % srv.server_address[1])
        os.rename(port_file + ".tmp", port_file)
    srv.serve_forever()


def ws_client(url, cookie=None):
    u = urlsplit(url)
    host = u.hostname
    connect = os.environ.get("GATE_CONNECT")
    addr, port = (connect.rsplit(":", 1) if connect else (host, u.port or 443))
    raw = socket.create_connection((addr, int(port)), timeout=10)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    sock = ctx.wrap_socket(raw, server_hostname=host)
    key = base64.b64encode(os.urandom(16)).decode()
    req = (f"GET {u.path or '/'} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
    if cookie:
        req += f"Cookie: {cookie}\r\n"
    sock.sendall((req + "\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    status = head.split(b"\r\n", 1)[0].split(b" ")
    code = status[1].decode() if len(status) > 1 else "000"
    if code != "101":
        print(code)
        return 0
    want = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
    if f"sec-websocket-accept: {want}".lower() not in head.decode("latin-1").lower():
        print("bad Sec-WebSocket-Accept")
        return 1
    sock.sendall(frame(1, b"ping", True))
    op, data = read_frame(sock)
    print(f"101 {data.decode()}")
    sock.sendall(frame(8, b"", True))
    return 0


def main(argv):
    if len(argv) in (4, 5) and argv[1] == "serve":
        serve(argv[2], argv[3], argv[4] if len(argv) == 5 else None)
        return 0
    if len(argv) in (3, 4) and argv[1] == "ws-client":
        return ws_client(argv[2], argv[3] if len(argv) == 4 else None)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
