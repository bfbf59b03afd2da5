"""The rule catalogue (rules.toml beside this module) and the errors that carry rules as objects."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    basis: str  # "documented" or "assumed"
    source: str
    quote: str
    assumption: tuple[str, ...] = ()

    @property
    def assumed(self) -> bool:
        """True when the rule rests on ASSUMPTIONS.md rather than on a documented sentence."""
        return self.basis == "assumed"


def _load_rules() -> dict[str, Rule]:
    text = resources.files(__package__).joinpath("rules.toml").read_text(encoding="utf-8")
    rules = {}
    for entry in tomllib.loads(text)["rule"]:
        entry["assumption"] = tuple(entry.get("assumption", ()))
        rules[entry["id"]] = Rule(**entry)
    return rules


RULES: Mapping[str, Rule] = _load_rules()


class RuleViolation(AssertionError):
    """One rule broken by one exchange; the message names the rule and what came back."""

    def __init__(self, rule_id: str, detail: str) -> None:
        self.rule = RULES[rule_id]
        self.detail = detail
        #: The exchange that broke the rule, when the caller knows it (set by the adapters that
        #: judge an exchange): a known deviation may name the operation and status it covers.
        self.exchange: Any = None  # an exchange.Exchange (not imported: it imports this)
        super().__init__(f"[{rule_id}] {self.rule.title}: {detail}")


class RulesBroken(AssertionError):
    """Several rules broken by one test (a schemathesis failure group), carried as objects so
    that no consumer has to parse `[rule-id]` back out of the message."""

    def __init__(self, rule_ids: Sequence[str], detail: str, breaches: Sequence[Any] = ()) -> None:
        self.rules = tuple(RULES[rule_id] for rule_id in dict.fromkeys(rule_ids))
        #: Where each rule broke (`deviations.Breach`: operation and status), when it is known;
        #: known deviations match on it (contract/breaches.py).
        self.breaches = tuple(breaches)
        shown = " ".join(f"[{rule.id}]" for rule in self.rules)
        super().__init__(f"rules broken: {shown}\n{detail}")


def rules_broken_by(error: BaseException | None) -> tuple[Rule, ...]:
    """The rules an exception carries: a RuleViolation's, a RulesBroken's, or those of the
    violations inside an exception group (hypothesis reports several failures as one)."""
    if isinstance(error, RuleViolation):
        return (error.rule,)
    if isinstance(error, RulesBroken):
        return error.rules
    if isinstance(error, BaseExceptionGroup):
        found = [rule for inner in error.exceptions for rule in rules_broken_by(inner)]
        return tuple(dict.fromkeys(found))
    return ()
