"""Which hosts a load run may send traffic to: loopback, or a host named in `allowed-hosts.toml`.

Load is the one thing this project does that can hurt someone else's service, so a run against
any other host is refused before a single request, unless the user says `--allow-any-host`.
The Locust process checks again at start-up, so a plain `locust -f load/locustfile.py` run is
held to the same list.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import msgspec

from .. import config
from ..errors import TargetNotAllowed
from ..target import is_loopback

#: An exact host name or IP address, as a URL's host compares: no scheme, port, path or wildcard.
HOST = re.compile(r"^[A-Za-z0-9._-]+$|^[0-9A-Fa-f:]+$")


class _AllowList(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    hosts: list[str]


def load_allowed_hosts(path: Path) -> frozenset[str]:
    """The host names in the allow-list file (lower-case)."""
    hosts = config.read(path, _AllowList).hosts
    for index, host in enumerate(hosts):
        if not HOST.match(host):
            raise config.ConfigError(
                path,
                f"hosts[{index}]",
                f"{host!r} is not a host name (exact names only: no scheme, port, path or *)",
            )
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
