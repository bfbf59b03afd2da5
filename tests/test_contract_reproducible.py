"""`--seed` replays a run, every run names its seed, no secret reaches output or reports, and
the lines a failure prints (token, curl, rerun) work when pasted into a plain shell."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from contract_runs import run_contract, sandbox
from schemathesis.core import curl
from test_report_har import assert_valid_har

from octopus_qa.cli import main as octoqa
from octopus_qa.contract.client import (
    MASKED_AUTHORIZATION,
    curl_for,
    token_line,
    unmask_authorization,
)
from octopus_qa.contract.coverage import Coverage
from octopus_qa.contract.suite import Suite
from octopus_qa.contract.tokens import Secrets, SharedLogin
from octopus_qa.plan.contract_profiles import load_profile
from octopus_qa.sandbox.server import running_sandbox
from octopus_qa.spec import load_spec
from octopus_qa.target.credentials import DEMO_PASSWORD, DEMO_USERNAME, Credentials

#: Any JWT: three base64url segments starting with the encoded `{"`.
JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
ACCOUNT = {
    "OCTOPUS_USERNAME": "qa-secret-user@example.test",
    "OCTOPUS_PASSWORD": "pw-Zx81-never-shown",
}


def _all_text(result: object, report_dir: Path) -> str:
    texts = [result.stdout, result.stderr]  # type: ignore[attr-defined]
    texts += [path.read_text(errors="replace") for path in report_dir.rglob("*") if path.is_file()]
    return "\n".join(texts)


def _failing_nodeids(summary: dict[str, object]) -> list[str]:
    rules = summary["rules"]
    assert isinstance(rules, dict)
    return sorted(
        {
            t["nodeid"]
            for entry in rules.values()
            for t in entry["tests"]
            if t["outcome"] != "passed"
        }
    )


@pytest.mark.slow
def test_same_seed_same_run(tmp_path: Path) -> None:
    with sandbox("--fault", "limit-off-by-one") as url:
        first = run_contract(
            tmp_path / "a", "--target", url, "--profile", "quick", "--seed", "4242"
        )
        second = run_contract(
            tmp_path / "b", "--target", url, "--profile", "quick", "--seed", "4242"
        )
    assert first.exit_code == second.exit_code == 1
    assert first.summary["seed"] == second.summary["seed"] == 4242
    assert first.summary["totals"] == second.summary["totals"]
    assert _failing_nodeids(first.summary) == _failing_nodeids(second.summary)
    assert {r: e["status"] for r, e in first.summary["rules"].items()} == {
        r: e["status"] for r, e in second.summary["rules"].items()
    }


@pytest.mark.slow
def test_every_failure_names_the_seed_and_a_curl_without_the_token(tmp_path: Path) -> None:
    with sandbox("--fault", "quantity-zero-accepted") as url:
        result = run_contract(tmp_path, "--target", url, "--profile", "quick", "--seed", "77")
    assert result.exit_code == 1
    assert "--seed 77" in result.stdout
    assert "curl" in result.stdout and "$OCTOPUS_TOKEN" in result.stdout


@pytest.mark.slow
def test_a_failing_run_ends_with_each_broken_rule_and_how_to_rerun_it(tmp_path: Path) -> None:
    with sandbox("--fault", "filters-or-combined") as url:
        result = run_contract(tmp_path, "--target", url, "--profile", "quick", "--seed", "5")
    assert result.exit_code == 1
    tail = result.stdout.split("octoqa: 1 broken rule(s)", 1)[1]
    assert tail.lstrip("= \n").startswith("[filters-match] ")
    assert "broken by " in tail and "counter-example: [filters-match] " in tail
    assert f"reproduce: octoqa contract --target {url} --profile quick --seed 5 -- -k " in tail
    assert "  request:\ncurl " in tail and "filter" in tail.split("  request:\n", 1)[1]
    failures = result.stdout.count("____ test_")
    # A few lines each on the console (violation, request, rerun); the whole in failures.log.
    assert failures and len(result.stdout.splitlines()) < 60 + 8 * failures
    whole = (tmp_path / "contract" / "failures.log").read_text()
    assert whole.count("=" * 30) == failures and "Traceback" not in result.stdout
    assert "items_match_filters" in whole  # the code path, kept where a developer looks
    # Every failing exchange as HAR 1.2 (devtools, Insomnia and Postman import it).
    har = json.loads((tmp_path / "contract" / "failures.har").read_text())
    assert_valid_har(har)
    urls = [entry["request"]["url"] for entry in har["log"]["entries"]]
    assert len(urls) >= failures and all(u.startswith(f"{url}/api/v1/products") for u in urls)
    assert result.summary["artifacts"]["failures_har"] == "contract/failures.har"


@pytest.mark.slow
@pytest.mark.parametrize(
    "fault",
    [
        "login-broken",
        "refresh-returns-same-tokens",
        # A minute; the error envelope's failures print no more of a secret than the others'.
        pytest.param("error-envelope-flat", marks=pytest.mark.soak),
    ],
)
def test_no_secret_in_output_or_reports(tmp_path: Path, fault: str) -> None:
    with sandbox("--fault", fault, env=ACCOUNT) as url:
        result = run_contract(tmp_path, "--target", url, "--profile", "quick", env=ACCOUNT)
    assert result.exit_code == 1, result.stderr[-2000:]
    text = _all_text(result, tmp_path)
    assert ACCOUNT["OCTOPUS_PASSWORD"] not in text
    leaked = JWT.findall(text)
    assert not leaked, f"{len(leaked)} JWTs in output or reports, e.g. {leaked[0][:25]}..."


# --- The lines a failure prints, pasted into a plain shell -----------------------------------------

#: A fault both the hand-written client (test_boundaries) and schemathesis (ST201) catch, on a
#: request a single curl line repeats: quantity 0 answered 200 {"is_available": false}, not 400.
PASTE_FAULT = "quantity-zero-accepted"
PASTE_TESTS = (
    "test_quantity_below_one_or_not_an_integer_is_rejected or test_operation_keeps_the_contract"
)
#: The failing answer, as the pasted lines must bring it back (a 401 would be the error envelope).
FAILING_ANSWER = '{"is_available":false}'


@dataclass(frozen=True)
class FailedRun:
    url: str
    account: dict[str, str]
    stdout: str

    def token_line(self) -> str:
        (line,) = {line for line in self.stdout.splitlines() if line.startswith("OCTOPUS_TOKEN=")}
        return line

    def client_curl_line(self) -> str:
        """The hand-written test's request that broke the rule (its own curl line)."""
        return next(
            line
            for line in self.stdout.splitlines()
            if line.startswith("curl -i ") and '"quantity":0}' in line
        )

    def schemathesis_curl_line(self) -> str:
        """Schemathesis's "Reproduce with" line for the availability operation, as printed
        (indented in the failure's brief)."""
        lines = re.findall(r"^E?\s*(curl -X POST .*/availability)$", self.stdout, re.MULTILINE)
        assert lines, "schemathesis printed no Reproduce with line for the availability operation"
        return str(lines[0])

    def rerun_line(self) -> str:
        return next(
            line.split("reproduce: ", 1)[1]
            for line in self.stdout.splitlines()
            if line.startswith("  reproduce: octoqa contract ")
        )


