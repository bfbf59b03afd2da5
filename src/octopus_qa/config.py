"""The user's own configuration: which copy of each editable file a run reads, and reading one.

octoqa ships a default of every file a user may want to change (profiles, SLOs, the load
allow-list, the pipeline table). A team keeps its own versions in one directory, found in this
order (the first that applies wins, and only one directory is ever used):

1. `--config DIR` on the command line (`octoqa contract|load|run`);
2. `$OCTOQA_CONFIG`, which is also how `octoqa run` hands the directory to its stages;
3. `.octoqa/` in the working directory, by convention (`octoqa init` writes it).

A file missing from that directory falls back to the shipped default, so the directory holds only
what the team changed. The names are flat (`FILES`), because two shipped files are both called
`profiles.toml`; a `.toml` file octoqa does not know is refused, so a misspelt name does not
silently leave the defaults in force.

`read(path, Type)` is the one way a file becomes typed data: TOML, then `msgspec.convert` into
Structs with `forbid_unknown_fields`, and any problem is one `ConfigError` line naming the file,
the key and what is wrong (exit code 2).
"""

from __future__ import annotations

import copy
import difflib
import json
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import msgspec.inspect

from .bundled import contract_tests_dir, load_dir
from .errors import UsageError

__all__ = [
    "CONVENTIONAL_DIR",
    "ENV_VAR",
    "FILES",
    "ConfigError",
    "ConfigFile",
    "describe",
    "display",
    "environment",
    "find",
    "path",
    "read",
    "user_dir",
    "using",
    "write_defaults",
]

#: The environment variable naming the user's configuration directory.
ENV_VAR = "OCTOQA_CONFIG"
#: The directory found in the working directory when neither --config nor $OCTOQA_CONFIG is set.
#: Hidden, like `.github/`: a checkout of octoqa itself has an `octoqa` wrapper script at its top.
CONVENTIONAL_DIR = Path(".octoqa")

T = TypeVar("T")


@dataclass(frozen=True)
class ConfigFile:
    """One file a user may override: its name in the config directory and its shipped default."""

    name: str
    #: The copy octoqa ships; None when nothing is shipped and the file is optional.
    default: Path | None
    #: What it configures, said by `octoqa init`.
    about: str


FILES: Mapping[str, ConfigFile] = {
    entry.name: entry
    for entry in (
        ConfigFile(
            "contract-profiles.toml",
            contract_tests_dir() / "profiles.toml",
            "contract suite profiles: quick, default, deep",
        ),
        ConfigFile(
            "load-profiles.toml",
            load_dir() / "profiles.toml",
            "load profiles and the caps every run is held to",
        ),
        ConfigFile("slo.toml", load_dir() / "slo.toml", "the load gates (SLOs per endpoint)"),
        ConfigFile(
            "allowed-hosts.toml",
            load_dir() / "allowed-hosts.toml",
            "hosts besides loopback that may receive load",
        ),
        ConfigFile(
            "generator.toml",
            load_dir() / "generator.toml",
            "limits the load generator itself must keep, or the run is invalid",
        ),
        ConfigFile(
            "pipeline.toml",
            Path(str(resources.files(__package__).joinpath("pipeline.toml"))),
            "what `octoqa run --profile` runs, and each stage's time limit",
        ),
        # Read by the known-deviations reader; nothing is shipped, an absent file means none.
        ConfigFile("deviations.toml", None, "known deviations of the target from the documents"),
    )
}

_selected: Path | None = None


class ConfigError(UsageError):
    """A configuration file that cannot be used: one line with the file, the key and the problem."""

    def __init__(self, file: Path, key: str, problem: str) -> None:
        self.file, self.key, self.problem = file, key, problem
        where = f"{display(file)}: {key}" if key else display(file)
        super().__init__(f"{where}: {problem}")


