"""The load suite's data files parse, and every profile is bounded: a run always ends.

Profiles, SLOs and the host allow-list are data (`load/*.toml`); these tests hold the shipped
files to the rules the runner enforces, and show that a profile which would not end, or would
exceed the caps, is refused before any traffic.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from octopus_qa.errors import TargetNotAllowed, UsageError
from octopus_qa.loadtest.runner import DEFAULT_LOAD_DIR, duration_option
from octopus_qa.plan.endpoints import ENDPOINTS, endpoint_for_name, rate_limited_name
from octopus_qa.plan.hosts import check_target_allowed, load_allowed_hosts
from octopus_qa.plan.load_profiles import load_profiles
from octopus_qa.plan.slo import load_slo

LIMITS = """
[limits]
max_users = 50
max_duration_s = 600
max_spawn_rate = 20
max_rate_rps = 100
max_workers = 4
"""


def profiles_file(tmp_path: Path, profile: str) -> Path:
    path = tmp_path / "profiles.toml"
    path.write_text(LIMITS + profile, encoding="utf-8")
    return path


# --- The shipped files ---------------------------------------------------------------------


def test_shipped_profiles_are_all_bounded_by_the_caps() -> None:
    book = load_profiles(DEFAULT_LOAD_DIR / "profiles.toml")
    assert {"smoke", "ramp", "step", "spike", "soak", "arrival"} <= set(book.profiles)
    for profile in book.profiles.values():
        assert 0 < profile.duration_s <= book.limits.max_duration_s, profile.name
        assert 1 <= profile.peak_users <= book.limits.max_users, profile.name
        assert profile.tick(profile.duration_s) is None, f"{profile.name} never ends"


def test_smoke_profile_lasts_seconds_so_ci_can_run_it() -> None:
    smoke = load_profiles(DEFAULT_LOAD_DIR / "profiles.toml").get("smoke")
    assert smoke.duration_s <= 15
    assert smoke.per_user_rps is None  # closed model: users with think time


def test_arrival_profile_is_an_open_model_with_users_from_the_rate() -> None:
    arrival = load_profiles(DEFAULT_LOAD_DIR / "profiles.toml").get("arrival")
    assert arrival.per_user_rps is not None
    assert arrival.peak_users * arrival.per_user_rps >= 100  # rate_rps = 100 in the file


def test_shipped_slo_is_versioned_and_covers_every_endpoint() -> None:
    levels = load_slo(DEFAULT_LOAD_DIR / "slo.toml", "smoke")
    assert levels.version >= 1
    assert set(levels.endpoints) == {key for key, e in ENDPOINTS.items() if e.gated}
    assert levels.max_rule_violations == 0
    for objectives in levels.endpoints.values():
        assert objectives.p50_ms <= objectives.p95_ms <= objectives.p99_ms
        assert 0 <= objectives.max_error_rate < 1
    assert 0 < levels.baseline.p95_tolerance < 1


def test_profile_overrides_an_endpoints_throughput_floor() -> None:
    smoke = load_slo(DEFAULT_LOAD_DIR / "slo.toml", "smoke").endpoints["list"]
    ramp = load_slo(DEFAULT_LOAD_DIR / "slo.toml", "ramp").endpoints["list"]
    assert ramp.min_rps > smoke.min_rps
    assert ramp.p95_ms == smoke.p95_ms  # only the overridden number changes


def test_shipped_allow_list_names_the_live_sandbox() -> None:
    hosts = load_allowed_hosts(DEFAULT_LOAD_DIR / "allowed-hosts.toml")
    assert "sandbox-api.octopuscards.io" in hosts


# --- Profiles: stages and bounds -------------------------------------------------------------


def test_ramp_spawns_its_users_over_the_ramp_then_holds(tmp_path: Path) -> None:
    text = "[profile.r]\nkind = 'ramp'\nusers = 10\nramp_s = 5\nhold_s = 5\n"
    profile = load_profiles(profiles_file(tmp_path, text)).get("r")
    assert profile.tick(0) == (10, 2.0)
    assert profile.tick(9.9) == (10, 2.0)
    assert profile.tick(10) is None


def test_step_adds_users_every_step(tmp_path: Path) -> None:
    text = "[profile.s]\nkind='step'\nstart_users=5\nstep_users=5\nstep_s=10\nsteps=2\n"
    profile = load_profiles(profiles_file(tmp_path, text)).get("s")
    assert [profile.tick(t)[0] for t in (0, 10, 20)] == [5, 10, 15]  # type: ignore[index]
    assert profile.tick(30) is None


def test_spike_jumps_to_peak_and_returns_to_base(tmp_path: Path) -> None:
    text = (
        "[profile.p]\nkind='spike'\nbase_users=4\npeak_users=20\nwarm_s=10\nspike_s=5\ncool_s=10\n"
    )
    profile = load_profiles(profiles_file(tmp_path, text)).get("p")
    assert [profile.tick(t)[0] for t in (1, 11, 16)] == [4, 20, 4]  # type: ignore[index]
    assert profile.tick(11)[1] >= 16  # type: ignore[index]  # the spike arrives within a second


def test_arrival_rate_sets_the_user_count(tmp_path: Path) -> None:
    text = "[profile.a]\nkind='arrival'\nrate_rps=30\nper_user_rps=4\nramp_s=0\nhold_s=10\n"
    profile = load_profiles(profiles_file(tmp_path, text)).get("a")
    assert profile.peak_users == 8  # ceil(30 / 4)
    assert profile.per_user_rps == 4


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        ("[profile.x]\nkind='ramp'\nusers=5\nramp_s=1\n", "profile.x.hold_s: missing"),
        ("[profile.x]\nkind='ramp'\nusers=5\nramp_s=1\nhold_s=inf\n", "hold_s: .*got inf"),
        ("[profile.x]\nkind='ramp'\nusers=5\nramp_s=0\nhold_s=0\n", "no duration"),
        ("[profile.x]\nkind='ramp'\nusers=5\nramp_s=1\nhold_s=1000\n", "above the cap"),
        ("[profile.x]\nkind='ramp'\nusers=500\nramp_s=60\nhold_s=1\n", "users"),
        ("[profile.x]\nkind='ramp'\nusers=40\nramp_s=0\nhold_s=10\n", "spawns faster"),
        (
            "[profile.x]\nkind='arrival'\nrate_rps=1000\nper_user_rps=50\nramp_s=1\nhold_s=1\n",
            "requests/s",
        ),
        ("[profile.x]\nkind='forever'\n", "profile.x.kind: .*one of: arrival, ramp"),
    ],
)
def test_unbounded_or_oversized_profile_is_refused(
    tmp_path: Path, profile: str, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        load_profiles(profiles_file(tmp_path, profile))


def test_unknown_profile_name_lists_the_known_ones() -> None:
    book = load_profiles(DEFAULT_LOAD_DIR / "profiles.toml")
    with pytest.raises(UsageError, match="known: .*smoke"):
        book.get("nonexistent")


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("15m", 900), ("1h", 3600)])
def test_run_time_durations_parse(text: str, seconds: float) -> None:
    assert duration_option("--run-time", text) == seconds


@pytest.mark.parametrize("text", ["", "forever", "-5", "10d", "1.5.2"])
def test_malformed_run_time_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="^--run-time .* is not a duration"):
        duration_option("--run-time", text)


# --- SLO file ---------------------------------------------------------------------------------


def slo_file(tmp_path: Path, endpoint_table: str) -> Path:
    """A valid SLO file but for `endpoint_table`, the part under test."""
    path = tmp_path / "slo.toml"
    path.write_text(
        "version = 1\n[run]\nmax_rule_violations = 0\n"
        "[baseline]\np95_tolerance = 0.2\nthroughput_tolerance = 0.2\nmin_requests = 5\n"
        + endpoint_table,
        encoding="utf-8",
    )
    return path


def test_slo_with_a_missing_objective_is_refused(tmp_path: Path) -> None:
    path = slo_file(
        tmp_path, "[endpoint.list]\np50_ms = 1\np95_ms = 2\np99_ms = 3\nmax_error_rate = 0.01\n"
    )
    with pytest.raises(UsageError, match="min_rps"):
        load_slo(path, "smoke")


def test_slo_for_an_unknown_endpoint_is_refused(tmp_path: Path) -> None:
    path = slo_file(
        tmp_path,
        "[endpoint.orders]\np50_ms = 1\np95_ms = 2\np99_ms = 3\nmax_error_rate = 0\nmin_rps = 0\n",
    )
    with pytest.raises(UsageError, match="unknown endpoint"):
        load_slo(path, "smoke")


# --- Allow-list -------------------------------------------------------------------------------

ALLOWED = frozenset({"sandbox-api.octopuscards.io"})


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://localhost:9000",
        "http://[::1]:8080",
        "https://sandbox-api.octopuscards.io",
        "https://SANDBOX-API.octopuscards.io/",
    ],
)
def test_loopback_and_allow_listed_hosts_may_receive_load(url: str) -> None:
    check_target_allowed(url, ALLOWED)


@pytest.mark.parametrize(
    "url", ["https://example.invalid", "http://10.0.0.1:8080", "https://api.octopuscards.io"]
)
def test_any_other_host_is_refused(url: str) -> None:
    with pytest.raises(TargetNotAllowed, match="allow-list"):
        check_target_allowed(url, ALLOWED)


def test_allow_any_host_lifts_the_refusal() -> None:
    check_target_allowed("https://example.invalid", ALLOWED, allow_any=True)


# --- Endpoint names ---------------------------------------------------------------------------


def test_each_endpoint_is_found_by_its_locust_name_and_429s_are_not() -> None:
    for endpoint in ENDPOINTS.values():
        assert endpoint_for_name(endpoint.name) is endpoint
        assert endpoint_for_name(rate_limited_name(endpoint)) is None
