"""Which hosts a load run may send traffic to: loopback, or a host named in `allowed-hosts.toml`.

Load is the one thing this project does that can hurt someone else's service, so a run against
any other host is refused before a single request, unless the user says `--allow-any-host`.
The Locust process checks again at start-up, so a plain `locust -f load/locustfile.py` run is
held to the same list.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import TargetNotAllowed, UsageError
from ..target import is_loopback


def load_allowed_hosts(path: Path) -> frozenset[str]:
    """The host names in the allow-list file (lower-case)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        hosts = data["hosts"]
    except (OSError, tomllib.TOMLDecodeError, KeyError) as exc:
        raise UsageError(f"cannot read the load allow-list {path}: {exc}") from None
    if not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts):
        raise UsageError(f"{path}: `hosts` must be a list of host names")
    return frozenset(host.lower() for host in hosts)


def check_target_allowed(url: str, allowed_hosts: frozenset[str], allow_any: bool = False) -> None:
    """Raise TargetNotAllowed unless `url` is loopback, allow-listed, or the user allowed any."""
    if allow_any or is_loopback(url):
        return
    host = (urlsplit(url).hostname or "").lower()
    if host in allowed_hosts:
        return
    raise TargetNotAllowed(
        f"refusing to send load to {host or url!r}: it is neither loopback nor in the load "
        "allow-list (load/allowed-hosts.toml); add it there or pass --allow-any-host if you "
        "own that service"
    )
