"""Shared fixtures: every cache and data folder under tmp_path; one real index per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from browser_pages import VIEWPORTS
from helpers import headless_chromium
from opioid_assistant import Settings


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the data dir and every library cache at this test's tmp_path."""
    monkeypatch.setenv("OA_DATA_DIR", str(tmp_path / "data"))
    for var, sub in (
        ("XDG_DATA_HOME", "xdg-data"),
        ("XDG_CACHE_HOME", "xdg-cache"),
        ("HF_HOME", "hf"),
        ("MPLCONFIGDIR", "mpl"),
        ("GRADIO_TEMP_DIR", "gradio"),
    ):
        monkeypatch.setenv(var, str(tmp_path / sub))


@pytest.fixture(scope="session")
def index_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings whose data dir holds a real index of the bundled report (built once)."""
    from opioid_assistant.index.building import build_index

    settings = Settings(data_dir=tmp_path_factory.mktemp("index"))
    build_index(settings, progress=False)
    return settings


@pytest.fixture(scope="session")
def assistant(index_settings: Settings):  # type: ignore[no-untyped-def]
    """An extractive Assistant over the session index."""
    from opioid_assistant import Assistant

    return Assistant(settings=index_settings)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with headless_chromium() as browser:
        yield browser


@pytest.fixture(params=VIEWPORTS)
def page(request: pytest.FixtureRequest, browser: Any) -> Iterator[Any]:
    """A fresh page (its own context) at one viewport; `page.viewport_name` names it."""
    context = browser.new_context(viewport=request.param)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.viewport_name = request.node.callspec.id
    yield page
    context.close()
