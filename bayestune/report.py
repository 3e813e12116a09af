"""A small report of a study: the plots as PNG files and one self-contained HTML page.

``write_report(study, "report/")`` fits the GP surrogate once and writes
``convergence.png``, ``importance.png``, ``posterior.png`` (the posterior along each
parameter), ``contour.png`` (the two most important numeric parameters),
``parallel_coordinates.png`` and ``report.html``, which inlines every image (base64),
the best configuration and the table of trials, so it can be mailed or archived alone.

Needs matplotlib (``pip install "bayestune[plot]"``). Nothing is printed.
"""

from __future__ import annotations

import base64
import html
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bayestune import __version__, plot
from bayestune.exceptions import BayesTuneError
from bayestune.plot._common import pyplot
from bayestune.space import Categorical
from bayestune.trial import TrialState

if TYPE_CHECKING:
    from bayestune.study import Study

__all__ = ["Report", "write_report"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Report:
    """What :func:`write_report` wrote.

    Attributes:
        html: The HTML page.
        images: Plot name -> PNG file (plots that could not be drawn are absent).
        skipped: Plot name -> why it was not drawn (for example no GP yet).
    """

    html: Path
    images: Mapping[str, Path] = field(default_factory=dict)
    skipped: Mapping[str, str] = field(default_factory=dict)


def _save(fig: Any, path: Path, dpi: int) -> None:
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig.savefig(path, dpi=dpi)
    plt.close(fig)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


def _two_numeric(study: Study, order: tuple[str, ...]) -> tuple[str, str] | None:
    names = [n for n in order if not isinstance(study.space[n], Categorical)]
    return (names[0], names[1]) if len(names) >= 2 else None


def write_report(
    study: Study,
    out_dir: str | Path,
    *,
    title: str | None = None,
    dpi: int = 110,
    extra: Mapping[str, Any] | None = None,
) -> Report:
    """Draw the study's plots into ``out_dir`` and write ``report.html`` there.

    Args:
        study: The study (with at least one finished trial for the convergence plot;
            the surrogate plots need completed trials and are skipped otherwise).
        out_dir: Folder to write into (created if needed; files are overwritten).
        title: The page's title (default: the study's name).
        dpi: Resolution of the PNG files.
        extra: More rows for the summary table (e.g. the wall time of the run).

    Returns:
        The paths written and the plots skipped, with why.

    Raises:
        ImportError: without matplotlib.
    """
    pyplot()  # fail early, with the install hint
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images: dict[str, Path] = {}
    skipped: dict[str, str] = {}

    def draw(name: str, make: Callable[[], Any]) -> None:
        path = out / f"{name}.png"
        try:
            obj = make()
        except (BayesTuneError, ValueError, RuntimeError) as e:
            skipped[name] = f"{type(e).__name__}: {e}"
            logger.info("report: %s not drawn (%s)", name, e)
            return
        fig = obj if hasattr(obj, "savefig") else obj.figure
        _save(fig, path, dpi)
        images[name] = path

    draw("convergence", lambda: plot.convergence(study))
    surrogate = None
    try:
        surrogate = plot.fit_surrogate(study, seed=getattr(study.sampler, "seed", 0) or 0)
    except (BayesTuneError, ValueError, RuntimeError) as e:
        for name in ("importance", "posterior", "contour"):
            skipped[name] = f"no surrogate: {e}"
    order: tuple[str, ...] = study.space.names
    if surrogate is not None:
        def imp() -> Any:
            nonlocal order
            data = plot.importance_data(study, surrogate=surrogate)
            order = data.names
            return plot.importance(data)

        draw("importance", imp)
        draw("posterior", lambda: plot.posterior_slices(study, surrogate=surrogate))
        pair = _two_numeric(study, order)
        if pair is not None:
            draw("contour", lambda: plot.posterior_contour(study, *pair, surrogate=surrogate))
        else:
            skipped["contour"] = "fewer than two numeric parameters"
    draw("parallel_coordinates", lambda: plot.parallel_coordinates(study))
    page = out / "report.html"
    page.write_text(_html(study, title or f"bayestune report: {study.name}", images, skipped,
                          extra or {}), encoding="utf-8")
    return Report(html=page, images=images, skipped=skipped)


_CAPTIONS = {
    "convergence": "Best value so far against trial number. Dots are completed trials, "
                   "triangles pruned ones, red crosses failed ones.",
    "importance": "How much each hyperparameter matters: Sobol indices of the GP posterior "
                  "mean over the search space (total: with interactions; first-order: alone).",
    "posterior": "The GP's belief along each parameter, the others held at the best "
                 "configuration: median and 95% band; observed trials projected.",
    "contour": "The GP posterior over the two most important numeric parameters: median "
               "(left) and standard deviation (right); the circle is the next suggestion.",
    "parallel_coordinates": "Every completed trial as a line through its parameter values "
                            "and result; the best are brightest.",
}

_CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 2em auto;
       max-width: 1100px; color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 1.8em; }
