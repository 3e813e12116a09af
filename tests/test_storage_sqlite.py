"""SQLite storage: URLs, refusing foreign files, schema version, processes, pickling."""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import pickle
import sqlite3

import pytest

import bayestune as bt
from bayestune.cli import main
from bayestune.storage import SQLiteStorage, StudyRecord, get_storage
from bayestune.storage.sqlite import SCHEMA_VERSION, parse_sqlite_url
from bayestune.trial import TrialState

SPACE = {"x": {"type": "float", "low": 0.0, "high": 1.0, "log": False, "default": None}}


def _digest(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def _new(path) -> SQLiteStorage:
    s = SQLiteStorage(path)
    s.create_study(StudyRecord(name="s", space=SPACE, direction="minimize"))
    return s


@pytest.mark.parametrize(("url", "path"), [
    ("sqlite:///tune.db", "tune.db"),
    ("sqlite:////abs/tune.db", "/abs/tune.db"),
    ("runs/tune.db", "runs/tune.db"),
])
def test_urls_and_plain_paths(url, path):
    assert parse_sqlite_url(url) == path


@pytest.mark.parametrize("url", ["postgresql://host/db", "sqlite:///", ""])
def test_other_urls_are_refused(url):
    with pytest.raises(bt.StorageError):
        parse_sqlite_url(url)


def test_get_storage_opens_a_url_and_a_path(tmp_path):
    a = get_storage(f"sqlite:///{tmp_path / 'a.db'}")
    b = get_storage(tmp_path / "b.db")
    assert isinstance(a, SQLiteStorage) and isinstance(b, SQLiteStorage)
    assert a.url == f"sqlite:///{tmp_path / 'a.db'}"
    assert (tmp_path / "a.db").exists() and (tmp_path / "b.db").exists()


def test_the_file_has_a_schema_version_and_wal(tmp_path):
    _new(tmp_path / "t.db")
    con = sqlite3.connect(tmp_path / "t.db")
    assert con.execute("SELECT value FROM bayestune_meta WHERE key='schema_version'") \
        .fetchone() == (str(SCHEMA_VERSION),)
    assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_text_file_is_refused_and_left_alone(tmp_path):
    f = tmp_path / "notes.db"
    f.write_text("my precious notes\n" * 100)
    before = _digest(f)
    with pytest.raises(bt.StorageError, match="not a SQLite database"):
        SQLiteStorage(f)
    with pytest.raises(bt.StorageError):
        bt.Study(bt.Space({"x": bt.Float(0, 1)}), storage=str(f))
    assert _digest(f) == before


@pytest.mark.parametrize("content", [b"x", b"\0", b"PK\x03\x04" + bytes(range(256)) * 4])
def test_a_tiny_or_binary_file_is_refused_and_left_alone(tmp_path, content):
    f = tmp_path / "blob.db"
    f.write_bytes(content)  # SQLite alone would take the 1-byte files for empty databases
    with pytest.raises(bt.StorageError, match="not a SQLite database"):
        SQLiteStorage(f)
    assert f.read_bytes() == content
    assert os.listdir(tmp_path) == ["blob.db"]  # no -wal or -shm beside it either


def test_another_programs_database_is_refused_and_left_alone(tmp_path):
    f = tmp_path / "app.db"
    con = sqlite3.connect(f)
    con.execute("CREATE TABLE users (id INTEGER, name TEXT)")
    con.execute("INSERT INTO users VALUES (1, 'ada')")
    con.commit()
    con.close()
    before = _digest(f)
    with pytest.raises(bt.StorageError, match="another program.*users"):
        SQLiteStorage(f)
    assert _digest(f) == before


def test_another_schema_version_is_refused_and_left_alone(tmp_path):
    f = tmp_path / "future.db"
    s = _new(f)
    s.create_trial("s", TrialState.COMPLETE, {"x": 0.5}, 1.0)
    del s
    con = sqlite3.connect(f)
    con.execute("UPDATE bayestune_meta SET value='99' WHERE key='schema_version'")
    con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    before = _digest(f)
    with pytest.raises(bt.StorageError, match="schema version 99.*reads version 1"):
        SQLiteStorage(f)
    with pytest.raises(bt.StorageError, match="schema version 99"):
        bt.load_study(str(f), "s")
    assert _digest(f) == before


def test_a_corrupt_database_is_a_clear_error(tmp_path):
    f = tmp_path / "corrupt.db"
    s = _new(f)
    for _ in range(50):
        s.create_trial("s", TrialState.COMPLETE, {"x": 0.5}, 1.0)
    del s
    con = sqlite3.connect(f)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    data = bytearray(f.read_bytes())
    data[100:4096] = os.urandom(4096 - 100)  # the header survives, the schema page does not
    f.write_bytes(bytes(data))
    before = _digest(f)
    with pytest.raises(bt.StorageError, match="corrupt|not a bayestune"):
        SQLiteStorage(f)
    assert _digest(f) == before


def test_a_folder_or_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(bt.StorageError, match="folder"):
        SQLiteStorage(tmp_path)
    with pytest.raises(bt.StorageError, match="no storage file"):
        SQLiteStorage(tmp_path / "missing.db", must_exist=True)
    with pytest.raises(bt.StorageError, match="no storage file"):
        bt.load_study(str(tmp_path / "missing.db"), "s")
    assert not (tmp_path / "missing.db").exists()
    with pytest.raises(bt.StorageError, match="cannot open|unable"):
        SQLiteStorage(tmp_path / "no" / "such" / "dir.db")


def test_two_handles_on_one_file_see_each_others_changes(tmp_path):
    a = _new(tmp_path / "t.db")
    b = SQLiteStorage(tmp_path / "t.db")
    a.create_trial("s", TrialState.RUNNING)
    assert [t.state for t in b.get_trials("s")] == [TrialState.RUNNING]
    b.set_trial_params("s", 0, {"x": 0.5})
    b.finish_trial("s", 0, TrialState.COMPLETE, 0.5)
    a.set_user_attr("s", 0, "seen", True)
    assert a.get_trial("s", 0).state is TrialState.COMPLETE
    assert b.get_trial("s", 0).user_attrs == {"seen": True}
    assert b.create_trial("s", TrialState.RUNNING).number == 1
    assert [t.number for t in a.get_trials("s")] == [0, 1]


def test_a_pickled_storage_reopens_the_same_file(tmp_path):
    a = _new(tmp_path / "t.db")
    a.create_trial("s", TrialState.COMPLETE, {"x": 0.1}, 2.0)
    b = pickle.loads(pickle.dumps(a))
    assert b.path == a.path and b.get_trial("s", 0).value == 2.0


def _child_appends(storage: SQLiteStorage, conn) -> None:
    t = storage.create_trial("s", TrialState.COMPLETE, {"x": 0.9}, 9.0)
    conn.send(t.number)


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="needs fork")
def test_a_forked_child_opens_its_own_connection(tmp_path):
    s = _new(tmp_path / "t.db")
    s.create_trial("s", TrialState.COMPLETE, {"x": 0.1}, 1.0)
    assert len(s.get_trials("s")) == 1  # the parent's connection is open
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe()
    p = ctx.Process(target=_child_appends, args=(s, child))
    p.start()
    p.join(30)
    assert p.exitcode == 0 and parent.recv() == 1
    assert [t.value for t in s.get_trials("s")] == [1.0, 9.0]  # parent still works


