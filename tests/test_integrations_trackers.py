"""The tracker callbacks against the real libraries: each run is read back from what
TensorBoard, MLflow (a local file store) and W&B (offline) wrote to disk."""

from __future__ import annotations

import glob
import json
import os
import struct

import pytest
import torch

import bayestune as bt

SPACE = bt.Space({"lr": bt.Float(1e-3, 1e-1, log=True), "batch_size": bt.Categorical([8, 16])})


def _objective(*callbacks) -> bt.training.TorchObjective:
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(48, 4, generator=g), torch.randint(0, 2, (48,), generator=g)
    return bt.training.TorchObjective(lambda p: torch.nn.Linear(4, 2), (X, y), (X, y),
                                      torch.nn.CrossEntropyLoss(), epochs=2, device="cpu",
                                      health=False, progress=False, callbacks=callbacks)


def _study() -> bt.Study:
    return bt.Study(SPACE, sampler=bt.samplers.RandomSampler(seed=0))


def _run(where: str, tracker) -> bt.Study:
    """Two trials, the tracker live in the objective, after each trial, or both."""
    study = _study()
    objective = _objective(tracker) if where in ("objective", "both") else _objective()
    study.optimize(objective, n_trials=2,
                   callbacks=[tracker] if where in ("study", "both") else None)
    assert all(t.state is bt.TrialState.COMPLETE for t in study.trials)
    return study


WHERE = ["objective", "study", "both"]


