"""One cited source: fetched over HTTP (URL safety checks, manual redirects, retries, a byte
cap) and turned into plain text by the report's own HTML and PDF readers.

Everything fetched is data: it is parsed for text, never executed or rendered.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import socket
import time
from urllib.parse import urljoin

import httpx

from opioid_assistant.errors import AssistantError, ReportParseError
from opioid_assistant.report.html import html_text
from opioid_assistant.report.pdf import pdf_text
from opioid_assistant.settings import Settings

USER_AGENT = "opioid-assistant/0.1 (+source ingest; contact: local)"

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
PDF_TYPES = frozenset({"application/pdf", "application/x-pdf"})
TEXT_TYPES = frozenset({"text/plain"})
# Servers often label PDFs (and sometimes pages) this way: read the body and sniff it.
SNIFF_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})
SUPPORTED_TYPES = HTML_TYPES | PDF_TYPES | TEXT_TYPES

# Control characters and invisible format characters (zero-width, bidi overrides) can hide
# text from a reader of the quoted source; they carry nothing worth keeping.
_INVISIBLE = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]"
)

_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_BACKOFF_BASE_S = 0.25
_BACKOFF_MAX_S = 8.0
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclasses.dataclass(frozen=True)
class Fetched:
    """The outcome of fetching one URL.

    Attributes:
        url: The URL asked for.
        status: 'ok', 'http_<code>', 'timeout', 'too_large', 'unsupported_type',
            'refused_private_address', 'bad_scheme', 'redirect_loop', 'too_many_redirects'
            or 'error'.
        content_type: Media type of the final response without parameters ('' if unknown).
        body: The response body (only for status 'ok').
        final_url: The URL the body came from after redirects.
        error: What went wrong, for a reader; None when status is 'ok'.
        requests: HTTP requests sent (each retry and redirect hop counts).
        transient: True for a failure worth retrying (timeout, dropped connection, 5xx, 429).
    """

    url: str
    status: str
    content_type: str = ""
    body: bytes = b""
    final_url: str = ""
    error: str | None = None
    requests: int = 0
    transient: bool = False


class ExtractionError(AssistantError):
    """A fetched body could not be turned into text (e.g. a broken PDF)."""


class SourceRefusedError(AssistantError):
    """A URL that must not be fetched; carries the status to record."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


