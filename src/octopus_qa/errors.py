"""The failures a user can cause or meet, each turned into one line and exit code 2 by the CLI.

Only these exceptions are caught at the command line's edge; anything else is a bug in octoqa and
is allowed to show its traceback.
"""

from __future__ import annotations


class OctoqaError(Exception):
    """A problem with how octoqa was asked to run, not with the API under test (exit code 2)."""

    exit_code = 2


class UsageError(OctoqaError):
    """A malformed option or configuration file."""


class TargetUnreachable(OctoqaError):
    """Nothing answers at the target URL."""


class TargetMisbehaving(OctoqaError):
    """Something answers at the target URL, but not like the Octopus Cards API (HTML, garbage)."""


class LoginFailed(OctoqaError):
    """The target refused the configured credentials."""


class TargetNotAllowed(OctoqaError):
    """A load run was pointed at a host outside the allow-list."""
