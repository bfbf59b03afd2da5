"""The contract suite's pytest plugin: options, the preflight, fixtures, rule marks and reports.

`pytest contract_tests [--target URL] [--profile quick|default|deep] [--seed N]` works on its
own; `octoqa contract` does its preflight first and hands the open `Suite` in as a plugin
object, so a run logs in once either way.

- Options: `--target` (URL or `embedded`; else OCTOPUS_BASE_URL; else the embedded sandbox),
  `--profile`, `--seed`, `--summary-json PATH`, `--documented-only`. (Not `--host`, nor a
  fixture named `session`: Locust's pytest plugin owns those names.)
- Preflight (`pytest_sessionstart`): an unreachable target, refused credentials or a target that
  is not this API → one line and exit code 2, before any test.
- Rules: every test names its rules with `@pytest.mark.rule("rule-id", ...)`; tests whose rules
  all rest on ASSUMPTIONS.md are marked `assumed` here, so `-m "not assumed"` or
  `--documented-only` deselects them. Rule ids become JUnit properties.
- Reports: secrets are scrubbed from every report; a failure prints the seed and curl lines
  that reproduce it with `$OCTOPUS_TOKEN` in place of the token.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from octopus_qa.contract.breaches import breaches_of
from octopus_qa.contract.client import ApiClient, RetryLater, curl_for
from octopus_qa.contract.deviations import Judgement, load_deviations
from octopus_qa.contract.ledger import TestOutcome
from octopus_qa.contract.profiles import DEFAULT_PROFILE, PROFILE_NAMES, load_profile
from octopus_qa.contract.suite import Suite
from octopus_qa.contract.summary import build_summary, write_summary
from octopus_qa.errors import OctoqaError
from octopus_qa.rules import RULES, rules_broken_by
from octopus_qa.seeds import new_seed

_SUITE: Suite | None = None
_STARTED_KEY = pytest.StashKey[float]()
_OWNS_SUITE_KEY = pytest.StashKey[bool]()
_CLIENT: ApiClient | None = None


def current_suite() -> Suite:
    """The run's Suite; test modules that build schemathesis schemas at import use it."""
    if _SUITE is None:
        raise RuntimeError("the contract suite's preflight has not run (use pytest contract_tests)")
    return _SUITE


# --- Options and configuration -----------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("octoqa", "Octopus Cards contract suite")
    group.addoption(
        "--target",
        default=None,
        help="base URL of the API under test, or 'embedded' (default: $OCTOPUS_BASE_URL, "
        "else a local sandbox started for the run)",
    )
    group.addoption(
        "--profile",
        default=None,
        choices=PROFILE_NAMES,
        help=f"how hard to try, from contract_tests/profiles.toml (default: {DEFAULT_PROFILE})",
    )
    group.addoption("--seed", type=int, default=None, help="reproduce a run exactly")
    group.addoption("--summary-json", default=None, help="write the run's summary.json here")
    group.addoption(
        "--schemathesis-report",
        default=None,
        metavar="DIR",
        help="write schemathesis's own HTML report of the property tests into DIR",
    )
    group.addoption(
        "--deviations",
        default=None,
        metavar="FILE",
        help="known deviations (deviations.toml): failures it covers are reported as known "
        "deviations until their expiry date",
    )
    group.addoption(
        "--documented-only",
        action="store_true",
        help="check only rules the provider's documents state (deselect ASSUMPTIONS.md readings)",
    )


def _handed_in_suite(config: pytest.Config) -> Suite | None:
    """The Suite `octoqa contract` opened and passed to pytest.main(plugins=[...]), if any."""
    for plugin in config.pluginmanager.get_plugins():
        if isinstance(plugin, Suite):
            return plugin
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "rule(*ids): the rules.toml rules a test checks (ids as in rules.toml)"
    )
    config.addinivalue_line(
        "markers", "assumed: every rule of the test rests on ASSUMPTIONS.md, not the documents"
    )
    handed_in = _handed_in_suite(config)
    seed = handed_in.seed if handed_in else config.getoption("seed")
    if seed is None:
        seed = new_seed()
    config.option.seed = seed
    # Before hypothesis's own pytest_configure reads it: the run's seed drives every @given test.
    if getattr(config.option, "hypothesis_seed", None) is None:
        config.option.hypothesis_seed = seed
    profile_name = config.getoption("profile") or (
        handed_in.profile.name if handed_in else DEFAULT_PROFILE
    )
    config.option.profile = profile_name
    try:
        _register_hypothesis_profiles()
    except OctoqaError as exc:  # a broken profiles file: one line, as from `octoqa contract`
        pytest.exit(f"octoqa: error: {exc}", returncode=exc.exit_code)
    settings.load_profile(f"octoqa-{profile_name}")


def _register_hypothesis_profiles() -> None:
    """One hypothesis profile per suite profile; no example database, so a seed replays a run."""
    for name in PROFILE_NAMES:
        profile = load_profile(name)
        settings.register_profile(
            f"octoqa-{name}",
            max_examples=profile.max_examples,
            stateful_step_count=profile.stateful_steps,
            deadline=None,
            database=None,
            print_blob=False,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        )


