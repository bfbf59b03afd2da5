"""The contract suite's pytest plugin: the preflight, fixtures, rule marks and reports.

Loaded by `pytest_entry.py` (the package's pytest11 entry point) only into a run of the contract
suite; every other pytest run in the environment never sees it. Its state lives in
`config.stash` (the run's plan under PLAN, its `Suite` under SUITE), never in module globals.

`pytest contract_tests [--target URL] [--profile quick|default|deep] [--seed N]` works on its
own; `octoqa contract` does its preflight first and hands the open `Suite` in as a plugin
object, so a run logs in once either way.

- Options: `--target` (URL or `embedded`; else OCTOPUS_BASE_URL; else the embedded sandbox),
  `--profile`, `--seed`, `--summary-json PATH`, `--documented-only`, or `--plan FILE`; they
  become the run plan through `octopus_qa.plan.build_plan`, as `octoqa contract`'s do. (Not
  `--host`, nor a fixture named `session`: Locust's pytest plugin owns those names.)
- Preflight (`pytest_sessionstart`): an unreachable target, refused credentials or a target that
  is not this API → one line and exit code 2, before any test.
- Rules: every test names its rules with `@pytest.mark.rule("rule-id", ...)`; tests whose rules
  all rest on ASSUMPTIONS.md are marked `assumed` here, so `-m "not assumed"` or
  `--documented-only` deselects them. Rule ids become JUnit properties.
- Reports: secrets are scrubbed from every report; a failure prints the seed and curl lines
  that reproduce it with `$OCTOPUS_TOKEN` in place of the token.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from .. import __version__
from ..errors import OctoqaError
from ..plan import PlanOptions, RunPlan, build_plan, read_plan
from ..plan.contract_profiles import DEFAULT_PROFILE
from ..plan.contract_profiles import Profile as ContractProfile
from ..report.har import har_entry, write_har
from ..rules import RULES, Rule, rules_broken_by
from ..rules.evidence import Evidence, recording
from ..verdicts import Verdict
from .breaches import breaches_of
from .client import ApiClient, RetryLater, curl_for, unmask_authorization
from .deviations import Judgement
from .failures import BriefOnConsole, exchange_line, exchanges_of, violation_lines, write_log
from .ledger import TestOutcome
from .schema import load_schema
from .schemathesis_checks import SuiteChecks
from .suite import Suite
from .summary import build_summary, write_summary

#: The run's plan, decided as pytest configures (octopus_qa.plan).
PLAN = pytest.StashKey[RunPlan]()
#: The run's Suite, once the preflight has opened it.
SUITE = pytest.StashKey[Suite]()
_STARTED = pytest.StashKey[float]()
#: What the test's checks applied to, recorded from its setup to its end (rules.evidence).
_EVIDENCE = pytest.StashKey[Evidence]()
#: A failing test's few console lines (failures.py), and every failure's whole report by test.
_BRIEF = pytest.StashKey[str]()
_FAILURES = pytest.StashKey[dict[str, str]]()
#: Each failing test's request, as curl: the counter-example a broken rule's block shows.
_REQUESTS = pytest.StashKey[dict[str, str]]()
#: The failing exchanges as HAR entries (report/har.py), written to contract/failures.har.
_HAR = pytest.StashKey[list[Mapping[str, Any]]]()
_OWNS_SUITE = pytest.StashKey[bool]()


def suite_of(config: pytest.Config) -> Suite | None:
    """The run's Suite, or None before the preflight (or when it failed)."""
    return config.stash.get(SUITE, None)


# --- Options and configuration -----------------------------------------------------------------


