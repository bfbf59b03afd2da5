"""The documentation resolves from the repository alone, and the README's first screen says
what a newcomer needs.

The open issue that split the README into docs/ found a link to `../shared/api-docs/`, which a
clone of this repository does not have. So every relative link in the Markdown pages must name a
file this checkout holds (inside it, not git-ignored), and every `#anchor` a heading of the page
it points into, spelt as GitHub spells it. The checker is first tried on pages with planted
breakage, so a checker that finds nothing cannot pass unnoticed.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest
from contract_runs import REPO_ROOT

from octopus_qa.cli import SUBCOMMANDS

#: The Markdown pages a reader follows links through.
PAGE_GLOBS = ("README.md", "docs/*.md", "bench/*.md", "openapi/*.md", "reports/*.md")
#: How far a newcomer reads before scrolling: the README's quickstart must fit in it.
FIRST_SCREEN_LINES = 60

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
HTML_LINK = re.compile(r"""\b(?:href|src)\s*=\s*["']([^"']+)["']""")
ATX_HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$")
URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:|^//")
#: GitHub's own anchors on a file's lines (`#L10`, `#L10-L20`), valid on any non-Markdown file.
LINE_ANCHOR = re.compile(r"^L\d+(?:-L\d+)?$")


def outside_code(text: str) -> Iterator[str]:
    """The lines of `text` that Markdown renders as prose: fenced code blocks left out, code
    spans blanked (a path in backticks is an example, not a link)."""
    fence: str | None = None
    for line in text.splitlines():
        opened = FENCE.match(line)
        if fence is None and opened:
            fence = opened.group(1)[0] * 3
        elif fence is not None and line.lstrip().startswith(fence):
            fence = None
        elif fence is None:
            yield CODE_SPAN.sub("code", line)


def link_targets(text: str) -> list[str]:
    """Every link target in `text`: inline links and images, reference definitions, HTML
    `href`/`src`."""
    targets: list[str] = []
    for line in outside_code(text):
        targets += INLINE_LINK.findall(line)
        targets += REFERENCE_DEFINITION.findall(line)
        targets += HTML_LINK.findall(line)
    return targets


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading (github-slugger): its rendered text, lower case, without
    punctuation or symbols, each space a hyphen."""
    rendered = CODE_SPAN.sub(lambda m: m.group(2).strip(), heading)
    rendered = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", rendered)
    rendered = re.sub(r"<[^>]+>|[*]", "", rendered)
    return re.sub(r"[^\w\- ]", "", rendered.lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The anchors of a Markdown page's (ATX) headings; a repeated slug gets -1, -2... as on
    GitHub."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    fence: str | None = None
    for line in text.splitlines():
        opened = FENCE.match(line)
        if fence is None and opened:
            fence = opened.group(1)[0] * 3
            continue
        if fence is not None:
            fence = None if line.lstrip().startswith(fence) else fence
            continue
        heading = ATX_HEADING.match(line)
        if heading:
            slug = github_slug(heading.group(1))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def repository_files(root: Path) -> set[str] | None:
    """The files a clone of `root` would hold (committed or about to be, never git-ignored), as
    POSIX paths relative to it; None when `root` is not a git checkout (then existence decides)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=root,
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return {name for name in listed.decode("utf-8").split("\0") if name}


def in_repository(relative: str, root: Path, files: set[str] | None) -> bool:
    """Whether `relative` (a file or a folder) is part of the repository."""
    path = root / relative
    if files is None or relative == ".":
        return path.exists()
    if relative in files:
        return path.is_file()
    return path.is_dir() and any(name.startswith(f"{relative}/") for name in files)


def broken_links(page: Path, root: Path, files: set[str] | None) -> list[str]:
    """`target: why` for each relative link of `page` that does not resolve inside `root`."""
    broken = []
    for target in link_targets(page.read_text(encoding="utf-8")):
        if not target or URL_SCHEME.match(target):
            continue
        path_part, _, anchor = target.partition("#")
        resolved = resolve_link(page, root, unquote(path_part))
        if not resolved.is_relative_to(root.resolve()):
            broken.append(f"{target}: outside the repository")
            continue
        relative = resolved.relative_to(root.resolve()).as_posix()
        if not in_repository(relative, root, files):
            broken.append(f"{target}: no such file in the repository")
        elif anchor and not anchor_resolves(resolved, unquote(anchor)):
            broken.append(f"{target}: no heading with that anchor in {relative}")
    return broken


def resolve_link(page: Path, root: Path, path: str) -> Path:
    """Where a link's path leads: the page itself when empty (`#anchor`), from the repository's
    root when it starts with `/` (as GitHub reads it), else from the page's folder."""
    if not path:
        return page.resolve()
    if path.startswith("/"):
        return (root / path.lstrip("/")).resolve()
    return (page.parent / path).resolve()


def anchor_resolves(path: Path, anchor: str) -> bool:
    """Whether `anchor` names a heading of a Markdown file, or a line of any other file."""
    if path.suffix.lower() != ".md":
        return bool(LINE_ANCHOR.match(anchor))
    return anchor.lower() in anchors(path.read_text(encoding="utf-8"))


def pages(root: Path) -> list[Path]:
    return sorted({page for pattern in PAGE_GLOBS for page in root.glob(pattern)})


# --- The checker finds what it must ---------------------------------------------------------


def test_github_slugs_are_spelt_as_github_spells_them() -> None:
    assert github_slug("Known deviations (deviations.toml)") == "known-deviations-deviationstoml"
    assert github_slug("Contract suite: `octoqa contract`") == "contract-suite-octoqa-contract"
    assert github_slug("Within getting-started.txt") == "within-getting-startedtxt"
    assert github_slug("`bench_load.py`: what it costs") == "bench_loadpy-what-it-costs"
    assert github_slug("rules → documents") == "rules--documents"
    assert github_slug("Exit codes: 0, 1, 2") == "exit-codes-0-1-2"


def test_a_broken_link_or_anchor_is_found(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "run.md").write_text("# Run\n\n## Exit codes\n\n## Exit codes\n")
    (tmp_path / "src.py").write_text("")
    page = tmp_path / "README.md"
    page.write_text(
        "# Title\n\n"
        "[ok](docs/run.md#exit-codes) [ok](docs/run.md#exit-codes-1) [ok](docs/) [ok](#title)\n"
        '[ok](src.py#L3) [ok](./) [ok](https://example.com/x.md) ![ok](docs/run.md "a title")\n'
        "[gone](docs/missing.md) [outside](../shared/api-docs/) [anchor](docs/run.md#exit)\n"
        "[self](#nowhere) [line](src.py#main)\n"
        "`[in code](not-a-link.md)`\n"
        "```\n[in a block](not-a-link-either.md)\n```\n"
        "[ref]: docs/gone-too.md\n"
        '<img src="docs/missing.png">\n'
    )
    assert broken_links(page, tmp_path, None) == [
        "docs/missing.md: no such file in the repository",
        "../shared/api-docs/: outside the repository",
        "docs/run.md#exit: no heading with that anchor in docs/run.md",
        "#nowhere: no heading with that anchor in README.md",
        "src.py#main: no heading with that anchor in src.py",
        "docs/gone-too.md: no such file in the repository",
        "docs/missing.png: no such file in the repository",
    ]


def test_a_link_to_a_git_ignored_file_is_broken(tmp_path: Path) -> None:
    """A clone has no ignored files (a run's reports, a venv): a link to one is broken here too."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True, timeout=60)
    (tmp_path / ".gitignore").write_text("reports/*\n")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "index.html").write_text("")
    page = tmp_path / "README.md"
    page.write_text("[report](reports/index.html) [ignore file](.gitignore)\n")
    files = repository_files(tmp_path)
    assert files is not None
    assert broken_links(page, tmp_path, files) == [
        "reports/index.html: no such file in the repository"
    ]


# --- This repository's pages --------------------------------------------------------------


def test_the_pages_checked_are_the_documentation() -> None:
    checked = {page.relative_to(REPO_ROOT).as_posix() for page in pages(REPO_ROOT)}
    assert {
        "README.md",
        "bench/README.md",
        "openapi/TRACEABILITY.md",
        "docs/run.md",
        "docs/contract.md",
        "docs/load.md",
        "docs/capacity.md",
        "docs/sandbox.md",
        "docs/report.md",
    } <= checked


@pytest.mark.parametrize(
    "page", pages(REPO_ROOT), ids=lambda page: page.relative_to(REPO_ROOT).as_posix()
)
def test_every_relative_link_resolves_in_the_repository(page: Path) -> None:
    broken = broken_links(page, REPO_ROOT, repository_files(REPO_ROOT))
    assert broken == [], "\n".join(broken)


def test_every_docs_page_is_reachable_from_the_readme() -> None:
    linked = {
        (REPO_ROOT / target.partition("#")[0]).resolve()
        for target in link_targets((REPO_ROOT / "README.md").read_text(encoding="utf-8"))
    }
    orphans = [p.name for p in sorted((REPO_ROOT / "docs").glob("*.md")) if p not in linked]
    assert orphans == []


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_command_has_its_page(command: str) -> None:
    """One page per `octoqa` subcommand, its title naming the command."""
    titles = [
        page.read_text(encoding="utf-8").partition("\n")[0]
        for page in (REPO_ROOT / "docs").glob("*.md")
    ]
    assert any(f"`octoqa {command}`" in title for title in titles)


# --- The README's first screen ------------------------------------------------------------


def first_screen() -> str:
    lines = (REPO_ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    return "\n".join(lines[:FIRST_SCREEN_LINES])


def test_the_readme_test_command_is_what_ci_runs() -> None:
    """.ci/run ends with "the README's test command": the two must stay the same."""
    ci_lines = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    ci_command = [line for line in ci_lines if line.strip() and not line.startswith("#")][-1]
    assert ci_command.strip() == "./selftest -n 2"
    assert f"{ci_command.strip()} " in first_screen()


@pytest.mark.parametrize(
    "needed",
    [
        "./octoqa run",
        "./selftest -n 2",
        "--target",
        "OCTOPUS_BASE_URL",
        "OCTOPUS_USERNAME",
        "OCTOPUS_PASSWORD",
        "pass",
        "fail",
        "untested",
        "error",
        "| 0 |",
        "| 1 |",
        "| 2 |",
    ],
)
def test_the_readme_first_screen_says_what_a_newcomer_needs(needed: str) -> None:
    assert needed in first_screen()
