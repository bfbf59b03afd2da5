"""Which operations and status codes a run exercised, against what the spec declares.

Every response the suite sees (schemathesis's and the hand-written tests') is recorded here, by
the spec path template it matches, so summary.json can show what the run reached.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _template_pattern(template: str) -> re.Pattern[str]:
    pieces = re.split(r"(\{[^}/]+\})", template)
    regex = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in pieces)
    return re.compile(f"^{regex}/?$")


class Coverage:
    """Status codes seen per (method, path template); thread-safe, cheap per response."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.declared: dict[tuple[str, str], list[int]] = {}
        for template, item in spec.get("paths", {}).items():
            for method, operation in item.items():
                if method in HTTP_METHODS:
                    statuses = sorted(
                        int(code) for code in operation.get("responses", {}) if str(code).isdigit()
                    )
                    self.declared[(method.upper(), template)] = statuses
        # Literal paths before templated ones, so /products/{id} never claims a literal sibling.
        self._patterns = sorted(
            ((template, _template_pattern(template)) for _, template in self.declared),
            key=lambda pair: pair[0].count("{"),
        )
        self.seen: dict[tuple[str, str], set[int]] = {}
        self._lock = threading.Lock()

    def template_for(self, path: str) -> str | None:
        for template, pattern in self._patterns:
            if pattern.match(path):
                return template
        return None

    def record(self, method: str, path: str, status: int) -> None:
        template = self.template_for(path)
        if template is None:
            return
        with self._lock:
            self.seen.setdefault((method.upper(), template), set()).add(status)

    def as_report(self) -> list[dict[str, Any]]:
        """summary.json's `coverage.operations`: declared operations first, then others reached."""
        keys = list(self.declared) + sorted(set(self.seen) - set(self.declared))
        return [
            {
                "method": method,
                "path": path,
                "declared": self.declared.get((method, path), []),
                "seen": sorted(self.seen.get((method, path), ())),
            }
            for method, path in keys
        ]