def _child_checks_inheritance(storage: SQLiteStorage, inherited, conn) -> None:
    from bayestune.storage import sqlite as module  # noqa: PLC0415

    conn.send((storage._conn is None, any(c is inherited for c in module._INHERITED)))


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="needs fork")
def test_a_forked_child_sets_inherited_connections_aside_unclosed_at_once(tmp_path):
    # Before any use in the child, so that garbage collection there cannot close them.
    s = _new(tmp_path / "t.db")
    inherited = s._connection()
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe()
    p = ctx.Process(target=_child_checks_inheritance, args=(s, inherited, child))
    p.start()
    p.join(30)
    assert p.exitcode == 0 and parent.recv() == (True, True)
    assert s._conn is inherited  # the parent keeps its own


def test_a_busy_file_gives_a_storage_error_after_the_timeout(tmp_path):
    s = _new(tmp_path / "t.db")
    blocker = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        slow = SQLiteStorage(tmp_path / "t.db", timeout=0.2)
        with pytest.raises(bt.StorageError, match="busy"):
            slow.create_trial("s", TrialState.RUNNING)
        assert s.get_trials("s") == []  # readers are never blocked (WAL)
    finally:
        blocker.execute("ROLLBACK")
    assert s.create_trial("s", TrialState.RUNNING).number == 0


def test_bad_options_are_refused(tmp_path):
    with pytest.raises(bt.InvalidValueError, match="timeout"):
        SQLiteStorage(tmp_path / "t.db", timeout=0)
    with pytest.raises(bt.StorageError):
        get_storage(3.5)  # type: ignore[arg-type]


