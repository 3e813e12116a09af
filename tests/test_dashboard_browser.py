"""The dashboard in a real headless Chromium, as a person uses it.

Three worker processes fill a study while ``bayestune dashboard`` (another process)
serves it; the browser must see the trials table grow without a reload, switch the
posterior slice when a parameter is clicked, and show a trial told by this process
within a few seconds. Screenshots of each page go to ``tests/artifacts/dashboard/``
(or ``$BAYESTUNE_ARTIFACTS``); the new-trial latency is printed, never asserted
beyond a generous functional timeout.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import bayestune as bt

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
if CHROMIUM is None or DRIVER is None:
    pytest.skip("needs Chromium and its driver (apt-get install chromium chromium-driver)",
                allow_module_level=True)
pytest.importorskip("selenium")
pytest.importorskip("starlette")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

SPACE = bt.Space({"x": bt.Float(-1.0, 1.0), "lr": bt.Float(1e-4, 1.0, log=True),
                  "width": bt.Int(16, 256, log=True), "act": bt.Categorical(["relu", "tanh"])})
NAME = "mlp <i>sweep</i>"
TIMEOUT = 60.0  # functional ceiling for anything the page should show "soon"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--enable-unsafe-swiftshader")


def _loss(p) -> float:
    return ((p["x"] - 0.3) ** 2 + (math.log10(p["lr"]) + 2.0) ** 2 / 3
            + 0.1 * abs(math.log2(p["width"]) - 6) + (p["act"] == "tanh") * 0.15)


def _worker(url: str, seed: int, stop_file: str) -> None:
    """Ask, report three steps, tell (FAILED for huge lr, PRUNED now and then) until told
    to stop."""
    study = bt.load_study(url, NAME, sampler=bt.samplers.RandomSampler(seed=seed))
    for i in range(400):
        if os.path.exists(stop_file):
            return
        t = study.ask()
        time.sleep(0.15)
        if t.params["lr"] > 0.3:
            study.tell(t, state="FAILED", reason="loss diverged at step 1")
            continue
        for step in range(1, 4):
            t.report(step, _loss(t.params) + 1.0 / step)
        if i % 6 == 5:
            study.tell(t, _loss(t.params) + 1 / 3, state="PRUNED", reason="median pruner")
        else:
            study.tell(t, _loss(t.params))


def _artifacts() -> Path:
    root = os.environ.get("BAYESTUNE_ARTIFACTS")
    path = Path(root) if root else Path(__file__).parent / "artifacts"
    path = path / "dashboard"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _wait(what: str, predicate, timeout: float = TIMEOUT, every: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"the page did not show {what} within {timeout:g} s")


def _shot(driver, path: Path, width: int, height: int) -> None:
    """A screenshot of the whole page at this width."""
    driver.set_window_size(width, height)
    time.sleep(0.5)
    full = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, max(height, full + 120))
    driver.execute_script("window.scrollTo(0, 0)")
    time.sleep(1.0)  # Plotly redraws responsive plots after a resize
    driver.save_screenshot(str(path))
    driver.set_window_size(width, height)


@pytest.fixture
def served(tmp_path):
    """A study filled by three worker processes, served by `bayestune dashboard`."""
    url = f"sqlite:///{tmp_path / 'sweep.db'}"
    bt.Study(SPACE, storage=url, name=NAME, sampler=bt.samplers.RandomSampler(seed=0))
    stop_file = str(tmp_path / "stop")
    ctx = mp.get_context("spawn")
    workers = [ctx.Process(target=_worker, args=(url, seed, stop_file)) for seed in (1, 2, 3)]
    for w in workers:
        w.start()
    server = subprocess.Popen(
        [sys.executable, "-m", "bayestune.cli", "dashboard", url, "--port", "0", "--poll", "0.5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    line = server.stdout.readline()
    assert " at http://127.0.0.1:" in line, line + server.stderr.read()
    root = line.split(" at ")[1].split()[0]
    try:
        yield url, root, stop_file
    finally:
        Path(stop_file).touch()
        for w in workers:
            w.join(60)
        server.send_signal(signal.SIGINT)
        try:
            server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()


@pytest.fixture
def driver():
    profile = tempfile.mkdtemp(prefix="bt-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}", "--window-size=1366,768"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(DRIVER), options=options)
    d.set_page_load_timeout(TIMEOUT)
    try:
        yield d
    finally:
        d.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _rows(d) -> list[int]:
    return d.execute_script(
        "return [...document.querySelectorAll('#trials-table tbody tr[data-number]')]"
        ".map(r => +r.dataset.number)")


def _total(d) -> int:
    text = d.find_element(By.ID, "table-count").text
    return int(text.split()[0]) if text else 0


def _slice(d) -> tuple[str, list[float]]:
    return d.execute_script(
        "const p = document.getElementById('plot-slice');"
        "const t = document.getElementById('slice-title').textContent;"
        "if (!p.data) return [t, []];"
        "const m = p.data.find(tr => tr.name === 'median' || tr.name === 'median and 95%');"
        "return [t, m ? Array.from(m.x) : []];")


def test_the_study_page_follows_three_workers_live(served, driver):
    url, root, stop_file = served
    art = _artifacts()
    d = driver
    from urllib.parse import quote

    start = time.perf_counter()
    study_url = f"{root}study/{quote(NAME, safe='')}"
    d.get(study_url)
    assert d.find_element(By.ID, "study-name").text == NAME  # escaped, shown as text
    first = _wait("the first trials", lambda: _total(d))
    grown = _wait("the table growing", lambda: _total(d) > first + 2 and _total(d))
    print(f"\ntrials table grew from {first} to {grown} without a reload "
          f"({time.perf_counter() - start:.1f} s)")
    rows = _rows(d)
    assert rows and rows == sorted(rows, reverse=True)  # newest first

    # the GP panels arrive once the server's background fit is ready
    _wait("the posterior slice", lambda: "along x" in _slice(d)[0] and _slice(d)[1])
    print(f"posterior slice drawn ({time.perf_counter() - start:.1f} s)")
    d.find_element(By.CSS_SELECTOR, '#param-picker button[data-param="lr"]').click()
    title, xs = _wait("the slice along lr", lambda: "along lr" in _slice(d)[0] and _slice(d)[1]
                      and _slice(d))
    assert min(xs) == pytest.approx(1e-4) and max(xs) == pytest.approx(1.0)
    active = d.find_element(By.CSS_SELECTOR, "#param-picker button.active").text
    assert active == "lr"
    _wait("the importance bars",
          lambda: d.execute_script("return !!document.getElementById('plot-importance').data"))

    Path(stop_file).touch()  # the workers stop; this process tells trials and times them
    time.sleep(1.0)
    study = bt.load_study(url, NAME, sampler=bt.samplers.RandomSampler(seed=9))
    latencies = []
    for _ in range(5):
        t = study.ask()
        told = time.perf_counter()
        study.tell(t, _loss(t.params))
        _wait(f"trial {t.number}", lambda n=t.number: n in _rows(d), every=0.01)
        latencies.append(time.perf_counter() - told)
        time.sleep(0.3)
    print("new trial visible in the page after its tell: "
          + ", ".join(f"{s:.2f}" for s in latencies)
          + f" s (median {statistics.median(latencies):.2f} s, page polls every 0.5 s)")

    _shot(d, art / "study-1366.png", 1366, 768)
    _shot(d, art / "study-1920.png", 1920, 1080)
    d.get(root)
    _wait("the studies list", lambda: d.find_elements(By.CSS_SELECTOR, "#studies tbody a"))
    assert d.find_element(By.CSS_SELECTOR, "#studies tbody a").text == NAME
    _shot(d, art / "studies-1366.png", 1366, 768)
    pruned = next(t.number for t in study.trials if t.state is bt.TrialState.PRUNED)
    d.get(f"{root}trial/{quote(NAME, safe='')}/{pruned}")
    _wait("the trial's curve",
          lambda: d.execute_script("return !!document.getElementById('plot-curve').data"))
    assert "median pruner" in d.find_element(By.ID, "facts").text
    _shot(d, art / "trial-1366.png", 1366, 768)
    print(f"screenshots in {art}")

    errors = [e["message"] for e in d.get_log("browser")
              if e["level"] == "SEVERE" or "Error" in e["message"]]
    assert errors == []
