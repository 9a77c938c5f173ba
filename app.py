"""Serve the chat UI and the API: `python app.py [--host H] [--port P] [--auth U:P] [--no-ui]`.

The same as `opioid-assistant serve` (`--no-ui`: the API alone, without Gradio): settings come
from `OA_*` environment variables, and the index is built first when it is missing. An index
built from another report is served as it is, with a warning naming both; `--reindex`
rebuilds it.
"""

from __future__ import annotations

import sys

from opioid_assistant.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
