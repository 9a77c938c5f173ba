"""One port for everything: the HTTP API, with the chat page mounted at "/" unless ui=False.

Around both sit the checks every request passes first (`request_checks`: one body limit for
every route; `access`: the token on every route, the sign-in form and the login back-off).
The page runs on an event loop of its own (`page_loop`), so the server's loop, which answers
/healthz and /v1, never waits for Gradio's work.
The page (Gradio, seconds to import) is imported only when it is served, so an API-only
server (`opioid-assistant serve --no-ui`) never loads it.
"""

from __future__ import annotations

import gc
import threading
import time
from typing import TYPE_CHECKING

import uvicorn
from fastapi import FastAPI

from opioid_assistant.serve.access import AccessGate
from opioid_assistant.serve.api import check_api_host, create_app
from opioid_assistant.serve.hosts import check_page_host, is_loopback
from opioid_assistant.serve.request_checks import RequestChecks
from opioid_assistant.serve.throttle import Backoff

if TYPE_CHECKING:
    from opioid_assistant.answer.assistant import Assistant

Auth = tuple[str, str] | list[tuple[str, str]]


def create_server_app(
    assistant: Assistant,
    *,
    ui: bool = True,
    api_token: str | None = None,
    ui_auth: Auth | None = None,
    eval_runs: bool = True,
) -> FastAPI:
    """The API for `assistant`, with the chat page mounted at "/" when `ui` is set, behind
    the body limit and the access gate.

    Args:
        assistant: The assistant that answers.
        ui: Mount the chat page (and its evaluation tab); False serves only the API.
        api_token: Token every route but /healthz requires; default: the settings'
            `api_token` (None: open).
        ui_auth: (user, password) pair(s) the chat page requires (Gradio's login).
        eval_runs: Whether the page may start evaluation runs.
    """
    settings = assistant.settings
    token = api_token if api_token is not None else settings.api_token
    app = create_app(assistant)
    if ui:
        from opioid_assistant.serve.page import mount_page
        from opioid_assistant.serve.page_loop import mount_on_own_loop

        # The page gets an app and an event loop of its own: Gradio's work on a loop never
        # delays /healthz or /v1 (`page_loop`).
        page = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
        mount_on_own_loop(app, mount_page(page, assistant, ui_auth, eval_runs=eval_runs))
    backoff = Backoff(settings.login_free_failures, settings.login_backoff_max_s)
    # Starlette runs the last middleware added first: the gate, then the body limit.
    app.add_middleware(RequestChecks, max_bytes=settings.max_body_bytes)
    app.add_middleware(AccessGate, token=token, page_login=bool(ui_auth), backoff=backoff)
    return app


def page_may_run_evaluations(host: str, token: str | None, ui_auth: object) -> bool:
    """Whether the page may start evaluation runs (seconds of CPU and a folder on disk each):
    when it needs a token or a login, or is served to this machine only (loopback). A page
    open to the network with --no-auth starts none."""
    return bool(token or ui_auth) or is_loopback(host)


def settle_heap() -> None:
    """Leave what startup built out of every later garbage collection.

    A full collection walks every object the process holds and stops every thread meanwhile,
    the event loop included: over the ~300,000 objects of Gradio, Chroma and the model,
    200-260 ms here under load, so a liveness probe waited that long a few times a minute.
    Startup's objects live as long as the server, so they are collected once now and then
    frozen (`gc.freeze`): later collections walk only what serving made since.
    """
    gc.collect()
    gc.freeze()


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
        api_token: Token every route but /healthz requires; default: the settings' `api_token`.
        no_auth: Allow a non-loopback host without auth (you take responsibility; the page
            then starts no evaluation runs).
        block: Run until stopped; False returns once serving (stop: `server.should_exit = True`).

    Raises:
        ValueError: a non-loopback host without auth and without no_auth=True.
    """
    token = api_token if api_token is not None else assistant.settings.api_token
    if ui:
        check_page_host(host, ui_auth, no_auth)
    check_api_host(host, token, no_auth)
    eval_runs = page_may_run_evaluations(host, token, ui_auth)
    app = create_server_app(assistant, ui=ui, api_token=token, ui_auth=ui_auth, eval_runs=eval_runs)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        timeout_keep_alive=int(assistant.settings.keep_alive_s),
    )
    server = uvicorn.Server(config)
    settle_heap()
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