def _address_allowed(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def resolve_safe(url: str, allow_private: bool) -> str:
    """Check that `url` may be fetched and return the IP address to connect to.

    Only http and https are allowed, and every address the host resolves to must be public
    unless `allow_private`. Connecting to the returned address (not re-resolving the name)
    keeps a second DNS answer from pointing the request somewhere else.

    Raises:
        SourceRefusedError: with status 'bad_scheme', 'refused_private_address' or 'error'.
    """
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as e:
        raise SourceRefusedError("error", f"not a valid URL: {url!r} ({e})") from e
    if parsed.scheme not in ("http", "https"):
        message = f"only http and https URLs are fetched, not {parsed.scheme!r}"
        raise SourceRefusedError("bad_scheme", message)
    host = parsed.host
    if not host:
        raise SourceRefusedError("error", f"URL has no host: {url}")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        raise SourceRefusedError("error", f"cannot resolve host {host!r}: {e}") from e
    # IPv4 first: a pinned address gets no fallback, and IPv6 routes are the likelier to be missing.
    addresses = sorted(
        {ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos},
        key=lambda ip: (ip.version, str(ip)),
    )
    if not addresses:
        raise SourceRefusedError("error", f"host {host!r} resolved to no address")
    if not allow_private:
        refused = [str(ip) for ip in addresses if not _address_allowed(ip)]
        if refused:
            raise SourceRefusedError(
                "refused_private_address",
                f"host {host!r} resolves to non-public address {', '.join(refused)}; "
                "set OA_SOURCES_ALLOW_PRIVATE_HOSTS=true to allow it",
            )
    return str(addresses[0])


def make_client(settings: Settings) -> httpx.Client:
    """An httpx client for source fetching: no automatic redirects, no environment proxies.

    Keep-alive is off because requests go to pinned IP addresses: a pooled TLS connection
    verified for one host name must never be reused for another name on the same address.
    """
    return httpx.Client(
        headers={"User-Agent": USER_AGENT, "Accept": "text/html,application/pdf;q=0.9,*/*;q=0.5"},
        timeout=httpx.Timeout(settings.sources_timeout_s),
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(
            max_connections=settings.sources_concurrency * 2, max_keepalive_connections=0
        ),
    )


def fetch_url(client: httpx.Client, url: str, settings: Settings) -> Fetched:
    """Fetch `url` with retries and exponential backoff; never raises for network trouble."""
    requests = 0
    attempt = 0
    while True:
        result = _fetch_following_redirects(client, url, settings)
        requests += result.requests
        if not result.transient or attempt >= settings.sources_retries:
            return _with_requests(result, requests)
        time.sleep(min(_BACKOFF_BASE_S * 2**attempt, _BACKOFF_MAX_S))
        attempt += 1


def _with_requests(result: Fetched, requests: int) -> Fetched:
    return dataclasses.replace(result, requests=requests)


def _fetch_following_redirects(client: httpx.Client, url: str, settings: Settings) -> Fetched:
    seen = {url}
    current = url
    requests = 0
    for _hop in range(settings.sources_max_redirects + 1):
        try:
            ip = resolve_safe(current, settings.sources_allow_private_hosts)
        except SourceRefusedError as e:
            return Fetched(url, e.status, final_url=current, error=str(e), requests=requests)
        requests += 1
        try:
            step = _fetch_once(client, current, ip, settings)
        except httpx.TimeoutException as e:
            msg = f"no complete answer within {settings.sources_timeout_s:g}s ({type(e).__name__})"
            return Fetched(
                url, "timeout", final_url=current, error=msg, requests=requests, transient=True
            )
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as e:
            msg = f"{type(e).__name__}: {e}"
            return Fetched(
                url, "error", final_url=current, error=msg, requests=requests, transient=True
            )
        if isinstance(step, Fetched):
            return _with_requests(_for_url(step, url), requests)
        current = urljoin(current, step)
        if current in seen:
            msg = f"redirect loop back to {current}"
            return Fetched(url, "redirect_loop", final_url=current, error=msg, requests=requests)
        seen.add(current)
    msg = f"more than {settings.sources_max_redirects} redirects (last: {current})"
    return Fetched(url, "too_many_redirects", final_url=current, error=msg, requests=requests)


def _for_url(step: Fetched, url: str) -> Fetched:
    return dataclasses.replace(step, url=url)


def _fetch_once(client: httpx.Client, url: str, ip: str, settings: Settings) -> Fetched | str:
    """One request to the pinned address; a str result is the next hop's Location."""
    target = httpx.URL(url)
    pinned = target.copy_with(host=ip)
    headers = {"Host": target.netloc.decode("ascii")}
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    request = client.build_request("GET", pinned, headers=headers, extensions=extensions)
    deadline = time.monotonic() + settings.sources_timeout_s
    response = client.send(request, stream=True)
    try:
        code = response.status_code
        if code in _REDIRECT_STATUSES and "location" in response.headers:
            return response.headers["location"]
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if not 200 <= code < 300:
            error = f"HTTP {code} {response.reason_phrase}".strip()
            transient = code in _RETRY_STATUSES
            return Fetched(
                url, f"http_{code}", content_type, final_url=url, error=error, transient=transient
            )
        if content_type not in SUPPORTED_TYPES | SNIFF_TYPES:
            error = f"content type {content_type!r} is not HTML, PDF or plain text"
            return Fetched(url, "unsupported_type", content_type, final_url=url, error=error)
        return _read_capped(response, url, content_type, deadline, settings.sources_max_bytes)
    finally:
        response.close()


def _read_capped(
    response: httpx.Response, url: str, content_type: str, deadline: float, max_bytes: int
) -> Fetched:
    too_large = Fetched(
        url, "too_large", content_type, final_url=url, error=f"body exceeds {max_bytes:,} bytes"
    )
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        return too_large
    body = bytearray()
    for piece in response.iter_bytes():
        body += piece
        if len(body) > max_bytes:
            return too_large
        # A server trickling bytes would never trip the per-read timeout: bound the whole read.
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout("body not complete before the deadline")
    return Fetched(url, "ok", content_type, bytes(body), final_url=url)


def extract_text(body: bytes, content_type: str) -> tuple[str, str]:
    """Turn a fetched body into (text, title); the text is '' when nothing is readable.

    HTML and PDF go through the report's own readers (report.html, report.pdf), so a source
    reads into the same blank-line separated blocks as the report.

    Raises:
        ExtractionError: The parser failed on the body (a broken or hostile document).
    """
    try:
        if content_type in PDF_TYPES or body.startswith(b"%PDF-"):
            text, title = _pdf_text(body)
        elif content_type in HTML_TYPES or (content_type not in TEXT_TYPES and _looks_html(body)):
            text, title = html_text(body)
        elif content_type in TEXT_TYPES:
            text, title = body.decode("utf-8", errors="replace"), ""
        else:
            return "", ""
    except ExtractionError:
        raise
    except Exception as e:
        # Third-party parsers on untrusted bytes can fail in any way (even RecursionError);
        # one bad document must cost its own row, not the whole run.
        raise ExtractionError(f"cannot extract text ({type(e).__name__}: {e})") from e
    return _clean(text), _clean(title).replace("\n", " ").strip()


def _looks_html(body: bytes) -> bool:
    head = body[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))


def _pdf_text(body: bytes) -> tuple[str, str]:
    try:
        return pdf_text(body)
    except ReportParseError as e:
        raise ExtractionError(f"unreadable PDF: {e}") from e


def _clean(text: str) -> str:
    text = _INVISIBLE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = re.sub(r"[ \t\u00a0]+", " ", text)
    return re.sub(r"\n\s*\n\s*", "\n\n", text).strip()