@pytest.fixture(scope="module", params=["demo account", "own account"])
def failed_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FailedRun]:
    """A failing run against a sandbox that is still serving when its lines are pasted: the demo
    account (no OCTOPUS_USERNAME/PASSWORD anywhere), or an account of the user's own (set for
    the sandbox, the run and the pasting shell alike)."""
    account = ACCOUNT if request.param == "own account" else {}
    unset = {"OCTOPUS_USERNAME": "", "OCTOPUS_PASSWORD": ""}  # empty: the demo account
    with sandbox("--fault", PASTE_FAULT, env={**unset, **account}) as url:
        result = run_contract(
            tmp_path_factory.mktemp("paste"),
            *("--target", url, "--profile", "quick", "--seed", "77", "--", "-k", PASTE_TESTS),
            env={**unset, **account},
        )
        assert result.exit_code == 1, result.stdout[-3000:]
        yield FailedRun(url, account, result.stdout)


def paste(lines: list[str], home: Path, env: dict[str, str] | None = None) -> str:
    """`lines` pasted into a fresh `bash --noprofile --norc` whose environment is PATH (curl,
    and the octoqa the token line calls, with its python3) and HOME, plus `env`; what it
    printed, each line followed by `== exit N`."""
    path = os.pathsep.join(
        dict.fromkeys(
            [str(Path(sys.executable).parent), str(Path(shutil.which("curl") or "").parent)]
        )
    )
    # A body without a final newline (curl prints it as it came) would hide the marker's line.
    script = "".join(f"{line}\nprintf '\\n== exit %s\\n' \"$?\"\n" for line in lines)
    done = subprocess.run(
        ["bash", "--noprofile", "--norc"],
        input=script,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=home,
        env={"PATH": path, "HOME": str(home), **(env or {})},
    )
    return done.stdout + done.stderr


