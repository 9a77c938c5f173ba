"""Files a visitor uploaded: found only in Gradio's upload folder, deleted once read.

A page event names a file by path, and a request can name any path. Only a regular file
inside Gradio's upload folder (where /gradio_api/upload puts what it receives) is read, so
no request can make the page read another file of the server.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from gradio.utils import get_upload_folder


def upload_root() -> Path:
    """Gradio's upload folder (GRADIO_TEMP_DIR, or the system temp dir's 'gradio')."""
    return Path(get_upload_folder()).resolve()


def uploaded_file(name: str) -> Path | None:
    """The uploaded file `name` names (links resolved), or None for any path outside the
    upload folder, missing or not a regular file: callers say the same in every case."""
    root = upload_root()
    try:
        path = Path(name).resolve(strict=True)
    except (OSError, RuntimeError, ValueError):  # missing, a link loop, a NUL in the name
        return None
    if path == root or not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def discard_upload(path: Path) -> None:
    """Delete an uploaded file once read, and its folder (Gradio makes one per upload) when
    that is left empty."""
    path.unlink(missing_ok=True)
    folder = path.parent
    if folder != upload_root() and folder.is_relative_to(upload_root()):
        with contextlib.suppress(OSError):  # not empty: another file shares it
            folder.rmdir()
