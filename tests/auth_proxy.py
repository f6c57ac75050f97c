"""A reverse proxy that lets some requests through to a real server and refuses the rest
with its own page, as a gateway in front of a service does.

`AuthProxy`: a token-checking proxy in front of a real Triton, as an AI Training job URL
is (a request without `Authorization: Bearer <token>` gets an HTML 401, not Triton's JSON).
Requests let through are forwarded byte for byte, so tritonclient's binary tensors and S3
bodies pass.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from services.ports import free_port

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "host"}


class FilteringProxy:
    def __init__(self, upstream_port: int, admit: Callable[[Message], bool], refusal: tuple[int, str, bytes], strip: frozenset[str] = frozenset()) -> None:
        self.upstream_port = upstream_port
        self.admit = admit
        self.refusal = refusal  # status, content type, body
        self.strip = strip
        self.rejected = 0
        self.port = free_port()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *_args: object) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                if not proxy.admit(self.headers):
                    proxy.rejected += 1
                    status, content_type, page = proxy.refusal
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(page)))
                    self.end_headers()
                    self.wfile.write(page)
                    return
                upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS | proxy.strip}
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                payload = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in HOP_HEADERS | {"content-length"}:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                upstream.close()

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _forward

        return Handler

    def __enter__(self) -> FilteringProxy:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def AuthProxy(upstream_port: int, token: str) -> FilteringProxy:  # noqa: N802  (reads as the class it stands for)
    page = b"<html><body><h1>401 Unauthorized</h1></body></html>"
    return FilteringProxy(upstream_port, lambda headers: headers.get("Authorization") == f"Bearer {token}", (401, "text/html", page), frozenset({"authorization"}))