def exits(output: str) -> list[int]:
    return [int(code) for code in re.findall(r"^== exit (\d+)$", output, re.MULTILINE)]


@pytest.mark.slow
def test_pasted_lines_bring_back_the_failing_answer(failed_run: FailedRun, tmp_path: Path) -> None:
    """The token line, then our client's curl line and schemathesis's, pasted as printed: each
    request gets the answer that broke the rule (200, quantity 0 accepted), never a 401."""
    lines = [
        failed_run.token_line(),
        failed_run.client_curl_line(),
        failed_run.schemathesis_curl_line(),
    ]
    output = paste(lines, tmp_path, failed_run.account)
    assert exits(output) == [0, 0, 0], output
    client_answer, schemathesis_answer = output.split("== exit 0")[1:3]
    assert client_answer.lstrip().startswith("HTTP/1.1 200"), client_answer
    assert FAILING_ANSWER in client_answer and FAILING_ANSWER in schemathesis_answer, output
    # A status line, not the digits: curl's progress meter (stderr) can show "40173" bytes/s.
    assert not re.search(r"^HTTP/[\d.]+ 401\b", output, re.MULTILINE), output
    assert "Unauthorized" not in output
    assert "octopus-demo-password" not in output and ACCOUNT["OCTOPUS_PASSWORD"] not in output


@pytest.mark.slow
def test_a_token_line_that_gets_no_token_says_so(failed_run: FailedRun, tmp_path: Path) -> None:
    """Pasted with an account the target refuses, the token line fails (non-zero, one line on
    stderr saying why) and leaves no empty OCTOPUS_TOKEN exported for curl to send."""
    refused = {"OCTOPUS_USERNAME": "nobody@example.test", "OCTOPUS_PASSWORD": "not-the-password"}
    output = paste([failed_run.token_line(), "printenv OCTOPUS_TOKEN"], tmp_path, refused)
    token_exit, printenv_exit = exits(output)
    assert token_exit != 0 and printenv_exit != 0, output
    assert "octoqa: error: " in output and "refused the configured credentials" in output


@pytest.mark.slow
@pytest.mark.parametrize("failed_run", ["demo account"], indirect=True)  # the same line for both
def test_pasted_rerun_command_breaks_the_same_rule(failed_run: FailedRun, tmp_path: Path) -> None:
    """The broken rule's `reproduce:` command, pasted: the same target, profile and seed run the
    test again, and it breaks the same rule (exit 1)."""
    output = paste([failed_run.rerun_line()], tmp_path, failed_run.account)
    assert exits(output) == [1], output[-3000:]
    assert "[quantity-bounds]" in output


@pytest.fixture(scope="module")
def demo_sandbox() -> Iterator[str]:
    """A clean sandbox with the demo account, in this process (no run of the suite needed)."""
    with running_sandbox(credentials=Credentials(DEMO_USERNAME, DEMO_PASSWORD)) as url:
        yield url


def _schemathesis_line(method: str, url: str) -> str:
    """Schemathesis's own curl line for a request whose Authorization it masked, rewritten as the
    plugin rewrites every failure report."""
    masked = {"Authorization": "[Filtered]", "Content-Type": "application/json"}
    command = curl.generate(
        method=method,
        url=url,
        body=None,
        verify=True,
        headers=masked,
        known_generated_headers=None,
    ).command
    assert MASKED_AUTHORIZATION in command  # what the rewrite looks for is what it writes
    return unmask_authorization(command)