# --- Preflight ---------------------------------------------------------------------------------


def pytest_sessionstart(session: pytest.Session) -> None:
    global _SUITE
    config = session.config
    config.stash[_STARTED_KEY] = _now()
    suite = _handed_in_suite(config)
    config.stash[_OWNS_SUITE_KEY] = suite is None
    deviations = None
    deviations_file = config.getoption("deviations")
    if deviations_file and (suite is None or suite.deviations is None):
        try:  # before the preflight: a bad file is a usage error, whatever the target
            deviations = load_deviations(Path(deviations_file))
        except OctoqaError as exc:
            pytest.exit(f"octoqa: error: {exc}", returncode=exc.exit_code)
    if suite is None:
        try:
            suite = Suite.open(
                config.getoption("target"), config.getoption("profile"), config.getoption("seed")
            )
        except OctoqaError as exc:
            pytest.exit(f"octoqa: error: {exc}", returncode=exc.exit_code)
    suite.documented_only = bool(config.getoption("documented_only"))
    if deviations is not None:
        suite.deviations = deviations
    report = config.getoption("schemathesis_report")
    suite.schemathesis_report = Path(report) if report else None
    _SUITE = suite


def pytest_report_header(config: pytest.Config) -> list[str]:
    if _SUITE is None:
        return []
    return [
        f"octoqa contract: target {_SUITE.target_label} ({_SUITE.base_url}), "
        f"profile {_SUITE.profile.name}, seed {_SUITE.seed}"
    ]


def pytest_unconfigure(config: pytest.Config) -> None:
    global _SUITE, _CLIENT
    if _CLIENT is not None:
        _CLIENT.close()
        _CLIENT = None
    if _SUITE is not None and config.stash.get(_OWNS_SUITE_KEY, False):
        _SUITE.close()
    _SUITE = None


def _now() -> float:
    import time

    return time.time()


# --- Rules on tests ----------------------------------------------------------------------------


def rules_of(item: pytest.Item) -> tuple[str, ...]:
    ids: list[str] = []
    for mark in item.iter_markers("rule"):
        ids.extend(mark.args)
    return tuple(dict.fromkeys(ids))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    documented_only = config.getoption("documented_only")
    kept, dropped = [], []
    for item in items:
        rules = rules_of(item)
        unknown = [rule for rule in rules if rule not in RULES]
        if unknown:
            raise pytest.UsageError(f"{item.nodeid} names unknown rules {unknown} (see rules.toml)")
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
        items[:] = kept


# --- Fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def suite() -> Suite:
    return current_suite()


@pytest.fixture(scope="session")
def api(suite: Suite) -> ApiClient:
    """The checked client every hand-written test uses (every response judged: client.py)."""
    return checked_client()


def checked_client() -> ApiClient:
    """The run's one checked client, made on first use (by a test or a schemathesis check)."""
    global _CLIENT
    suite = current_suite()
    if _CLIENT is None:
        _CLIENT = ApiClient(
            suite.base_url,
            suite.shared_login,
            suite.coverage,
            suite.secrets,
            retry_later=suite.retry_later,
            timeout_s=suite.profile.request_timeout_s,
            tokens=suite.tokens,
        )
    return _CLIENT


@pytest.fixture(autouse=True)
def _fresh_request_history(request: pytest.FixtureRequest) -> Iterator[None]:
    if _CLIENT is not None:
        _CLIENT.recent.clear()
    yield


# --- Reporting ---------------------------------------------------------------------------------


def _scrub(value: Any) -> Any:
    if _SUITE is None:
        return value
    text = str(value).replace("Authorization: [Filtered]", "Authorization: Bearer $OCTOPUS_TOKEN")
    return _SUITE.secrets.scrub(text)


_REPRO_MARKER = "--- octoqa: "


def _repro_lines(item: pytest.Item) -> str:
    lines = ["", f"{_REPRO_MARKER}{current_suite().repro_hint()}"]
    if _CLIENT is not None and _CLIENT.recent and "test_properties" not in item.nodeid:
        lines.append("--- the test's last requests:")
        lines.extend(curl_for(request, _scrub) for request in _CLIENT.recent)
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
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report: pytest.TestReport = yield
    if _SUITE is None:
        return report
    if report.failed and _SUITE.watch.loss is not None:
        return _not_judged(item, report, _SUITE.watch.loss.describe())
    if report.failed and call.excinfo is not None and call.excinfo.errisinstance(RetryLater):
        report.outcome = "skipped"
        report.longrepr = (
            str(item.path),
            item.location[1] or 0,
            f"not judged: {call.excinfo.value}",
        )
    # Read the crash line before the long report is scrubbed into plain text and loses it.
    message = _scrub(_message_of(report))
    named = _rules_named(call) if report.failed else []
    known = _judge_deviation(report, call)
    if known is not None and known.known:
        named = list(dict.fromkeys(e.rule for e in known.covering))
        message = _scrub(f"{known.explain()}\n{message}")
    elif known is not None and known.expired:
        message = _scrub(f"{message}\n{known.explain()}")
    if (report.failed or _outcome_of(report) == "deviation") and report.longrepr is not None:
        expired = f"\n--- octoqa: {known.explain()}" if known and known.expired else ""
        report.longrepr = _scrub(str(report.longrepr) + expired + _repro_lines(item))
    elif report.skipped and isinstance(report.longrepr, tuple):
        path, lineno, reason = report.longrepr
        report.longrepr = (path, lineno, _scrub(reason))
    report.sections = [(title, _scrub(text)) for title, text in report.sections]
    final = report.when == "call" or (report.when == "setup" and not report.passed)
    if final or (report.when == "teardown" and report.failed):
        rules = tuple(named) or rules_of(item)
        _SUITE.ledger.record(TestOutcome(item.nodeid, _outcome_of(report), message, rules))
    return report


