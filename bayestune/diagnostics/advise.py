"""Advice from a finished or running study: the checks the tuning guides ask for.

:func:`advise` runs each rule of :data:`RULES` over a study's history and returns the
:class:`Finding` objects that fire, each with the evidence it saw and a concrete action.
``docs/diagnostics.md`` gives every rule with its source and reasoning:

- ``best_at_edge``: the best value of a parameter sits at the edge of its range (CS231n,
  "careful with best values on border"; the Deep Learning Tuning Playbook, "identifying
  bad search space boundaries") -> widen the range that way;
- ``failure_threshold``: most failed runs lie beyond some value of a parameter, and few
  below it (the Playbook, on infeasible trials above a learning-rate threshold) -> move
  the bound in;
- ``overfitting``: every good trial overfits (the Playbook, "problematic overfitting" in
  the training curves of the best trials; Prechelt's GL criterion) -> more dropout or
  weight decay, or fewer epochs;
- ``irrelevant_param``: the GP surrogate finds that a parameter barely changes the
  objective (Bergstra & Bengio, 2012: only a few hyperparameters really matter) -> fix it
  and spend the budget on the others;
- ``far_from_defaults``: the best configuration is far from the rule-of-thumb starting
  points of :func:`bayestune.presets.default_configs` -> worth a second look.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bayestune.diagnostics._advise_context import Finding, _Context
from bayestune.diagnostics._advise_rules import (
    rule_best_at_edge,
    rule_failure_threshold,
    rule_far_from_defaults,
    rule_irrelevant_param,
    rule_overfitting,
)
from bayestune.exceptions import InvalidValueError
from bayestune.training.health import HealthThresholds

if TYPE_CHECKING:
    from bayestune.study import Study

__all__ = ["Finding", "Rule", "RULES", "advise"]


# -- the registry -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    """A rule of :func:`advise`.

    Attributes:
        id: The rule's id (``Finding.rule``).
        summary: What it checks, in a line.
        source: Where the rule of thumb comes from.
        check: ``context -> findings``.
    """

    id: str
    summary: str
    source: str
    check: Callable[[_Context], list[Finding]] = field(repr=False)


#: The rules, in the order their findings are returned.
RULES: dict[str, Rule] = {r.id: r for r in (
    Rule("best_at_edge", "the best value of a parameter sits at the edge of its range",
         "CS231n notes (careful with best values on border); Deep Learning Tuning Playbook "
         "(identifying bad search space boundaries)", rule_best_at_edge),
    Rule("failure_threshold", "most failures lie beyond one value of a parameter",
         "Deep Learning Tuning Playbook (infeasible trials; bad search space boundaries)",
         rule_failure_threshold),
    Rule("overfitting", "every good trial overfits",
         "Deep Learning Tuning Playbook (examining the training curves); Prechelt (1998); "
         "CS231n notes (train/val accuracy)", rule_overfitting),
    Rule("irrelevant_param", "the GP finds a parameter irrelevant",
         "Bergstra & Bengio (2012); Deep Learning Tuning Playbook (fixed hyperparameters)",
         rule_irrelevant_param),
    Rule("far_from_defaults", "the best configuration is far from the rule-of-thumb defaults",
         "bayestune.presets (Bengio 2012; Karpathy's recipe; Kingma & Ba 2015)",
         rule_far_from_defaults),
)}


def advise(
    study: Study,
    *,
    rules: Iterable[str] | None = None,
    optimizer: str | None = None,
    fine_tune: bool = False,
    thresholds: HealthThresholds | None = None,
    surrogate: Any = None,
) -> list[Finding]:
    """Findings about a study, each with its evidence and an action.

    Works on a finished or a running study (running trials are ignored). Rules that need
    more history than the study has stay silent. The GP surrogate is fitted only when
    the ``irrelevant_param`` rule has enough trials to run.

    Args:
        study: The study.
        rules: Rule ids to run (default: all of :data:`RULES`, in that order).
        optimizer: The optimizer the study tunes, for ``far_from_defaults`` when the
            space has no ``optimizer`` parameter (default: compare with every optimizer).
        fine_tune: Compare with the fine-tuning starting points.
        thresholds: Health thresholds for judging the trials' training curves.
        surrogate: A fitted surrogate to use instead of fitting the study's GP.

    Raises:
        InvalidValueError: for an unknown rule id.
    """
    if not hasattr(study, "trials") or not hasattr(study, "space"):
        raise InvalidValueError(f"advise needs a bayestune Study, got {study!r}")
    chosen: Sequence[str] = list(RULES) if rules is None else (
        [rules] if isinstance(rules, str) else list(rules))
    unknown = [r for r in chosen if r not in RULES]
    if unknown:
        raise InvalidValueError(f"unknown rule(s) {unknown}; the rules are {list(RULES)}")
    if optimizer is not None:
        from bayestune.training.optimizers import parse_optimizer  # noqa: PLC0415

        optimizer = parse_optimizer(optimizer)
    ctx = _Context(study, optimizer=optimizer, fine_tune=bool(fine_tune),
                   thresholds=thresholds, surrogate=surrogate)
    findings: list[Finding] = []
    for rid in RULES:
        if rid in chosen:
            findings += RULES[rid].check(ctx)
    return findings
