"""The conversation the browser keeps: its secret outlives a restart, and a restore rebuilds
each turn from its answer data (never from stored HTML)."""

from __future__ import annotations

import copy
import stat
from pathlib import Path
from typing import Any

import pytest

from opioid_assistant import Settings
from opioid_assistant.serve.saved_session import browser_secret

PHARMACY = "How much did pharmacy chains pay in the opioid settlement?"


def test_the_page_secret_is_kept_owner_only_and_reused(tmp_path: Path) -> None:
    first = browser_secret(tmp_path / "data")
    assert len(first) == 32
    assert browser_secret(tmp_path / "data") == first
    mode = (tmp_path / "data" / "page-secret").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert browser_secret(tmp_path / "other") != first


@pytest.fixture(scope="module")
def chat_ui(index_settings: Settings) -> Any:
    from opioid_assistant import Assistant
    from opioid_assistant.serve.chat import ChatUI

    return ChatUI(Assistant(settings=index_settings))


def test_restore_rebuilds_the_chat_from_answer_data(chat_ui: Any) -> None:
    *_, (chat, _box, evidence, session) = chat_ui.respond(PHARMACY, None, None)
    kept = copy.deepcopy(session)
    kept["turns"][0]["evidence_html"] = "<img src=x onerror=alert(1)>"  # tampered in storage
    restored_chat, restored_evidence, restored = chat_ui.restore(kept)
    assert restored_chat == chat
    assert restored_evidence == evidence
    assert restored["turns"][0]["evidence_html"] == evidence
    assert restored["id"] != session["id"]


def test_a_kept_conversation_that_is_not_one_starts_afresh(chat_ui: Any) -> None:
    chat, evidence, session = chat_ui.restore({"id": "x", "turns": [{"data": 1}]})
    assert (chat, session["turns"]) == ([], [])
    assert len(chat_ui.restore(None)) == 3  # and nothing is exported: exports are on click
    assert "Ask a question" in evidence
    skipped = chat_ui.restore(None)
    assert all(isinstance(s, dict) and s.get("__type__") == "update" for s in skipped)
