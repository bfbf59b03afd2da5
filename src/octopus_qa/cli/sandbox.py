"""`octoqa sandbox`: serve the local Octopus Cards API on loopback, clean or with planted bugs.

What it serves lives in `octopus_qa.sandbox`; this module only reads options, refuses unsafe or
malformed ones with one clear line (UsageError, exit 2) and prints where to connect.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
from typing import TYPE_CHECKING

from ..errors import UsageError
from ..target import is_loopback
from ..target.credentials import DEMO_PASSWORD, Credentials

if TYPE_CHECKING:
    from ..sandbox.delays import Freeze, LatencyDistribution, RateCap

HELP = "serve the local sandbox API on loopback (optionally with planted faults)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback)")
    parser.add_argument("--port", default="8080", help="port to listen on (0: any free port)")
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --host that is not loopback (the sandbox has a public demo password)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME",
        help="serve with this planted bug (repeatable; see --list-faults)",
    )
    parser.add_argument(
        "--chaos",
        action="append",
        default=[],
        metavar="SPEC",
        help="misbehave like a real deployment after N requests or S seconds, e.g. "
        "die-after=150, reset-after=150, hang-after=20s, html-502-after=150, "
        "truncate-after=150, empty-after=150, revoke-after=150, refuse-tokens-after=150, "
        "slow-ms=300[,slow-after=N], rate-limit=0.05,retry-after=1 (or retry-after=date:1) "
        "[,rate-limit-after=N]; comma-separated, repeatable (see --list-faults)",
    )
    parser.add_argument(
        "--list-faults", action="store_true", help="list the faults and chaos switches and exit"
    )
    parser.add_argument(
        "--reading",
        action="append",
        default=[],
        metavar="NAME",
        help="answer otherwise where the documents do not decide (not a fault; repeatable; "
        "see --list-readings)",
    )
    parser.add_argument(
        "--list-readings", action="store_true", help="list the other readings and exit"
    )
    parser.add_argument("--latency-ms", default="0", help="sleep this long before each answer")
    parser.add_argument(
        "--latency-dist",
        metavar="SPEC",
        help="delay each answer by a seeded draw, e.g. lognormal:median=20ms,sigma=0.5 "
        "(draws served at /_sandbox/latency-draws)",
    )
    parser.add_argument(
        "--freeze-once",
        metavar="AFTER:DURATION",
        help="stop the whole server once, e.g. 6s:2s (2 s, 6 s after the first request)",
    )
    parser.add_argument(
        "--error-rate", default="0", help="share of /api/ requests answered 500 (0..1)"
    )
    parser.add_argument(
        "--max-rps",
        metavar="N",
        help="a known capacity: start at most N requests a second, queue the rest (a saturated "
        "server, for capacity searches)",
    )
    parser.add_argument("--token-ttl", default="900", help="access token lifetime in seconds")
    parser.add_argument("--seed", default="0", help="catalog seed (same seed, same products)")
    parser.add_argument(
        "--http",
        default="auto",
        metavar="IMPL",
        help="uvicorn's HTTP parser: auto (httptools if installed), h11 or httptools; each "
        "refuses malformed and oversized requests its own way, as servers in front of an API do",
    )


def main(args: argparse.Namespace) -> int:
    from ..sandbox.chaos import Chaos
    from ..sandbox.faults import FAULTS, unknown_faults
    from ..sandbox.readings import READINGS, unknown_readings

    if args.list_faults:
        print(_fault_table())
        return 0
    if args.list_readings:
        print(_reading_table())
        return 0
    if unknown := unknown_faults(args.fault):
        raise UsageError(
            f"unknown fault {unknown[0]!r} (octoqa sandbox --list-faults shows the {len(FAULTS)})"
        )
    if unknown := unknown_readings(args.reading):
        raise UsageError(
            f"unknown reading {unknown[0]!r} "
            f"(octoqa sandbox --list-readings shows the {len(READINGS)})"
        )
    readings = tuple(dict.fromkeys(args.reading))
    host = args.host.strip()
    if not is_loopback(_url_for(host)) and not args.allow_remote:
        raise UsageError(f"refusing to listen on non-loopback {host!r} without --allow-remote")
    faults = tuple(dict.fromkeys(args.fault))
    token_ttl = _number(args.token_ttl, "--token-ttl", minimum=0, exclusive_minimum=True)
    seed = int(_number(args.seed, "--seed", integer=True))
    latency_ms = _number(args.latency_ms, "--latency-ms", minimum=0)
    error_rate = _number(args.error_rate, "--error-rate", minimum=0, maximum=1)
    port = int(_number(args.port, "--port", minimum=0, maximum=65535, integer=True))
    http = _http_implementation(args.http)
    latency_dist, freeze = _delays(args.latency_dist, args.freeze_once)
    rate_cap = _rate_cap(args.max_rps)
    try:
        chaos = Chaos.parse(args.chaos)
    except ValueError as exc:
        raise UsageError(f"--chaos: {exc}") from None

    from ..sandbox.server import serve

    # SIGTERM stops like Ctrl-C: uvicorn shuts down gracefully, then re-raises the signal here.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        serve(
            host=host,
            port=port,
            announce=lambda url: _announce(
                url, faults, token_ttl, seed, chaos.describe(), readings
            ),
            faults=faults,
            readings=readings,
            token_ttl=token_ttl,
            seed=seed,
            latency_ms=latency_ms,
            error_rate=error_rate,
            latency_dist=latency_dist,
            freeze=freeze,
            chaos=chaos,
            rate_cap=rate_cap,
            http=http,
        )
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    print("octoqa sandbox: stopped", file=sys.stderr)
    return 0


def _http_implementation(text: str) -> str:
    """--http, checked before anything is served: a typo is one line, not a uvicorn traceback."""
    from ..sandbox.server import HTTP_IMPLEMENTATIONS

    choice = text.strip().lower()
    if choice not in HTTP_IMPLEMENTATIONS:
        raise UsageError(f"--http must be one of {', '.join(HTTP_IMPLEMENTATIONS)}, got {text!r}")
    return choice


def _delays(
    latency_dist: str | None, freeze_once: str | None
) -> tuple[LatencyDistribution | None, Freeze | None]:
    """The load-timing switches, parsed; a malformed one is a UsageError naming the option."""
    from ..sandbox.delays import Freeze, LatencyDistribution

    try:
        distribution = LatencyDistribution.parse(latency_dist) if latency_dist else None
    except ValueError as exc:
        raise UsageError(f"--latency-dist: {exc}") from None
    try:
        freeze = Freeze.parse(freeze_once) if freeze_once else None
    except ValueError as exc:
        raise UsageError(f"--freeze-once: {exc}") from None
    return distribution, freeze


def _rate_cap(max_rps: str | None) -> RateCap | None:
    from ..sandbox.delays import RateCap

    try:
        return RateCap.parse(max_rps) if max_rps is not None else None
    except ValueError as exc:
        raise UsageError(f"--max-rps: {exc}") from None


def _url_for(host: str) -> str:
    return f"http://[{host}]/" if ":" in host else f"http://{host}/"


def _number(
    text: str,
    option: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
    integer: bool = False,
) -> float:
    """A numeric option, or a UsageError naming the option and the allowed range."""
    try:
        value = float(int(text)) if integer else float(text)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise UsageError(f"{option} must be {kind}, got {text!r}") from None
    low = -math.inf if minimum is None else minimum
    high = math.inf if maximum is None else maximum
    too_low = value <= low if exclusive_minimum else value < low
    if math.isnan(value) or too_low or value > high:
        bounds = f"> {low:g}" if exclusive_minimum else f"≥ {low:g}"
        if maximum is not None:
            bounds = f"from {low:g} to {high:g}"
        raise UsageError(f"{option} must be {bounds}, got {text!r}")
    return value


def _announce(
    url: str,
    faults: tuple[str, ...],
    token_ttl: float,
    seed: int,
    chaos: str = "none",
    readings: tuple[str, ...] = (),
) -> None:
    """Where to connect and with which account; a password is shown only if it is the public
    demo one (never one from OCTOPUS_PASSWORD)."""
    credentials = Credentials.from_env()
    if os.environ.get("OCTOPUS_PASSWORD"):
        password = "from OCTOPUS_PASSWORD"
    else:
        password = f"{DEMO_PASSWORD!r} (the public demo password)"
    lines = [
        f"Octopus Cards sandbox on {url}  (spec: {url}/openapi.yaml)",
        f"  account: {credentials.username!r}, password {password}",
        f"  faults: {', '.join(faults) or 'none'}; token ttl {token_ttl:g} s; seed {seed}",
        *_fault_hints(faults),
        *([f"  chaos: {chaos}"] if chaos != "none" else []),
        *([f"  readings: {', '.join(readings)}"] if readings else []),
        "  Ctrl-C to stop",
    ]
    print("\n".join(lines), flush=True)


def _fault_hints(names: tuple[str, ...]) -> list[str]:
    from ..sandbox.faults import FAULTS

    return [
        f"  note: {name} is observable with {' '.join(FAULTS[name].sandbox_args)}"
        for name in names
        if FAULTS[name].sandbox_args
    ]


def _fault_table() -> str:
    from ..sandbox.faults import FAULTS

    width = max(len(name) for name in FAULTS)
    rule_width = max(len(fault.breaks) for fault in FAULTS.values())
    lines = [f"{'FAULT':<{width}}  {'BREAKS':<{rule_width}}  CAUGHT BY  DESCRIPTION"]
    for fault in FAULTS.values():
        extra = f" [needs {' '.join(fault.sandbox_args)}]" if fault.sandbox_args else ""
        lines.append(
            f"{fault.name:<{width}}  {fault.breaks:<{rule_width}}  {fault.profile:<9}  "
            f"{fault.description}{extra}"
        )
    return "\n".join(lines) + "\n\n" + _chaos_table()


def _chaos_table() -> str:
    """The --chaos switches: trouble that is no rule's fault (sandbox/chaos.py)."""
    from ..sandbox.chaos import TRIGGERED, VALUED

    width = max(len(name) for name in [*TRIGGERED, *VALUED]) + 5
    lines = ["CHAOS (--chaos KEY=VALUE[,...]; N requests or Ns seconds)  DESCRIPTION"]
    lines += [f"{name + '=N|Ns':<{width}}  {text}" for name, text in TRIGGERED.items()]
    lines += [f"{name + '=X':<{width}}  {text}" for name, text in VALUED.items()]
    return "\n".join(lines)


def _reading_table() -> str:
    from ..sandbox.readings import READINGS

    width = max(len(name) for name in READINGS)
    ambiguity_width = max(len(reading.ambiguity) for reading in READINGS.values())
    lines = [f"{'READING':<{width}}  {'QUESTION':<{ambiguity_width}}  DESCRIPTION"]
    for reading in READINGS.values():
        lines.append(
            f"{reading.name:<{width}}  {reading.ambiguity:<{ambiguity_width}}  "
            f"{reading.description}"
        )
    return "\n".join(lines)
