"""The ``bayestune`` command line: create / ask / tell / best / trials, and its errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import types

import pytest

import bayestune as bt
from bayestune.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPACE = {"lr": {"type": "float", "low": 1e-5, "high": 1.0, "log": True},
         "layers": {"type": "int", "low": 1, "high": 4},
         "opt": {"type": "categorical", "choices": ["adam", "sgd"]}}


@pytest.fixture
def db(tmp_path):
    (tmp_path / "space.json").write_text(json.dumps(SPACE))
    return str(tmp_path / "tune.db")


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def create(capsys, db, *extra) -> None:
    space = os.path.join(os.path.dirname(db), "space.json")
    code, out, err = run(capsys, "create", "--storage", db, "--name", "s", "--space", space,
                         "--sampler", "random", "--seed", "3", *extra)
    assert code == 0, err
    assert json.loads(out)["study"] == "s"


def test_ask_and_tell_round_trip(capsys, db):
    create(capsys, db)
    code, out, _ = run(capsys, "ask", "--storage", db, "--name", "s")
    asked = json.loads(out)
    assert code == 0 and asked["trial"] == 0
    assert bt.Space.from_dict(SPACE).contains(asked["params"])
    code, out, _ = run(capsys, "tell", "--storage", db, "--name", "s", "--trial", "0",
                       "--value", "0.25")
    assert code == 0 and json.loads(out) == {"trial": 0, "state": "COMPLETE", "value": 0.25}
    study = bt.load_study(db, "s")
    assert study.best_value == 0.25 and study.best_params == asked["params"]
    assert isinstance(study.sampler, bt.samplers.RandomSampler) and study.sampler.seed == 3


def test_failed_and_pruned_tells(capsys, db):
    create(capsys, db)
    for _ in range(3):
        run(capsys, "ask", "--storage", db, "--name", "s")
    assert run(capsys, "tell", "--storage", db, "--name", "s", "--trial", "0",
               "--failed", "--reason", "CUDA OOM")[0] == 0
    assert run(capsys, "tell", "--storage", db, "--name", "s", "--trial", "1",
               "--pruned", "--value", "3.5")[0] == 0
    trials = bt.load_study(db, "s").trials
    assert trials[0].state is bt.TrialState.FAILED and trials[0].fail_reason == "CUDA OOM"
    assert trials[1].state is bt.TrialState.PRUNED and trials[1].value == 3.5
    assert trials[2].state is bt.TrialState.RUNNING


def test_best_and_trials_print_tables_and_json(capsys, db):
    create(capsys, db)
    for value in ("2.0", "1.0"):
        asked = json.loads(run(capsys, "ask", "--storage", db, "--name", "s")[1])
        run(capsys, "tell", "--storage", db, "--name", "s", "--trial", str(asked["trial"]),
            "--value", value)
    code, out, _ = run(capsys, "best", "--storage", db, "--name", "s")
    assert code == 0 and out.startswith("best trial 1: value 1") and "layers" in out
    best = json.loads(run(capsys, "best", "--storage", db, "--name", "s", "--json")[1])
    assert best["trial"] == 1 and best["value"] == 1.0
    code, out, _ = run(capsys, "trials", "--storage", db, "--name", "s")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["trial", "state", "value", "lr", "layers",
                                              "opt", "seconds"]
    assert len(lines) == 3 and "COMPLETE" in lines[1]
    records = json.loads(run(capsys, "trials", "--storage", db, "--name", "s", "--json")[1])
    assert [r["number"] for r in records] == [0, 1] and records[0]["value"] == 2.0
    only = json.loads(run(capsys, "trials", "--storage", db, "--name", "s", "--json",
                          "--state", "FAILED")[1])
    assert only == []


def test_enqueue_then_ask_gets_that_configuration(capsys, db):
    create(capsys, db)
    params = {"lr": 0.001, "layers": 2, "opt": "sgd"}
    assert run(capsys, "enqueue", "--storage", db, "--name", "s", "--params",
               json.dumps(params))[0] == 0
    assert json.loads(run(capsys, "ask", "--storage", db, "--name", "s")[1])["params"] == params


def test_create_takes_inline_json_and_load_if_exists(capsys, db):
    code, _, err = run(capsys, "create", "--storage", db, "--name", "g", "--space",
                       json.dumps(SPACE), "--direction", "maximize")
    assert code == 0, err
    assert bt.load_study(db, "g").direction == "maximize"
    assert isinstance(bt.load_study(db, "g").sampler, bt.samplers.GPSampler)
    code, _, err = run(capsys, "create", "--storage", db, "--name", "g", "--space",
                       json.dumps(SPACE))
    assert code == 1 and "already exists" in err
    code, _, _ = run(capsys, "create", "--storage", db, "--name", "g", "--space",
                     json.dumps(SPACE), "--direction", "maximize", "--load-if-exists")
    assert code == 0
    assert run(capsys, "studies", "--storage", db)[1].split() == ["g"]


@pytest.mark.parametrize(("argv", "message"), [
    (["ask", "--storage", "{db}", "--name", "nope"], "no study named 'nope'"),
    (["tell", "--storage", "{db}", "--name", "s", "--trial", "9", "--value", "1"],
     "no trial number 9"),
    (["tell", "--storage", "{db}", "--name", "s", "--trial", "0"], "needs --value"),
    (["tell", "--storage", "{db}", "--name", "s", "--trial", "0", "--value", "nan"],
     "use --failed"),
    (["best", "--storage", "{db}", "--name", "s"], "no completed trial"),
    (["ask", "--storage", "{dir}/missing.db", "--name", "s"], "no storage file"),
    (["create", "--storage", "{db}", "--name", "x", "--space", "{dir}/nope.json"],
     "No such file"),
    (["create", "--storage", "{db}", "--name", "x", "--space", "{{bad"], "not valid JSON"),
    (["create", "--storage", "{db}", "--name", "x", "--space", '{{"a": {{"type": "float"}}}}'],
     "missing key"),
    (["create", "--storage", "{db}", "--name", "x", "--space", '{{"x": 5}}'], "'x': 5"),
    (["create", "--storage", "{db}", "--name", "x", "--space", '{{"x": null}}'], "'x': None"),
    (["create", "--storage", "{db}", "--name", "x", "--space", '{{"x": [1]}}'],
     r"'x': \[1\]"),
    (["create", "--storage", "{db}", "--name", "x", "--space",
      '{{"x": {{"type": "float", "low": 0.001, "high": 1, "log": "false"}}}}'], "log='false'"),
    (["create", "--storage", "{db}", "--name", "x", "--space",
      '{{"x": {{"type": "float", "low": 0.001, "high": 1, "lgo": true}}}}'], "'lgo'"),
    (["create", "--storage", "{db}", "--name", "x", "--space", '{{"x": ' * 5000 + "}}" * 5000],
     "nested too deeply"),
    (["create", "--storage", "{db}", "--name", "x", "--space", "{{" + '"x": [' * 5000],
     "nested too deeply|not valid JSON"),
    (["enqueue", "--storage", "{db}", "--name", "s", "--params", '{{"lr": ' + "[" * 5000],
     "nested too deeply|not valid JSON"),
    (["enqueue", "--storage", "{db}", "--name", "s", "--params",
      '{{"lr": ' + "[" * 5000 + "]" * 5000 + "}}"], "nested too deeply"),
    (["enqueue", "--storage", "{db}", "--name", "s", "--params", "[1, 2]"], r"\[1, 2\]"),
    (["enqueue", "--storage", "{db}", "--name", "s", "--params", "null"], "None"),
    (["enqueue", "--storage", "{db}", "--name", "s", "--params", '{{"lr": 7}}'],
     "unknown parameter|missing"),
])
def test_refused_operations_exit_1_with_one_line(capsys, db, argv, message):
    create(capsys, db)
    argv = [a.format(db=db, dir=os.path.dirname(db)) for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(f"bayestune {argv[0]}: error:")
    assert re.search(message, err), err


@pytest.mark.parametrize("value", ["-1e-3", "-1E+3", "-1e308", "-.5e-2", "-2.5", "-7"])
def test_tell_takes_negative_values_in_any_notation(capsys, db, value):
    create(capsys, db)
    run(capsys, "ask", "--storage", db, "--name", "s")
    code, out, err = run(capsys, "tell", "--storage", db, "--name", "s", "--trial", "0",
                         "--value", value)
    assert code == 0, err
    assert json.loads(out)["value"] == float(value)


def test_tell_with_a_negative_infinity_says_use_failed(capsys, db):
    create(capsys, db)
    run(capsys, "ask", "--storage", db, "--name", "s")
    code, _, err = run(capsys, "tell", "--storage", db, "--name", "s", "--trial", "0",
                       "--value", "-inf")
    assert code == 1 and "use --failed" in err


def test_a_foreign_file_is_refused_untouched(capsys, tmp_path):
    f = tmp_path / "data.csv"
    f.write_text("a,b\n1,2\n")
    code, _, err = run(capsys, "ask", "--storage", str(f), "--name", "s")
    assert code == 1 and "not a SQLite database" in err
    assert f.read_text() == "a,b\n1,2\n"


@pytest.mark.parametrize("argv", [[], ["frobnicate"], ["ask"], ["ask", "--storage", "x"],
                                  ["tell", "--storage", "x", "--name", "s", "--trial", "one"],
                                  ["tell", "--storage", "x", "--name", "s", "--trial", "0",
                                   "--failed", "--pruned"]])
def test_bad_arguments_exit_2_with_one_line(capsys, argv):
    with pytest.raises(SystemExit) as e:
        main(argv)
    _, err = capsys.readouterr()
    assert e.value.code == 2
    assert len(err.strip().splitlines()) == 1 and "error:" in err


def test_demo_is_delegated_to_the_demo_module(monkeypatch, capsys):
    seen = {}
    fake = types.ModuleType("bayestune.demo")
    fake.add_arguments = lambda p: p.add_argument("--n-trials", type=int, default=20)

    def fake_main(args):
        seen["n_trials"] = args.n_trials
        return 0

    fake.main = fake_main
    monkeypatch.setitem(sys.modules, "bayestune.demo", fake)
    monkeypatch.setattr(bt, "demo", fake, raising=False)
    assert main(["demo", "--n-trials", "3"]) == 0
    assert seen == {"n_trials": 3}


def test_the_command_runs_as_a_program_without_tracebacks(tmp_path):
    env = {**os.environ, "PYTHONPATH": ROOT}
    bad = subprocess.run([sys.executable, "-m", "bayestune.cli", "tell", "--storage",
                          str(tmp_path / "t.db"), "--name", "s", "--trial", "0", "--value",
                          "1"], capture_output=True, text=True, env=env, timeout=300)
    assert bad.returncode == 1
    assert bad.stderr.strip().count("\n") == 0 and "Traceback" not in bad.stderr
    assert "no storage file" in bad.stderr
