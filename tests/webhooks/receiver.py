"""A real HTTP receiver on loopback for webhook tests: it answers with the statuses it is
given (then 200), records every request, and checks each signature as a receiver would."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from webhooks.signing import HEADER, signature_verify

# The engineer-web helper's loopback range; a test run takes the first free port in it.
PORTS = range(18200, 18300)


class Receiver:
    def __init__(self, secret: str = "", delay_first: float = 0.0):
        self.secret = secret
        self.delay_first = delay_first  # seconds the first request waits for its answer
        self.statuses: list[int] = []
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.requests.append({
                    "path": self.path, "headers": headers, "body": body,
                    "signed": signature_verify(receiver.secret, headers.get(HEADER.lower(), ""),
                                               body),
                })  # fmt: skip
                if len(receiver.requests) == 1 and receiver.delay_first:
                    time.sleep(receiver.delay_first)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(f"answered {status}".encode())

            def log_message(self, *args):
                pass

        for port in PORTS:
            try:
                self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
                break
            except OSError:
                continue
        else:  # pragma: no cover - every port of the range taken
            raise RuntimeError("no free port in 18200-18299")
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
