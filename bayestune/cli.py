"""The ``bayestune`` command: ask/tell from trainers written in anything.

    bayestune create --storage tune.db --name NAME --space space.json [--direction ...]
    bayestune ask    --storage tune.db --name NAME      -> {"trial": N, "params": {...}}
    bayestune tell   --storage tune.db --name NAME --trial N --value V   (or --failed)
    bayestune best   --storage tune.db --name NAME [--json]
    bayestune trials --storage tune.db --name NAME [--json]
    bayestune advise --storage tune.db --name NAME [--json]   (findings, evidence, actions)
    bayestune dashboard sqlite:///tune.db [--port 8080] [--host 127.0.0.1]   (live web page)

Every command opens the study, does one thing and exits, so any number of trainers (on
one machine) may call it at once. Errors print one line on stderr and exit non-zero:
1 for a refused operation (unknown trial, bad file, ...), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from bayestune import __version__, samplers
from bayestune._checks import short_repr
from bayestune.dashboard import EXPOSED_WARNING, dashboard, is_loopback
from bayestune.diagnostics import RULES, advise
from bayestune.exceptions import BayesTuneError, InvalidSpaceError, InvalidValueError
from bayestune.space import Space
from bayestune.storage import get_storage
from bayestune.study import Study, load_study

__all__ = ["main", "build_parser"]

_SAMPLERS = ("gp", "random", "sobol")


# What argparse must read as a value, not an option: negative numbers in any notation
# ("--value -1e-3", as a shell loop writes a loss), not only "-1" and "-0.5".
_NEGATIVE_NUMBER = re.compile(
    r"^-(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$|^-(?:inf|infinity|nan)$", re.IGNORECASE)


class _Parser(argparse.ArgumentParser):
    """Bad arguments: one line on stderr, exit code 2, no usage dump."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = _NEGATIVE_NUMBER

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _emit(obj: Any) -> None:
    print(json.dumps(obj, allow_nan=True, ensure_ascii=False, default=str))


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return "-" if v is None else str(v)


def _open(args: argparse.Namespace, read_only: bool = False) -> Any:
    """The study; commands that only look at it read through a read-only connection
    (so they work on a file this user may not write, and never lock out writers)."""
    return load_study(get_storage(args.storage, read_only=True) if read_only
                      else args.storage, args.name)


