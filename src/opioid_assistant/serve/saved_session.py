"""The conversation kept in the reader's browser (local storage), so a reload or a server
restart does not lose it.

Gradio's `BrowserState` encrypts what it stores with a secret; a random secret per start
would make a restarted server unable to read what its predecessor stored, so the secret is
kept in the data dir. It is no access control (the page hands it to the browser that reads
the value): it only keeps another app on the same origin from reading the conversation.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

STORAGE_KEY = "oa-conversation"
SECRET_FILE = "page-secret"


def browser_secret(data_dir: Path) -> str:
    """The data dir's page secret, created (owner-only) on first use."""
    path = Path(data_dir) / SECRET_FILE
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(16)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process wrote it first: use theirs
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secret)
    return secret
