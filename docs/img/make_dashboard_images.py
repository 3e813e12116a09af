"""Rebuild the dashboard screenshots of docs/dashboard.md.

Fills a GP-tuned study (with reports, pruned and failed runs), serves it with
``bayestune dashboard`` and screenshots its pages in headless Chromium at a laptop's
width. Needs the dashboard extra, selenium, chromium and chromium-driver.

    python docs/img/make_dashboard_images.py
"""

from __future__ import annotations

import math
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.parse

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

import bayestune as bt

HERE = os.path.dirname(os.path.abspath(__file__))
NAME = "mlp-digits"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-unsafe-swiftshader", "--hide-scrollbars")


def fill(url: str, n: int) -> None:
    space = bt.Space({"lr": bt.Float(1e-5, 1.0, log=True), "momentum": bt.Float(0.0, 0.99),
                      "layers": bt.Int(1, 6), "optimizer": bt.Categorical(["sgd", "adam", "rmsprop"])})
    study = bt.Study(space, storage=url, name=NAME, seed=0,
                     pruner=bt.pruners.MedianPruner(n_startup_trials=5))
    rng = random.Random(0)
    for _ in range(n):
        t = study.ask()
        p = t.params
        loss = (0.3 * (math.log10(p["lr"]) + 2.5) ** 2 + (p["momentum"] - 0.9) ** 2
                + 0.05 * p["layers"] + {"sgd": 0.3, "adam": 0.0, "rmsprop": 0.1}[p["optimizer"]]
                + 0.2)
        if p["lr"] > 0.2:
            study.tell(t, state="FAILED", reason="loss diverged (nan at epoch 2)")
            continue
        pruned = False
        for epoch in range(1, 11):
            v = loss + 2.0 / epoch + rng.gauss(0, 0.02)
            t.report(epoch, v)
            if t.should_prune():
                study.tell(t, v, state="PRUNED", reason=f"median pruner at epoch {epoch}")
                pruned = True
                break
        if not pruned:
            study.tell(t, loss)


def shot(driver, url: str, path: str, width: int = 1366, wait: float = 3.0) -> None:
    driver.set_window_size(width, 800)
    driver.get(url)
    time.sleep(wait)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, height + 100)
    driver.execute_script("window.scrollTo(0, 0)")
    time.sleep(2.0)
    driver.save_screenshot(path)


def main() -> None:
    folder = tempfile.mkdtemp()
    url = f"sqlite:///{folder}/tune.db"
    fill(url, 60)
    server = subprocess.Popen([sys.executable, "-m", "bayestune.cli", "dashboard", url,
                               "--port", "0"], stdout=subprocess.PIPE, text=True)
    root = server.stdout.readline().split(" at ")[1].split()[0]
    options = webdriver.ChromeOptions()
    for flag in (*FLAGS, f"--user-data-dir={tempfile.mkdtemp()}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    q = urllib.parse.quote(NAME, safe="")
    try:
        shot(driver, root + f"study/{q}", os.path.join(HERE, "dashboard-study.png"), wait=60)
        study = bt.load_study(url, NAME)
        pruned = max((t for t in study.trials if t.state.value == "PRUNED"),
                     key=lambda t: (len(t.intermediate_values), -t.number)).number
        shot(driver, root + f"trial/{q}/{pruned}", os.path.join(HERE, "dashboard-trial.png"))
        driver.set_window_size(1366, 300)
        driver.get(root)
        time.sleep(2.0)
        driver.save_screenshot(os.path.join(HERE, "dashboard-studies.png"))
    finally:
        driver.quit()
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
