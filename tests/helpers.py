"""Helpers shared by the test modules: a free loopback port and the CLI run in a subprocess.

Imported as `from helpers import ...`: tests/ has no __init__.py, so pytest's default (prepend)
import mode puts tests/ on sys.path, as it does for conftest.py.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

# The CLI as a module of this interpreter, so no installed console script is needed.
CLI = (sys.executable, "-m", "opioid_assistant.cli")


def free_port() -> int:
    """Return a loopback TCP port that nothing listened on a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli_env(data_dir: Path, home: Path | None = None) -> dict[str, str]:
    """Return a minimal environment for the CLI: only OA_DATA_DIR, PATH, HOME, and the
    PYTHONPATH that makes it import the package these tests import (whatever is installed).

    Args:
        data_dir: the CLI's data dir (OA_DATA_DIR).
        home: HOME for the subprocess; defaults to `data_dir`.
    """
    import opioid_assistant

    return {
        "OA_DATA_DIR": str(data_dir),
        "PATH": "/usr/bin:/bin",
        "HOME": str(data_dir if home is None else home),
        "PYTHONPATH": str(Path(opioid_assistant.__file__).parents[1]),
    }


def run_cli(
    *args: str,
    data_dir: Path,
    home: Path | None = None,
    extra_env: dict[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run `opioid-assistant ARGS` in a subprocess and return it finished, output captured.

    The environment is `cli_env(data_dir, home)` plus `extra_env`; a non-zero exit does not
    raise, so tests can assert on the return code and stderr.
    """
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        env={**cli_env(data_dir, home), **(extra_env or {})},
        timeout=timeout,
        check=False,
    )


CHROMIUM = "/usr/bin/chromium"  # Debian's build (apt-get install -y chromium chromium-driver)


@contextmanager
def headless_chromium() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (never `playwright install`)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian's chromium: apt-get install -y chromium chromium-driver")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield browser
        finally:
            browser.close()