# -- read-only ------------------------------------------------------------------------------
def _closed_storage(path) -> None:
    """A storage with one study and one trial, its WAL checkpointed into the file."""
    s = _new(path)
    s.create_trial("s", TrialState.COMPLETE, {"x": 0.5}, 1.0)
    s.create_trial("s", TrialState.WAITING, {"x": 0.7})
    del s
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()


def test_a_read_only_storage_reads_and_refuses_every_write_untouched(tmp_path):
    f = tmp_path / "t.db"
    _closed_storage(f)
    before = _digest(f)
    ro = SQLiteStorage(f, read_only=True)
    assert ro.read_only and "read_only=True" in repr(ro)
    assert ro.list_studies() == ["s"] and ro.get_study("s").direction == "minimize"
    assert [t.state for t in ro.get_trials("s")] == [TrialState.COMPLETE, TrialState.WAITING]
    record = StudyRecord(name="t", space=SPACE, direction="minimize")
    writes = [
        lambda: ro.create_study(record),
        lambda: ro.create_trial("s", TrialState.RUNNING),
        lambda: ro.set_trial_params("s", 0, {"x": 0.1}),
        lambda: ro.finish_trial("s", 0, TrialState.FAILED, None),
        lambda: ro.report("s", 0, 1, 0.5),
        lambda: ro.set_user_attr("s", 0, "k", 1),
        lambda: ro.import_trial("s", ro.get_trial("s", 0)),
        lambda: ro.record_heartbeat("s", [0]),
        lambda: ro.pop_waiting_trial("s"),
    ]
    for write in writes:
        with pytest.raises(bt.StorageError, match="read-only"):
            write()
    with pytest.raises(sqlite3.OperationalError, match="readonly"):  # not even through SQL
        ro._connection().execute("DELETE FROM trials")
    assert ro.reap_stale_trials("s", 0.0, requeue=True) == []  # nothing stale: no write
    assert _digest(f) == before
    assert [t.state for t in SQLiteStorage(f).get_trials("s")] == [TrialState.COMPLETE,
                                                                   TrialState.WAITING]


def test_read_only_needs_an_existing_storage_and_creates_none(tmp_path):
    with pytest.raises(bt.StorageError, match="no storage file"):
        SQLiteStorage(tmp_path / "missing.db", read_only=True)
    with pytest.raises(bt.StorageError, match="no storage file"):
        get_storage(f"sqlite:///{tmp_path / 'missing.db'}", read_only=True)
    assert os.listdir(tmp_path) == []
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).execute("PRAGMA user_version=1").connection.close()  # one page
    with pytest.raises(bt.StorageError, match="no bayestune storage"):
        SQLiteStorage(empty, read_only=True)
    with pytest.raises(bt.StorageError, match="in-memory"):
        SQLiteStorage(":memory:", read_only=True)


def test_a_read_only_reader_follows_a_live_writer_and_never_blocks_it(tmp_path):
    f = tmp_path / "t.db"
    w = _new(f)
    ro = get_storage(w, read_only=True)  # a writable storage reopened read-only
    assert isinstance(ro, SQLiteStorage) and ro.read_only and ro.path == w.path
    assert get_storage(ro, read_only=True) is ro
    assert ro.get_trials("s") == []
    w.create_trial("s", TrialState.COMPLETE, {"x": 0.1}, 1.0)
    assert [t.value for t in ro.get_trials("s")] == [1.0]
    # a reader in the middle of a read transaction does not hold up the writer
    conn = ro._connection()
    conn.execute("BEGIN")
    conn.execute("SELECT COUNT(*) FROM trials").fetchone()
    try:
        quick = SQLiteStorage(f, timeout=0.2)
        quick.create_trial("s", TrialState.COMPLETE, {"x": 0.2}, 2.0)
    finally:
        conn.execute("COMMIT")
    assert [t.value for t in ro.get_trials("s")] == [1.0, 2.0]
    w.create_study(StudyRecord(name="later", space=SPACE, direction="maximize"))
    assert ro.list_studies() == ["s", "later"]


def test_read_only_survives_pickling_and_refuses_memory(tmp_path):
    _closed_storage(tmp_path / "t.db")
    ro = pickle.loads(pickle.dumps(SQLiteStorage(tmp_path / "t.db", read_only=True)))
    assert ro.read_only and ro.get_trial("s", 0).value == 1.0
    with pytest.raises(bt.StorageError, match="read-only"):
        ro.create_trial("s", TrialState.RUNNING)
    with pytest.raises(bt.StorageError, match="only a SQLite storage"):
        get_storage(None, read_only=True)
    with pytest.raises(bt.StorageError, match="only a SQLite storage"):
        get_storage(bt.storage.InMemoryStorage(), read_only=True)


