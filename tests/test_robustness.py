"""Random input at every entry point: a typed error that names the value, or a correct
result; never another exception, a traceback, a hang or a changed database.

Hypothesis feeds random spaces, values, parameter sets and study files (valid ones with
random damage) to ``Space.from_dict``, ``tell``, ``enqueue``, ``from_json`` and the
command line (in process, and a few runs as a program). A refused operation must leave
the SQLite file as it was: its image (``Connection.serialize``, which includes what the
WAL holds) is hashed before and after.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import math
import os
import sqlite3
import subprocess
import sys
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bayestune as bt
from bayestune._checks import short_repr
from bayestune.cli import main
from bayestune.trial import TrialState, check_record

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPACE = bt.Space({"lr": bt.Float(1e-5, 1.0, log=True), "n": bt.Int(1, 8),
                  "opt": bt.Categorical(["adam", "sgd", None, 3])})
# a hang fails the example; the CI profile has no per-example deadline otherwise
FAST = settings(deadline=timedelta(seconds=30), max_examples=40,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
MORE = settings(FAST, max_examples=400)

# -- strategies ----------------------------------------------------------------------------------
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.sampled_from([0, 1, -1, 10**400, -(10**400), 2**53 + 1, 1e308, -1e308, 5e-324]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=6))
json_docs = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=5), inner, max_size=4)),
    max_leaves=12,
)
flags = st.one_of(st.booleans(), st.sampled_from(["false", "true", "no", 0, 1, None]))


@st.composite
def dimension_docs(draw) -> dict:
    """Dimension descriptions, most nearly right, many with one thing wrong."""
    kind = draw(st.sampled_from(["float", "int", "categorical", "normal", None, 3]))
    d: dict = {} if kind is None else {"type": kind}
    if kind in ("float", "int") or draw(st.booleans()):
        for key in ("low", "high"):
            if draw(st.integers(0, 9)):  # now and then a bound is missing
                d[key] = draw(numbers)
    if kind == "categorical" or draw(st.integers(0, 4)) == 0:
        d["choices"] = draw(st.one_of(st.lists(scalars, max_size=4), json_docs))
    for key, values in (("log", flags), ("step", numbers), ("default", scalars),
                        ("lgo", st.booleans())):
        if draw(st.integers(0, 3)) == 0:
            d[key] = draw(values)
    return d


space_docs = st.one_of(
    st.dictionaries(st.text(max_size=4), st.one_of(dimension_docs(), json_docs),
                    min_size=0, max_size=3),
    json_docs,
)
told_values = st.one_of(
    numbers, st.none(), st.booleans(), st.text(max_size=6),
    st.lists(st.floats(allow_nan=False), max_size=3),
    st.builds(np.float64, st.floats()), st.builds(np.float32, st.floats(width=32)),
    st.builds(np.array, st.lists(st.floats(), max_size=3)),
)
param_values = st.one_of(scalars, st.sampled_from([1e-3, 0.5, 1, 2, 8, 9, "adam", None, 3,
                                                    3.0, True, np.int64(2), np.float64(0.1)]))
param_sets = st.one_of(
    st.dictionaries(st.sampled_from(["lr", "n", "opt", "extra", ""]), param_values,
                    max_size=5),
    json_docs,
)


# -- what an answer must look like -----------------------------------------------------------------
def _atoms(doc, depth: int = 0):
    """The document, and its keys and values, down a few levels."""
    yield doc
    if depth > 3:
        return
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield k
            yield from _atoms(v, depth + 1)
    elif isinstance(doc, (list, tuple)):
        for v in doc:
            yield from _atoms(v, depth + 1)


def _names_something_of(message: str, doc) -> bool:
    """The message names (a part of) what it refused: a key, a value, or the whole."""
    for atom in _atoms(doc):
        shown = {short_repr(atom), repr(atom)[:40]}
        if isinstance(atom, float) and math.isfinite(atom):
            shown |= {f"{atom:g}", str(atom)}
        if isinstance(atom, str) and atom:
            shown.add(atom)
        if any(s and s in message for s in shown):
            return True
    return False


def _image(path) -> str:
    """A hash of the database as SQLite reads it (the WAL's content included)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return hashlib.sha256(con.serialize()).hexdigest()
    finally:
        con.close()


def _cli(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as e:  # bad arguments: argparse exits 2
            code = e.code
    return code, out.getvalue(), err.getvalue()


def _one_line_error(code: int, err: str, command: str) -> None:
    assert code in (1, 2), (code, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "error:" in err, err
    if code == 1:
        assert err.startswith(f"bayestune {command}: error:"), err
        assert "unexpected" not in err, err  # the catch-all is for bugs: none may reach it


# -- Space.from_dict -------------------------------------------------------------------------------
def _check_from_dict(doc) -> None:
    try:
        space = bt.Space.from_dict(doc)
    except bt.InvalidSpaceError as e:
        assert isinstance(e, ValueError)
        assert _names_something_of(str(e), doc), (str(e), doc)
        return
    assert bt.Space.from_dict(json.loads(json.dumps(space.to_dict()))) == space
    for name, dim in space.dims.items():  # nothing was ignored or guessed
        given = doc[name]
        assert set(given) <= set(dim.to_dict()), given
        if "log" in given:
            assert given["log"] is dim.log or (given["log"] == dim.log
                                               and type(given["log"]).__name__ == "bool_")
        ok = dim.contains(dim.from_cube(0.5)) and dim.contains(dim.from_cube(1.0))
        assert ok, dim


@FAST
@given(space_docs)
def test_space_from_dict_builds_a_space_or_names_what_is_wrong(doc):
    _check_from_dict(doc)


@pytest.mark.slow
@MORE
@given(space_docs)
def test_space_from_dict_many_more_documents(doc):
    _check_from_dict(doc)


# -- tell ------------------------------------------------------------------------------------------
def _check_tell(value) -> None:
    study = bt.Study(SPACE, sampler=bt.samplers.RandomSampler(seed=0))
    trial = study.ask()
    try:
        rec = study.tell(trial, value)
    except bt.InvalidValueError as e:
        shape = getattr(value, "shape", None)
        assert (short_repr(value) in str(e) or (shape is not None and str(shape) in str(e))
                or str(value)[:20] in str(e)), (str(e), value)
        assert study.get_trial(trial.number).state is TrialState.RUNNING  # untouched
        return
    as_float = float(np.asarray(value).item()) if value is not None else None
    if as_float is not None and math.isfinite(as_float):
        assert rec.state is TrialState.COMPLETE and rec.value == as_float
        assert study.best_value == as_float
    else:
        assert rec.state is TrialState.FAILED and rec.value is None and rec.fail_reason


@FAST
@given(told_values)
def test_tell_records_a_number_fails_a_non_finite_one_or_names_the_value(value):
    _check_tell(value)


@pytest.mark.slow
@MORE
@given(told_values)
def test_tell_many_more_values(value):
    _check_tell(value)


# -- enqueue ---------------------------------------------------------------------------------------
@FAST
@given(param_sets)
def test_enqueue_queues_a_configuration_of_the_space_or_names_what_is_wrong(params):
    study = bt.Study(SPACE, sampler=bt.samplers.RandomSampler(seed=0))
    try:
        number = study.enqueue(params)
    except (bt.InvalidParamError, bt.InvalidValueError) as e:
        assert _names_something_of(str(e), params), (str(e), params)
        assert study.trials == []
        return
    queued = study.get_trial(number)
    assert queued.state is TrialState.WAITING and SPACE.contains(queued.params)
    assert study.ask().params == queued.params


# -- from_json -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def export(tmp_path_factory) -> dict:
    study = bt.Study(SPACE, name="src", sampler=bt.samplers.RandomSampler(seed=0))
    for i in range(3):
        t = study.ask()
        t.report(0, 0.5)
        study.tell(t, float(i))
    study.tell(study.ask(), state="FAILED", reason="oom")
    study.enqueue({"lr": 0.01, "n": 2, "opt": None})
    study.ask()  # left RUNNING
    path = tmp_path_factory.mktemp("export") / "s.json"
    study.to_json(path)
    return json.loads(path.read_text())


@st.composite
def damaged_exports(draw, export_fixture) -> dict:
    """The export with one to three places replaced by random JSON."""
    data = copy.deepcopy(export_fixture)
    for _ in range(draw(st.integers(1, 3))):
        node = data
        for _depth in range(draw(st.integers(1, 4))):
            if isinstance(node, dict) and node:
                key = draw(st.sampled_from(sorted(node)))
            elif isinstance(node, list) and node:
                key = draw(st.integers(0, len(node) - 1))
            else:
                break
            if not isinstance(node[key], (dict, list)) or draw(st.booleans()):
                node[key] = draw(st.one_of(json_docs, st.just(None)))
                break
            node = node[key]
    return data


def _check_from_json(data, tmp_path) -> None:
    path = tmp_path / "in.json"
    path.write_text(json.dumps(data))
    db = tmp_path / "into.db"
    if not db.exists():
        bt.Study(SPACE, storage=str(db), name="keep", sampler=bt.samplers.RandomSampler(seed=0))
    before = _image(db)
    name = f"copy{len(bt.storage.SQLiteStorage(db).list_studies())}"
    try:
        study = bt.Study.from_json(path, storage=str(db), name=name)
    except bt.StorageError as e:
        assert "in.json" in str(e), str(e)
        assert _image(db) == before
        return
    space = study.space
    assert len(study.trials) == len(data["trials"])
    for t in study.trials:
        check_record(t, space)  # everything it took is what tell would take
    assert study.ask() is not None


@FAST
@given(st.data())
def test_from_json_takes_a_sound_file_or_refuses_it_untouched(export, tmp_path, data):
    _check_from_json(data.draw(damaged_exports(export)), tmp_path)


@pytest.mark.slow
@MORE
@given(st.data())
def test_from_json_many_more_files(export, tmp_path, data):
    _check_from_json(data.draw(damaged_exports(export)), tmp_path)


# -- the command line, in process -----------------------------------------------------------------
@pytest.fixture
def cli_db(tmp_path):
    db = str(tmp_path / "cli.db")
    code, _, err = _cli("create", "--storage", db, "--name", "s", "--space",
                        json.dumps(SPACE.to_dict()), "--sampler", "random", "--seed", "0")
    assert code == 0, err
    return db


@FAST
@given(space_docs)
def test_cli_create_with_any_space(cli_db, doc):
    before = _image(cli_db)
    text = json.dumps(doc)
    if not text.lstrip().startswith("{"):  # not inline JSON for the CLI: give a file
        path = os.path.join(os.path.dirname(cli_db), "space.json")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        text = path
    code, out, err = _cli("create", "--storage", cli_db, "--name", "n", "--space", text)
    if code == 0:
        assert json.loads(out)["study"] == "n"
        assert bt.load_study(cli_db, "n").space == bt.Space.from_dict(doc)
        con = sqlite3.connect(cli_db)  # the next example creates "n" again
        con.execute("DELETE FROM studies WHERE name='n'")
        con.commit()
        con.close()
        return
    _one_line_error(code, err, "create")
    assert _image(cli_db) == before


@FAST
@given(param_sets)
def test_cli_enqueue_with_any_params(cli_db, params):
    before = _image(cli_db)
    code, out, err = _cli("enqueue", "--storage", cli_db, "--name", "s", "--params",
                          json.dumps(params, default=lambda o: o.tolist()))
    if code == 0:
        assert SPACE.contains(params)
        return
    _one_line_error(code, err, "enqueue")
    assert _image(cli_db) == before


value_texts = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats().map(lambda v: f"{v:e}"),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["-1e-3", "-1e308", "1e400", "-inf", "nan", "abc", "", "--", "-",
                     "1,5", "0x10", "-.5", "1_000"]),
)


@FAST
@given(value_texts)
def test_cli_tell_with_any_value(cli_db, text):
    code, out, err = _cli("ask", "--storage", cli_db, "--name", "s")
    number = json.loads(out)["trial"]
    before = _image(cli_db)
    code, out, err = _cli("tell", "--storage", cli_db, "--name", "s", "--trial", str(number),
                          "--value", text)
    if code == 0:
        assert json.loads(out)["value"] == float(text.replace("_", "")) and \
            math.isfinite(float(text.replace("_", "")))
        return
    _one_line_error(code, err, "tell")
    assert _image(cli_db) == before


# -- the command line, as a program ----------------------------------------------------------------
@pytest.mark.parametrize("argv", [
    ["create", "--name", "x", "--space", '{"x": ' * 3000 + "1" + "}" * 3000],
    ["create", "--name", "x", "--space", '{"x": {"type": "float", "low": 1e-5, "high": 1, '
                                         '"log": "false"}}'],
    ["enqueue", "--name", "s", "--params", '{"lr": ' + "[" * 3000 + "]" * 3000 + "}"],
    ["tell", "--name", "s", "--trial", "0", "--value", "-1e-3"],
])
def test_the_program_answers_in_one_line_without_traceback(cli_db, argv):
    env = {**os.environ, "PYTHONPATH": ROOT}
    before = _image(cli_db)
    if argv[0] == "tell":
        assert _cli("ask", "--storage", cli_db, "--name", "s")[0] == 0
    run = subprocess.run([sys.executable, "-m", "bayestune.cli", argv[0], "--storage", cli_db,
                          *argv[1:]], capture_output=True, text=True, env=env, timeout=300)
    if argv[0] == "tell":
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["value"] == -1e-3
        return
    assert run.returncode == 1 and run.stdout == ""
    assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert _image(cli_db) == before
