"""The web application: three pages and the JSON endpoints behind them (Starlette).

Pages are static HTML shells (``static/*.html``) filled with the study's name and
number, HTML-escaped; the scripts beside them fetch the JSON endpoints and draw with
Plotly, whose bundle comes from the installed ``plotly`` package and is served from
here (nothing is fetched from the internet). A study name travels percent-encoded in
URLs and as text (never markup) in the page.

Endpoints (``NAME`` is the study's name, percent-encoded):

====================================  ==================================================
``/api/studies``                      every study's summary
``/api/studies/NAME/summary``         the summary and change token (pages poll it)
``/api/studies/NAME/trials``          one page of the trials table (filters, sorting)
``/api/studies/NAME/trials/N``        one trial's record
``/api/studies/NAME/convergence``     ``plot.convergence_data``
``/api/studies/NAME/parallel``        ``plot.parallel_coordinates_data``
``/api/studies/NAME/curves``          the trials' intermediate values
``/api/studies/NAME/importance``      ``plot.importance_data``          (GP fit)
``/api/studies/NAME/slice?param=P``   ``plot.posterior_slice_data``     (GP fit)
``/api/studies/NAME/acquisition?...`` ``plot.acquisition_slice_data``   (GP fit)
``/api/studies/NAME/contour?x=&y=``   ``plot.posterior_contour_data``   (GP fit)
====================================  ==================================================
"""

from __future__ import annotations

import contextlib
import html
import logging
import threading
import urllib.parse
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from string import Template
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bayestune.exceptions import BayesTuneError, UnknownTrialError

from . import _posterior, _views
from ._fits import FitCache
from ._json import dumps
from ._source import StudyNotFound, StudySource, study_state

__all__ = ["create_app", "LOCAL_HOSTS"]

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
LOCAL_HOSTS = ("127.0.0.1", "localhost")
_CACHE = 256  # JSON bodies kept, keyed by study, view and change token
_SCRIPTS = {"studies": ("studies",), "study": ("gp", "study"), "trial": ("trial",)}


class _JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else dumps(content)


def _plotly_js() -> bytes:
    try:
        from plotly.offline import get_plotlyjs  # noqa: PLC0415
    except ImportError:  # pragma: no cover - the extra installs it
        raise ImportError('the dashboard needs plotly: pip install "bayestune[dashboard]"'
                          ) from None
    return get_plotlyjs().encode("utf-8")