def _judge_deviation(report: pytest.TestReport, call: pytest.CallInfo[None]) -> Judgement | None:
    """A failed test whose every breach a live deviation covers becomes a known deviation.

    Reported the way pytest reports `xfail`: outcome "skipped" with `wasxfail` (console `x` and
    XFAIL, JUnit `<skipped type="pytest.xfail">`, exit code 0), plus a JUnit property `verdict`.
    """
    if _SUITE is None or _SUITE.deviations is None or not report.failed or call.excinfo is None:
        return None
    if report.when not in ("setup", "call"):  # setup: a session fixture's own request broke it
        return None
    breaches = breaches_of(call.excinfo.value, _SUITE.coverage.template_for)
    judgement = _SUITE.deviations.judge(breaches)
    if judgement.known:
        report.outcome = "skipped"
        report.wasxfail = _scrub(judgement.explain())  # type: ignore[attr-defined]
        report.user_properties.append(("verdict", "known deviation"))
    return judgement


@pytest.hookimpl(trylast=True)
def pytest_exception_interact(
    node: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport
) -> None:
    """Schemathesis's own hook rewrites a failure's long report after makereport (to trim
    hypothesis's notes), which would undo the scrubbing and the repro lines: redo both last."""
    if _SUITE is None or not isinstance(node, pytest.Item):
        return
    if _SUITE.watch.loss is not None:
        why = f"not judged: {_SUITE.watch.loss.describe()}"
        report.longrepr = (str(node.path), node.location[1] or 0, why)
    elif report.failed and report.longrepr is not None:
        text = str(report.longrepr)
        if _REPRO_MARKER not in text:
            text += _repro_lines(node)
        report.longrepr = _scrub(text)


def _not_judged(item: pytest.Item, report: pytest.TestReport, why: str) -> pytest.TestReport:
    """The target went away during this test: it judged nothing, and the run stops here."""
    item.session.shouldstop = why
    if report.when == "call" or report.when == "setup":
        assert _SUITE is not None
        _SUITE.ledger.record(TestOutcome(item.nodeid, "not judged", why, rules_of(item)))
    # Shown as skipped (pytest has no "not judged"), so nobody reads it as a broken rule.
    report.outcome = "skipped"
    report.longrepr = (str(item.path), item.location[1] or 0, f"not judged: {why}")
    report.sections = []
    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say plainly why a run stopped, which answers were slow, and which known deviations
    expired or went stale: where a reader of the console looks last."""
    if _SUITE is None:
        return
    loss = _SUITE.watch.loss
    if loss is not None:
        terminalreporter.write_sep("!", "octoqa: not judged", red=True)
        terminalreporter.write_line(loss.describe())
    slow = _SUITE.watch.slow_report()
    if slow["count"]:
        terminalreporter.write_sep("-", f"octoqa: answers slower than {slow['limit_s']:g} s")
        for answer in slow["slowest"]:  # type: ignore[attr-defined]
            terminalreporter.write_line(f"{answer['seconds']:8.3f} s  {answer['operation']}")
    notices = _SUITE.deviations.notices() if _SUITE.deviations is not None else []
    if notices:
        terminalreporter.section("octoqa: known deviations")
        for line in notices:
            terminalreporter.line(line)


def _artifacts(suite: Suite) -> dict[str, str]:
    """The run's files, relative to the run directory (the report page links them)."""
    artifacts = {"junit": "contract/junit.xml", "summary": "contract/summary.json"}
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
    if _SUITE is not None:
        _scrub_schemathesis_report(_SUITE)
        if _SUITE.watch.loss is not None:
            # Could not judge: exit 2, never "tests failed" (pytest's 2 is "interrupted").
            session.exitstatus = exitstatus = pytest.ExitCode.INTERRUPTED
    path = session.config.getoption("summary_json")
    if not path or _SUITE is None:
        return
    summary = build_summary(
        _SUITE,
        exit_code=int(exitstatus),
        started=session.config.stash.get(_STARTED_KEY, _now()),
        documented_only=bool(session.config.getoption("documented_only")),
        artifacts=_artifacts(_SUITE),
    )
    write_summary(Path(path), summary)
