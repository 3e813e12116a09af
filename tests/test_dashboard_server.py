"""Serving the dashboard: bt.dashboard(), its handle, the command line, the extra."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

import bayestune as bt
from bayestune.dashboard import is_loopback

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("plotly")

SPACE = bt.Space({"x": bt.Float(0.0, 1.0)})


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())


def _db(tmp_path, name: str = "s") -> str:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = bt.Study(SPACE, storage=url, name=name, sampler=bt.samplers.RandomSampler(seed=0))
    study.tell(study.ask(), 0.5)
    return url


def test_bt_dashboard_is_public_and_callable():
    assert "dashboard" in bt.__all__
    assert callable(bt.dashboard) and bt.dashboard.dashboard is not None


def test_importing_the_dashboard_or_the_cli_imports_no_web_or_torch_package():
    code = ("import sys, bayestune as bt, bayestune.cli as cli; cli.build_parser(); "
            "bt.dashboard; import bayestune.dashboard; "
            "print(sorted(m for m in ('starlette', 'uvicorn', 'plotly', 'torch') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "[]"


def test_a_background_dashboard_serves_and_stops(tmp_path):
    url = _db(tmp_path, name="a b")
    study = bt.load_study(url, "a b")
    handle = bt.dashboard(study, port=0, background=True)
    try:
        assert handle.running and handle.host == "127.0.0.1" and handle.port > 0
        assert handle.url == f"http://127.0.0.1:{handle.port}/study/a%20b"
        assert "127.0.0.1" in handle._repr_html_()
        root = f"http://127.0.0.1:{handle.port}"
        assert _get(root + "/api/studies")["studies"][0]["name"] == "a b"
        assert _get(root + "/api/studies/a%20b/summary")["n_trials"] == 1
        with urllib.request.urlopen(handle.url, timeout=30) as r:
            assert r.status == 200 and b"a b" in r.read()
    finally:
        handle.stop()
    assert not handle.running
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(root + "/api/studies", timeout=5)


def test_a_port_in_use_is_a_clear_error(tmp_path):
    url = _db(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        with pytest.raises(OSError, match=rf"cannot listen on 127.0.0.1:{s.getsockname()[1]}"):
            bt.dashboard(url, port=s.getsockname()[1], background=True)


def test_listening_beyond_this_machine_warns(tmp_path, caplog):
    url = _db(tmp_path)
    with caplog.at_level(logging.WARNING, logger="bayestune.dashboard"):
        handle = bt.dashboard(url, host="0.0.0.0", port=0, background=True)
    try:
        assert "anyone who can reach this machine" in caplog.text and "0.0.0.0" in caplog.text
        assert handle.url.startswith("http://127.0.0.1:")
        # any Host header is accepted there (the user chose the network)
        req = urllib.request.Request(handle.url + "api/studies", headers={"Host": "box.lan"})
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 200
    finally:
        handle.stop()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bayestune.dashboard"):
        bt.dashboard(url, port=0, background=True).stop()
    assert "anyone" not in caplog.text


@pytest.mark.parametrize(("host", "local"), [
    ("127.0.0.1", True), ("localhost", True), ("127.0.0.2", True), ("::1", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.4", False), ("box.lan", False),
])
def test_is_loopback(host, local):
    assert is_loopback(host) is local


def test_bad_options_and_files_are_refused(tmp_path):
    url = _db(tmp_path)
    with pytest.raises(bt.InvalidValueError, match="port"):
        bt.dashboard(url, port=70000)
    with pytest.raises(bt.InvalidValueError, match="poll_interval"):
        bt.dashboard(url, port=0, poll_interval=0)
    with pytest.raises(bt.StorageError, match="no storage file"):
        bt.dashboard(str(tmp_path / "missing.db"), port=0)
    assert not (tmp_path / "missing.db").exists()


def test_without_the_extra_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import uvicorn -> ImportError
    with pytest.raises(ImportError, match=r'pip install "bayestune\[dashboard\]".*uvicorn'):
        bt.dashboard.create_app(_db(tmp_path))


# -- the command line ----------------------------------------------------------------------
def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a shell's background job starts


def _start_cli(*args: str, background: bool = False) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "bayestune.cli", "dashboard", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=_ignore_sigint if background else None)
    line = proc.stdout.readline()
    return proc, line


def _stop(proc: subprocess.Popen, sig: int = signal.SIGINT) -> tuple[int, str]:
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return proc.returncode, err


@pytest.mark.parametrize(("sig", "background"), [
    (signal.SIGINT, False), (signal.SIGTERM, False), (signal.SIGINT, True)])
def test_the_command_prints_the_url_serves_and_stops_on_ctrl_c_or_kill(tmp_path, sig,
                                                                      background):
    url = _db(tmp_path)
    proc, line = _start_cli(url, "--port", "0", background=background)
    try:
        assert "(read-only) at http://127.0.0.1:" in line, line + proc.stderr.read()
        address = line.split(" at ")[1].split()[0]
        assert _get(address + "api/studies")["studies"][0]["n_trials"] == 1
    finally:
        code, err = _stop(proc, sig)
    assert code == 0 and "warning" not in err


def test_the_command_warns_when_listening_on_the_network(tmp_path):
    proc, line = _start_cli(_db(tmp_path), "--host", "0.0.0.0", "--port", "0", "--study", "s")
    try:
        assert "/study/s" in line
        time.sleep(0.2)
    finally:
        code, err = _stop(proc)
    assert code == 0
    assert "warning: the dashboard listens on 0.0.0.0: anyone who can reach this machine" in err


def test_the_command_refuses_a_missing_file_in_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "bayestune.cli", "dashboard",
                          str(tmp_path / "none.db"), "--port", "0"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert out.stderr.strip().startswith("bayestune dashboard: error: no storage file")
    assert len(out.stderr.strip().splitlines()) == 1