class _Dashboard:
    """The state behind the routes: the source, the fit cache and a JSON cache."""

    def __init__(self, source: StudySource, poll_interval: float) -> None:
        self.source = source
        self.poll_interval = poll_interval
        self.fits = FitCache()
        self._cache: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._plotly: bytes | None = None
        self._templates = {kind: Template((STATIC / f"{kind}.html").read_text(encoding="utf-8"))
                           for kind in ("page", "studies", "study", "trial")}

    # -- helpers ----------------------------------------------------------------------
    def study(self, request: Request) -> Any:
        name = request.path_params["name"]
        try:
            return self.source.study(name)
        except StudyNotFound:
            raise HTTPException(404, f"no study named {name!r} in {self.source.label}"
                                ) from None

    def cached(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> bytes:
        """The JSON of ``compute()``, computed once per key (keys carry the token)."""
        with self._lock:
            body = self._cache.get(key)
            if body is not None:
                self._cache.move_to_end(key)
                return body
        body = dumps(compute())
        with self._lock:
            self._cache[key] = body
            while len(self._cache) > _CACHE:
                self._cache.popitem(last=False)
        return body

    def page(self, kind: str, title: str, study: str = "", trial: str = "") -> HTMLResponse:
        esc = html.escape
        values = {"study": esc(study), "trial": esc(trial),
                  "study_url": esc(urllib.parse.quote(study, safe=""))}
        filled = self._templates["page"].safe_substitute(
            values, title=esc(title), page=kind, storage=esc(self.source.label),
            poll=str(self.poll_interval), scripts="\n".join(
                f'<script src="/static/{js}.js" defer></script>' for js in _SCRIPTS[kind]),
            mode="read-only" if self.source.read_only else "in this process",
            body=self._templates[kind].safe_substitute(values))
        return HTMLResponse(filled)

    # -- pages --------------------------------------------------------------------------
    def studies_page(self, request: Request) -> Response:
        return self.page("studies", "Studies")

    def study_page(self, request: Request) -> Response:
        study = self.study(request)
        return self.page("study", study.name, study=study.name)

    def trial_page(self, request: Request) -> Response:
        study = self.study(request)
        number = request.path_params["number"]
        try:
            study.get_trial(number)
        except UnknownTrialError:
            raise HTTPException(404, f"study {study.name!r} has no trial {number}") from None
        return self.page("trial", f"Trial {number} · {study.name}", study=study.name,
                         trial=str(number))

    def plotly(self, request: Request) -> Response:
        if self._plotly is None:
            self._plotly = _plotly_js()
        return Response(self._plotly, media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=86400"})

    # -- JSON ---------------------------------------------------------------------------
    def studies(self, request: Request) -> Response:
        rows = []
        for name in self.source.names():
            study = self.source.study(name)
            rows.append(_views.state_json(study_state(study, study.trials)))
        return _JSON({"storage": self.source.label, "read_only": self.source.read_only,
                      "studies": rows, "start": self.source.start_study})

    def summary(self, request: Request) -> Response:
        study = self.study(request)
        state = study_state(study, study.trials)
        return _JSON(_views.state_json(state, label=self.source.label))

    def trials(self, request: Request) -> Response:
        study = self.study(request)
        query = _views.TableQuery.parse(
            {k: request.query_params.getlist(k) for k in request.query_params},
            study.space.names)
        return _JSON(_views.trials_page(study, study.trials, query))

    def trial(self, request: Request) -> Response:
        study = self.study(request)
        number = request.path_params["number"]
        try:
            t = study.get_trial(number)
        except UnknownTrialError:
            raise HTTPException(404, f"study {study.name!r} has no trial {number}") from None
        return _JSON(_views.trial_detail(study, t))

    def history(self, kind: str) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            study = self.study(request)
            trials = study.trials
            token = study_state(study, trials).token
            compute = {"convergence": lambda: _views.convergence(study),
                       "parallel": lambda: _views.parallel(study),
                       "curves": lambda: _views.curves(study, trials)}[kind]
            return _JSON(self.cached((study.name, kind, token), compute))
        return endpoint

    def _param(self, request: Request, key: str, study: Any) -> str:
        name = request.query_params.get(key)
        if name is None:
            name = study.space.names[0 if key != "y" else min(1, len(study.space) - 1)]
        if name not in study.space.names:
            raise HTTPException(400, f"{key}: no parameter named {name!r} in study "
                                     f"{study.name!r}")
        return name

    def posterior(self, kind: str) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            study = self.study(request)
            fit, stale = self.fits.get(study, study.trials)
            if kind == "importance":
                return _JSON(_posterior.importance(fit, stale))
            if kind == "contour":
                x, y = self._param(request, "x", study), self._param(request, "y", study)
                if x == y:
                    raise HTTPException(400, f"x and y must differ, got {x!r} twice")
                return _JSON(_posterior.contour(fit, stale, x, y))
            param = self._param(request, "param", study)
            panel = _posterior.posterior_slice if kind == "slice" else _posterior.acquisition
            return _JSON(panel(fit, stale, param))
        return endpoint


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith("/api/"):
        return _JSON({"error": exc.detail}, status_code=exc.status_code)
    text = html.escape(str(exc.detail))
    return HTMLResponse(
        f"<!doctype html><meta charset='utf-8'><title>{exc.status_code}</title>"
        f"<link rel='stylesheet' href='/static/dashboard.css'><main class='error'>"
        f"<h1>{exc.status_code}</h1><p>{text}</p><p><a href='/'>All studies</a></p></main>",
        status_code=exc.status_code)


async def _bad_value(request: Request, exc: Exception) -> Response:
    return await _http_error(request, HTTPException(400, str(exc)))


def create_app(source: StudySource, *, poll_interval: float = 1.0,
               allowed_hosts: tuple[str, ...] | None = LOCAL_HOSTS) -> Starlette:
    """The Starlette application over ``source``.

    Args:
        source: The storage and studies to show.
        poll_interval: Seconds between the pages' checks for new trials.
        allowed_hosts: ``Host`` headers accepted (None: any). Loopback only by default,
            so that a web page cannot reach a local dashboard through DNS rebinding.
    """
    d = _Dashboard(source, poll_interval)
    base = "/api/studies/{name:path}"
    routes = [
        Route("/", d.studies_page),
        Route("/study/{name:path}", d.study_page),
        Route("/trial/{name:path}/{number:int}", d.trial_page),
        Route("/static/plotly.min.js", d.plotly),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        Route("/api/studies", d.studies),
        Route(base + "/summary", d.summary),
        Route(base + "/trials", d.trials),
        Route(base + "/trials/{number:int}", d.trial),
        *(Route(f"{base}/{kind}", d.history(kind))
          for kind in ("convergence", "parallel", "curves")),
        *(Route(f"{base}/{kind}", d.posterior(kind))
          for kind in ("importance", "slice", "acquisition", "contour")),
    ]
    middleware = [] if allowed_hosts is None else [
        Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        d.fits.close()

    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                    exception_handlers={HTTPException: _http_error, BayesTuneError: _bad_value})
    app.state.dashboard = d
    return app
