"""Settings catch typos: an OA_* variable that names no setting stops start-up, naming the
closest setting; a value it cannot use stops it too, naming the variable and its value."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from opioid_assistant import Settings
from opioid_assistant.errors import InvalidSettingError, UnknownSettingError
from opioid_assistant.settings import unknown_variables


def test_a_mistyped_variable_names_the_closest_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OA_TOPK", "3")
    with pytest.raises(UnknownSettingError) as raised:
        Settings()
    assert str(raised.value) == "OA_TOPK is not a setting; did you mean OA_TOP_K?"


def test_a_short_name_finds_its_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OA_BACKEND", "openai")
    with pytest.raises(UnknownSettingError) as raised:
        Settings()
    assert str(raised.value) == "OA_BACKEND is not a setting; did you mean OA_LLM_BACKEND?"


def test_every_unknown_variable_is_named_and_others_are_ignored() -> None:
    environ = {"OA_TOP_K": "3", "OA_ZZZ": "1", "OA_DATADIR": "/x", "PATH": "/bin", "OAK": "1"}
    assert unknown_variables(environ, set(Settings.model_fields)) == [
        "OA_DATADIR is not a setting; did you mean OA_DATA_DIR?",
        "OA_ZZZ is not a setting; the README lists every setting.",
    ]


def test_known_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OA_TOP_K", "3")
    assert Settings().top_k == 3


def ask_with(variable: str, value: str) -> subprocess.CompletedProcess[str]:
    """`opioid-assistant ask` run with one more environment variable set."""
    return subprocess.run(
        [sys.executable, "-m", "opioid_assistant.cli", "ask", "What is LEAD?"],
        capture_output=True,
        text=True,
        env={**os.environ, variable: value},
        timeout=120,
    )


def test_the_command_line_stops_with_the_message() -> None:
    done = ask_with("OA_TOPK", "3")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "error: OA_TOPK is not a setting; did you mean OA_TOP_K?"
    )


def test_a_value_out_of_range_or_of_the_wrong_type_is_one_clear_error(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OA_CLOSEST_SENTENCES", "-1")
    with pytest.raises(InvalidSettingError) as raised:
        Settings()
    assert str(raised.value) == (
        "OA_CLOSEST_SENTENCES is '-1': Input should be greater than or equal to 0."
    )
    monkeypatch.setenv("OA_CLOSEST_SENTENCES", "3")
    monkeypatch.setenv("OA_TOP_K", "six")
    with pytest.raises(InvalidSettingError) as raised:
        Settings()
    assert str(raised.value) == (
        "OA_TOP_K is 'six': Input should be a valid integer, unable to parse string as an integer."
    )


def test_the_command_line_stops_with_the_value_it_cannot_use() -> None:
    done = ask_with("OA_CLOSEST_SENTENCES", "-1")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "error: OA_CLOSEST_SENTENCES is '-1': Input should be greater than or equal to 0."
    )
