"""The bottleneck named: which endpoint serialises, which fails under concurrency, where the
throughput would peak, and whose latency grew first with the rate.

Read from what each request met when it was sent (concurrency.py's book: its endpoint's own
in-flight count k, itself included, and the rest of its process's, o) and its service time.

- Serialisation. Per endpoint, the mean latency is fitted (least squares, weighted by requests)
  as the straight line R = a + b (k - 1) + d o, with b and d at least 0. An endpoint
  *serialises* when each request of its own ahead adds at least SERIAL_MS, between about a
  third and one and a half of what one alone takes, as measured: the mean of the requests sent
  alone, not the line's intercept (PROPORTION_BAND: a lock, a pool of one; waiting for the one
  ahead costs what is left of it, half on average at a light load), and
  OWN_OVER_OTHERS times what any other request in flight adds: a server that is simply busy
  slows every endpoint by the total in flight, and that is d, not b. Runs where few requests
  overlapped (a smoke run) are read against the requests sent alone instead (MIN_ALONE). A
  clean sandbox stays below (its crawl pages, the closest, +8 ms on 4 ms alone: out of
  proportion; tests/test_load_bottleneck.py runs it).
- The Universal Scalability Law: the same levels fitted as R = a + b (k - 1) + c k (k - 1),
  its latency form (R(N) = N / X(N) = (1 + sigma (N - 1) + kappa N (N - 1)) / lambda, so
  lambda = 1/a, sigma = b/a, kappa = c/a). X(N) peaks at N* = sqrt((1 - sigma) / kappa) when
  kappa > 0 and sigma < 1; otherwise it levels off at lambda / sigma (lambda when sigma >= 1).
  For the mix: divided by the endpoint's share of the mix's requests.
- Failures under concurrency. Per operation (the list's and the crawler's pages together),
  the share of failed requests among those sent with more than t requests in flight against
  those with t or fewer, for the t that separates them best; named when the difference is
  beyond chance (a two-proportion z of at least ERRORS_Z), at least ERRORS_MIN failures above
  t, and at least ERRORS_RATIO times the rate below.
- Latency against the rate (capacity steps): the endpoint whose p50 first passed GREW_FACTOR
  times (and GREW_MIN_MS beyond) its p50 at the lightest step and stayed past GREW_STAYS times.

Nothing here needs numpy or scipy (neither is a dependency, neither is installed): the fits are
linear systems of three or four unknowns solved by hand, with an active set for the bounds.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .concurrency import CONCURRENCY_FILE, ConcurrencyBook, read_book

#: Each request of its own in flight adds at least this much to a serialising endpoint's latency.
SERIAL_MS = 10.0
#: ... and at least this share of what one request alone takes ("in proportion"): a request
#: that finds one ahead waits for what is left of it, half of it on average when requests
#: arrive at random (a light load), all of it once a queue has formed; a little under the half,
#: for the noise of a light run (a 40 ms lock measured +20.2, +20.5 and +22.1 ms on 41 ms
#: alone in three runs of 48 users: at 0.5 two of the three named nothing).
SERIAL_SHARE = 0.35
#: ... and its own concurrency weighs this many times the rest of the load's.
OWN_OVER_OTHERS = 5.0
#: Evidence enough for the fit alone: requests in all, and requests met by one of their own.
MIN_REQUESTS = 50
MIN_CONCURRENT = 10
#: Each request of its own ahead costs between SERIAL_SHARE and one and a half of one alone:
#: waiting for it costs at most what it takes. More is out of proportion: a slow outlier, pages
#: of very different sizes, or a generator (one thread) busy checking the answer that came before.
PROPORTION_BAND = (SERIAL_SHARE, 1.5)
#: Less evidence (a smoke run: a few requests ever overlap) is read only against requests sent
#: alone, at least this many: the concurrent ones must on average take longer than the slowest
#: (and by SERIAL_MS a request ahead), but need not reach PROPORTION_BAND's lower share.
MIN_ALONE = 8
#: Failures under concurrency: z of the two shares, failures above the split, ratio of shares.
ERRORS_Z = 4.0
ERRORS_MIN = 3
ERRORS_RATIO = 3.0
#: Latency grew with the rate: past this multiple of the lightest step's p50, and by this much.
GREW_FACTOR = 2.0
GREW_MIN_MS = 5.0
#: ... and stayed past this multiple at every higher rate: near a lock's limit a p50 that
#: doubled reads 2.2x, then 1.9x, 2.0x a step higher (CI: 95 ms, then 82 and 86 against 43).
#: A burst at one step falls back to its lightest p50, far under it.
GREW_STAYS = 1.5
#: Endpoints that are one operation of the API, the first's: the crawler's big pages are
#: listings too, so their failures are read with the list's (a server that fails listings under
#: load fails both), under "list".
SAME_OPERATION: Mapping[str, str] = {"crawl": "list"}
#: How an endpoint is named in a sentence.
LABELS: Mapping[str, str] = {
    "list": "listings",
    "crawl": "crawl pages",
    "detail": "product details",
    "availability": "availability",
    "login": "logins",
    "refresh": "refreshes",
    "logout": "logouts",
}


def label(key: str) -> str:
    return LABELS.get(key, key)


# --- Least squares, by hand -------------------------------------------------------------------


def solve(matrix: list[list[float]], vector: list[float]) -> list[float] | None:
    """x with matrix x = vector (Gaussian elimination, partial pivoting); None when singular."""
    n = len(vector)
    rows = [[*matrix[i], vector[i]] for i in range(n)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(rows[r][col]))
        if abs(rows[pivot][col]) < 1e-12:
            return None
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(n):
            if r != col:
                factor = rows[r][col] / rows[col][col]
                rows[r] = [x - factor * y for x, y in zip(rows[r], rows[col], strict=True)]
    return [rows[i][n] / rows[i][i] for i in range(n)]


def nonnegative_fit(
    samples: Sequence[tuple[Sequence[float], float, float]], bounded: Sequence[int]
) -> list[float] | None:
    """Weighted least squares of y on the features (x, y, weight), the coefficients listed in
    `bounded` kept at 0 or above: a bounded one that comes out negative is dropped (held at 0)
    and the rest refitted, the most negative first; when the system is singular, the first of
    `bounded` still in is dropped."""
    width = len(samples[0][0]) if samples else 0
    active = list(range(width))
    while active:
        normal = [[0.0] * len(active) for _ in active]
        right = [0.0] * len(active)
        for x, y, w in samples:
            picked = [x[i] for i in active]
            for i, xi in enumerate(picked):
                right[i] += w * xi * y
                for j, xj in enumerate(picked):
                    normal[i][j] += w * xi * xj
        solution = solve(normal, right)
        if solution is None:
            # Features without spread (a single level met, or two: k - 1 and k (k - 1) are
            # then one): drop the first bounded one left in `bounded`'s order of preference.
            dropped = [i for i in bounded if i in active]
            if not dropped:
                return None
            active.remove(dropped[0])
            continue
        coefficients = [0.0] * width
        for i, value in zip(active, solution, strict=True):
            coefficients[i] = value
        negative = [i for i in active if i in bounded and coefficients[i] < 0]
        if not negative:
            return coefficients
        active.remove(min(negative, key=lambda i: coefficients[i]))
    return None


# --- One endpoint -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Usl:
    """The Universal Scalability Law's coefficients and where the throughput tops out."""

    lambda_rps: float  # one request alone: 1 / its latency
    sigma: float  # contention
    kappa: float  # coherency
    #: N* = sqrt((1 - sigma) / kappa), when the curve has a peak (kappa > 0, sigma < 1).
    peak_in_flight: float | None
    #: X(N*), or the ceiling lambda / sigma it levels off at; None: no limit in sight.
    peak_rps: float | None