def _handed_in_suite(config: pytest.Config) -> Suite | None:
    """The Suite `octoqa contract` opened and passed to pytest.main(plugins=[...]), if any."""
    for plugin in config.pluginmanager.get_plugins():
        if isinstance(plugin, Suite):
            return plugin
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "rule(*rules): the rules a test checks (Rule objects, or their ids)"
    )
    config.addinivalue_line(
        "markers", "assumed: every rule of the test rests on ASSUMPTIONS.md, not the documents"
    )
    config.addinivalue_line(
        "markers", "late: runs after every other test (it needs the run's time to have passed)"
    )
    handed_in = _handed_in_suite(config)
    try:
        plan = handed_in.plan if handed_in and handed_in.plan else _plan_of_options(config)
    except OctoqaError as exc:  # a broken profiles file: one line, as from `octoqa contract`
        pytest.exit(f"octoqa: error: {exc}", returncode=exc.exit_code)
    assert plan.contract is not None
    config.stash[PLAN] = plan
    # Before hypothesis's own pytest_configure reads it: the run's seed drives every @given test.
    if getattr(config.option, "hypothesis_seed", None) is None:
        config.option.hypothesis_seed = plan.seed
    _use_hypothesis_profile(plan.contract.profile)


def _plan_of_options(config: pytest.Config) -> RunPlan:
    """A plain `pytest contract_tests` run, decided by the same function as `octoqa contract`."""
    if config.getoption("plan"):
        return read_plan(Path(config.getoption("plan")))
    deviations = config.getoption("deviations")
    return build_plan(
        PlanOptions(
            target=config.getoption("target"),
            seed=config.getoption("seed"),
            contract_profile=config.getoption("profile") or DEFAULT_PROFILE,
            documented_only=bool(config.getoption("documented_only")),
            deviations=Path(deviations) if deviations else None,
        )
    )


