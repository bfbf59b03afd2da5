"""The words a verdict is given in: one enum for every part that judges, and for every reader.

A stage, a spec check, a load gate, a load run and a rule each end in a `Verdict`; the values are
the strings summary.json, JUnit and the report have always shown ("pass", "not run"...), so a
`StrEnum` member serializes as before. A skipped check, gate or rule is "skip", one spelling.

One test's outcome is another vocabulary, pytest's (`Outcome`: "passed", "failed"...): the
contract ledger turns outcomes into a rule's verdict (`RULE_VERDICT_OF`).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping


class Verdict(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    #: Could not judge (a stage that crashed or timed out, a target that went away).
    ERROR = "error"
    #: Nothing to judge (a gate that measured nothing, a check that could not run here).
    SKIP = "skip"
    #: A stage that held in all it could check but skipped a check it could not run here.
    INCOMPLETE = "incomplete"
    #: A stage that could not start.
    NOT_RUN = "not run"
    #: A load run whose generator broke its own limits: it measured the generator, not the API.
    INVALID = "invalid"
    #: A rule that failed only where deviations.toml says it is known to.
    DEVIATION = "deviation"
    #: A rule no test reported on.
    UNTESTED = "untested"


class Outcome(enum.StrEnum):
    """One contract test's outcome, in pytest's words (summary.json `rules[].tests[].outcome`)."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    ERROR = "error"
    DEVIATION = "deviation"
    #: The target went away during the test: it judged nothing.
    NOT_JUDGED = "not judged"


#: A test's outcome → what it says of each rule it judged. A test that errored could not judge
#: its rule: that is no pass, so it counts as a fail; one the target walked out on judged nothing.
RULE_VERDICT_OF: Mapping[Outcome, Verdict] = {
    Outcome.PASSED: Verdict.PASS,
    Outcome.FAILED: Verdict.FAIL,
    Outcome.SKIPPED: Verdict.SKIP,
    Outcome.ERROR: Verdict.FAIL,
    Outcome.DEVIATION: Verdict.DEVIATION,
    Outcome.NOT_JUDGED: Verdict.UNTESTED,
}
