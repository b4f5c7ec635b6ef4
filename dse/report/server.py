"""Serve a study's dashboard over HTTP and rebuild it while the study runs.

The server answers exactly three paths: ``/`` and ``/index.html`` (the dashboard) and
``/version.json`` (a fingerprint of the study's trials); anything else is 404, so no file
outside the dashboard can be reached.  A background thread polls the storage every
``poll_s`` seconds and rebuilds the page when the trials changed; the page polls
``version.json`` and reloads itself.  Binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or name) only reaches this machine."""
    import ipaddress

    if host.lower() in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def study_fingerprint(study) -> str:
    """Changes whenever a trial is added or changes state (cheap: no user attrs read)."""
    trials = study.get_trials(deepcopy=False)
    h = hashlib.sha256()
    for t in trials:
        h.update(f"{t.number}:{t.state.name};".encode())
    return f"{len(trials)}-{h.hexdigest()[:16]}"


class DashboardServer:
    """An HTTP server for one dashboard page, rebuilt by ``build(version) -> html``."""

    def __init__(self, build: Callable[[str], str], fingerprint: Callable[[], str], *,
                 host: str = "127.0.0.1", port: int = 8050, poll_s: float = 5.0,
                 log: Callable[[str], None] | None = None):
        self._build, self._fingerprint = build, fingerprint
        self.poll_s = poll_s
        self._log = log or (lambda msg: None)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.version, self.page = "", b""
        server = self

        class Handler(BaseHTTPRequestHandler):
            # a malformed request line gets a status line and headers too (the default,
            # HTTP/0.9, answers with a bare error page)
            default_request_version = "HTTP/1.0"

            def send_error(self, code, message=None, explain=None):
                # an error found while parsing (e.g. HTTP/9.9, a request line too long)
                # comes before the method is known: a HEAD still gets headers only
                if (self.raw_requestline or b"").startswith(b"HEAD "):
                    self.command = "HEAD"
                super().send_error(code, message, explain)

            def do_GET(self):  # noqa: N802 - http.server API
                self._answer(body_too=True)

            def do_HEAD(self):  # noqa: N802 - headers only (RFC 9110 9.3.2)
                self._answer(body_too=False)

            def _answer(self, body_too: bool) -> None:
                path = urlsplit(self.path).path
                if path in ("/", "/index.html"):
                    with server._lock:
                        body, ctype = server.page, "text/html; charset=utf-8"
                elif path == "/version.json":
                    with server._lock:
                        body = json.dumps({"version": server.version}).encode()
                    ctype = "application/json"
                else:
                    self.send_error(404, "not found")
                    return
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.send_header("X-Content-Type-Options", "nosniff")
                self.end_headers()
                if body_too:
                    self.wfile.write(body)

            def log_message(self, format, *args):  # noqa: A002 - quiet access log
                return

        self._thread: threading.Thread | None = None
        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.host, self.port = self.httpd.server_address[:2]
        # bind first (a busy port fails fast), then build the first page
        try:
            self.version = fingerprint()
            self.page = build(self.version).encode("utf-8")
        except BaseException:
            self.httpd.server_close()
            raise

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def refresh(self) -> bool:
        """Rebuild the page if the study changed; returns whether it did."""
        version = self._fingerprint()
        if version == self.version:
            return False
        page = self._build(version).encode("utf-8")
        with self._lock:
            self.page, self.version = page, version
        return True

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                if self.refresh():
                    self._log(f"dashboard rebuilt ({self.version.split('-')[0]} trials)")
            except Exception as exc:  # noqa: BLE001 - keep serving the last good page
                self._log(f"dashboard refresh failed: {type(exc).__name__}: {exc}")

    def start(self) -> DashboardServer:
        """Serve and poll in background threads (returns immediately; ``close()`` stops)."""
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        threading.Thread(target=self._poll, daemon=True).start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (Ctrl-C)."""
        threading.Thread(target=self._poll, daemon=True).start()
        try:
            self.httpd.serve_forever()
        finally:
            self._stop.set()
            self.httpd.server_close()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread = None
        self.httpd.server_close()
