"""Serve the chat UI on its embedded defaults: `python app.py [--host H] [--port P] [--auth U:P]`.

The same as `opioid-assistant serve`: settings come from `OA_*` environment variables, and the
index is built first when it is missing or stale (a no-op when it is current).
"""

from __future__ import annotations

import sys

from opioid_assistant.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
