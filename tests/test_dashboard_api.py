"""The dashboard's JSON endpoints and pages, through Starlette's TestClient.

The numbers must be those of the public ``bayestune.plot`` data functions; names are
escaped in pages; unknown studies and trials are 404s; the storage is never written.
"""

from __future__ import annotations

import hashlib
import math
import sqlite3
import subprocess
import sys
import threading
import urllib.parse

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("plotly")
pytest.importorskip("httpx")

from starlette.testclient import TestClient  # noqa: E402

import bayestune as bt  # noqa: E402
from bayestune import plot  # noqa: E402
from bayestune.dashboard import create_app  # noqa: E402
from bayestune.dashboard._fits import FitCache, fit_study  # noqa: E402
from bayestune.dashboard._json import jsonable  # noqa: E402
from bayestune.storage import SQLiteStorage  # noqa: E402

SPACE = bt.Space({"x": bt.Float(-1.0, 1.0), "lr": bt.Float(1e-4, 1.0, log=True),
                  "c": bt.Categorical(["a", "b"])})
NAME = "tune"


def _value(p) -> float:
    return (p["x"] - 0.3) ** 2 + (math.log10(p["lr"]) + 2) ** 2 / 4 + (p["c"] == "b") * 0.2


def _fill(study: bt.Study, n: int) -> None:
    """COMPLETE trials with curves, a FAILED one every 5th, a PRUNED one every 7th."""
    for i in range(n):
        t = study.ask()
        if i % 5 == 4:
            study.tell(t, state="FAILED", reason="loss diverged")
            continue
        for step in range(3):
            t.report(step, _value(t.params) + 1.0 / (step + 1))
        if i % 7 == 6:
            study.tell(t, _value(t.params) + 1.0, state="PRUNED", reason="median pruner")
        else:
            t.set_user_attr("epochs", 3)
            study.tell(t, _value(t.params))


def _checkpointed(path) -> str:
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("dash") / "study.db"
    study = bt.Study(SPACE, storage=f"sqlite:///{path}", name=NAME,
                     sampler=bt.samplers.RandomSampler(seed=0))
    _fill(study, 14)
    return path


@pytest.fixture(scope="module")
def client(db):
    app = create_app(f"sqlite:///{db}")
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


def _api(tail: str, name: str = NAME) -> str:
    return f"/api/studies/{urllib.parse.quote(name, safe='')}/{tail}"


def _study(db) -> bt.Study:
    return bt.load_study(f"sqlite:///{db}", NAME)


def _close(a, b) -> None:
    """JSON numbers (None for nan) against a plot data function's arrays."""
    assert a == jsonable(b)


# -- lists and summaries -------------------------------------------------------------------
def test_the_studies_list_gives_direction_counts_best_and_activity(client, db):
    data = client.get("/api/studies").json()
    assert data["read_only"] is True and data["storage"].endswith("study.db")
    (row,) = data["studies"]
    study = _study(db)
    assert row["name"] == NAME and row["direction"] == "minimize"
    assert row["n_trials"] == 14
    states = [t.state.value for t in study.trials]
    assert row["counts"] == {s: states.count(s) for s in
                             ("WAITING", "RUNNING", "COMPLETE", "PRUNED", "FAILED")}
    assert row["best_value"] == study.best_value and row["best_number"] == study.best_trial.number
    last = max(t.datetime_complete for t in study.trials)
    assert row["last_activity"] == last.isoformat()
    assert row["params"] == ["x", "lr", "c"]


