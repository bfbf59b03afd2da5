"""Known deviations: where a target is known to break a rule, why, and until when that is accepted.

A real deployment differs from the documents somewhere (a 422 where the documents say 400). A
`deviations.toml` names each such difference: a rule id, optionally the operation and the status
it answers, the reason, a link, and an expiry date. Modelled on pytest's `xfail(strict=True)` and
schemathesis's `--baseline`, at the level of our rules:

- a failure whose every broken rule matches a live entry is a *known deviation*: its own verdict,
  neither a pass nor a failure;
- after its expiry date an entry covers nothing: the failure is a failure again, and the report
  says the entry expired;
- an entry that matched nothing in the run is *stale* (the deviation was fixed, or the run did not
  reach it): reported, so the file shrinks;
- an entry naming an unknown rule or operation, or a file in another format, is a usage error:
  a typo must not silently cover nothing, or everything.

The file format (version 1)::

    schema_version = 1

    [[deviation]]
    rule = "<rule id>"                    # e.g. page-bounds: an id of octopus_qa.rules.RULES
    operation = "GET /api/v1/products"    # optional: METHOD and the spec's path template
    status = 422                          # optional: the status the target answers instead
    reason = "the gateway validates first and answers 422"
    link = "https://tracker.example/API-123"
    expires = 2027-03-31                  # a TOML date; the entry holds through this day (UTC)
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import msgspec

from ..errors import UsageError
from ..rules import RULES, Rule, rule_named
from ..spec import load_spec

SCHEMA_VERSION = 1
#: An entry's state in the report.
MATCHED, EXPIRED, STALE = "matched", "expired", "stale"

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]


class Entry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One `[[deviation]]` of the file."""

    rule: NonEmpty
    reason: NonEmpty
    link: NonEmpty
    expires: date
    operation: str | None = None
    status: Annotated[int, msgspec.Meta(ge=100, le=599)] | None = None

    def label(self) -> str:
        where = " ".join(
            part for part in (self.operation, self.status and str(self.status)) if part
        )
        return f"{self.rule}{f' on {where}' if where else ''}"


class _File(msgspec.Struct, forbid_unknown_fields=True):
    schema_version: int
    deviation: list[Entry] = msgspec.field(default_factory=list)


@dataclass(frozen=True)
class Breach:
    """One thing a failed test found broken, and where when the failure says: what an entry matches.

    `rules` holds one rule, or several when the failure cannot tell which of them it broke
    (a schemathesis built-in check such as response header conformance stands for more than one
    of our rules): then an entry for any of them, on this operation and status, accounts for it.
    Rules may be given by id (UnknownRule for an id of none).
    """

    rules: tuple[Rule, ...]
    #: "METHOD /path/{template}" of the exchange that broke the rule, None when not known.
    operation: str | None = None
    status: int | None = None

    def __init__(
        self,
        rules: tuple[Rule | str, ...],
        operation: str | None = None,
        status: int | None = None,
    ) -> None:
        object.__setattr__(self, "rules", tuple(rule_named(rule) for rule in rules))
        object.__setattr__(self, "operation", operation)
        object.__setattr__(self, "status", status)


@dataclass(frozen=True)
class Judgement:
    """What the deviations make of one failure."""

    #: True when every breach is covered by a live entry: a known deviation, not a failure.
    known: bool
    #: The live entries that cover the breaches (when `known`).
    covering: tuple[Entry, ...] = ()
    #: Expired entries that would have covered a breach: the report says so.
    expired: tuple[Entry, ...] = ()

    def explain(self) -> str:
        """One line for the console and JUnit: which entries, and why."""
        if self.known:
            return "known deviation: " + "; ".join(
                f"{e.label()}: {e.reason} ({e.link}, expires {e.expires.isoformat()})"
                for e in self.covering
            )
        return "; ".join(
            f"known deviation {e.label()} expired on {e.expires.isoformat()} ({e.link})"
            for e in self.expired
        )


def normalise_operation(text: str) -> str:
    method, _, path = text.strip().partition(" ")
    return f"{method.upper()} {path.strip()}"


def _matches(entry: Entry, breach: Breach) -> bool:
    if all(rule.id != entry.rule for rule in breach.rules):
        return False
    if entry.operation is not None and entry.operation != breach.operation:
        return False
    return entry.status is None or entry.status == breach.status


