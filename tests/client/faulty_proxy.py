"""A loopback HTTP proxy in front of the live server that fails on cue: answers 502/503 (with or
without the API's JSON body and a Retry-After), or drops the connection without answering,
for the next requests in its script, and forwards the rest. It counts what reached it, so a
test can tell whether the client sent a request once or again."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

PORTS = range(18500, 18600)  # this suite's loopback range
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate", "host", "content-length"}  # fmt: skip


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 18500-18599")


class FaultyProxy:
    def __init__(self, upstream: str):
        self.upstream = urlsplit(upstream)
        self.script: list[dict] = []
        self.seen: list[tuple[str, str]] = []
        self.forwarded: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep the test output clean
                pass

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with proxy._lock:
                    proxy.seen.append((self.command, self.path))
                    action = proxy.script.pop(0) if proxy.script else {"do": "forward"}
                if action["do"] == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if action["do"] == "fail":
                    self._answer(action)
                    return
                self._forward(body)

            def _answer(self, action):
                payload = action.get("body")
                data = (
                    json.dumps(payload).encode() if isinstance(payload, dict) else (payload or b"")
                )
                self.send_response(action["status"])
                ctype = "application/json" if isinstance(payload, dict) else "text/html"
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for key, value in action.get("headers", {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _forward(self, body: bytes):
                up = proxy.upstream
                conn = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                headers["Host"] = up.netloc
                conn.request(self.command, self.path, body=body or None, headers=headers)
                response = conn.getresponse()
                data = response.read()
                with proxy._lock:
                    proxy.forwarded.append((self.command, self.path))
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in HOP_BY_HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def fail(self, status: int, times: int = 1, *, body=None, headers=None) -> None:
        self.script += [{"do": "fail", "status": status, "body": body,
                         "headers": headers or {}}] * times  # fmt: skip

    def drop(self, times: int = 1) -> None:
        self.script += [{"do": "drop"}] * times

    def __enter__(self) -> FaultyProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