def test_a_pasted_refresh_line_logs_in_once_and_its_token_stays_spent(
    demo_sandbox: str, tmp_path: Path
) -> None:
    """A refresh spends a refresh token: the line reads $OCTOPUS_REFRESH_TOKEN, logging in for one
    the first time; pasted again it sends the same one, as a second use would (A2: 401)."""
    line = (
        _schemathesis_line("POST", f"{demo_sandbox}/auth/refresh")
        + " -s -o /dev/null -w '%{http_code}'"
    )
    output = paste([line, line], tmp_path)
    assert re.findall(r"^(\d{3})$", output, re.MULTILINE) == ["200", "401"], output


def test_a_pasted_logout_line_leaves_octopus_token_working(
    demo_sandbox: str, tmp_path: Path
) -> None:
    """A logout revokes the token it is sent: its line logs in for its own, so the lines after it
    still find $OCTOPUS_TOKEN alive."""
    status = " -s -o /dev/null -w '%{http_code}'"
    logout = curl_for(
        httpx.Request("POST", f"{demo_sandbox}/auth/logout", headers={"Authorization": "Bearer x"})
    )
    listing = curl_for(
        httpx.Request(
            "GET", f"{demo_sandbox}/api/v1/products?limit=1", headers={"Authorization": "Bearer x"}
        )
    )
    output = paste([token_line(demo_sandbox), logout + status, listing + status], tmp_path)
    assert exits(output) == [0, 0, 0], output
    assert re.findall(r"^(\d{3})$", output, re.MULTILINE) == ["204", "200"], output


def test_octoqa_token_prints_only_the_token(
    demo_sandbox: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """What `$(octoqa token ...)` captures is the token and nothing else: one line, a JWT the
    target takes; --refresh prints the login's refresh token instead."""
    assert octoqa(["token", "--target", demo_sandbox]) == 0
    access = capsys.readouterr().out
    assert JWT.fullmatch(access.rstrip("\n")) and access.count("\n") == 1
    listing = httpx.get(
        f"{demo_sandbox}/api/v1/products?limit=1",
        headers={"Authorization": f"Bearer {access.strip()}"},
    )
    assert listing.status_code == 200
    assert octoqa(["token", "--refresh", "--target", demo_sandbox]) == 0
    refresh = capsys.readouterr().out.strip()
    assert refresh and refresh != access.strip()
    assert (
        httpx.post(
            f"{demo_sandbox}/auth/refresh", headers={"Authorization": f"Bearer {refresh}"}
        ).status_code
        == 200
    )


@pytest.mark.parametrize(
    "args, says",
    [
        ([], "needs a running target"),
        (["--target", "embedded"], "needs a running target"),
        (["--target", "ftp://example.test"], "is not an http(s) URL"),
        (["--target", "http://127.0.0.1:1"], "cannot reach"),
        (["--target", "http://127.0.0.1:1", "--timeout", "-1"], "--timeout takes seconds"),
        (["--target", "http://127.0.0.1:1", "--timeout", "nan"], "--timeout takes seconds"),
    ],
)
def test_octoqa_token_without_a_token_is_one_line_and_exit_2(
    args: list[str], says: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OCTOPUS_BASE_URL", raising=False)
    assert octoqa(["token", *args]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("octoqa: error: ")
    assert says in err


def _suite(base_url: str, target_label: str) -> Suite:
    """A Suite as far as its printed lines need one (no target is opened)."""
    secrets = Secrets()
    account = Credentials(DEMO_USERNAME, DEMO_PASSWORD)
    return Suite(
        base_url=base_url,
        target_label=target_label,
        profile=load_profile("quick"),
        seed=5,
        credentials=account,
        secrets=secrets,
        shared_login=SharedLogin(base_url, account, secrets),
        coverage=Coverage(load_spec()),
    )


def test_an_embedded_run_says_to_serve_its_sandbox_again_before_pasting() -> None:
    """The embedded sandbox stops with its run: the lines name the port to serve it on again,
    and the token line is the line after, as pasted."""
    hint = _suite("http://127.0.0.1:40123", "embedded").repro_hint().splitlines()
    assert "octoqa sandbox --port 40123" in hint[0] and "--seed 5 --profile quick" in hint[0]
    assert hint[1] == token_line("http://127.0.0.1:40123")
    named = _suite("http://127.0.0.1:40123", "http://127.0.0.1:40123").repro_hint()
    assert "octoqa sandbox" not in named