@dataclass
class Deviations:
    """The entries of one file, and what they matched in this run (thread-safe)."""

    entries: tuple[Entry, ...]
    source: str | None = None
    today: date = field(default_factory=lambda: datetime.now(UTC).date())
    _matched: list[int] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._matched = [0] * len(self.entries)

    @classmethod
    def load(
        cls, path: Path, *, operations: Collection[str], today: date | None = None
    ) -> Deviations:
        """Read and check `path`; any problem is a UsageError naming the file and the entry."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read --deviations {path}: {exc.strerror}") from None
        try:
            parsed = msgspec.toml.decode(data, type=_File)
        except msgspec.ValidationError as exc:
            raise UsageError(f"{path}: {exc}") from None
        except (msgspec.DecodeError, ValueError) as exc:
            raise UsageError(f"{path} is not valid TOML: {exc}") from None
        if parsed.schema_version != SCHEMA_VERSION:
            raise UsageError(
                f"{path}: schema_version {parsed.schema_version} is not supported "
                f"(this octoqa reads {SCHEMA_VERSION})"
            )
        entries = tuple(
            _checked(path, index, e, operations) for index, e in enumerate(parsed.deviation)
        )
        return cls(entries, source=str(path), today=today or datetime.now(UTC).date())

    def is_live(self, entry: Entry) -> bool:
        return self.today <= entry.expires

    def judge(self, breaches: Sequence[Breach]) -> Judgement:
        """A failure is a known deviation when each of its breaches matches a live entry."""
        covering: list[Entry] = []
        expired: list[Entry] = []
        uncovered = False
        with self._lock:
            for breach in breaches:
                matching = [i for i, e in enumerate(self.entries) if _matches(e, breach)]
                for index in matching:
                    self._matched[index] += 1
                live = [self.entries[i] for i in matching if self.is_live(self.entries[i])]
                if live:
                    covering.append(live[0])
                else:
                    uncovered = True
                    expired += [self.entries[i] for i in matching]
        known = bool(breaches) and not uncovered
        return Judgement(
            known=known,
            covering=tuple(dict.fromkeys(covering)) if known else (),
            expired=tuple(dict.fromkeys(expired)),
        )

    def state(self, index: int) -> str:
        if not self.is_live(self.entries[index]):
            return EXPIRED
        return MATCHED if self._matched[index] else STALE

    def report(self) -> list[dict[str, object]]:
        """Every entry with its state and how many breaches it matched, for summary.json."""
        return [
            {
                "rule": entry.rule,
                "operation": entry.operation,
                "status": entry.status,
                "reason": entry.reason,
                "link": entry.link,
                "expires": entry.expires.isoformat(),
                "state": self.state(index),
                "matched": self._matched[index],
            }
            for index, entry in enumerate(self.entries)
        ]

    def notices(self) -> list[str]:
        """One line per expired or stale entry, for the end of the console output."""
        lines = []
        for index, entry in enumerate(self.entries):
            state = self.state(index)
            if state == EXPIRED:
                lines.append(
                    f"known deviation {entry.label()} expired on {entry.expires.isoformat()}: "
                    "its failures count again"
                )
            elif state == STALE:
                lines.append(
                    f"known deviation {entry.label()} is stale: nothing in this run matched it "
                    "(fixed? remove it from the file)"
                )
        return lines


def _checked(path: Path, index: int, entry: Entry, operations: Collection[str]) -> Entry:
    where = f"{path}: deviation {index + 1} ({entry.rule})"
    if entry.rule not in RULES:
        raise UsageError(f"{where} names an unknown rule (octopus_qa.rules.RULES lists them)")
    if entry.operation is None:
        return entry
    operation = normalise_operation(entry.operation)
    if operation not in operations:
        raise UsageError(
            f"{where} names the operation {entry.operation!r}, not in the spec "
            "(METHOD and path template, e.g. 'GET /api/v1/products/{id}')"
        )
    return msgspec.structs.replace(entry, operation=operation)


def spec_operations(spec: Mapping[str, Any]) -> set[str]:
    """'METHOD /template' for every operation the spec declares."""
    return {
        f"{method.upper()} {template}"
        for template, item in (spec.get("paths") or {}).items()
        for method in item
        if method in HTTP_METHODS
    }


def load_deviations(path: Path, *, today: date | None = None) -> Deviations:
    """`Deviations.load` with the operations of the bundled spec."""
    return Deviations.load(path, operations=spec_operations(load_spec()), today=today)