# -- commands --------------------------------------------------------------------------------
def _json(text: str, what: str, error: type[BayesTuneError]) -> Any:
    """The JSON document of an argument; bad or too deeply nested JSON is ``error``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise error(f"{what} is not valid JSON: {e}") from None
    except RecursionError:
        raise error(f"{what} is nested too deeply to be read") from None


def _read_space(text: str) -> Any:
    if text == "-":
        raw = sys.stdin.read()
    elif text.lstrip().startswith("{"):
        raw = text
    else:
        with open(text, encoding="utf-8") as f:
            raw = f.read()
    data = _json(raw, "--space", InvalidSpaceError)
    try:
        return Space.from_dict(data)
    except RecursionError:
        raise InvalidSpaceError("--space is nested too deeply to be read") from None


def cmd_create(args: argparse.Namespace) -> None:
    space = _read_space(args.space)
    sampler = {"gp": samplers.GPSampler, "random": samplers.RandomSampler,
               "sobol": samplers.SobolSampler}[args.sampler](seed=args.seed)
    study = Study(space, args.direction, sampler=sampler, storage=args.storage,
                  name=args.name, load_if_exists=args.load_if_exists)
    _emit({"study": study.name, "storage": args.storage, "direction": study.direction,
           "sampler": sampler.to_dict(), "n_trials": len(study.trials)})


def cmd_ask(args: argparse.Namespace) -> None:
    trial = _open(args).ask()
    _emit({"trial": trial.number, "params": dict(trial.params)})


def cmd_tell(args: argparse.Namespace) -> None:
    study = _open(args)
    if args.failed:
        rec = study.tell(args.trial, state="FAILED", reason=args.reason or "told failed")
    elif args.pruned:
        rec = study.tell(args.trial, args.value, state="PRUNED", reason=args.reason)
    else:
        if args.value is None:
            raise InvalidValueError("tell needs --value V, --failed or --pruned")
        if not math.isfinite(args.value):
            raise InvalidValueError(
                f"--value must be finite, got {args.value}; use --failed for a failed run")
        rec = study.tell(args.trial, args.value)
    _emit({"trial": rec.number, "state": rec.state.value, "value": rec.value})


def cmd_enqueue(args: argparse.Namespace) -> None:
    params = _json(args.params, "--params", InvalidValueError)
    try:
        number = _open(args).enqueue(params)
    except RecursionError:
        raise InvalidValueError("--params is nested too deeply to be read") from None
    _emit({"trial": number, "state": "WAITING"})


def cmd_best(args: argparse.Namespace) -> None:
    best = _open(args, read_only=True).best_trial
    if args.json:
        _emit({"trial": best.number, "value": best.value, "params": dict(best.params)})
        return
    print(f"best trial {best.number}: value {_fmt(best.value)}")
    width = max(len(k) for k in best.params)
    for k, v in best.params.items():
        print(f"  {k:<{width}}  {_fmt(v)}")


def cmd_trials(args: argparse.Namespace) -> None:
    study = _open(args, read_only=True)
    trials = study.get_trials(args.state)
    if args.json:
        _emit([t.to_dict() for t in trials])
        return
    names = list(study.space.names)
    header = ["trial", "state", "value", *names, "seconds"]
    rows = [[str(t.number), t.state.value, _fmt(t.value),
             *(_fmt(t.params.get(n)) for n in names), _fmt(t.duration)] for t in trials]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        print("  ".join(c.rjust(w) if i != 1 else c.ljust(w)
                        for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip())
    if not trials:
        print(f"(no trials in study {study.name!r})")


def cmd_studies(args: argparse.Namespace) -> None:
    for name in get_storage(args.storage, read_only=True).list_studies():
        print(name)


def cmd_advise(args: argparse.Namespace) -> None:
    study = _open(args, read_only=True)
    findings = advise(study, rules=args.rule, optimizer=args.optimizer,
                      fine_tune=args.fine_tune)
    if args.json:
        _emit([f.to_dict() for f in findings])
        return
    if not findings:
        print(f"no findings for study {study.name!r} ({len(study.trials)} trials): nothing "
              f"in its history trips a rule")
        return
    print("\n\n".join(str(f) for f in findings))


def cmd_dashboard(args: argparse.Namespace) -> int:
    target: Any = args.storage
    if args.study is not None:
        target = load_study(get_storage(args.storage, read_only=True), args.study)
    handle = dashboard(target, host=args.host, port=args.port, background=True,
                       poll_interval=args.poll)
    if not is_loopback(args.host):
        print(f"bayestune dashboard: warning: "
              f"{EXPOSED_WARNING.format(host=args.host, storage=args.storage)}",
              file=sys.stderr)
    print(f"bayestune dashboard: {args.storage} (read-only) at {handle.url}  "
          f"(Ctrl-C to stop)", flush=True)

    def quit_(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    # Ctrl-C and a plain kill both stop it at once (SIGINT too when started in the
    # background of a shell, which starts it ignored).
    signal.signal(signal.SIGINT, quit_)
    signal.signal(signal.SIGTERM, quit_)
    handle.wait()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    try:
        from bayestune import demo  # noqa: PLC0415
    except ImportError as e:
        raise BayesTuneError(f"the demo is not available in this installation ({e})") from None
    return int(demo.main(args) or 0)


def _demo_arguments(p: argparse.ArgumentParser) -> None:
    try:  # the demo module owns its options (it is light: heavy imports wait for run_demo)
        from bayestune.demo import add_arguments  # noqa: PLC0415
    except ImportError:
        p.add_argument("--storage", default="bayestune-demo.db")
        p.add_argument("--name", default="digits-mlp")
        p.add_argument("--n-trials", type=int, default=20)
        p.add_argument("--out-dir", default="bayestune-report")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--no-progress", action="store_true", help="no progress bar")
        return
    add_arguments(p)


# -- parser ----------------------------------------------------------------------------------
def _study_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--storage", required=True,
                   help="SQLite file: a path or 'sqlite:///path.db'")
    p.add_argument("--name", required=True, help="the study's name in the storage")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bayestune",
                     description="Bayesian optimization of hyperparameters, from any trainer.")
    parser.add_argument("--version", action="version", version=f"bayestune {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, fn: Callable[[argparse.Namespace], int | None], help: str,
                study: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(func=fn)
        if study:
            _study_args(p)
        return p

    p = command("create", cmd_create, "create a study (its search space and direction)")
    p.add_argument("--space", required=True,
                   help="JSON file of the space (Space.to_dict format), '-' for stdin, "
                        "or the JSON itself")
    p.add_argument("--direction", choices=("minimize", "maximize"), default="minimize")
    p.add_argument("--sampler", choices=_SAMPLERS, default="gp")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--load-if-exists", action="store_true",
                   help="succeed if the study exists with the same space and direction")

    command("ask", cmd_ask, 'start a trial; prints {"trial": N, "params": {...}}')

    p = command("tell", cmd_tell, "finish a trial with its value (or as failed)")
    p.add_argument("--trial", type=int, required=True)
    p.add_argument("--value", type=float, default=None)
    how = p.add_mutually_exclusive_group()
    how.add_argument("--failed", action="store_true", help="the run failed (no value)")
    how.add_argument("--pruned", action="store_true", help="the run was stopped early")
    p.add_argument("--reason", default=None, help="why it failed or was pruned")

    p = command("enqueue", cmd_enqueue, "queue a configuration to evaluate next")
    p.add_argument("--params", required=True, help='JSON object, e.g. \'{"lr": 0.01}\'')

    p = command("best", cmd_best, "print the best trial")
    p.add_argument("--json", action="store_true", help="one JSON object")

    p = command("trials", cmd_trials, "print every trial as a table")
    p.add_argument("--json", action="store_true", help="a JSON list of trial records")
    p.add_argument("--state", action="append",
                   choices=("WAITING", "RUNNING", "COMPLETE", "PRUNED", "FAILED"),
                   help="only trials in this state (repeatable)")

    p = command("studies", cmd_studies, "list the studies in a storage", study=False)
    p.add_argument("--storage", required=True)

    p = command("dashboard", cmd_dashboard,
                "serve a live web page of the studies in a storage (read-only)", study=False)
    p.add_argument("storage", help="SQLite file: a path or 'sqlite:///path.db'")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: this machine only; 0.0.0.0 lets "
                        "anyone on the network read the studies)")
    p.add_argument("--port", type=int, default=8080, help="port (0: any free port)")
    p.add_argument("--study", default=None, help="open this study's page first")
    p.add_argument("--poll", type=float, default=1.0,
                   help="seconds between the page's checks for new trials")

    p = command("demo", cmd_demo, "tune a small network end to end and write a report",
                study=False)
    _demo_arguments(p)
    p = command("advise", cmd_advise,
                "advice from the study's history (search-space edges, failures, overfitting, "
                "irrelevant parameters, unusual values), each with evidence and an action")
    p.add_argument("--json", action="store_true", help="a JSON list of findings")
    p.add_argument("--rule", action="append", default=None, choices=tuple(RULES),
                   help="run only this rule (repeatable)")
    p.add_argument("--optimizer", default=None,
                   help="the optimizer tuned (sgd, momentum, nesterov, adam, adamw, rmsprop), "
                        "when the space has no 'optimizer' parameter")
    p.add_argument("--fine-tune", action="store_true",
                   help="compare with the fine-tuning starting points")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (BayesTuneError, OSError) as e:
        _fail(args.command, str(e))
        return 1
    except KeyboardInterrupt:
        print("bayestune: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - a bug of ours: still one line, never a traceback
        _fail(args.command, f"unexpected {type(e).__name__}: {short_repr(str(e))[1:-1]}")
        return 1


def _fail(command: str, message: str) -> None:
    message = " ".join(message.split())  # one line, whatever the error holds
    print(f"bayestune {command}: error: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