table { border-collapse: collapse; font-size: 0.9em; }
td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: left; }
th { background: #f4f4f4; }
tr.best td { background: #fff4d6; font-weight: 600; }
tr.FAILED td { color: #b22; } tr.PRUNED td { color: #777; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #555; }
.small { font-size: 0.85em; color: #666; }
"""


def _html(study: Study, title: str, images: Mapping[str, Path], skipped: Mapping[str, str],
          extra: Mapping[str, Any]) -> str:
    e = html.escape
    trials = study.trials
    counts = {s: sum(t.state is s for t in trials) for s in TrialState}
    try:
        best = study.best_trial
    except BayesTuneError:
        best = None
    summary: list[tuple[str, str]] = [
        ("study", study.name),
        ("direction", study.direction),
        ("sampler", type(study.sampler).__name__),
        ("trials", f"{len(trials)} ({counts[TrialState.COMPLETE]} complete, "
                   f"{counts[TrialState.PRUNED]} pruned, {counts[TrialState.FAILED]} failed)"),
    ]
    if best is not None:
        summary.append(("best value", f"{best.value:.6g} (trial {best.number})"))
    summary += [(k, _fmt(v)) for k, v in extra.items()]
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title>",
             f"<style>{_CSS}</style></head><body><h1>{e(title)}</h1>", "<table>"]
    parts += [f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in summary]
    parts.append("</table>")
    if best is not None:
        parts.append("<h2>Best configuration</h2><table>")
        parts += [f"<tr><th>{e(k)}</th><td>{e(_fmt(v))}</td></tr>"
                  for k, v in best.params.items()]
        parts.append("</table>")
    for name, path in images.items():
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        parts.append(f"<h2>{e(name.replace('_', ' ').capitalize())}</h2><figure>"
                     f"<img alt='{e(name)}' src='data:image/png;base64,{data}'>"
                     f"<figcaption>{e(_CAPTIONS.get(name, ''))}</figcaption></figure>")
    if skipped:
        parts.append("<p class='small'>Not drawn: "
                     + "; ".join(f"{e(k)} ({e(v)})" for k, v in skipped.items()) + "</p>")
    names = study.space.names
    parts.append("<h2>Trials</h2><table><tr><th>#</th><th>state</th><th>value</th>"
                 + "".join(f"<th>{e(n)}</th>" for n in names) + "<th>seconds</th></tr>")
    for t in trials:
        cls = "best" if best is not None and t.number == best.number else t.state.value
        dur = t.duration
        value = "" if t.value is None or not math.isfinite(t.value) else f"{t.value:.5g}"
        parts.append(
            f"<tr class='{cls}'><td>{t.number}</td><td>{t.state.value}</td><td>{value}</td>"
            + "".join(f"<td>{e(_fmt(t.params.get(n)))}</td>" for n in names)
            + f"<td>{'' if dur is None else f'{dur:.2f}'}</td></tr>"
        )
    parts.append("</table>")
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts.append(f"<p class='small'>Written by bayestune {e(__version__)} on {stamp}.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
