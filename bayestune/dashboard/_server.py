"""Run the dashboard with uvicorn: in this thread (blocking) or in a background thread.

The socket is bound before the server starts, so the URL (with the real port when
``port=0``) is known at once and a port in use is an immediate, clear error.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DashboardHandle", "serve", "is_loopback", "EXPOSED_WARNING"]

logger = logging.getLogger(__name__)

EXPOSED_WARNING = ("the dashboard listens on {host}: anyone who can reach this machine on "
                   "the network can read the studies in {storage}")


def is_loopback(host: str) -> bool:
    """Whether ``host`` is only reachable from this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as e:
        sock.close()
        hint = "; pass another port (port=0 picks a free one)" if port else ""
        raise OSError(e.errno, f"cannot listen on {host}:{port}: {e.strerror}{hint}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


@dataclass
class DashboardHandle:
    """A running dashboard.

    Attributes:
        url: Where to open it (the study's page when it was started for one study).
        host: The address it listens on.
        port: The port it listens on.
    """

    url: str
    host: str
    port: int
    _server: Any = field(repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (and its GP fits) and wait for it to close."""
        self._server.should_exit = True
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C stops it)."""
        try:
            while self.running:
                time.sleep(0.2)
        except KeyboardInterrupt:
            self.stop()

    def __enter__(self) -> DashboardHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _repr_html_(self) -> str:  # a notebook shows a link
        import html  # noqa: PLC0415

        url = html.escape(self.url)
        state = "running" if self.running else "stopped"
        return f'bayestune dashboard ({state}): <a href="{url}" target="_blank">{url}</a>'


def serve(app: Any, *, host: str, port: int, path: str = "/",
          background: bool) -> DashboardHandle:
    """Serve ``app`` on ``host:port``; returns once it accepts connections (background)
    or after it stopped (blocking)."""
    try:
        import uvicorn  # noqa: PLC0415
    except ImportError:
        raise ImportError('the dashboard needs uvicorn: pip install "bayestune[dashboard]"'
                          ) from None
    sock = _bind(host, port)
    real_port = sock.getsockname()[1]
    shown = f"[{host.strip('[]')}]" if ":" in host else host
    if host in ("0.0.0.0", "::"):
        shown = "127.0.0.1"  # the address to open locally
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    handle = DashboardHandle(url=f"http://{shown}:{real_port}{path}", host=host,
                             port=real_port, _server=server)
    if not background:
        try:
            server.run(sockets=[sock])
        finally:
            sock.close()
        return handle

    def run() -> None:
        try:
            server.run(sockets=[sock])
        finally:
            sock.close()

    handle._thread = threading.Thread(target=run, name="bayestune-dashboard", daemon=True)
    handle._thread.start()
    deadline = time.monotonic() + 30
    while not server.started and handle._thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    if not server.started:
        handle.stop()
        raise RuntimeError(f"the dashboard did not start on {host}:{real_port}")
    logger.info("bayestune dashboard at %s", handle.url)
    return handle