def test_the_summary_token_changes_when_another_process_tells(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = bt.Study(SPACE, storage=url, name=NAME, sampler=bt.samplers.RandomSampler(seed=1))
    _fill(study, 3)
    with TestClient(create_app(url), base_url="http://127.0.0.1") as c:
        first = c.get(_api("summary")).json()
        assert c.get(_api("summary")).json()["token"] == first["token"]  # nothing changed
        t = study.ask()
        asked = c.get(_api("summary")).json()
        assert asked["token"] != first["token"] and asked["counts"]["RUNNING"] == 1
        study.tell(t, 0.01)
        told = c.get(_api("summary")).json()
        assert told["token"] != asked["token"] and told["best_value"] == 0.01
        rows = c.get(_api("trials")).json()["rows"]
        assert rows[0]["number"] == t.number and rows[0]["value"] == 0.01  # newest first


# -- the trials table ----------------------------------------------------------------------
def test_the_table_sorts_with_missing_values_last(client, db):
    trials = _study(db).trials
    data = client.get(_api("trials") + "?sort=value&order=asc&size=100").json()
    values = [r["value"] for r in data["rows"]]
    have = [v for v in values if v is not None]
    assert have == sorted(have) and values[len(have):] == [None] * (len(values) - len(have))
    assert len(values) == len(trials) == data["total"] == data["matching"]
    desc = client.get(_api("trials") + "?sort=param:x&order=desc&size=100").json()
    xs = [r["params"][0] for r in desc["rows"]]
    assert xs == sorted(xs, reverse=True)
    assert [p["name"] for p in desc["params"]] == ["x", "lr", "c"]


def test_the_table_filters_by_state_and_parameter_range(client, db):
    trials = _study(db).trials
    data = client.get(_api("trials") + "?state=FAILED&state=PRUNED&size=100").json()
    assert {r["state"] for r in data["rows"]} == {"FAILED", "PRUNED"}
    assert data["matching"] == sum(t.state.value in ("FAILED", "PRUNED") for t in trials)
    assert all(r["reason"] in ("loss diverged", "median pruner") for r in data["rows"])
    data = client.get(_api("trials") + "?lo.x=0&hi.x=0.5&in.c=a&size=100").json()
    expected = [t.number for t in trials if 0 <= t.params["x"] <= 0.5 and t.params["c"] == "a"]
    assert sorted(r["number"] for r in data["rows"]) == expected
    assert data["total"] == len(trials) and data["matching"] == len(expected)


def test_the_table_pages(client, db):
    n = len(_study(db).trials)
    first = client.get(_api("trials") + "?size=5&page=0").json()
    last = client.get(_api("trials") + "?size=5&page=99").json()  # clamped to the last page
    assert first["pages"] == last["pages"] == math.ceil(n / 5)
    assert [r["number"] for r in first["rows"]] == list(range(n - 1, n - 6, -1))
    assert last["page"] == first["pages"] - 1 and last["rows"][-1]["number"] == 0


@pytest.mark.parametrize(("query", "message"), [
    ("sort=colour", "cannot sort by 'colour'"),
    ("order=up", "order must be"),
    ("state=DONE", "unknown state 'DONE'"),
    ("lo.x=abc", "lo.x must be a number, got 'abc'"),
    ("lo.depth=1", "no parameter named 'depth'"),
    ("size=0", "size must be in"),
    ("page=-1", "page must be in"),
])
def test_a_bad_table_query_is_a_400_naming_the_value(client, query, message):
    r = client.get(_api("trials") + "?" + query)
    assert r.status_code == 400 and message in r.json()["error"]


def test_ten_thousand_trials_send_one_page(tmp_path):
    study = bt.Study(SPACE, sampler=bt.samplers.RandomSampler(seed=0), name=NAME)
    storage = study.storage
    for i in range(10_000):
        storage.create_trial(NAME, bt.TrialState.COMPLETE,
                             {"x": (i % 200) / 100 - 1, "lr": 0.01, "c": "a"}, float(i % 97))
    with TestClient(create_app(study), base_url="http://127.0.0.1") as c:
        data = c.get(_api("trials") + "?sort=value&order=desc").json()
        assert data["total"] == 10_000 and len(data["rows"]) == 50 and data["pages"] == 200
        assert data["rows"][0]["value"] == 96.0
        conv = c.get(_api("convergence")).json()
        assert len(conv["numbers"]) == 10_000 and conv["best_value"] == 0.0


# -- history panels against bayestune.plot ------------------------------------------------
def test_convergence_is_plot_convergence_data_with_params_for_the_hover(client, db):
    study = _study(db)
    got = client.get(_api("convergence")).json()
    want = plot.convergence_data(study)
    for field in ("label", "direction", "numbers", "values", "states", "best_so_far"):
        _close(got[field], getattr(want, field))
    assert got["best_value"] == want.best_value
    trials = study.trials
    assert got["params"]["x"] == [trials[n].params["x"] for n in want.numbers]
    assert got["reasons"][list(want.numbers).index(4)] == "loss diverged"


def test_parallel_coordinates_are_plot_parallel_coordinates_data(client, db):
    got = client.get(_api("parallel")).json()
    assert got["status"] == "ready"
    assert got["data"] == jsonable(plot.parallel_coordinates_data(_study(db)))


def test_curves_are_the_trials_intermediate_values_with_pruned_marked(client, db):
    got = client.get(_api("curves")).json()
    trials = _study(db).trials
    with_curves = [t for t in trials if t.intermediate_values]
    assert got["n_with_curves"] == len(with_curves) == got["shown"]
    by_number = {c["number"]: c for c in got["curves"]}
    for t in with_curves:
        c = by_number[t.number]
        assert c["state"] == t.state.value and c["steps"] == [0, 1, 2]
        assert c["values"] == [t.intermediate_values[s] for s in (0, 1, 2)]
    assert any(c["state"] == "PRUNED" and c["reason"] == "median pruner" for c in got["curves"])
    best = [c["number"] for c in got["curves"] if c["best"]]
    assert _study(db).best_trial.number in best


def test_the_trial_endpoint_gives_the_record_timings_and_reason(client, db):
    t = _study(db).trials[4]
    got = client.get(_api("trials/4")).json()
    assert got["state"] == "FAILED" and got["reason"] == "loss diverged"
    assert got["params"] == dict(t.params) and got["duration"] == t.duration
    done = client.get(_api("trials/0")).json()
    assert done["user_attrs"] == {"epochs": 3} and done["curve"]["steps"] == [0, 1, 2]
    assert done["training"] is None  # no per-epoch losses stored


# -- GP panels against bayestune.plot ------------------------------------------------------
@pytest.fixture(scope="module")
def fitted(client, db):
    client.get(_api("importance"))  # starts the fit
    fit = client.app.state.dashboard.fits.wait(NAME, timeout=300)
    assert fit is not None and fit.surrogate is not None
    return fit


def test_the_posterior_panels_are_the_plot_data_functions_on_the_fit(client, db, fitted):
    study = _study(db)
    sur = fitted.surrogate
    imp = client.get(_api("importance")).json()
    assert imp["status"] == "ready" and imp["stale"] is False
    assert imp["n_complete"] == sum(t.state is bt.TrialState.COMPLETE for t in study.trials)
    assert imp["data"] == jsonable(plot.importance_data(study, surrogate=sur))
    for p in ("x", "lr", "c"):
        got = client.get(_api(f"slice?param={p}")).json()
        assert got["data"] == jsonable(plot.posterior_slice_data(study, p, surrogate=sur))
        got = client.get(_api(f"acquisition?param={p}")).json()
        want = plot.acquisition_slice_data(study, p, surrogate=sur, next_params=None)
        assert got["data"] == jsonable(want)
    got = client.get(_api("contour?x=lr&y=x")).json()
    assert got["data"] == jsonable(plot.posterior_contour_data(study, "lr", "x", surrogate=sur))
    assert np.asarray(got["data"]["mean"]).shape == (60, 60)


def test_a_posterior_request_for_an_unknown_parameter_is_a_400(client):
    r = client.get(_api("slice?param=depth"))
    assert r.status_code == 400 and "no parameter named 'depth'" in r.json()["error"]
    r = client.get(_api("contour?x=x&y=x"))
    assert r.status_code == 400 and "must differ" in r.json()["error"]


def test_a_fit_never_blocks_the_page_and_polling_never_refits(tmp_path):
    study = bt.Study(SPACE, name=NAME, sampler=bt.samplers.RandomSampler(seed=2))
    _fill(study, 6)
    gate = threading.Event()
    calls = []

    def gated_fit(s, trials):
        calls.append(len(trials))
        gate.wait(60)
        return fit_study(s, trials)

    app = create_app(study)
    app.state.dashboard.fits = cache = FitCache(gated_fit, rest=0.0)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        for _ in range(3):  # answered at once while the fit waits
            assert c.get(_api("slice?param=x")).json() == {"status": "fitting", "stale": True}
        gate.set()
        assert cache.wait(NAME, 300).surrogate is not None
        for _ in range(3):
            assert c.get(_api("slice?param=x")).json()["status"] == "ready"
        assert calls == [6] and cache.fits(NAME) == 1  # unchanged data: no refit
        running = study.ask()  # a new pending trial changes no finished trial
        assert c.get(_api("importance")).json()["stale"] is False and cache.fits(NAME) == 1
        study.tell(running, 0.5)
        shown = c.get(_api("slice?param=x")).json()
        assert shown["status"] == "ready" and shown["stale"] is True  # the last fit, marked
        cache.wait(NAME, 300)
        assert c.get(_api("slice?param=x")).json()["stale"] is False
        assert calls == [6, 7] and cache.fits(NAME) == 2


def test_before_any_completed_trial_the_gp_panels_say_why(tmp_path):
    study = bt.Study(SPACE, name=NAME, sampler=bt.samplers.RandomSampler(seed=0))
    study.tell(study.ask(), state="FAILED")
    app = create_app(study)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        c.get(_api("importance"))
        app.state.dashboard.fits.wait(NAME, 60)
        got = c.get(_api("slice?param=x")).json()
        assert got["status"] == "unavailable" and "no trial has completed" in got["message"]
        assert c.get(_api("parallel")).json()["status"] == "unavailable"


# -- pages, escaping, errors ----------------------------------------------------------------
HOSTILE = '<script>alert("x")</script> & \'q\''


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    study = bt.Study(SPACE, name=HOSTILE, sampler=bt.samplers.RandomSampler(seed=0))
    _fill(study, 2)
    with TestClient(create_app(study), base_url="http://127.0.0.1") as c:
        yield c


def test_a_study_name_with_markup_is_escaped_in_every_page(hostile):
    quoted = urllib.parse.quote(HOSTILE, safe="")
    for url in (f"/study/{quoted}", f"/trial/{quoted}/1"):
        page = hostile.get(url)
        assert page.status_code == 200
        assert "<script>alert" not in page.text
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;q&#x27;" in page.text
    # the API carries the name as data, for the page to insert as text
    assert hostile.get("/api/studies").json()["studies"][0]["name"] == HOSTILE
    assert hostile.get(_api("summary", HOSTILE)).json()["name"] == HOSTILE
    missing = hostile.get("/study/" + urllib.parse.quote("<b>nope</b>", safe=""))
    assert missing.status_code == 404 and "<b>nope" not in missing.text


@pytest.mark.parametrize("url", [
    "/study/nope", "/trial/nope/0", f"/trial/{NAME}/999", "/api/studies/nope/summary",
    "/api/studies/nope/trials", "/api/studies/nope/slice?param=x", f"/api/studies/{NAME}/trials/999",
])
def test_unknown_studies_and_trials_are_404s(client, url):
    r = client.get(url)
    assert r.status_code == 404
    if url.startswith("/api/"):
        assert "no study named 'nope'" in r.json()["error"] or "no trial 999" in r.json()["error"]


def test_names_with_slashes_reach_their_study(tmp_path):
    study = bt.Study(SPACE, name="runs/a/trials", sampler=bt.samplers.RandomSampler(seed=0))
    _fill(study, 2)
    with TestClient(create_app(study), base_url="http://127.0.0.1") as c:
        assert c.get(_api("summary", "runs/a/trials")).json()["n_trials"] == 2
        assert c.get(_api("trials/1", "runs/a/trials")).json()["number"] == 1
        assert c.get("/trial/" + urllib.parse.quote("runs/a/trials", safe="") + "/1") \
            .status_code == 200


def test_everything_is_served_locally(client):
    from plotly.offline import get_plotlyjs

    js = client.get("/static/plotly.min.js")
    assert js.status_code == 200 and js.text == get_plotlyjs()
    page = client.get(f"/study/{NAME}").text
    for asset in ("/static/dashboard.css", "/static/common.js", "/static/study.js", "/static/gp.js",
                  "/static/plotly.min.js", "/static/favicon.svg"):
        assert asset in page and client.get(asset).status_code == 200
    for path in ("/", f"/study/{NAME}", f"/trial/{NAME}/0", "/static/common.js",
                 "/static/study.js", "/static/studies.js", "/static/trial.js",
                 "/static/gp.js", "/static/dashboard.css"):
        body = client.get(path).text
        assert "http://" not in body and "https://" not in body, path  # no CDN, no fonts


def test_other_host_headers_are_refused(client):
    # a web page cannot reach the local dashboard through DNS rebinding
    assert client.get("/api/studies", headers={"host": "evil.example"}).status_code == 400
    assert client.get("/api/studies", headers={"host": "localhost:8080"}).status_code == 200


def test_watching_never_writes_the_file_nor_holds_up_a_writer(tmp_path):
    path = tmp_path / "w.db"
    study = bt.Study(SPACE, storage=f"sqlite:///{path}", name=NAME,
                     sampler=bt.samplers.RandomSampler(seed=3))
    _fill(study, 6)
    del study
    before = _checkpointed(path)
    app = create_app(f"sqlite:///{path}")
    assert app.state.dashboard.source.read_only
    with TestClient(app, base_url="http://127.0.0.1") as c:
        for tail in ("summary", "trials", "trials/0", "convergence", "parallel", "curves",
                     "importance"):
            assert c.get(_api(tail)).status_code == 200
        app.state.dashboard.fits.wait(NAME, 300)
        for tail in ("slice?param=lr", "acquisition?param=c", "contour?x=x&y=c"):
            assert c.get(_api(tail)).json()["status"] == "ready"
        assert c.get("/").status_code == 200 and c.get(f"/study/{NAME}").status_code == 200
        assert hashlib.sha256(path.read_bytes()).hexdigest() == before
        writer = SQLiteStorage(path, timeout=0.2)  # the dashboard holds no lock
        writer.create_trial(NAME, bt.TrialState.COMPLETE, {"x": 0.0, "lr": 0.1, "c": "a"}, 1.0)
        assert c.get(_api("summary")).json()["n_trials"] == 7


def test_a_trial_told_while_the_convergence_is_computed_is_no_error(tmp_path, monkeypatch):
    # The hover params must come from a read that holds every trial the plot data saw.
    url = f"sqlite:///{tmp_path / 'race.db'}"
    study = bt.Study(SPACE, storage=url, name=NAME, sampler=bt.samplers.RandomSampler(seed=4))
    _fill(study, 3)
    real = plot.convergence_data

    def told_meanwhile(s, *args, **kwargs):
        t = study.ask()
        study.tell(t, 0.25)
        return real(s, *args, **kwargs)

    with TestClient(create_app(url), base_url="http://127.0.0.1") as c:
        c.get(_api("summary"))
        monkeypatch.setattr(plot, "convergence_data", told_meanwhile)
        r = c.get(_api("convergence"))
        assert r.status_code == 200 and r.json()["numbers"][-1] == 3


def test_a_fit_rests_as_long_as_it_ran_before_the_next(tmp_path):
    study = bt.Study(SPACE, name=NAME, sampler=bt.samplers.RandomSampler(seed=5))
    _fill(study, 6)
    calls = []

    def counted(s, trials):
        calls.append(len(trials))
        return fit_study(s, trials)

    cache = FitCache(counted, rest=1000.0)
    cache.get(study, study.trials)
    assert cache.wait(NAME, 300) is not None
    study.tell(study.ask(), 0.5)
    fit, stale = cache.get(study, study.trials)
    assert stale and fit.counts["n_finished"] == 6  # the last fit, while it rests
    cache.wait(NAME, 5)
    assert calls == [6]


def test_the_trial_endpoint_carries_its_training_curves(tmp_path):
    study = bt.Study(SPACE, name=NAME, sampler=bt.samplers.RandomSampler(seed=6))
    t = study.ask()
    t.set_user_attr("train_loss", [1.0, 0.6, 0.4, 0.3])
    t.set_user_attr("val_loss", [1.1, 0.8, 0.7, 0.75])
    study.tell(t, 0.7)
    with TestClient(create_app(study), base_url="http://127.0.0.1") as c:
        got = c.get(_api("trials/0")).json()["training"]
    assert got == jsonable(plot.training_curves_data(study, [0]).curves[0])
    assert got["best_epoch"] == 3


def test_quitting_never_waits_for_a_running_fit():
    # A fit of thousands of trials takes a while; Ctrl-C must not wait for it.
    code = (
        "import threading, bayestune as bt\n"
        "from bayestune.dashboard._fits import FitCache\n"
        "study = bt.Study(bt.Space({'x': bt.Float(0, 1)}),"
        " sampler=bt.samplers.RandomSampler(seed=0))\n"
        "study.tell(study.ask(), 0.5)\n"
        "forever = threading.Event()\n"
        "cache = FitCache(lambda s, t: forever.wait())\n"
        "cache.get(study, study.trials)\n"
        "cache.close()\n"
        "print('bye')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "bye"