def usl(alone_ms: float, slope_ms: float, coherency_ms: float) -> Usl | None:
    """The USL of a latency fit R = a + b (k - 1) + c k (k - 1)."""
    if alone_ms <= 0:
        return None
    lam, sigma, kappa = 1000.0 / alone_ms, slope_ms / alone_ms, coherency_ms / alone_ms
    peak_n: float | None = None
    peak: float | None = None
    if kappa > 0 and sigma < 1:
        peak_n = math.sqrt((1 - sigma) / kappa)
        peak = lam * peak_n / (1 + sigma * (peak_n - 1) + kappa * peak_n * (peak_n - 1))
    elif sigma >= 1:
        peak = lam  # one at a time: a second request in flight only waits
    elif sigma > 0:
        peak = lam / sigma  # no coherency cost: it levels off
    return Usl(round(lam, 2), round(sigma, 4), round(kappa, 6), _round(peak_n), _round(peak))


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def latency_fit(cells: Mapping[tuple[int, int], list[float]]) -> dict[str, float] | None:
    """a (alone), b (per own request in flight), c (coherency), d (per other request), in ms."""
    samples = [
        ((1.0, own - 1.0, own * (own - 1.0), float(others)), cell[1] / cell[0], cell[0])
        for (own, others), cell in cells.items()
        if cell[0] > 0
    ]
    concurrent = sum(cell[0] for (own, _), cell in cells.items() if own > 1)
    alone = sum(cell[0] for (own, _), cell in cells.items() if own == 1)
    if concurrent < 1 or alone < MIN_ALONE:
        return None
    # The USL's form (coherency dropped first when the levels cannot tell it apart), and the
    # straight line whose slope is said: ms per concurrent request, over every level met.
    curve = nonnegative_fit(samples, bounded=(2, 3, 1))
    line = nonnegative_fit([((x[0], x[1], x[3]), y, w) for x, y, w in samples], bounded=(2, 1))
    if curve is None or line is None:
        return None
    a, b, d = line
    concurrent_ms = sum(cell[1] for (own, _), cell in cells.items() if own > 1)
    alone_ms = sum(cell[1] for (own, _), cell in cells.items() if own == 1)
    return {
        "alone_ms": round(a, 3),
        # What the requests sent alone took, measured: the line's intercept is a fit, and a
        # lock's levels do not lie on one line (the second waits half of the one ahead, the
        # rest whole ones), so a run deep in its queue puts the intercept near half of it.
        "alone_mean_ms": round(alone_ms / alone, 3),
        "per_own_ms": round(b, 3),
        "per_other_ms": round(d, 3),
        "usl_alone_ms": round(curve[0], 3),
        "usl_per_own_ms": round(curve[1], 3),
        "coherency_ms": round(curve[2], 5),
        "requests": int(alone + concurrent),
        "concurrent": int(concurrent),
        "concurrent_mean_ms": round(concurrent_ms / concurrent, 3),
    }


