"""A failing test's report: a few lines on the console, the whole of it in JUnit and a log.

A run with one planted fault may fail nineteen tests; nineteen tracebacks with their object dumps
bury the one thing a reader needs, which rule broke and on what. On the console each failure
shows the violation, the exchange that broke it and how to replay it; JUnit (pytest writes
`str(longrepr)`) and `contract/failures.log` keep the whole report, scrubbed like the rest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..rules import RulesBroken, RuleViolation, rules_broken_by
from ..rules.exchange import Exchange

#: At most this many lines of the violation's message, each at most this wide, on the console.
MAX_LINES = 8
MAX_WIDTH = 300
#: Where the whole of each failure's report is written, beside summary.json.
LOG_NAME = "failures.log"


class BriefOnConsole:
    """A test report's long form: `toterminal` (the console) writes the brief, `str()` (JUnit,
    the log) gives the whole text."""

    def __init__(self, brief: str, full: str) -> None:
        self.brief = brief
        self.full = full

    def toterminal(self, out: Any) -> None:
        for line in self.brief.splitlines():
            out.line(line)

    def __str__(self) -> str:
        return self.full


def violation_lines(error: BaseException | None, crash: str) -> list[str]:
    """What broke, as the failure says it: the violation's message (schemathesis's failure,
    with its own 'Reproduce with' curl line, for a generated case), or pytest's crash line for
    any other error; cut to a few lines."""
    if error is not None and rules_broken_by(error):
        text = str(error)
    else:
        text = crash
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    kept = [_cut(line) for line in lines[:MAX_LINES]]
    curl = next(
        (line.strip() for line in lines[MAX_LINES:] if line.strip().startswith("curl ")), None
    )
    if len(lines) > MAX_LINES:
        kept.append(f"  … {len(lines) - MAX_LINES} more lines in JUnit and contract/{LOG_NAME}")
    if curl is not None:
        kept.append(curl)  # whole and alone on its line: it is pasted as it stands
    return kept


def exchange_line(error: BaseException | None) -> str | None:
    """The exchange a RuleViolation names, when the check that raised it knew it."""
    exchange = getattr(error, "exchange", None)
    if exchange is None:
        return None
    query = "&".join(f"{name}={value}" for name, value in exchange.query.items())
    where = f"{exchange.path}?{query}" if query else exchange.path
    return _cut(f"  exchange: {exchange.method} {where} → {exchange.status}")


def exchanges_of(error: BaseException | None) -> list[Exchange]:
    """The exchanges the violations of a failure name (a group's, each), for its HAR."""
    if isinstance(error, RuleViolation) and isinstance(error.exchange, Exchange):
        return [error.exchange]
    if isinstance(error, RulesBroken):
        return [exchange for exchange in error.exchanges if isinstance(exchange, Exchange)]
    if isinstance(error, BaseExceptionGroup):
        return [exchange for inner in error.exceptions for exchange in exchanges_of(inner)]
    return []


def _cut(line: str) -> str:
    return line if len(line) <= MAX_WIDTH else line[: MAX_WIDTH - 1] + "…"


def write_log(directory: Path, failures: list[tuple[str, str]]) -> Path | None:
    """Every failure's whole report, in run order; None when the run had none."""
    if not failures:
        return None
    path = directory / LOG_NAME
    with path.open("w", encoding="utf-8") as log:
        for nodeid, text in failures:
            log.write(f"{'=' * 30} {nodeid}\n{text}\n\n")
    return path
