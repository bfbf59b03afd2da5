"""What a failed contract test broke, and where: the facts a known deviation is matched against.

A test fails with a `RuleViolation` (which carries the exchange that broke the rule when the
adapter judging it knew it), with `RulesBroken` (the property test: schemathesis's failures for one
case, mapped to rules), with several of those at once (hypothesis reports distinct failures as an
exception group), or with a plain assertion naming rules as `[rule-id]`. Anything else names no
rule, and so can never be a known deviation.
"""

from __future__ import annotations

from collections.abc import Callable

from ..rules import Exchange, Rule, RulesBroken, RuleViolation
from .deviations import Breach

#: The spec path template of a URL path, or None (Coverage.template_for).
TemplateFor = Callable[[str], str | None]


def breach_at(rule: Rule, exchange: Exchange | None, template_for: TemplateFor) -> Breach:
    if exchange is None:
        return Breach((rule,))
    template = template_for(exchange.path)
    operation = f"{exchange.method.upper()} {template}" if template else None
    return Breach((rule,), operation, exchange.status)


def breaches_of(error: BaseException, template_for: TemplateFor) -> list[Breach]:
    """The rules `error` says were broken, each with where, when it says; [] when it names none."""
    if isinstance(error, RulesBroken):
        # Where the property test knew each failure's operation and status; else rules alone.
        return list(error.breaches) or [Breach((rule,)) for rule in error.rules]
    if isinstance(error, RuleViolation):
        return [breach_at(error.rule, error.exchange, template_for)]
    if isinstance(error, BaseExceptionGroup):
        found: list[Breach] = []
        for inner in error.exceptions:
            inner_breaches = breaches_of(inner, template_for)
            if not inner_breaches:
                return []  # one part names no rule: the whole failure is not a known deviation
            found += inner_breaches
        return found
    return []
