"""The page runs on an event loop of its own, so Gradio's work never holds up /healthz or /v1.

Gradio does much of its work synchronously on the loop that serves it: each new session's
state is built from the configuration of every component of the page (5-9 ms each here), and
events are pre- and post-processed there. When 64 `gradio_client` users started at once, the
server's one loop was busy for 400-550 ms, and every /healthz probe waited behind it.

`PageLoop` serves the page's app on a second event loop, in a thread of its own. The server's
loop keeps the socket: it runs the checks every request passes first (the body limit, the
token), answers /healthz and /v1, and only relays the page's requests, message by message,
to the page's loop. The two loops still share the interpreter, but the server's gets its turn
every few milliseconds (the interpreter's switch interval) instead of after Gradio's work.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

T = TypeVar("T")
START_TIMEOUT_S = 120.0


class PageLoop:
    """ASGI app: `app` (the page's), served on an event loop in its own thread.

    Start it from the server's startup (`start`) and stop it from its shutdown (`stop`):
    `app`'s own startup and shutdown (Gradio's queue) run on the page's loop then.
    `mount_on_own_loop` does both.
    """

    def __init__(self, app: ASGIApp, name: str = "oa-page-loop") -> None:
        self.app, self.name = app, name
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._shutdown: asyncio.Queue[Message] | None = None
        self._lifespan: asyncio.Future[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # the page's own startup runs on its loop (`start`)
            return
        if self.loop is None:
            raise RuntimeError("the page's event loop is not running: call PageLoop.start()")
        server = asyncio.get_running_loop()

        async def relayed_receive() -> Message:
            return await _on(server, receive())

        async def relayed_send(message: Message) -> None:
            await _on(server, send(message))

        await _on(self.loop, self.app(scope, relayed_receive, relayed_send))

    async def start(self) -> None:
        """Start the page's loop and run the page's startup on it."""
        loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=loop.run_forever, name=self.name, daemon=True)
        self._thread.start()
        self.loop = loop
        started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._lifespan = asyncio.wrap_future(
            asyncio.run_coroutine_threadsafe(self._run_lifespan(started), loop)
        )
        waiting = asyncio.ensure_future(started)
        done, _ = await asyncio.wait(
            [waiting, self._lifespan], timeout=START_TIMEOUT_S, return_when="FIRST_COMPLETED"
        )
        if waiting not in done:
            waiting.cancel()
            if self._lifespan in done:
                self._lifespan.result()  # the page's startup raised: raise it here
            raise RuntimeError(f"the page did not start within {START_TIMEOUT_S:.0f} s")
        waiting.result()

    async def stop(self) -> None:
        """Run the page's shutdown on its loop, cancel what still runs there, stop the loop."""
        loop, thread = self.loop, self._thread
        if loop is None or thread is None:
            return
        if self._shutdown is not None and self._lifespan is not None:
            loop.call_soon_threadsafe(self._shutdown.put_nowait, {"type": "lifespan.shutdown"})
            await asyncio.wait([self._lifespan], timeout=10)
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(_cancel_tasks(), loop))
        loop.call_soon_threadsafe(loop.stop)
        await asyncio.to_thread(thread.join, 10)
        self.loop = self._thread = None
        if not thread.is_alive():
            loop.close()

    async def _run_lifespan(self, started: asyncio.Future[None]) -> None:
        """The ASGI lifespan protocol, driven on the page's loop: startup at once, shutdown
        when `stop` asks; `started` (on the server's loop) learns how startup went."""
        server = started.get_loop()
        messages: asyncio.Queue[Message] = asyncio.Queue()
        messages.put_nowait({"type": "lifespan.startup"})
        self._shutdown = messages

        def tell(error: BaseException | None) -> None:
            if started.done():
                return
            if error is None:
                started.set_result(None)
            else:
                started.set_exception(error)

        async def send(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                server.call_soon_threadsafe(tell, None)
            elif message["type"] == "lifespan.startup.failed":
                error = RuntimeError(f"the page did not start: {message.get('message', '')}")
                server.call_soon_threadsafe(tell, error)

        scope: Scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        await self.app(scope, messages.get, send)


def mount_on_own_loop(app: Starlette, page: ASGIApp, path: str = "/") -> PageLoop:
    """Mount `page` at `path` of `app`, served on its own loop, which `app`'s startup starts
    and its shutdown stops (after `app`'s own startup, before its own shutdown)."""
    page_loop = PageLoop(page)
    app.mount(path, page_loop)
    outer = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(target: Any) -> AsyncIterator[Any]:
        async with outer(target) as state:
            await page_loop.start()
            try:
                yield state
            finally:
                await page_loop.stop()

    app.router.lifespan_context = lifespan
    return page_loop


async def _on(loop: asyncio.AbstractEventLoop, work: Awaitable[T]) -> T:
    """Await `work` on `loop` (another thread's) from the running loop; cancelling the
    waiter cancels the work."""

    async def run() -> T:
        return await work

    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(run(), loop))


async def _cancel_tasks() -> None:
    """Cancel every other task on the running loop (Gradio's queue workers) and wait for them."""
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