def serialises(fit: Mapping[str, float] | None, slowest_alone_ms: float | None) -> bool:
    """Latency in proportion to the endpoint's own concurrency, and not the load's (module
    docstring); on little evidence, also beyond every request sent alone and in proportion."""
    if fit is None:
        return False
    a, b = fit["alone_mean_ms"], fit["per_own_ms"]
    proportional = (
        b >= SERIAL_MS and b >= SERIAL_SHARE * a and b >= OWN_OVER_OTHERS * fit["per_other_ms"]
    )
    low, high = PROPORTION_BAND
    if not (proportional and b <= high * a):
        return False
    if fit["requests"] >= MIN_REQUESTS and fit["concurrent"] >= MIN_CONCURRENT:
        return b >= low * a
    # A few overlaps: each waited what was left of the one ahead (anything up to all of it),
    # so no lower share is owed; they must be slower than every request sent alone.
    return slowest_alone_ms is not None and fit["concurrent_mean_ms"] > slowest_alone_ms


@dataclass(frozen=True)
class ErrorSplit:
    """Failures of requests sent with more than `above` in flight, against the others."""

    above: int
    rate_above: float
    rate_at_or_below: float
    failed_above: int
    requests_above: int
    z: float


def error_split(cells: Mapping[tuple[int, int], list[float]]) -> ErrorSplit | None:
    """The in-flight count (own and others, itself included) that best separates failing
    requests from the rest, when the separation is beyond chance; None otherwise."""
    by_total: dict[int, list[float]] = {}
    for (own, others), cell in cells.items():
        row = by_total.setdefault(own + others, [0.0, 0.0])
        row[0] += cell[0]
        row[1] += cell[2]
    levels = sorted(by_total)
    requests = sum(row[0] for row in by_total.values())
    failed = sum(row[1] for row in by_total.values())
    best: ErrorSplit | None = None
    low_n = low_f = 0.0
    for level in levels[:-1]:
        low_n += by_total[level][0]
        low_f += by_total[level][1]
        high_n, high_f = requests - low_n, failed - low_f
        if high_f < ERRORS_MIN or low_n == 0 or high_n == 0:
            continue
        rate_low, rate_high = low_f / low_n, high_f / high_n
        if rate_high < ERRORS_RATIO * rate_low:
            continue
        pooled = failed / requests
        spread = math.sqrt(pooled * (1 - pooled) * (1 / low_n + 1 / high_n))
        z = (rate_high - rate_low) / spread if spread > 0 else 0.0
        if z >= ERRORS_Z and (best is None or z > best.z):
            best = ErrorSplit(
                level, round(rate_high, 5), round(rate_low, 5), int(high_f), int(high_n), z
            )
    return None if best is None else ErrorSplit(**{**asdict(best), "z": round(best.z, 1)})


def percentile(hist: Mapping[float, int], fraction: float) -> float | None:
    total = sum(hist.values())
    if not total:
        return None
    rank, seen = fraction * total, 0
    for ms in sorted(hist):
        seen += hist[ms]
        if seen >= rank:
            return ms
    return max(hist)