def _use_hypothesis_profile(profile: ContractProfile) -> None:
    """The run's profile as hypothesis settings; no example database, so a seed replays a run."""
    settings.register_profile(
        f"octoqa-{profile.name}",
        max_examples=profile.max_examples,
        stateful_step_count=profile.stateful_steps,
        deadline=None,
        database=None,
        print_blob=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    settings.load_profile(f"octoqa-{profile.name}")


# --- Preflight ---------------------------------------------------------------------------------


def pytest_sessionstart(session: pytest.Session) -> None:
    """The preflight, unless `octoqa contract` made it and handed its Suite in."""
    config = session.config
    config.stash[_STARTED] = _now()
    suite = _handed_in_suite(config)
    config.stash[_OWNS_SUITE] = suite is None
    if suite is None:
        try:
            suite = Suite.open(config.stash[PLAN])
        except OctoqaError as exc:
            pytest.exit(f"octoqa: error: {exc}", returncode=exc.exit_code)
    report = config.getoption("schemathesis_report")
    suite.schemathesis_report = Path(report) if report else None
    config.stash[SUITE] = suite


def pytest_report_header(config: pytest.Config) -> list[str]:
    suite = suite_of(config)
    if suite is None:
        return []
    return [
        f"octoqa contract: target {suite.target_label} ({suite.base_url}), "
        f"profile {suite.profile.name}, seed {suite.seed}"
    ]


def pytest_unconfigure(config: pytest.Config) -> None:
    suite = suite_of(config)
    if suite is not None and config.stash.get(_OWNS_SUITE, False):
        suite.close()


def _now() -> float:
    import time

    return time.time()


# --- Rules on tests ----------------------------------------------------------------------------


def rules_of(item: pytest.Item) -> tuple[str, ...]:
    ids: list[str] = []
    for mark in item.iter_markers("rule"):
        ids.extend(rule.id if isinstance(rule, Rule) else rule for rule in mark.args)
    return tuple(dict.fromkeys(ids))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    plan = config.stash.get(PLAN, None)
    documented_only = (
        plan is not None and plan.contract is not None and plan.contract.documented_only
    )
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        rules = rules_of(item)
        unknown = [rule for rule in rules if rule not in RULES]
        if unknown:
            raise pytest.UsageError(
                f"{item.nodeid} names unknown rules {unknown} (see octopus_qa.rules)"
            )
        if not rules:
            raise pytest.UsageError(f"{item.nodeid} names no rule: add @pytest.mark.rule(...)")
        for rule in rules:
            item.user_properties.append(("rule", rule))
        assumed = all(RULES[rule].assumed for rule in rules)
        if assumed:
            item.add_marker(pytest.mark.assumed)
        (dropped if documented_only and assumed else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    # Stable: the late tests keep their order among themselves, after every other test.
    items[:] = sorted(kept, key=lambda item: item.get_closest_marker("late") is not None)


# --- Fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def suite(request: pytest.FixtureRequest) -> Suite:
    opened = suite_of(request.config)
    if opened is None:
        raise RuntimeError("the contract suite's preflight has not run (use pytest contract_tests)")
    return opened


@pytest.fixture(scope="session")
def api(suite: Suite) -> ApiClient:
    """The checked client every hand-written test uses (every response judged: client.py)."""
    return suite.client


@pytest.fixture(scope="session")
def contract_schema(suite: Suite) -> Any:
    """The spec as schemathesis sees it for this run (profile, seed, target, the run's login):
    loaded here, through `schemathesis.pytest.from_fixture`, so collecting the suite sends
    nothing and needs no preflight."""
    return load_schema(suite)


@pytest.fixture(scope="session")
def rule_checks(suite: Suite) -> list[Any]:
    """The rule checks every generated case is judged by, bound to this run."""
    return SuiteChecks(suite).all()


@pytest.fixture(autouse=True)
def _fresh_request_history(request: pytest.FixtureRequest) -> Iterator[None]:
    suite = suite_of(request.config)
    if suite is not None and "client" in suite.__dict__:
        suite.client.recent.clear()
        suite.client.answered.clear()
    yield


# --- Evidence ----------------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    """Records which rules the test's checks applied to, from its setup (a fixture's requests
    are the test's) to its end; the report of each phase reads it (pytest_runtest_makereport)."""
    with recording() as evidence:
        item.stash[_EVIDENCE] = evidence
        return (yield)


# --- Reporting ---------------------------------------------------------------------------------


def _scrub(suite: Suite, value: Any) -> Any:
    return suite.secrets.scrub(unmask_authorization(str(value)))


_REPRO_MARKER = "--- octoqa: "


def _repro_lines(suite: Suite, item: pytest.Item) -> str:
    lines = ["", f"{_REPRO_MARKER}{suite.repro_hint()}"]
    recent = suite.client.recent if "client" in suite.__dict__ else ()
    if recent and "test_properties" not in item.nodeid:
        lines.append("--- the test's last requests:")
        lines.extend(curl_for(request, lambda text: _scrub(suite, text)) for request in recent)
    return "\n".join(lines)


def _outcome_of(report: pytest.TestReport) -> str:
    if ("verdict", "known deviation") in report.user_properties:
        return "deviation"
    if report.passed:
        return "passed"
    if report.skipped:
        return "skipped"
    return "failed" if report.when == "call" else "error"


def _message_of(report: pytest.TestReport) -> str:
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2])
    if report.failed:
        crash = getattr(report.longrepr, "reprcrash", None)
        return str(crash.message if crash is not None else report.longrepr)[:2000]
    return ""


