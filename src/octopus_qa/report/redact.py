"""Keep secrets out of everything a run leaves under `reports/`.

Stages write what they see (test messages, Locust errors, logs), and a target may echo a token or
a password back. Before the report is built, and again after, every file of the run is scrubbed:
each configured secret in the forms it takes once written into JSON, HTML or a URL, and every
string that looks like a JWT (`eyJ<header>.<payload>[.<signature>]`).
"""

from __future__ import annotations

import html
import json
import re
import shlex
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

JWT_LIKE = re.compile(r"eyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}(?:\.[A-Za-z0-9_-]*)?")
REDACTED = "[REDACTED]"
JWT_REDACTED = "[REDACTED-JWT]"
#: A secret shorter than this would match ordinary text; such a password is refused nowhere but
#: cannot be scrubbed reliably either (the risk is named in docs/report.md § Secrets).
MIN_SECRET_LENGTH = 4


def written_forms(secret: str) -> set[str]:
    """The ways `secret` may appear in a file: as is, HTML-escaped, JSON-escaped, URL-quoted,
    as Python shows it (pytest's assertion and hypothesis's example lines), shell-quoted."""
    forms = {
        secret,
        repr(secret)[1:-1],
        ascii(secret)[1:-1],
        shlex.quote(secret),
        secret.replace("'", "'\"'\"'"),  # inside a single-quoted shell word (curl lines)
        html.escape(secret),
        html.escape(secret, quote=False),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
    }
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """`text` with every written form of every secret, and every JWT-looking string, replaced."""
    forms = sorted({f for s in secrets for f in written_forms(s)}, key=len, reverse=True)
    for form in forms:
        text = text.replace(form, REDACTED)
    return JWT_LIKE.sub(JWT_REDACTED, text)


def run_files(root: Path) -> Iterator[Path]:
    """Every regular file under `root`, not following symlinks (`latest` points elsewhere)."""
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path


def redact_tree(root: Path, secrets: Iterable[str]) -> list[Path]:
    """Scrub every file under `root` in place; returns the files that changed.

    Text (UTF-8) files are rewritten with the markers; a binary file holding a secret has those
    bytes overwritten with asterisks of the same length, which keeps its layout.
    """
    secrets = [s for s in secrets if len(s) >= MIN_SECRET_LENGTH]
    changed = []
    for path in run_files(root):
        data = path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            scrubbed = data
            for secret in secrets:
                raw = secret.encode("utf-8")
                scrubbed = scrubbed.replace(raw, b"*" * len(raw))
            if scrubbed != data:
                path.write_bytes(scrubbed)
                changed.append(path)
            continue
        redacted = redact_text(text, secrets)
        if redacted != text:
            path.write_text(redacted, encoding="utf-8")
            changed.append(path)
    return changed


def leaks(root: Path, secrets: Iterable[str]) -> list[str]:
    """`path: what` for every secret or JWT-looking string still found under `root` (for tests and
    for the run's last self-check)."""
    secrets = [s for s in secrets if len(s) >= MIN_SECRET_LENGTH]
    found = []
    for path in run_files(root):
        data = path.read_bytes()
        for secret in secrets:
            if secret.encode("utf-8") in data:
                found.append(f"{path}: a configured secret")
        if JWT_LIKE.search(data.decode("utf-8", errors="replace")):
            found.append(f"{path}: a JWT-looking string")
    return found
