"""The failure message of a cycle: no secret in it, the node and the way on named."""

from __future__ import annotations

from mytrader.app.repair import CycleFailed, scrub_secrets
from tests.helpers import make_settings


def test_secrets_are_scrubbed_from_the_error() -> None:
    settings = make_settings(
        openrouter_api_key="sk-or-TOPSECRET",
        database_url="postgresql://u:pg-PASSWORD@127.0.0.1:5432/db",
    )
    text = (
        "connection to postgresql://u:pg-PASSWORD@127.0.0.1:5432/db failed;"
        " header Bearer sk-or-TOPSECRET"
    )
    clean = scrub_secrets(text, settings)
    assert "TOPSECRET" not in clean and "pg-PASSWORD" not in clean
    assert "127.0.0.1:5432" in clean  # where it failed stays readable


def test_message_names_node_count_and_way_on() -> None:
    record = str(CycleFailed("a1", 7, "record", "StoreError: boom", 3))
    assert "cycle 7 of arena 'a1' failed at node 'record' (3 times in a row)" in record
    assert "mytrader repair --yes" in record
    executor = str(CycleFailed("a1", 7, "executor", "KeyError: x", 1))
    assert "(1 time in a row)" in executor and "cannot skip it" in executor