# -- TensorBoard -----------------------------------------------------------------------------
@pytest.mark.parametrize("where", WHERE)
def test_tensorboard_writes_params_epochs_and_the_final_value(tmp_path, where):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    from bayestune.integrations.trackers import TensorBoardTracker

    study = _run(where, TensorBoardTracker(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trial-0", "trial-1"]
    for trial in study.trials:
        acc = EventAccumulator(str(tmp_path / f"trial-{trial.number}"))
        acc.Reload()
        val = [(e.step, e.value) for e in acc.Scalars("val_loss")]
        assert val == [(s, pytest.approx(v)) for s, v in
                       enumerate(trial.user_attrs["val_loss"], start=1)]
        assert [e.step for e in acc.Scalars("train_loss")] == [1, 2]
        (final,) = acc.Scalars("value")
        assert final.value == pytest.approx(trial.value)
        hparams = {}
        for content in acc.PluginTagToContent("hparams").values():
            data = plugin_data_pb2.HParamsPluginData.FromString(content)
            if data.HasField("session_start_info"):
                hparams = dict(data.session_start_info.hparams)
        assert hparams["lr"].number_value == pytest.approx(trial.params["lr"])
        assert hparams["batch_size"].number_value == trial.params["batch_size"]


# -- MLflow ----------------------------------------------------------------------------------
@pytest.mark.parametrize("where, store", [("objective", "file"), ("study", "file"),
                                          ("both", "file"), ("objective", "sqlite")])
def test_mlflow_logs_to_a_local_store(tmp_path, monkeypatch, where, store):
    pytest.importorskip("mlflow")
    from mlflow import MlflowClient

    from bayestune.integrations.trackers import MLflowTracker

    if store == "file":
        monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 asks for the opt-in
        uri = (tmp_path / "mlruns").as_uri()
    else:
        uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = MLflowTracker("digits", tracking_uri=uri)
    study = _run(where, tracker)
    client = MlflowClient(tracking_uri=uri)  # a fresh client reads what is on disk
    experiment = client.get_experiment_by_name("digits")
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.info.run_name for r in runs) == ["trial-0", "trial-1"]
    for trial in study.trials:
        run = client.get_run(tracker.run_ids[f"trial-{trial.number}"])
        assert run.info.status == "FINISHED"
        assert float(run.data.params["lr"]) == pytest.approx(trial.params["lr"])
        assert run.data.params["batch_size"] == str(trial.params["batch_size"])
        assert run.data.metrics["value"] == pytest.approx(trial.value)
        assert run.data.tags["bayestune.state"] == "COMPLETE"
        history = client.get_metric_history(run.info.run_id, "val_loss")
        assert sorted((m.step, m.value) for m in history) == \
            [(s, pytest.approx(v)) for s, v in enumerate(trial.user_attrs["val_loss"], 1)]


# -- Weights & Biases --------------------------------------------------------------------------
def _wandb_records(path: str) -> list:
    """The protobuf records of an offline run file (W&B's LevelDB-style log: a 7-byte
    header, then 32 KiB blocks of records with 7-byte headers)."""
    from wandb.proto import wandb_internal_pb2

    data = open(path, "rb").read()  # noqa: SIM115
    assert data[:4] == b":W&B"
    pos, buf, out, block = 7, b"", [], 32768
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        pos += 7
        if kind == 0 and length == 0:  # padding to the end of the block
            pos += left - 7
            continue
        buf += data[pos:pos + length]
        pos += length
        if kind in (1, 4):  # a full record, or the last piece of one
            out.append(wandb_internal_pb2.Record.FromString(buf))
            buf = b""
    return out


def _wandb_run(records) -> dict:
    run = {"config": {}, "history": [], "summary": {}, "kinds": []}
    for r in records:
        kind = r.WhichOneof("record_type")
        run["kinds"].append(kind)
        if kind == "run":
            run["name"] = r.run.display_name
            run["config"].update({u.key: json.loads(u.value_json) for u in r.run.config.update})
        elif kind == "history":
            run["history"].append({(i.key or "/".join(i.nested_key)): json.loads(i.value_json)
                                   for i in r.history.item})
        elif kind == "summary":
            run["summary"].update({(u.key or "/".join(u.nested_key)): json.loads(u.value_json)
                                   for u in r.summary.update})
    return run


@pytest.mark.slow
@pytest.mark.parametrize("where", ["objective", "study"])
def test_wandb_writes_an_offline_run_per_trial(tmp_path, monkeypatch, where):
    pytest.importorskip("wandb")
    from bayestune.integrations.trackers import WandbTracker

    for var in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    study = _run(where, WandbTracker("digits", dir=tmp_path))
    import wandb

    wandb.teardown()  # the W&B service writes the run files in the background: flush them
    files = sorted(glob.glob(str(tmp_path / "wandb" / "offline-run-*" / "run-*.wandb")))
    read = [_wandb_run(_wandb_records(f)) for f in files]
    assert all("name" in r for r in read), ([os.path.getsize(f) for f in files], [r["kinds"] for r in read])
    runs = {r["name"]: r for r in read}
    assert sorted(runs) == ["trial-0", "trial-1"]
    for trial in study.trials:
        run = runs[f"trial-{trial.number}"]
        assert run["config"]["lr"] == pytest.approx(trial.params["lr"])
        assert run["config"]["batch_size"] == trial.params["batch_size"]
        val = [(h["epoch"], h["val_loss"]) for h in run["history"] if "val_loss" in h]
        assert val == [(s, pytest.approx(v)) for s, v in
                       enumerate(trial.user_attrs["val_loss"], start=1)]
        assert run["summary"]["value"] == pytest.approx(trial.value)
        assert run["summary"]["state"] == "COMPLETE"


def test_a_run_outside_a_study_is_tracked_live(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from bayestune.integrations.trackers import TensorBoardTracker

    result = _objective(TensorBoardTracker(tmp_path)).run({"lr": 0.01, "batch_size": 8})
    acc = EventAccumulator(str(tmp_path / "run-0"))
    acc.Reload()
    assert [e.value for e in acc.Scalars("val_loss")] == \
        [pytest.approx(v) for v in result.val_losses]
    assert acc.Scalars("value")[0].value == pytest.approx(result.value)


def test_mlflow_defaults_to_a_sqlite_file_in_the_working_directory(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from bayestune.integrations.trackers import MLflowTracker

    monkeypatch.chdir(tmp_path)
    tracker = MLflowTracker("digits")
    assert tracker.tracking_uri == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert (tmp_path / "mlflow.db").is_file()