def _rules_named(call: pytest.CallInfo[None]) -> list[str]:
    """The rules a failure broke, as the exception carries them (RuleViolation, RulesBroken, or
    a group of them); none for any other failure, which then counts against the test's marks."""
    return [rule.id for rule in rules_broken_by(call.excinfo.value if call.excinfo else None)]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    suite = suite_of(item.config)
    if suite is None:
        return report
    if report.failed and suite.watch.loss is not None:
        return _not_judged(suite, item, report, suite.watch.loss.describe())
    if report.failed and call.excinfo is not None and call.excinfo.errisinstance(RetryLater):
        report.outcome = "skipped"
        report.longrepr = (
            str(item.path),
            item.location[1] or 0,
            f"not judged: {call.excinfo.value}",
        )
    # Read the crash line before the long report is scrubbed into plain text and loses it.
    message = _scrub(suite, _message_of(report))
    named = _rules_named(call) if report.failed else []
    known = _judge_deviation(suite, report, call)
    if known is not None and known.known:
        named = list(dict.fromkeys(e.rule for e in known.covering))
        message = _scrub(suite, f"{known.explain()}\n{message}")
    elif known is not None and known.expired:
        message = _scrub(suite, f"{message}\n{known.explain()}")
    if (report.failed or _outcome_of(report) == "deviation") and report.longrepr is not None:
        expired = f"\n--- octoqa: {known.explain()}" if known and known.expired else ""
        full = _scrub(suite, str(report.longrepr) + expired + _repro_lines(suite, item))
        report.longrepr = full
        if report.failed:
            item.stash[_BRIEF] = _brief(suite, item, call, message)
            _keep_whole(item, report, full)
            _keep_exchanges(suite, item, call, message)
    elif report.skipped and isinstance(report.longrepr, tuple):
        path, lineno, reason = report.longrepr
        report.longrepr = (path, lineno, _scrub(suite, reason))
    report.sections = [(title, _scrub(suite, text)) for title, text in report.sections]
    final = report.when == "call" or (report.when == "setup" and not report.passed)
    if final or (report.when == "teardown" and report.failed):
        rules = tuple(named) or rules_of(item)
        evidence = item.stash.get(_EVIDENCE, None)
        applied = {rule.id: n for rule, n in evidence.exchanges.items()} if evidence else {}
        suite.ledger.record(
            TestOutcome(item.nodeid, _outcome_of(report), message, rules, evidence=applied)
        )
    return report


def _judge_deviation(
    suite: Suite, report: pytest.TestReport, call: pytest.CallInfo[None]
) -> Judgement | None:
    """A failed test whose every breach a live deviation covers becomes a known deviation.

    Reported the way pytest reports `xfail`: outcome "skipped" with `wasxfail` (console `x` and
    XFAIL, JUnit `<skipped type="pytest.xfail">`, exit code 0), plus a JUnit property `verdict`.
    """
    if suite.deviations is None or not report.failed or call.excinfo is None:
        return None
    if report.when not in ("setup", "call"):  # setup: a session fixture's own request broke it
        return None
    breaches = breaches_of(call.excinfo.value, suite.coverage.template_for)
    judgement = suite.deviations.judge(breaches)
    if judgement.known:
        report.outcome = "skipped"
        report.wasxfail = _scrub(suite, judgement.explain())
        report.user_properties.append(("verdict", "known deviation"))
    return judgement


@pytest.hookimpl(trylast=True)
def pytest_exception_interact(
    node: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport
) -> None:
    """Schemathesis's own hook rewrites a failure's long report after makereport (to trim
    hypothesis's notes), which would undo the scrubbing and the repro lines: redo both last."""
    suite = suite_of(node.config)
    if suite is None or not isinstance(node, pytest.Item):
        return
    if suite.watch.loss is not None:
        why = f"not judged: {suite.watch.loss.describe()}"
        report.longrepr = (str(node.path), node.location[1] or 0, why)
    elif report.failed and report.longrepr is not None:
        text = str(report.longrepr)
        if _REPRO_MARKER not in text:
            text += _repro_lines(suite, node)
        _keep_whole(node, report, _scrub(suite, text))


def _brief(suite: Suite, item: pytest.Item, call: pytest.CallInfo[None], crash: str) -> str:
    """A failure on the console: what broke and on which exchange, its last request as curl,
    and the command that runs the test again."""
    error = call.excinfo.value if call.excinfo is not None else None
    lines = violation_lines(error, crash)
    if (exchange := exchange_line(error)) is not None:
        lines.append(exchange)
    recent = suite.client.recent if "client" in suite.__dict__ else ()
    if recent and "test_properties" not in item.nodeid:
        request = curl_for(recent[-1], lambda text: _scrub(suite, text))
        lines += ["  its last request:", request]  # alone on its line: pasted as it stands
        item.config.stash.setdefault(_REQUESTS, {})[item.nodeid] = request
    elif (generated := _generated_request(lines)) is not None:
        item.config.stash.setdefault(_REQUESTS, {})[item.nodeid] = generated
    lines.append(f"  rerun: {suite.rerun_command(item.nodeid)}")
    return str(_scrub(suite, "\n".join(lines)))


