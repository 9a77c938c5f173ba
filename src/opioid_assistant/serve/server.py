"""One port for everything: the HTTP API, with the chat page mounted at "/" unless ui=False.

The page (Gradio, seconds to import) is imported only when it is served, so an API-only
server (`opioid-assistant serve --no-ui`) never loads it.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import uvicorn
from fastapi import FastAPI

from opioid_assistant.serve.api import check_api_host, create_app
from opioid_assistant.serve.hosts import check_page_host

if TYPE_CHECKING:
    from opioid_assistant.answer.assistant import Assistant

Auth = tuple[str, str] | list[tuple[str, str]]


def create_server_app(
    assistant: Assistant,
    *,
    ui: bool = True,
    api_token: str | None = None,
    ui_auth: Auth | None = None,
) -> FastAPI:
    """The API for `assistant`, with the chat page mounted at "/" when `ui` is set.

    Args:
        assistant: The assistant that answers.
        ui: Mount the chat page (and its evaluation tab); False serves only the API.
        api_token: Bearer token /v1/* require; default: the settings' `api_token`.
        ui_auth: (user, password) pair(s) the chat page requires.
    """
    app = create_app(assistant, api_token=api_token)
    if not ui:
        return app
    from opioid_assistant.serve.page import mount_page

    return mount_page(app, assistant, ui_auth)


def serve(
    assistant: Assistant,
    host: str = "127.0.0.1",
    port: int = 7860,
    *,
    ui: bool = True,
    ui_auth: Auth | None = None,
    api_token: str | None = None,
    no_auth: bool = False,
    block: bool = True,
) -> uvicorn.Server:
    """Serve the API (and the chat page unless ui=False) on one port (loopback by default).

    Args:
        assistant: The assistant that answers.
        host: Interface to bind; beyond loopback needs an API token (and `ui_auth` for the
            page), or no_auth.
        port: TCP port.
        ui: Serve the chat page at "/"; False serves only the API and never imports Gradio.
        ui_auth: (user, password) pair(s) the chat page requires.
        api_token: Bearer token for /v1/*; default: the settings' `api_token`.
        no_auth: Allow a non-loopback host without auth (you take responsibility).
        block: Run until stopped; False returns once serving (stop: `server.should_exit = True`).

    Raises:
        ValueError: a non-loopback host without auth and without no_auth=True.
    """
    token = api_token if api_token is not None else assistant.settings.api_token
    if ui:
        check_page_host(host, ui_auth, no_auth)
    check_api_host(host, token, no_auth)
    app = create_server_app(assistant, ui=ui, api_token=token, ui_auth=ui_auth)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    if block:
        server.run()
        return server
    thread = threading.Thread(target=server.run, name=f"oa-api-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the server on {host}:{port} did not start (port in use?)")
        time.sleep(0.05)
    return server