def test_load_study_on_a_read_only_storage_reads_the_history(tmp_path):
    url = f"sqlite:///{tmp_path / 't.db'}"
    study = bt.Study(bt.Space({"x": bt.Float(0, 1)}), storage=url, name="s",
                     sampler=bt.samplers.RandomSampler(seed=0))
    study.tell(study.ask(), 0.5)
    watched = bt.load_study(get_storage(url, read_only=True), "s")
    assert [t.value for t in watched.trials] == [0.5] and watched.best_value == 0.5
    with pytest.raises(bt.StorageError, match="read-only"):
        watched.ask()
    assert len(study.trials) == 1


# -- damaged rows: a StorageError naming the study, the trial and the field ----------------
def _study_with_three_trials(path) -> str:
    url = f"sqlite:///{path}"
    study = bt.Study(bt.Space({"x": bt.Float(0, 1)}), storage=url, name="s",
                     sampler=bt.samplers.RandomSampler(seed=0))
    for _ in range(3):
        t = study.ask()
        t.report(0, 0.5)
        study.tell(t, t.params["x"])
    return url


_ROW_DAMAGE = [
    ("UPDATE trials SET state='DONE' WHERE number=1", "state", "'DONE'"),
    ("UPDATE trials SET params='{not json' WHERE number=1", "params", "JSON"),
    ("UPDATE trials SET params='[1, 2]' WHERE number=1", "params", "[1, 2]"),
    ("UPDATE trials SET intermediate_values='{\"0\": ' WHERE number=1", "intermediate_values",
     "JSON"),
    ("UPDATE trials SET intermediate_values='{\"first\": 1}' WHERE number=1",
     "intermediate_values", "'first'"),
    ("UPDATE trials SET user_attrs='7' WHERE number=1", "user_attrs", "7"),
    ("UPDATE trials SET system_attrs='nope' WHERE number=1", "system_attrs", "JSON"),
    ("UPDATE trials SET datetime_start='yesterday' WHERE number=1", "datetime_start",
     "'yesterday'"),
    ("UPDATE trials SET value='abc' WHERE number=1", "value", "'abc'"),
    ("UPDATE trials SET value=NULL WHERE number=1", "value", "COMPLETE"),
    ("UPDATE trials SET number=7 WHERE number=1", "number", "missing"),
]


@pytest.mark.parametrize(("sql", "field", "named"), _ROW_DAMAGE)
def test_a_damaged_trial_row_is_a_storage_error_naming_study_trial_and_field(
        tmp_path, capsys, sql, field, named):
    path = tmp_path / "t.db"
    url = _study_with_three_trials(path)
    con = sqlite3.connect(path)
    con.execute(sql)
    con.commit()
    con.close()
    for read in (lambda: bt.load_study(url, "s").trials,
                 lambda: SQLiteStorage(path).get_trial("s", 1),
                 lambda: bt.load_study(url, "s").best_trial):
        with pytest.raises(bt.StorageError) as info:
            read()
        message = str(info.value)
        assert "'s'" in message and field in message and named in message, message
        assert "trial 1" in message or "trial 7" in message, message
    for command in ("trials", "best", "ask"):
        assert main([command, "--storage", str(path), "--name", "s"]) == 1
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and field in err, err


@pytest.mark.parametrize(("sql", "field", "named"), [
    ("UPDATE studies SET space='[1]'", "space", "[1]"),
    ("UPDATE studies SET space='{oops'", "space", "JSON"),
    ("UPDATE studies SET space='{\"x\": {\"type\": \"float\", \"low\": 0, \"high\": 1, "
     "\"lgo\": true}}'", "space", "'lgo'"),
    ("UPDATE studies SET settings='\"x\"'", "settings", "'x'"),
    ("UPDATE studies SET settings='{\"sampler\": 5}'", "settings.sampler", "5"),
    ("UPDATE studies SET direction='sideways'", "direction", "'sideways'"),
])
def test_a_damaged_study_row_is_a_storage_error_naming_study_and_field(tmp_path, capsys,
                                                                       sql, field, named):
    path = tmp_path / "t.db"
    url = _study_with_three_trials(path)
    con = sqlite3.connect(path)
    con.execute(sql)
    con.commit()
    con.close()
    with pytest.raises(bt.StorageError) as info:
        bt.load_study(url, "s")
    message = str(info.value)
    assert "'s'" in message and field in message and named in message, message
    for command in ("trials", "best", "ask"):
        assert main([command, "--storage", str(path), "--name", "s"]) == 1
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and field in err, err