def _generated_request(lines: list[str]) -> str | None:
    """Schemathesis's own curl line for a generated case, as the brief shows it."""
    return next((line.strip() for line in lines if line.strip().startswith("curl ")), None)


def _keep_exchanges(
    suite: Suite, item: pytest.Item, call: pytest.CallInfo[None], crash: str
) -> None:
    """The failing exchanges of the test, for contract/failures.har: those its violations
    name, else the last one its client saw."""
    error = call.excinfo.value if call.excinfo is not None else None
    exchanges = exchanges_of(error)
    if not exchanges and "client" in suite.__dict__ and suite.client.answered:
        exchanges = [suite.client.answered[-1]]
    comment = f"{item.nodeid}: {crash.splitlines()[0] if crash else ''}"[:500]
    kept = item.config.stash.setdefault(_HAR, [])
    kept.extend(har_entry(exchange, suite.base_url, comment=comment) for exchange in exchanges)


def _keep_whole(item: pytest.Item, report: pytest.TestReport, full: str) -> None:
    """The console shows the brief; JUnit and contract/failures.log get the whole report."""
    brief = item.stash.get(_BRIEF, None)
    report.longrepr = full if brief is None else BriefOnConsole(brief, full)  # type: ignore[assignment]
    item.config.stash.setdefault(_FAILURES, {})[item.nodeid] = full


def _not_judged(
    suite: Suite, item: pytest.Item, report: pytest.TestReport, why: str
) -> pytest.TestReport:
    """The target went away during this test: it judged nothing, and the run stops here."""
    item.session.shouldstop = why
    if report.when == "call" or report.when == "setup":
        suite.ledger.record(TestOutcome(item.nodeid, "not judged", why, rules_of(item)))
    # Shown as skipped (pytest has no "not judged"), so nobody reads it as a broken rule.
    report.outcome = "skipped"
    report.longrepr = (str(item.path), item.location[1] or 0, f"not judged: {why}")
    report.sections = []
    return report


#: The test outcomes that break a rule (the ledger's words).
FAILED_OUTCOMES = ("failed", "error")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say plainly why a run stopped, which answers were slow, which known deviations expired
    or went stale, and which rules broke: where a reader of the console looks last."""
    suite = suite_of(terminalreporter.config)
    if suite is None:
        return
    loss = suite.watch.loss
    if loss is not None:
        terminalreporter.write_sep("!", "octoqa: not judged", red=True)
        terminalreporter.write_line(loss.describe())
    slow = suite.watch.slow_report()
    if slow["count"]:
        terminalreporter.write_sep("-", f"octoqa: answers slower than {slow['limit_s']:g} s")
        for answer in slow["slowest"]:  # type: ignore[attr-defined]
            terminalreporter.write_line(f"{answer['seconds']:8.3f} s  {answer['operation']}")
    notices = suite.deviations.notices() if suite.deviations is not None else []
    if notices:
        terminalreporter.section("octoqa: known deviations")
        for line in notices:
            terminalreporter.line(line)
    terminalreporter.write_line(f"octoqa: {rules_headline(suite)}")
    broken = broken_rules(suite, terminalreporter.config.stash.get(_REQUESTS, {}))
    if broken:
        terminalreporter.write_sep("=", f"octoqa: {len(broken)} broken rule(s)", red=True)
        for block in broken:
            terminalreporter.write_line(block)
        terminalreporter.write_line(suite.repro_hint())  # the token line, once, pasteable


def rules_headline(suite: Suite) -> str:
    """How the run's rules came out, untested ones named: "39 rules held, 2 not exercised
    (expired-token-rejected, ...)". A rule nothing exercised is never counted as held."""
    selected = [
        rule_id for rule_id, rule in RULES.items() if not (suite.documented_only and rule.assumed)
    ]
    entries = suite.ledger.by_rule(selected)
    counts = Counter(entry.status for entry in entries.values())
    words = {
        Verdict.PASS: "held",
        Verdict.FAIL: "broken",
        Verdict.DEVIATION: "known deviations",
        Verdict.UNTESTED: "not exercised",
    }
    parts = [f"{counts[verdict]} {word}" for verdict, word in words.items() if counts[verdict]]
    untested = [rule_id for rule_id, entry in entries.items() if entry.status == Verdict.UNTESTED]
    named = f" ({', '.join(untested)})" if untested else ""
    return f"{len(entries)} rules: {', '.join(parts)}{named}"


