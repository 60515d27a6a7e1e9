#!/usr/bin/env python3
"""WebSocket opening handshake (RFC 6455) against URL: prints the status line and exits 0 when
the server switched protocols (101) with the right Sec-WebSocket-Accept, 1 otherwise. With
--echo-kernel, also sends a Jupyter kernel_info_request on the channel and waits for the
kernel_info_reply (a kernel behind the proxy answered over the WebSocket).
usage: ws_handshake.py [--echo-kernel] http://HOST:PORT/PATH"""
import base64
import hashlib
import json
import os
import socket
import struct
import sys
import time
import urllib.parse
import uuid

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frame(payload: bytes) -> bytes:
    """One masked text frame (clients must mask)."""
    mask = os.urandom(4)
    head = bytearray([0x81])
    n = len(payload)
    if n < 126:
        head.append(0x80 | n)
    elif n < 65536:
        head.append(0x80 | 126)
        head += struct.pack(">H", n)
    else:
        head.append(0x80 | 127)
        head += struct.pack(">Q", n)
    return bytes(head) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def read_frame(sock) -> bytes:
    def exact(n):
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise EOFError("connection closed")
            buf += chunk
        return buf
    b0, b1 = exact(2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack(">H", exact(2))[0]
    elif n == 127:
        n = struct.unpack(">Q", exact(8))[0]
    if b1 & 0x80:
        exact(4)
    return exact(n)


def main() -> int:
    args = sys.argv[1:]
    kernel = "--echo-kernel" in args
    args = [a for a in args if a != "--echo-kernel"]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    u = urllib.parse.urlsplit(args[0])
    key = base64.b64encode(os.urandom(16)).decode()
    path = u.path + ("?" + u.query if u.query else "")
    sock = socket.create_connection((u.hostname, u.port or 80), timeout=30)
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {u.netloc}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  f"Sec-WebSocket-Version: 13\r\nOrigin: http://{u.netloc}\r\n\r\n").encode())
    resp = b""
    while b"\r\n\r\n" not in resp:
        chunk = sock.recv(4096)
        if not chunk:
            break
        resp += chunk
    head = resp.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    print(head[0])
    want = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
    headers = {h.split(":", 1)[0].strip().lower(): h.split(":", 1)[1].strip()
               for h in head[1:] if ":" in h}
    if " 101 " not in head[0] + " " or headers.get("sec-websocket-accept") != want:
        return 1
    if not kernel:
        return 0
    msg_id = uuid.uuid4().hex
    msg = {"header": {"msg_id": msg_id, "username": "test", "session": uuid.uuid4().hex,
                      "msg_type": "kernel_info_request", "version": "5.3",
                      "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
           "parent_header": {}, "metadata": {}, "content": {}, "channel": "shell"}
    sock.sendall(frame(json.dumps(msg).encode()))
    deadline = time.time() + 60
    while time.time() < deadline:
        m = json.loads(read_frame(sock))
        if m.get("msg_type") == "kernel_info_reply" and m.get("parent_header", {}).get("msg_id") == msg_id:
            print("kernel_info_reply:", m["content"].get("language_info", {}).get("name"))
            return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
