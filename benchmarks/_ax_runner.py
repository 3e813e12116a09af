"""Ax's default generation strategy behind a JSON-lines ask/tell protocol on stdin/stdout.

``benchmarks/bbob.py`` starts this script with the Python of a separate environment that
has ``ax-platform`` installed (Ax pins versions of torch/botorch/numpy that may clash with
ours), so the benchmark's own environment is never touched by Ax.

Protocol (one JSON object per line; every request gets exactly one reply line):

* first line: ``{"dim": d, "low": [...], "high": [...], "seed": s}``
  -> ``{"ok": true, "ax_version": "..."}``
* ``{"cmd": "ask"}`` -> ``{"trial": i, "x": [...]}``
* ``{"cmd": "tell", "trial": i, "value": v}`` -> ``{"ok": true}``
* end of input: the process exits.

A failure replies ``{"error": "..."}`` and the process exits with status 1.

The newer ``ax.Client`` API is used when present, else ``AxClient`` (older releases).
Nothing here imports bayestune.
"""

from __future__ import annotations

import json
import logging
import sys
import warnings
from typing import Any


def _send(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class _NewClient:
    """``ax.Client`` (Ax >= 1.0)."""

    def __init__(self, dim: int, low: list[float], high: list[float], seed: int) -> None:
        from ax import Client, RangeParameterConfig

        self.names = [f"x{i}" for i in range(dim)]
        self.client = Client(random_seed=seed)
        self.client.configure_experiment(parameters=[
            RangeParameterConfig(name=n, parameter_type="float", bounds=(lo, hi))
            for n, lo, hi in zip(self.names, low, high, strict=True)])
        self.client.configure_optimization(objective="-f")

    def ask(self) -> tuple[int, list[float]]:
        trials = self.client.get_next_trials(max_trials=1)
        (idx, params), = trials.items()
        return int(idx), [float(params[n]) for n in self.names]

    def tell(self, idx: int, value: float) -> None:
        self.client.complete_trial(trial_index=idx, raw_data={"f": value})


class _OldClient:
    """``ax.service.ax_client.AxClient`` (Ax < 1.0)."""

    def __init__(self, dim: int, low: list[float], high: list[float], seed: int) -> None:
        from ax.service.ax_client import AxClient, ObjectiveProperties

        self.names = [f"x{i}" for i in range(dim)]
        self.client = AxClient(random_seed=seed, verbose_logging=False)
        self.client.create_experiment(
            parameters=[{"name": n, "type": "range", "bounds": [lo, hi],
                         "value_type": "float"}
                        for n, lo, hi in zip(self.names, low, high, strict=True)],
            objectives={"f": ObjectiveProperties(minimize=True)})

    def ask(self) -> tuple[int, list[float]]:
        params, idx = self.client.get_next_trial()
        return int(idx), [float(params[n]) for n in self.names]

    def tell(self, idx: int, value: float) -> None:
        self.client.complete_trial(trial_index=idx, raw_data={"f": (value, 0.0)})


def main() -> int:
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    try:
        import ax

        init = json.loads(sys.stdin.readline())
        try:
            from ax import Client  # noqa: F401

            runner: Any = _NewClient(init["dim"], init["low"], init["high"], init["seed"])
        except ImportError:
            runner = _OldClient(init["dim"], init["low"], init["high"], init["seed"])
        _send({"ok": True, "ax_version": getattr(ax, "__version__", "?")})
        for line in sys.stdin:
            msg = json.loads(line)
            if msg["cmd"] == "ask":
                idx, x = runner.ask()
                _send({"trial": idx, "x": x})
            elif msg["cmd"] == "tell":
                runner.tell(int(msg["trial"]), float(msg["value"]))
                _send({"ok": True})
            else:
                raise ValueError(f"unknown command {msg['cmd']!r}")
    except Exception as e:  # noqa: BLE001 - reported to the parent, which decides
        _send({"error": f"{type(e).__name__}: {e}"})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
