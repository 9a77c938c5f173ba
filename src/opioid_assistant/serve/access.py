"""Who may use the server, checked once for every route by one ASGI middleware.

With `OA_API_TOKEN` set, every route but /healthz and the sign-in form needs the token: as
`Authorization: Bearer TOKEN` (API clients, `gradio_client(headers=...)`), or as the session
cookie the sign-in form (/signin) gives a browser for it. The token is never put in the page.
With `--auth`, the page's own routes are left to Gradio's login instead (its cookie guards
Gradio's API, uploads and events), and the API routes still need the token.

Wrong credentials (a bearer token, the sign-in form, Gradio's /login) cost a client address
an exponentially growing wait once it has sent a few (`throttle.Backoff`): while it lasts,
that address's credentials are not checked at all and it gets 429 with Retry-After.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import secrets
import time
from urllib.parse import parse_qs

from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opioid_assistant.serve.http_errors import error_response
from opioid_assistant.serve.throttle import Backoff

SIGN_IN = "/signin"
PUBLIC = frozenset({"/healthz", SIGN_IN})
API_PREFIXES = ("/v1/", "/docs", "/openapi.json", "/redoc")
GRADIO_LOGIN = frozenset({"/login", "/login/"})
COOKIE = "oa-session"
SESSION_S = 12 * 3600
MAX_FORM_BYTES = 4096
WRONG_TOKEN = "missing or wrong bearer token: send 'Authorization: Bearer TOKEN'"


class AccessGate:
    """ASGI middleware: the token on every route, the sign-in form, the login back-off.

    Args:
        app: The server's app (the API with the page mounted, or the API alone).
        token: The token every route but /healthz needs; None: the server is open.
        page_login: The page has its own login (--auth), which guards its routes.
        backoff: Failures per client address.
    """

    def __init__(self, app: ASGIApp, token: str | None, page_login: bool, backoff: Backoff) -> None:
        self.app, self.token, self.page_login, self.backoff = app, token, page_login, backoff

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path, client = scope["path"], _client(scope)
        if scope["type"] == "http" and path == SIGN_IN:
            await self._sign_in(scope, receive, send, client)
        elif scope["type"] == "http" and path in GRADIO_LOGIN and scope["method"] == "POST":
            await self._throttled_login(scope, receive, send, client)
        elif self.token is None or path in PUBLIC:
            await self.app(scope, receive, send)
        elif self.page_login and not path.startswith(API_PREFIXES):
            await self.app(scope, receive, send)  # Gradio's login guards the page
        else:
            await self._guarded(scope, receive, send, client, self.token)

    async def _guarded(
        self, scope: Scope, receive: Receive, send: Send, client: str, token: str
    ) -> None:
        headers = dict(scope["headers"])
        bearer = headers.get(b"authorization", b"").decode("latin-1")
        if bearer:
            wait = self.backoff.wait_s(client)
            if wait:
                await _too_many(wait)(scope, receive, send)
                return
            given = bearer.removeprefix("Bearer ").strip()
            if secrets.compare_digest(given.encode(), token.encode()):
                self.backoff.succeeded(client)
                await self.app(scope, receive, send)
                return
            self.backoff.failed(client)
        elif valid_session(_cookie(headers), token):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if _wants_html(headers) and scope["method"] == "GET":
            await RedirectResponse(SIGN_IN, 303)(scope, receive, send)
            return
        await error_response(401, WRONG_TOKEN)(scope, receive, send)

    async def _sign_in(self, scope: Scope, receive: Receive, send: Send, client: str) -> None:
        if self.token is None or self.page_login:
            await RedirectResponse("/", 303)(scope, receive, send)  # nothing to sign in to
            return
        if scope["method"] != "POST":
            await _form("")(scope, receive, send)
            return
        wait = self.backoff.wait_s(client)
        if wait:
            await _too_many(wait, page=True)(scope, receive, send)
            return
        body = await _read(receive, MAX_FORM_BYTES)
        given = parse_qs(body.decode("utf-8", "replace")).get("token", [""])[0]
        if not secrets.compare_digest(given.encode(), self.token.encode()):
            self.backoff.failed(client)
            await _form("That is not the token.", 401)(scope, receive, send)
            return
        self.backoff.succeeded(client)
        response = RedirectResponse("/", 303)
        response.set_cookie(
            COOKIE,
            new_session(self.token),
            max_age=SESSION_S,
            httponly=True,
            samesite="strict",
        )
        await response(scope, receive, send)

    async def _throttled_login(
        self, scope: Scope, receive: Receive, send: Send, client: str
    ) -> None:
        """Gradio's /login, behind the back-off; its answer tells a failure (400) apart."""
        wait = self.backoff.wait_s(client)
        if wait:
            await _too_many(wait)(scope, receive, send)
            return

        async def watched(message: Message) -> None:
            if message["type"] == "http.response.start":
                if message["status"] == 200:
                    self.backoff.succeeded(client)
                elif message["status"] in (400, 401):
                    self.backoff.failed(client)
            await send(message)

        await self.app(scope, receive, watched)


def new_session(token: str, now: float | None = None) -> str:
    """A session cookie value for `token`: its expiry and a signature made with the token, so
    it needs no server state and ends when the token changes."""
    expires = int((time.time() if now is None else now) + SESSION_S)
    return f"{expires}.{_signature(token, expires)}"


def valid_session(value: str, token: str, now: float | None = None) -> bool:
    """Whether a session cookie value was made with `token` and has not expired."""
    expires, _, signature = value.partition(".")
    if not expires.isdigit() or int(expires) < (time.time() if now is None else now):
        return False
    return secrets.compare_digest(signature, _signature(token, int(expires)))


def _signature(token: str, expires: int) -> str:
    message = f"oa-session:{expires}".encode()
    return hmac.new(token.encode(), message, hashlib.sha256).hexdigest()


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _cookie(headers: dict[bytes, bytes]) -> str:
    for part in headers.get(b"cookie", b"").decode("latin-1").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return ""


def _wants_html(headers: dict[bytes, bytes]) -> bool:
    return b"text/html" in headers.get(b"accept", b"")


async def _read(receive: Receive, limit: int) -> bytes:
    body, more = b"", True
    while more and len(body) <= limit:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return body[:limit]


def _too_many(wait: int, page: bool = False) -> Response:
    text = f"too many wrong credentials from your address: try again in {wait} s"
    if page:
        return _form(text[0].upper() + text[1:] + ".", 429, {"Retry-After": str(wait)})
    response = error_response(429, text, "rate_limit_error")
    response.headers["Retry-After"] = str(wait)
    return response


def _form(message: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    note = f'<p role="alert">{html.escape(message)}</p>' if message else ""
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Sign in: Opioid report assistant</title></head>"
        '<body style="font-family: system-ui, sans-serif; max-width: 28em; margin: 4em auto">'
        "<h1>Opioid report assistant</h1>"
        f"<p>This server needs its access token (OA_API_TOKEN).</p>{note}"
        f'<form method="post" action="{SIGN_IN}"><label>Token '
        '<input type="password" name="token" autocomplete="current-password" required autofocus>'
        '</label> <button type="submit">Sign in</button></form></body></html>'
    )
    return HTMLResponse(page, status, headers=headers)