def broken_rules(suite: Suite, requests: Mapping[str, str] | None = None) -> list[str]:
    """One block per broken rule, last thing a failing run prints: which rule, what it says,
    how many tests broke it, the first counter-example (and its request, from `requests`:
    failing test → curl line), and how to run that test again."""
    blocks = []
    for rule_id, entry in suite.ledger.by_rule().items():
        if entry.status != Verdict.FAIL:
            continue
        failed = [test for test in entry.tests if test["outcome"] in FAILED_OUTCOMES]
        first = failed[0]
        message = first["message"].splitlines()[0] if first["message"] else ""
        counter_example = message.split("RuleViolation: ", 1)[-1][:400]
        blocks.append(
            "\n".join(
                [
                    f"[{rule_id}] {RULES[rule_id].title}",
                    f"  broken by {len(failed)} test(s); first: {first['nodeid']}",
                    f"  counter-example: {counter_example}",
                    *_request_line((requests or {}).get(first["nodeid"])),
                    f"  reproduce: {suite.rerun_command(first['nodeid'])}",
                ]
            )
        )
    return blocks


def _request_line(request: str | None) -> list[str]:
    return [] if request is None else ["  request:", request]


def _artifacts(suite: Suite, *failures: Path | None) -> dict[str, str]:
    """The run's files, relative to the run directory (the report page links them)."""
    artifacts = {"junit": "contract/junit.xml", "summary": "contract/summary.json"}
    for path in failures:  # failures.log, failures.har: "failures_log", "failures_har"
        if path is not None:
            artifacts[path.name.replace(".", "_")] = f"contract/{path.name}"
    page = suite.schemathesis_report and suite.schemathesis_report / "index.html"
    if page and page.is_file():
        artifacts["schemathesis_html"] = "contract/schemathesis/index.html"
    return artifacts


def _scrub_schemathesis_report(suite: Suite) -> None:
    """Schemathesis masks sensitive headers but writes bodies as served: a login body carries
    tokens. Runs after schemathesis closed its report (its sessionfinish; ours is trylast)."""
    if suite.schemathesis_report is None or not suite.schemathesis_report.is_dir():
        return
    for path in suite.schemathesis_report.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            scrubbed = suite.secrets.scrub(text)
            if scrubbed != text:
                path.write_text(scrubbed, encoding="utf-8")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    suite = suite_of(session.config)
    if suite is not None:
        _scrub_schemathesis_report(suite)
        if suite.watch.loss is not None:
            # Could not judge: exit 2, never "tests failed" (pytest's 2 is "interrupted").
            session.exitstatus = exitstatus = pytest.ExitCode.INTERRUPTED
    path = session.config.getoption("summary_json")
    if not path or suite is None:
        return
    failures_log = write_log(
        Path(path).parent, list(session.config.stash.get(_FAILURES, {}).items())
    )
    har_entries: list[Mapping[str, Any]] = session.config.stash.get(_HAR, [])
    failures_har = write_har(
        Path(path).parent / "failures.har",
        har_entries,
        suite.secrets.scrub,
        __version__,
    )
    summary = build_summary(
        suite,
        exit_code=int(exitstatus),
        started=session.config.stash.get(_STARTED, _now()),
        documented_only=suite.documented_only,
        artifacts=_artifacts(suite, failures_log, failures_har),
    )
    write_summary(Path(path), summary)