def level_table(book: ConcurrencyBook, key: str) -> list[dict[str, Any]]:
    """Per own in-flight level: requests, mean, p50, p99 (two significant digits), errors."""
    sums: dict[int, list[float]] = {}
    for (own, _), cell in book.cells.get(key, {}).items():
        row = sums.setdefault(own, [0.0, 0.0, 0.0])
        for i in range(3):
            row[i] += cell[i]
    table = []
    for own in sorted(sums):
        requests, sum_ms, failed = sums[own]
        hist: Mapping[float, int] = book.levels.get(key, {}).get(own, Counter())
        table.append(
            {
                "in_flight": own,
                "requests": int(requests),
                "mean_ms": round(sum_ms / requests, 2) if requests else None,
                "p50_ms": percentile(hist, 0.5),
                "p99_ms": percentile(hist, 0.99),
                "error_rate": round(failed / requests, 5) if requests else None,
            }
        )
    return table


def operation_cells(book: ConcurrencyBook, key: str) -> dict[tuple[int, int], list[float]]:
    """The cells of `key` and of every endpoint that is the same operation (SAME_OPERATION)."""
    merged: dict[tuple[int, int], list[float]] = {}
    for name in [key, *(k for k, op in SAME_OPERATION.items() if op == key)]:
        for levels, cell in book.cells.get(name, {}).items():
            row = merged.setdefault(levels, [0.0, 0.0, 0.0])
            for i in range(3):
                row[i] += cell[i]
    return merged


def _slowest(hist: Mapping[float, int] | None) -> float | None:
    return max(hist) if hist else None


def endpoint_concurrency(
    book: ConcurrencyBook, key: str, rate_rps: float | None = None
) -> dict[str, Any]:
    """One endpoint's latency and failures against its own concurrency, and what they say."""
    cells = book.cells.get(key, {})
    requests = sum(cell[0] for cell in cells.values())
    sum_ms = sum(cell[1] for cell in cells.values())
    seen = sum((own - 1) * cell[0] for (own, _), cell in cells.items())
    fit = latency_fit(cells)
    model = usl(fit["usl_alone_ms"], fit["usl_per_own_ms"], fit["coherency_ms"]) if fit else None
    split = None if key in SAME_OPERATION else error_split(operation_cells(book, key))
    mean_ms = sum_ms / requests if requests else 0.0
    return {
        "requests": int(requests),
        "mean_ms": round(mean_ms, 3),
        # Little's law: the time-average in flight (rate x mean latency), and what arrivals saw
        # besides themselves (the same for random arrivals): a cross-check of the counting.
        "in_flight_littles_law": round(rate_rps * mean_ms / 1000, 3) if rate_rps else None,
        "in_flight_seen": round(seen / requests, 3) if requests else None,
        "levels": level_table(book, key),
        "fit": fit,
        "usl": asdict(model) if model is not None else None,
        "serialises": serialises(fit, _slowest(book.levels.get(key, {}).get(1))),
        "errors_under_concurrency": asdict(split) if split is not None else None,
    }


def analyse(book: ConcurrencyBook, rates: Mapping[str, float]) -> dict[str, Any]:
    """A run's concurrency section of summary.json: per endpoint (`rates`: its req/s, for
    Little's law), and the findings in words."""
    endpoints = {key: endpoint_concurrency(book, key, rates.get(key)) for key in book.keys()}
    return {"endpoints": endpoints, "findings": findings(endpoints)}


def analyse_run(load_dir: Path, rates: Mapping[str, float]) -> dict[str, Any] | None:
    """The section for the run in `load_dir`, or None when it recorded no concurrency."""
    book = read_book(load_dir / CONCURRENCY_FILE)
    return analyse(book, rates) if book.keys() else None


def findings(
    endpoints: Mapping[str, Mapping[str, Any]], mix_share: Mapping[str, float] | None = None
) -> list[str]:
    """One sentence per endpoint that serialises or fails under concurrency."""
    said = []
    for key, entry in endpoints.items():
        if entry.get("serialises"):
            said.append(serial_sentence(key, entry, (mix_share or {}).get(key)))
        split = entry.get("errors_under_concurrency")
        if split:
            said.append(errors_sentence(key, split))
    return said


