"""What a rule is, how a check is bound to the rules it judges, and the errors that carry rules.

Each rule is declared once, as a `Rule` constant in the check module of its part of the
documents (auth.py, errors.py, headers.py, listing.py, products.py, dates.py), next to the
checks that judge it; each check says which rules it judges with `@judges(RULE, ...)`. The
package's `__init__` gathers the declarations into the catalogue (`RULES`, in the documents'
order); everything that lists rules (the rule checks by rule, the schemathesis adapters' rules,
the contract ledger's maps, the report's table, TRACEABILITY.md's table) is read from them.

Code names a rule by its object (`rules.AUTH_REQUIRED`). Its id is for what lives outside the
code: a test's `@pytest.mark.rule("auth-required")`, a deviations.toml entry, a sandbox fault,
summary.json. An id that names no rule is an error the moment it is read (`UnknownRule`), never a
rule silently left out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType, ModuleType
from typing import Any, Literal, TypeVar

Basis = Literal["documented", "assumed"]


@dataclass(frozen=True, eq=False)  # one object per rule: compared and hashed by identity
class Rule:
    """One rule of the documents (or of an ASSUMPTIONS.md reading), and where it comes from."""

    id: str
    title: str
    #: "documented", or "assumed" when it rests on ASSUMPTIONS.md rather than on a sentence of
    #: the provider's documents: `octoqa contract --documented-only` leaves those out.
    basis: Basis
    #: The document and section the rule comes from.
    source: str
    #: The sentence it comes from.
    quote: str
    #: The ASSUMPTIONS.md items that fix its reading.
    assumption: tuple[str, ...] = ()
    #: schemathesis's built-in checks (by name) that judge this rule: when one fails, the rule
    #: may be what broke.
    builtin_checks: tuple[str, ...] = ()
    #: Operations ("METHOD /template") whose input this rule bounds: when schemathesis's
    #: negative_data_rejection or positive_data_acceptance fails there, it may be this rule's.
    bounds_input_of: tuple[str, ...] = ()
    #: The query or path parameter whose value this rule bounds (schemathesis names it as the
    #: invalid part of data that was accepted).
    parameter: str | None = None

    @property
    def assumed(self) -> bool:
        """True when the rule rests on ASSUMPTIONS.md rather than on a documented sentence."""
        return self.basis == "assumed"

    def __str__(self) -> str:
        return self.id

    def __repr__(self) -> str:
        return f"Rule({self.id!r})"


class UnknownRule(LookupError):
    """A rule id that names no rule: a typo fails at once, rather than judge nothing."""

    def __init__(self, rule_id: object) -> None:
        super().__init__(f"{rule_id!r} names no rule (the catalogue is octopus_qa.rules.RULES)")


# --- Checks bound to their rules ----------------------------------------------------------------

Check = TypeVar("Check", bound=Callable[..., Any])  # a check function, or a ledger class

_CHECKS_OF: dict[Rule, list[Any]] = {}
_RULES_OF: dict[Any, tuple[Rule, ...]] = {}


def judges(*rules: Rule) -> Callable[[Check], Check]:
    """Declares the rules a check (a function, or a ledger class) judges: the one place that
    binds the two. `rules.CHECKS_BY_RULE` and every adapter of the check read it."""
    if not rules or not all(isinstance(rule, Rule) for rule in rules):
        raise TypeError(f"@judges takes Rule objects, got {rules!r}")

    def bind(check: Check) -> Check:
        if check in _RULES_OF:
            raise TypeError(f"{check.__qualname__} is already bound to its rules")
        _RULES_OF[check] = rules
        for rule in rules:
            _CHECKS_OF.setdefault(rule, []).append(check)
        return check

    return bind


def rules_judged_by(*checks: Any) -> tuple[Rule, ...]:
    """The rules these checks judge, as `@judges` declared them, each once, in order.

    A check bound to no rule is an error (TypeError): an adapter of it would judge nothing that
    the report could name.
    """
    found: list[Rule] = []
    for check in checks:
        try:
            found.extend(_RULES_OF[check])
        except (KeyError, TypeError):
            raise TypeError(f"{check!r} is bound to no rule (@judges)") from None
    return tuple(dict.fromkeys(found))


# --- The catalogue ------------------------------------------------------------------------------

_CATALOGUE: dict[str, Rule] = {}


def gather(modules: Iterable[ModuleType]) -> Mapping[str, Rule]:
    """The catalogue: every Rule the `modules` declare, in module order, then declaration order.

    Called once, by the package's `__init__`. A rule declared twice under one id, or a check
    bound to a rule that none of the modules declares, is an error at import.
    """
    if _CATALOGUE:
        raise RuntimeError("the rule catalogue is gathered once, by octopus_qa.rules")
    for module in modules:
        for value in vars(module).values():
            if not isinstance(value, Rule):
                continue
            known = _CATALOGUE.setdefault(value.id, value)
            if known is not value:
                raise ValueError(f"rule {value.id!r} is declared twice ({module.__name__})")
    stray = [rule.id for rule in _CHECKS_OF if _CATALOGUE.get(rule.id) is not rule]
    if stray:
        raise ValueError(f"checks are bound to rules outside the catalogue: {stray}")
    return MappingProxyType(_CATALOGUE)


def checks_by_rule() -> Mapping[Rule, tuple[Any, ...]]:
    """Each catalogued rule → the checks bound to it (`@judges`), in declaration order."""
    return MappingProxyType({rule: tuple(_CHECKS_OF.get(rule, ())) for rule in _CATALOGUE.values()})


def rule_named(rule: Rule | str) -> Rule:
    """The rule itself, or the catalogued rule of that id; UnknownRule when none has it."""
    if isinstance(rule, Rule):
        return rule
    try:
        return _CATALOGUE[rule]
    except (KeyError, TypeError):
        raise UnknownRule(rule) from None


# --- Rules broken -------------------------------------------------------------------------------


class RuleViolation(AssertionError):
    """One rule broken by one exchange; the message names the rule and what came back.

    `rule` is the Rule, or its id (tests, sandbox data); an id of no rule raises UnknownRule here.
    """

    def __init__(self, rule: Rule | str, detail: str) -> None:
        self.rule = rule_named(rule)
        self.detail = detail
        #: The exchange that broke the rule, when the caller knows it (set by the adapters that
        #: judge an exchange): a known deviation may name the operation and status it covers.
        self.exchange: Any = None  # an exchange.Exchange (not imported: it imports this)
        super().__init__(f"[{self.rule.id}] {self.rule.title}: {detail}")


class RulesBroken(AssertionError):
    """Several rules broken by one test (a schemathesis failure group), carried as objects so
    that no consumer has to parse `[rule-id]` back out of the message."""

    def __init__(
        self,
        rules: Sequence[Rule | str],
        detail: str,
        breaches: Sequence[Any] = (),
        exchanges: Sequence[Any] = (),
    ) -> None:
        self.rules = tuple(dict.fromkeys(rule_named(rule) for rule in rules))
        #: Where each rule broke (`deviations.Breach`: operation and status), when it is known;
        #: known deviations match on it (contract/breaches.py).
        self.breaches = tuple(breaches)
        #: The exchanges that broke them (exchange.Exchange), for the failure's HAR.
        self.exchanges = tuple(exchanges)
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
