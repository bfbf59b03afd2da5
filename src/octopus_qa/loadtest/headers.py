"""A load response's headers as the rules read them, built on every response under load."""

from __future__ import annotations

from geventhttpclient.header import Headers


def lower_headers(headers: Headers) -> dict[str, str]:
    """The headers by lower-case name, a repeated header's last line: `dict(headers.iterlower())`
    without its Python generator step per header line, on every response of a run.

    geventhttpclient's `Headers` (2.6) is a dict by lower-case name of the (name, value) line,
    or of a list of them when the header is repeated; tests/test_load_headers.py holds this to
    `iterlower` should that change."""
    return {
        name: line[1] if type(line) is tuple else line[-1][1] for name, line in dict.items(headers)
    }