# -- a database this user may only read ---------------------------------------------------
def _as_reader(fn):
    """``fn()``'s result, computed in a child process that may read but not write the file
    (root, who may write anything, becomes nobody there); exceptions come back as text."""
    import io
    import traceback
    from contextlib import redirect_stderr, redirect_stdout

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            out, err = io.StringIO(), io.StringIO()
            with redirect_stdout(out), redirect_stderr(err):
                try:
                    result = fn()
                except BaseException as e:  # noqa: BLE001
                    result = f"raised {type(e).__name__}: {e}"
            payload = pickle.dumps((result, out.getvalue(), err.getvalue()))
        except BaseException:  # noqa: BLE001
            payload = pickle.dumps(("child failed", "", traceback.format_exc()))
        os.write(write, payload)
        os._exit(0)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 1 << 16):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    return pickle.loads(b"".join(chunks))


@pytest.fixture(params=["folder read-only", "file read-only"])
def read_only_db(request):
    import shutil
    import tempfile

    def make(path):
        study = bt.Study(bt.Space({"x": bt.Float(0, 1)}), storage=path, name="s",
                         sampler=bt.samplers.RandomSampler(seed=0))
        study.tell(study.ask(), 0.25)
        study.tell(study.ask(), 0.5)
        return bt.load_study(path, "s").best_value

    folder = tempfile.mkdtemp(prefix="bayestune-ro-", dir="/tmp")
    path = os.path.join(folder, "t.db")
    # warm every import the reader needs (as nobody it may not read the install), on
    # another file: this process must hold no connection to the one read
    warm = os.path.join(folder, "warm.db")
    make(warm)
    main(["trials", "--storage", warm, "--name", "s", "--json"])
    pid = os.fork()
    if pid == 0:  # pragma: no cover - a writer that has exited when the reader comes
        import gc

        make(path)
        gc.collect()  # closes its connections: the last one removes the -wal and -shm
        os._exit(0)
    os.waitpid(pid, 0)
    assert sorted(f for f in os.listdir(folder) if f.startswith("t.db")) == ["t.db"]
    os.chmod(path, 0o444)
    os.chmod(folder, 0o555 if request.param == "folder read-only" else 0o1777)
    if os.access(path, os.W_OK) and os.geteuid() != 0:
        pytest.skip("this user may write a read-only file")
    yield path
    os.chmod(folder, 0o755)
    shutil.rmtree(folder)


def test_a_read_only_database_can_be_read_and_says_read_only_on_writes(read_only_db):
    path = read_only_db
    before = {f: _digest(os.path.join(os.path.dirname(path), f))
              for f in os.listdir(os.path.dirname(path)) if f.startswith("t.db")}

    def reads():
        study = bt.load_study(path, "s")
        return (study.best_value, len(study.trials), main(["best", "--storage", path,
                                                            "--name", "s", "--json"]),
                main(["trials", "--storage", path, "--name", "s"]),
                main(["studies", "--storage", path]))

    result, out, err = _as_reader(reads)
    assert result == (0.25, 2, 0, 0, 0), (result, err)
    assert '"value": 0.25' in out and "COMPLETE" in out and err == ""

    def writes():
        study = bt.load_study(path, "s")
        try:
            study.ask()
        except bt.StorageError as e:
            refused = str(e)
        codes = [main(["ask", "--storage", path, "--name", "s"]),
                 main(["tell", "--storage", path, "--name", "s", "--trial", "0",
                       "--value", "1"]),
                 main(["create", "--storage", path, "--name", "t", "--space",
                       '{"x": {"type": "float", "low": 0, "high": 1}}'])]
        return refused, codes

    (refused, codes), _, err = _as_reader(writes)
    assert "read-only" in refused and "corrupt" not in refused, refused
    assert codes == [1, 1, 1], err
    lines = err.strip().splitlines()
    assert len(lines) == 3 and all("read-only" in ln and "corrupt" not in ln for ln in lines)
    after = {f: _digest(os.path.join(os.path.dirname(path), f))
             for f in os.listdir(os.path.dirname(path)) if f in before}
    assert after == before
