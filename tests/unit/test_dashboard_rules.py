"""The dashboard's pure rules: host names, the parameter parser, the login's redirect
target and the cutting of long texts, over generated hostile input."""

from __future__ import annotations

import json
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mytrader.domain.hosts import bare_host, host_name, is_allowed, is_loopback, origin_host
from mytrader.web.auth import local_target
from mytrader.web.bounds import TEXT_CHARS, clipped, cut, fitting, page_json
from mytrader.web.params import INT64_MAX, ParamError, text, whole

NONE: frozenset[str] = frozenset()


def test_loopback_names() -> None:
    for host in ("localhost", "LOCALHOST.", "127.0.0.1", "127.255.0.9", "::1", "[::1]"):
        assert is_loopback(host), host
    for host in ("127.0.0.1.evil.example", "localhost.evil.example", "0.0.0.0", "10.0.0.1"):
        assert not is_loopback(host), host


def test_host_headers_are_normalised_or_refused() -> None:
    assert host_name("LocalHost.:8000") == "localhost"
    assert host_name("[::1]:8000") == "::1"
    assert host_name("[0:0:0:0:0:0:0:1]") == "::1"
    for bad in ("", "evil@127.0.0.1", "127.0.0.1 evil", "a/b", "x:99999", "[zz]", "a..b", ":80"):
        assert host_name(bad) is None, bad
    assert bare_host("mybox.local") == "mybox.local" and bare_host("mybox.local:80") is None
    assert origin_host("http://127.0.0.1:8000") == "127.0.0.1"
    for bad in ("null", "file://", "http://evil@127.0.0.1", "http://127.0.0.1/x", "ws://a"):
        assert origin_host(bad) is None, bad
    assert is_allowed("mybox.local", frozenset({"mybox.local"}))
    assert not is_allowed("rebind.evil.example", NONE) and not is_allowed(None, NONE)


@given(st.text())
def test_no_text_is_a_loopback_name_unless_it_is_one(value: str) -> None:
    name = host_name(value)
    if name is not None and is_allowed(name, NONE):
        assert name == "localhost" or name == "::1" or name.startswith("127.")


@given(st.one_of(st.text(), st.integers(), st.from_regex(r"-?[0-9]{1,25}", fullmatch=True)))
def test_whole_numbers_are_ascii_digits_within_int64(value: object) -> None:
    try:
        number = whole(value, 0, INT64_MAX)
    except ParamError:
        return
    assert 0 <= number <= INT64_MAX
    assert isinstance(value, int) or (
        isinstance(value, str) and value.isascii() and value.isdigit()
    )


@pytest.mark.parametrize("value", ["²", "٥", "+1", " 1", "1_0", "-1", "9" * 20, "9" * 5000, ""])
def test_whole_refuses(value: str) -> None:
    with pytest.raises(ParamError, match="whole number from 0 to"):
        whole(value, 0, INT64_MAX)


def test_text_refuses_control_and_format_characters() -> None:
    assert text("grok") == "grok"
    for bad in ("", "a\x00", "a\x1b[2J", "\u202egrok", "a\u200bb", "x" * 101):
        with pytest.raises(ParamError):
            text(bad)


@given(st.text())
def test_the_login_redirects_only_to_a_plain_path_of_its_own(path: str) -> None:
    target = local_target(path)
    assert target.startswith("/") and not target.startswith("//")
    assert "\\" not in target and ".." not in target.split("/")
    assert all(not unicodedata.category(c).startswith(("C", "Z")) for c in target)
    assert target in ("/", path)


@given(st.text(min_size=0, max_size=3 * TEXT_CHARS))
def test_long_texts_are_cut_with_a_marker(value: str) -> None:
    shown = cut(value)
    if len(value) <= TEXT_CHARS:
        assert shown == value
    else:
        assert shown.startswith(value[:TEXT_CHARS]) and shown.endswith("more characters]")
        assert len(shown) < TEXT_CHARS + 50
    out, was_cut = clipped({"a": [value, {"b": value}], "n": 1})
    assert was_cut == (len(value) > TEXT_CHARS) and out["n"] == 1


def test_a_page_stops_at_its_byte_budget_and_says_where_to_go_on() -> None:
    rows = [{"cycle": 9, "id": i, "content": "x" * 1000} for i in range(10, 0, -1)]
    assert len(fitting(rows, 3500)) == 3
    page = json.loads(page_json({"arena": "a"}, rows, 50, lambda r: f"{r['cycle']}:{r['id']}"))
    assert len(page["items"]) == 10 and page["next"] is None  # all fit, fewer than the limit
    small = page_json({"arena": "a"}, rows, 50, lambda r: r["id"])
    assert json.loads(small)["arena"] == "a"
    one = json.loads(page_json({}, rows[:1], 1, lambda r: r["id"]))
    assert one["next"] == 10  # a full page: more may follow