def display(file: Path) -> str:
    """A path as the user would type it: relative to the working directory when inside it."""
    try:
        return str(file.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(file)


# --- Where a file is ---------------------------------------------------------------------------


@contextmanager
def using(directory: Path | None) -> Iterator[None]:
    """Within the block, `directory` (from `--config`) is the user's configuration directory.

    None changes nothing. The CLI wraps each command in this; it is undone afterwards, so a test
    that calls `octopus_qa.cli.main` in-process leaves no state behind.
    """
    global _selected
    if directory is None:
        yield
        return
    chosen = _checked_dir(directory, f"--config {directory}")
    previous, _selected = _selected, chosen
    try:
        yield
    finally:
        _selected = previous


def _checked_dir(directory: Path, label: str) -> Path:
    if not directory.is_dir():
        raise UsageError(f"{label}: no such directory (`octoqa init {directory}` writes one)")
    unknown = sorted(
        child.name
        for child in directory.iterdir()
        if child.suffix == ".toml" and child.name not in FILES
    )
    if unknown:
        close = difflib.get_close_matches(unknown[0], FILES, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise UsageError(
            f"{display(directory / unknown[0])}: not a file octoqa reads{hint} "
            f"(it reads: {', '.join(FILES)})"
        )
    return directory.resolve()


def user_dir() -> Path | None:
    """The user's configuration directory in force, or None (every file is the shipped one)."""
    if _selected is not None:
        return _selected
    from_env = os.environ.get(ENV_VAR)
    if from_env:
        return _checked_dir(Path(from_env), f"${ENV_VAR}={from_env}")
    if CONVENTIONAL_DIR.is_dir():
        return _checked_dir(CONVENTIONAL_DIR, str(CONVENTIONAL_DIR))
    return None


def find(name: str) -> Path | None:
    """The file to read for `name` (a key of FILES): the user's copy if there is one, else the
    shipped default; None when neither exists (an optional file such as deviations.toml)."""
    entry = FILES[name]
    directory = user_dir()
    if directory is not None and (directory / name).is_file():
        return directory / name
    return entry.default


def path(name: str) -> Path:
    """Like `find`, for a file octoqa ships: always a path."""
    found = find(name)
    if found is None:
        raise UsageError(f"{name}: no such file in {user_dir()} and octoqa ships none")
    return found


def write_defaults(directory: Path, force: bool = False) -> list[ConfigFile]:
    """`octoqa init`: copies of every shipped default into `directory`, comments and all.

    Refuses (and writes nothing) when one of them exists already, unless `force`.
    """
    shipped = [entry for entry in FILES.values() if entry.default is not None]
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{display(directory)} exists and is not a directory")
    existing = [directory / entry.name for entry in shipped if (directory / entry.name).exists()]
    if existing and not force:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise UsageError(
            f"{display(existing[0])} exists{more}; nothing written (--force overwrites)"
        )
    directory.mkdir(parents=True, exist_ok=True)
    for entry in shipped:
        assert entry.default is not None
        header = (
            f"# Your copy of octoqa's {entry.name} (shipped as {_shipped_name(entry.default)}).\n"
            "# octoqa reads it instead of the default; delete it to use the default again.\n\n"
        )
        text = entry.default.read_text(encoding="utf-8")
        (directory / entry.name).write_text(header + text, encoding="utf-8")
    return shipped


def _shipped_name(default: Path) -> str:
    """`load/slo.toml`, `octopus_qa/pipeline.toml`: where a reader of this repository finds it."""
    return f"{default.parent.name}/{default.name}"


def describe() -> str | None:
    """One line saying which of the user's files are in force, or None when none are."""
    directory = user_dir()
    if directory is None:
        return None
    own = [name for name in FILES if (directory / name).is_file()]
    return (
        f"configuration: {display(directory)}/ (yours: {', '.join(own) or 'none'}; "
        "the rest shipped)"
    )


def environment() -> dict[str, str]:
    """What a child process needs in its environment to read the same configuration."""
    directory = user_dir()
    return {ENV_VAR: str(directory)} if directory is not None else {}


# --- Reading a file ----------------------------------------------------------------------------


def read(file: Path, kind: type[T]) -> T:
    """`file` parsed as TOML and converted into `kind` (msgspec Structs), or one ConfigError."""
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(file, "", f"cannot read it: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(file, "", f"not valid TOML: {exc}") from None
    return convert(file, data, kind)


def convert(file: Path, data: Any, kind: type[T]) -> T:
    """`data` (read from `file`) converted into `kind`, or one ConfigError naming the key."""
    try:
        return msgspec.convert(data, kind)
    except msgspec.ValidationError as exc:
        key, problem = _explain(data, kind, str(exc))
        raise ConfigError(file, key, problem) from None


_AT = re.compile(r"^(?P<problem>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_SEGMENT = re.compile(r"\.(?P<name>\w+)|\[(?P<index>\d+)\]|\[(?P<any>\.\.\.)\]")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<field>[^`]+)`$")
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]+)`$")


def _explain(data: Any, kind: type[Any], message: str) -> tuple[str, str]:
    """(key, problem) from msgspec's message: the path written as TOML keys, the problem plain."""
    match = _AT.match(message)
    assert match is not None  # the pattern matches any text
    problem = match["problem"]
    segments: list[str | int | None] = [
        m["name"] if m["name"] else (int(m["index"]) if m["index"] else None)
        for m in _SEGMENT.finditer(match["path"] or "")
    ]
    # msgspec writes a table's own key as `[...]`: find which key it was by converting the
    # document with that table reduced to one key at a time.
    for position, segment in enumerate(segments):
        if segment is None:
            segments[position] = _culprit(data, kind, message, segments[:position])
    key = _key_text(segments)
    if unknown := _UNKNOWN.match(problem):
        field = unknown["field"]
        close = difflib.get_close_matches(field, _field_names(kind), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return _join(key, field), f"unknown key{hint}"
    if missing := _MISSING.match(problem):
        return _join(key, missing["field"]), "missing (required)"
    tags = _tags(kind)
    if problem.startswith("Invalid value") and segments and segments[-1] in tags:
        choices = ", ".join(tags[str(segments[-1])])
        return key, f"invalid value {problem.removeprefix('Invalid value ')} (one of: {choices})"
    problem = problem.replace("`", "").replace("Expected", "expected")
    if ", got " not in problem:  # a value out of range: say which
        try:
            problem += f", got {_walk(data, segments)!r}"
        except (KeyError, IndexError, TypeError):
            pass
    return key, problem


def _culprit(data: Any, kind: type[Any], message: str, where: list[str | int | None]) -> str:
    table = _walk(data, where)
    for name in table:
        trial = copy.deepcopy(data)
        holder = _walk(trial, where[:-1]) if where else None
        reduced = {name: table[name]}
        if holder is None:
            trial = reduced
        else:
            holder[where[-1]] = reduced
        try:
            msgspec.convert(trial, kind)
        except msgspec.ValidationError as exc:
            if str(exc) == message:
                return str(name)
    return "..."


def _walk(data: Any, where: list[str | int | None]) -> Any:
    for segment in where:
        data = data[segment]
    return data


def _key_text(segments: list[str | int | None]) -> str:
    text = ""
    for segment in segments:
        if isinstance(segment, int):
            text += f"[{segment}]"
        else:
            name = str(segment)
            bare = name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name)
            text = _join(text, bare)
    return text


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def _types(kind: Any) -> Iterator[msgspec.inspect.Type]:
    """Every type reachable from `kind`, for the names in a hint."""
    seen: set[int] = set()
    stack = [msgspec.inspect.type_info(kind)]
    while stack:
        info = stack.pop()
        if id(info) in seen:
            continue
        seen.add(id(info))
        yield info
        if isinstance(info, msgspec.inspect.StructType):
            stack += [field.type for field in info.fields]
        elif isinstance(info, msgspec.inspect.DictType):
            stack.append(info.value_type)
        elif isinstance(info, msgspec.inspect.ListType):
            stack.append(info.item_type)
        elif isinstance(info, msgspec.inspect.UnionType):
            stack += list(info.types)
        elif isinstance(info, msgspec.inspect.Metadata):
            stack.append(info.type)


def _field_names(kind: Any) -> list[str]:
    return sorted(
        {
            field.encode_name
            for info in _types(kind)
            if isinstance(info, msgspec.inspect.StructType)
            for field in info.fields
        }
    )


def _tags(kind: Any) -> dict[str, list[str]]:
    """Tag field → the values that select a Struct of a tagged union (e.g. kind → ramp, step)."""
    tags: dict[str, set[str]] = {}
    for info in _types(kind):
        if isinstance(info, msgspec.inspect.StructType) and info.tag_field is not None:
            tags.setdefault(info.tag_field, set()).add(str(info.tag))
    return {field: sorted(values) for field, values in tags.items()}
