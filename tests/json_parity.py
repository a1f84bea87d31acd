"""A reader that must give what json.loads gives for any text, or raise the error type json.loads raises."""

from __future__ import annotations

import json

import pytest


def assert_reads_like_json_loads(read, text) -> None:
    try:
        want = json.loads(text)
    except ValueError as e:
        with pytest.raises(type(e)):
            read(text)
        return
    got = read(text)
    assert got == want or (got != got and want != want), text  # NaN: equal as text
