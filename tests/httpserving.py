"""One way the tests serve a scripted HTTP handler: `serving(Handler)` runs a threading
HTTP server on a free loopback port (wrapped in TLS when given an `ssl.SSLContext`),
yields its base URL (`http://127.0.0.1:PORT`, or https), and stops it on exit.
`Quiet` is a request handler that writes no access log (the tests' output stays
readable); every scripted handler derives from it."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["Quiet", "serving"]


class Quiet(BaseHTTPRequestHandler):
    """A request handler without an access log."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's name
        pass


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler], tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """Serve `handler` on a free loopback port until the block ends; yield the base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"serving-{handler.__name__}", daemon=True
    )
    thread.start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
