"""Issue 25, liveness under load: nothing the page does, nor the garbage collector, nor a
stale health status, may hold up the server's event loop, which answers /healthz."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from helpers import free_port
from opioid_assistant.serve.health import HealthMonitor
from opioid_assistant.serve.page_loop import mount_on_own_loop


class BlockingPage:
    """A page whose one route blocks its event loop (as Gradio's synchronous work does)
    until released, and which records the threads its startup and requests ran on."""

    def __init__(self) -> None:
        self.entered, self.release = threading.Event(), threading.Event()
        self.threads: dict[str, str] = {}

        async def blocked(request: Request) -> PlainTextResponse:
            self.threads["request"] = threading.current_thread().name
            body = (await request.body()).decode()
            self.entered.set()
            self.release.wait(60)  # synchronous: nothing else runs on this loop meanwhile
            return PlainTextResponse(f"page saw {body}")

        @asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            self.threads["startup"] = threading.current_thread().name
            yield

        self.app = Starlette(routes=[Route("/slow", blocked, methods=["POST"])], lifespan=lifespan)


@contextmanager
def server_with(page: BlockingPage) -> Iterator[tuple[str, set[str]]]:
    """The server's app (/healthz on its own loop) with `page` mounted on a loop of its own,
    served on loopback; yields its URL and the names of the threads that answered /healthz."""
    answered: set[str] = set()

    async def healthz(request: Request) -> PlainTextResponse:
        answered.add(threading.current_thread().name)
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/healthz", healthz)])
    mount_on_own_loop(app, page.app)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, name="server-loop", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", answered
    finally:
        page.release.set()
        server.should_exit = True
        thread.join(30)


def test_healthz_is_answered_while_the_page_blocks_its_loop() -> None:
    page = BlockingPage()
    with server_with(page) as (base, answered), ThreadPoolExecutor(1) as pool:
        slow = pool.submit(httpx.post, f"{base}/slow", content=b"the body", timeout=60)
        assert page.entered.wait(30)
        health = httpx.get(f"{base}/healthz", timeout=30)  # the page's loop is still blocked
        assert (health.status_code, health.text, slow.done()) == (200, "ok", False)
        page.release.set()
        reply = slow.result()
        assert (reply.status_code, reply.text) == (200, "page saw the body")
    assert answered == {"server-loop"}
    assert page.threads == {"startup": "oa-page-loop", "request": "oa-page-loop"}
    assert "oa-page-loop" not in {t.name for t in threading.enumerate()}  # stopped with it


def test_the_served_page_runs_on_its_own_loop(assistant: Any) -> None:
    from opioid_assistant.serve.server import serve

    port = free_port()
    server = serve(assistant, "127.0.0.1", port, block=False)
    try:
        base = f"http://127.0.0.1:{port}"
        assert "oa-page-loop" in {t.name for t in threading.enumerate()}
        assert httpx.get(f"{base}/", timeout=30).status_code == 200
        assert httpx.get(f"{base}/healthz", timeout=30).json()["status"] == "ok"
        event = httpx.post(
            f"{base}/gradio_api/call/chat",
            json={"data": ["How much did pharmacy chains pay in the opioid settlement?", None]},
            timeout=30,
        )
        url = f"{base}/gradio_api/call/chat/{event.json()['event_id']}"
        with httpx.stream("GET", url, timeout=60) as stream:
            body = "".join(stream.iter_text())
        assert "event: complete" in body and "$13.8 billion" in body
    finally:
        server.should_exit = True


def test_serving_freezes_what_startup_built(index_settings: Any) -> None:
    """A full garbage collection stops every thread; what startup built is left out of it."""
    code = (
        "import gc\n"
        "from opioid_assistant import Assistant\n"
        "from opioid_assistant.serve.server import serve\n"
        "from helpers import free_port\n"
        "marker = [object()]\n"
        "before = any(o is marker for o in gc.get_objects())\n"
        "server = serve(Assistant(), '127.0.0.1', free_port(), ui=False, block=False)\n"
        "print(before, any(o is marker for o in gc.get_objects()), gc.get_freeze_count() > 0)\n"
        "server.should_exit = True\n"
    )
    env = {
        **os.environ,
        "OA_DATA_DIR": str(index_settings.data_dir),
        "PYTHONPATH": os.pathsep.join([os.path.dirname(__file__), *sys.path]),
    }
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.stdout.split() == ["True", "False", "True"], done.stderr


def test_a_stale_health_status_is_refreshed_without_starting_a_thread(assistant: Any) -> None:
    monitor = HealthMonitor(assistant, max_age_s=0.0)
    threads = threading.active_count()
    for _ in range(3):
        asyncio.run(_read_when_stale(monitor))
    assert threading.active_count() == threads
    assert [t.name for t in threading.enumerate()].count("oa-health") >= 1
    assert monitor.status().status == "ok" and monitor.refreshes >= 1


async def _read_when_stale(monitor: HealthMonitor) -> None:
    """Read the status as /healthz does, then wait (off the loop) for the refresh it asked for."""
    done = monitor.refreshes
    monitor.status()
    deadline = time.monotonic() + 30
    while monitor.refreshes == done and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert monitor.refreshes == done + 1


def test_the_page_keeps_only_the_newest_sessions(assistant: Any, monkeypatch: Any) -> None:
    import gradio as gr
    from fastapi import FastAPI

    from opioid_assistant.serve import page

    monkeypatch.setattr(page, "PAGE_SESSIONS", 2)
    demo = page.queued_app(assistant)
    gr.mount_gradio_app(FastAPI(), demo, path="/")
    holder = demo.state_holder
    for session in ("first", "second", "third"):
        holder[session]
    assert "first" not in holder
    assert "second" in holder and "third" in holder
