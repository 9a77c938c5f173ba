"""Checks every request body passes before any route reads it.

One ASGI middleware for the whole server (the API and the page): a body over the limit is
refused with 413 whether its size is declared or not, and read at most once, up to the limit,
so no route (Gradio's uploads and events included) holds more than the limit in memory. A
/v1 body must also be JSON (declared so), UTF-8, nested at most `MAX_DEPTH` deep, and free
of lone surrogates ("\\ud800" is valid JSON but no Unicode text): each failure is a 400 or
415 in the API's error shape, before FastAPI or the assistant sees the request.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opioid_assistant.serve.http_errors import error_response

MAX_DEPTH = 32  # the deepest a valid request nests is 5 (messages, content parts)
JSON_ONLY = (
    "send the body as JSON with the header 'Content-Type: application/json' "
    "(curl: -H 'Content-Type: application/json')"
)


class RequestChecks:
    """ASGI middleware: the body limit on every route, and a well-formed JSON body on /v1."""

    def __init__(self, app: ASGIApp, max_bytes: int = 1 << 20) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"0")
        too_big = declared.isdigit() and int(declared) > self.max_bytes
        body, more = b"", not too_big
        while more:  # read here, up to the limit, so an undeclared size is caught too
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False) and len(body) <= self.max_bytes
        if too_big or len(body) > self.max_bytes:
            text = f"request body over {self.max_bytes} bytes: send a shorter question or file"
            await error_response(413, text)(scope, receive, send)
            return
        if scope["path"].startswith("/v1/") and scope["method"] in ("POST", "PUT", "PATCH"):
            problem = json_problem(headers.get(b"content-type", b""), body)
            if problem is not None:
                await error_response(problem[0], problem[1])(scope, receive, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def json_problem(content_type: bytes, body: bytes) -> tuple[int, str] | None:
    """(status, message) when a /v1 body is not well-formed JSON text, else None."""
    media = content_type.split(b";")[0].strip().lower()
    if media != b"application/json" and not media.endswith(b"+json"):
        shown = media.decode("latin-1") or "none"
        return 415, f"the Content-Type is {shown}: {JSON_ONLY}"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        return 400, f"the body is not UTF-8 (byte {e.start}): send JSON encoded as UTF-8"
    try:
        data = json.loads(text)
    except RecursionError:
        return 400, f"the JSON nests deeper than {MAX_DEPTH} levels"
    except json.JSONDecodeError as e:
        return 400, f"the body is not valid JSON: {e}"
    return _value_problem(data)


def _value_problem(data: Any) -> tuple[int, str] | None:
    """A lone surrogate in any string, or nesting deeper than MAX_DEPTH (no recursion)."""
    stack: list[tuple[Any, int, str]] = [(data, 0, "")]
    while stack:
        value, depth, where = stack.pop()
        if depth > MAX_DEPTH:
            return 400, f"the JSON nests deeper than {MAX_DEPTH} levels"
        if isinstance(value, str):
            if not _is_text(value):
                place = f" in {where[:80]}" if where else ""
                return 400, f"invalid Unicode{place}: a lone surrogate is not text; send UTF-8"
        elif isinstance(value, dict):
            for key, item in value.items():
                if not _is_text(key):
                    return 400, "invalid Unicode in a key: a lone surrogate is not text"
                stack.append((item, depth + 1, _join(where, key)))
        elif isinstance(value, list):
            stack.extend((item, depth + 1, _join(where, i)) for i, item in enumerate(value))
    return None


def _join(where: str, key: str | int) -> str:
    """A value's path in the body: 'messages.0.content'."""
    return f"{where}.{key}" if where else str(key)


def _is_text(value: str) -> bool:
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
