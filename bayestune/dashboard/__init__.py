"""A live dashboard in the browser: watch a search and its GP while workers run.

    bayestune dashboard sqlite:///study.db          # prints http://127.0.0.1:8080/

or from Python (a notebook: ``background=True`` returns at once)::

    handle = bt.dashboard("sqlite:///study.db", background=True)
    handle.url, handle.stop()

A SQLite storage is opened read-only: the dashboard never writes the file, never takes
its write lock, and its GP fits run in one low-priority background thread, only when
the finished trials changed. Every number it shows comes from the public
``bayestune.plot`` data functions.

Needs the ``dashboard`` extra (``pip install "bayestune[dashboard]"``: Starlette,
uvicorn and Plotly); importing this package does not import them.

``bt.dashboard`` is this package, and calling it calls :func:`dashboard`.
"""

from __future__ import annotations

import logging
import os
import sys
import types
import urllib.parse
from typing import TYPE_CHECKING, Any

from bayestune._checks import check_int, check_number
from bayestune.exceptions import InvalidValueError

from ._server import EXPOSED_WARNING, DashboardHandle, is_loopback, serve
from ._source import StudySource

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from bayestune.storage import Storage
    from bayestune.study import Study

__all__ = ["dashboard", "create_app", "DashboardHandle", "is_loopback", "EXPOSED_WARNING"]

logger = logging.getLogger(__name__)

_HINT = 'the dashboard needs Starlette, uvicorn and Plotly: pip install "bayestune[dashboard]"'


def _require() -> None:
    missing = []
    for module in ("starlette", "uvicorn", "plotly"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise ImportError(f"{_HINT} (missing: {', '.join(missing)})")


def create_app(target: Study | Storage | str | os.PathLike[str], *,
               poll_interval: float = 1.0,
               allowed_hosts: tuple[str, ...] | None = ("127.0.0.1", "localhost")
               ) -> Starlette:
    """The dashboard as an ASGI application (to mount in another server, or to test).

    Args:
        target: A study, a storage, or a SQLite URL / path (opened read-only).
        poll_interval: Seconds between the pages' checks for new trials.
        allowed_hosts: ``Host`` headers accepted; None accepts any.

    Raises:
        ImportError: without the ``dashboard`` extra.
        StorageError: for a missing file or one that is not a bayestune storage.
    """
    _require()
    from ._app import create_app as _create  # noqa: PLC0415 - starlette

    poll = check_number("poll_interval", poll_interval, low=0.05, high=3600.0)
    return _create(StudySource(target), poll_interval=poll, allowed_hosts=allowed_hosts)


def dashboard(target: Study | Storage | str | os.PathLike[str], *,
              host: str = "127.0.0.1", port: int = 8080, background: bool = False,
              poll_interval: float = 1.0) -> DashboardHandle:
    """Serve the live dashboard of a study or a storage.

    Args:
        target: A study (its page opens first), a storage, or a SQLite URL / path. A
            SQLite storage is opened read-only.
        host: The address to listen on. The default is this machine only; another
            (``"0.0.0.0"``) lets anyone on the network read the studies, and logs a
            warning.
        port: The port (0 picks a free one).
        background: Serve from a daemon thread and return at once (for notebooks);
            otherwise serve until Ctrl-C.
        poll_interval: Seconds between the pages' checks for new trials.

    Returns:
        A :class:`DashboardHandle` with the ``url`` and a ``stop()`` method.

    Raises:
        ImportError: without the ``dashboard`` extra.
        StorageError: for a missing file or one that is not a bayestune storage.
        OSError: when the port is in use.
    """
    port = check_int("port", port, low=0)
    if port > 65535:
        raise InvalidValueError(f"port must be an int in [0, 65535], got {port=!r}")
    local = is_loopback(host)
    # Loopback: accept only local Host headers (no DNS rebinding from a web page).
    # Starlette cannot parse an IPv6 Host header, so ::1 goes unchecked.
    allowed = tuple(dict.fromkeys((host, "127.0.0.1", "localhost"))) \
        if local and ":" not in host else None
    app = create_app(target, poll_interval=poll_interval, allowed_hosts=allowed)
    source = app.state.dashboard.source
    if not local:
        logger.warning(EXPOSED_WARNING.format(host=host, storage=source.label))
    path = "/"
    if source.start_study is not None:
        path = "/study/" + urllib.parse.quote(source.start_study, safe="")
    return serve(app, host=host, port=port, path=path, background=background)


class _CallableModule(types.ModuleType):
    """``bt.dashboard(...)`` calls :func:`dashboard` although ``bt.dashboard`` is this
    package (importing a subpackage binds its name on the parent, whatever was there)."""

    def __call__(self, *args: Any, **kwargs: Any) -> DashboardHandle:
        return dashboard(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