def serial_sentence(key: str, entry: Mapping[str, Any], share: float | None) -> str:
    fit, model = entry["fit"], entry.get("usl") or {}
    sentence = (
        f"{label(key)} serialises: +{fit['per_own_ms']:.0f} ms per concurrent request "
        f"({fit['alone_mean_ms']:.0f} ms alone)"
    )
    peak = model.get("peak_rps")
    if peak:
        sentence += f"; its throughput would peak near {peak:,.0f} req/s"
        if share:
            sentence += f" (the mix's near {peak / share:,.0f} req/s)"
    return sentence


def errors_sentence(key: str, split: Mapping[str, Any]) -> str:
    above = split["above"]
    return (
        f"{label(key)} fail under concurrency: {split['rate_above']:.1%} of requests sent with "
        f"more than {above} in flight failed, {split['rate_at_or_below']:.1%} with {above} or fewer"
    )


# --- A capacity search ------------------------------------------------------------------------


def step_endpoints(summary: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per endpoint of one step: its rate, p50/p99 (the gated clock), errors, in flight, and
    its latency per request of its own in flight, for the capacity summary and page."""
    concurrency = (summary.get("concurrency") or {}).get("endpoints") or {}
    figures = {}
    for key, entry in (summary.get("endpoints") or {}).items():
        if key == "total" or not isinstance(entry, dict):
            continue
        requests = int(entry.get("requests") or 0)
        own = concurrency.get(key) or {}
        figures[key] = {
            "requests": requests,
            "rps": entry.get("rps"),
            "p50_ms": entry.get("p50_ms"),
            "p99_ms": entry.get("p99_ms"),
            "error_rate": (entry.get("failures", 0) / requests) if requests else None,
            "in_flight": own.get("in_flight_littles_law"),
            "per_own_ms": (own.get("fit") or {}).get("per_own_ms"),
        }
    return figures


def grew_first(steps: Sequence[Any]) -> dict[str, Any] | None:
    """The endpoint whose p50 first passed GREW_FACTOR x its p50 at the lightest step (and by
    GREW_MIN_MS at least) and stayed past GREW_STAYS x it at every higher rate, with that rate;
    None when none grew so (a burst of logins at one step is not growth with the rate)."""
    ordered = sorted(steps, key=lambda s: s.rate_rps)
    if not ordered:
        return None
    base = ordered[0].endpoints
    first: dict[str, Any] | None = None
    for key, figures in base.items():
        start = figures.get("p50_ms")
        if not start:
            continue
        limit = max(GREW_FACTOR * start, start + GREW_MIN_MS)
        stays = max(GREW_STAYS * start, start + GREW_MIN_MS)
        later = [(s, (s.endpoints.get(key) or {}).get("p50_ms")) for s in ordered[1:]]
        for i, (step, now) in enumerate(later):
            if now and now > limit and all(p50 and p50 > stays for _, p50 in later[i:]):
                growth = now / start
                if (
                    first is None
                    or step.rate_rps < first["rate_rps"]
                    or (step.rate_rps == first["rate_rps"] and growth > first["growth"])
                ):
                    first = {
                        "endpoint": key,
                        "rate_rps": step.rate_rps,
                        "p50_ms": now,
                        "lightest_p50_ms": start,
                        "growth": round(growth, 1),
                    }
                break
    return first


def name_bottleneck(steps: Sequence[Any], run_dir: Path, judged: Sequence[str]) -> dict[str, Any]:
    """What a search's steps say together: the books of its judged steps (verdicts `judged`)
    merged, fitted per endpoint; the mix's share of each endpoint for the peak; the endpoint
    whose latency grew first with the rate; the findings, and their sentence."""
    book = ConcurrencyBook()
    counted = [s for s in steps if s.verdict in judged]
    for step in counted:
        book.add_encoded(read_book(run_dir / step.directory / CONCURRENCY_FILE).encode())
    totals = {
        key: sum((s.endpoints.get(key) or {}).get("requests", 0) for s in counted)
        for key in book.keys()
    }
    everything = sum(totals.values())
    share = {key: n / everything for key, n in totals.items() if everything and n}
    endpoints = {key: endpoint_concurrency(book, key) for key in book.keys()}
    said = findings(endpoints, share)
    grew = grew_first(counted)
    return {
        "endpoints": endpoints,
        "mix_share": {key: round(value, 4) for key, value in share.items()},
        "grew_first": grew,
        "findings": said,
        "sentence": "; ".join(said),
    }


def grew_sentence(grew: Mapping[str, Any] | None) -> str | None:
    if not grew:
        return None
    return (
        f"the latency of {label(grew['endpoint'])} grew first with the rate: p50 "
        f"{grew['lightest_p50_ms']:.3g} ms at the lightest step, {grew['p50_ms']:.3g} ms at "
        f"{grew['rate_rps']:,.0f} req/s"
    )
