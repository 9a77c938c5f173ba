"""Source fetching against a real HTTP server on loopback, the source cache, imports, chunks."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import shutil
import ssl
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from opioid_assistant.index.source_cache import SourceFetchError, read_manifest, sources_dir
from opioid_assistant.index.source_fetch import (
    USER_AGENT,
    SourceRefusedError,
    fetch_url,
    resolve_safe,
)
from opioid_assistant.index.sources import fetch_sources, import_sources_dir, source_chunks
from opioid_assistant.settings import Settings
from opioid_assistant.types import Endnote, Report

ARTICLE_HTML = b"""<!DOCTYPE html>
<html><head><title>Naloxone on every shelf</title></head>
<body><nav>Home | About | Donate</nav>
<article>
<h1>Naloxone on every shelf</h1>
<p>Over-the-counter naloxone reached pharmacy shelves in September 2023, priced at about
$45 for a two-dose pack. Advocates said the price still keeps it out of reach for many
people who use drugs.</p>
<p>State health departments distributed 1.2 million free kits in 2022, most of them through
community organizations and syringe services programs that reach people at highest risk.</p>
<p>Researchers estimate that each kit distributed prevents deaths at a cost far below that
of other public health interventions, which is why several states now fund bulk purchases.</p>
</article>
<footer>Copyright 2023</footer>
</body></html>
"""
ARTICLE_V2 = ARTICLE_HTML.replace(b"1.2 million", b"1.5 million")
PDF_SENTENCE = "Buprenorphine treatment retention at 180 days was 41 percent in the cohort."


def make_pdf() -> bytes:
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    pdf.setTitle("Retention in treatment")
    pdf.drawString(72, 720, PDF_SENTENCE)
    pdf.drawString(72, 700, "Patients who stayed in care had fewer overdoses.")
    pdf.save()
    return buffer.getvalue()


PDF_BYTES = make_pdf()
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@dataclass
class Route:
    """What the fixture server answers for one path."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    delay_s: float = 0.0
    location: str | None = None
    send_length: bool = True


@dataclass
class Server:
    """The running fixture server: its routes (editable mid-test) and the requests it saw."""

    base: str
    routes: dict[str, Route]
    hits: Counter[str] = field(default_factory=Counter)
    agents: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return self.base + path

    def total(self) -> int:
        return sum(self.hits.values())


@contextlib.contextmanager
def serving(tls: ssl.SSLContext | None = None) -> Iterator[Server]:
    """Run a real threaded HTTP(S) server on a free loopback port."""
    state = Server(base="", routes={})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with state.lock:
                state.hits[self.path] += 1
                state.agents.append(self.headers.get("User-Agent", ""))
                state.hosts.append(self.headers.get("Host", ""))
            route = state.routes.get(self.path, Route(404, b"not found", "text/plain"))
            if route.delay_s:
                time.sleep(route.delay_s)
            self.send_response(route.status)
            self.send_header("Content-Type", route.content_type)
            if route.location:
                self.send_header("Location", route.location)
            if route.send_length:
                self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            # The client may give up first (timeout, byte cap): that is expected.
            with contextlib.suppress(OSError):
                self.wfile.write(route.body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    class QuietServer(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: object, client_address: object) -> None:
            pass

    httpd = QuietServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    state.routes.update(
        {
            "/article.html": Route(body=ARTICLE_HTML),
            "/report.pdf": Route(body=PDF_BYTES, content_type="application/pdf"),
            "/missing": Route(404, b"gone", "text/plain"),
            "/image.png": Route(body=PNG_BYTES, content_type="image/png"),
            "/loop-a": Route(302, location="/loop-b"),
            "/loop-b": Route(302, location=state.url("/loop-a")),
            "/moved": Route(301, location="/article.html"),
            "/slow": Route(body=ARTICLE_HTML, delay_s=1.5),
            "/big": Route(body=b"<html><body>" + b"x" * 5000 + b"</body></html>"),
            "/big-stream": Route(body=b"<html>" + b"y" * 5000, send_length=False),
        }
    )
    for i in range(8):
        state.routes[f"/hop{i}"] = Route(302, location=f"/hop{i + 1}")
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    """A real threaded HTTP server on a free loopback port, serving the fixture routes."""
    with serving() as state:
        yield state


def report_citing(endnotes: dict[int, tuple[str | None, int | None]]) -> Report:
    """A real Report whose endnotes are {number: (url or None, resolves_to or None)}."""
    notes = {}
    for number, (url, resolves_to) in endnotes.items():
        resolved = url if resolves_to is None else endnotes[resolves_to][0]
        text = "Ibid." if resolves_to is not None else f"Source {number}, available at {url}."
        notes[number] = Endnote(number, text, url, resolves_to, resolved)
    return Report("Test report", "Body.", sections=(), sentences=(), endnotes=notes)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def loopback(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(data_dir=tmp_path, sources_allow_private_hosts=True, **overrides)


def rows_without_time(settings: Settings) -> list[dict[str, object]]:
    """The manifest file's rows, with fetched_at checked for ISO UTC form and removed."""
    data = json.loads((sources_dir(settings) / "manifest.json").read_text())
    for row in data:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", row.pop("fetched_at"))
    return data


def ok_row(url: str, endnotes: list[int], body: bytes, ctype: str, title: str) -> dict[str, object]:
    text_path = f"text/{hashlib.sha256(url.encode()).hexdigest()[:24]}.txt"
    return {
        "url": url,
        "endnotes": endnotes,
        "status": "ok",
        "content_type": ctype,
        "sha256": sha(body),
        "error": None,
        "text_path": text_path,
        "title": title,
    }


def failed_row(
    url: str, endnotes: list[int], status: str, ctype: str, error: str
) -> dict[str, object]:
    return {
        "url": url,
        "endnotes": endnotes,
        "status": status,
        "content_type": ctype,
        "sha256": None,
        "error": error,
        "text_path": None,
        "title": "",
    }


def test_fetch_writes_exact_manifest_and_second_run_skips_ok(
    tmp_path: Path, server: Server
) -> None:
    s = server
    report = report_citing(
        {
            1: (s.url("/article.html"), None),
            2: (None, 1),  # Ibid. of note 1
            3: (s.url("/report.pdf"), None),
            4: (s.url("/missing"), None),
            5: (s.url("/image.png"), None),
            6: (s.url("/loop-a"), None),
            7: (None, None),  # a note without a URL
            8: (s.url("/moved"), None),
            9: (s.url("/report.pdf"), None),  # the same source cited again
        }
    )
    settings = loopback(tmp_path, sources_retries=0)

    result = fetch_sources(report, settings)

    assert rows_without_time(settings) == [
        ok_row(
            s.url("/article.html"), [1, 2], ARTICLE_HTML, "text/html", "Naloxone on every shelf"
        ),
        ok_row(
            s.url("/report.pdf"), [3, 9], PDF_BYTES, "application/pdf", "Retention in treatment"
        ),
        failed_row(s.url("/missing"), [4], "http_404", "text/plain", "HTTP 404 Not Found"),
        failed_row(
            s.url("/image.png"),
            [5],
            "unsupported_type",
            "image/png",
            "content type 'image/png' is not HTML, PDF or plain text",
        ),
        failed_row(
            s.url("/loop-a"), [6], "redirect_loop", "", f"redirect loop back to {s.url('/loop-a')}"
        ),
        ok_row(s.url("/moved"), [8], ARTICLE_HTML, "text/html", "Naloxone on every shelf"),
    ]
    assert s.hits == Counter(
        {
            "/article.html": 2,  # once directly, once through /moved
            "/report.pdf": 1,
            "/missing": 1,
            "/image.png": 1,
            "/loop-a": 1,
            "/loop-b": 1,
            "/moved": 1,
        }
    )
    assert result.requests_made == 8
    assert set(s.agents) == {USER_AGENT}
    assert [(r.url, r.status) for r in result.failures] == [
        (s.url("/missing"), "http_404"),
        (s.url("/image.png"), "unsupported_type"),
        (s.url("/loop-a"), "redirect_loop"),
    ]
    assert result.no_url == (7,)
    summary = result.describe()
    assert (
        summary.splitlines()[0] == "6 sources: 3 ok (0 already cached), 3 failed; 8 HTTP requests."
    )
    assert f"{s.url('/missing')} (endnotes 4): http_404 - HTTP 404 Not Found" in summary
    assert "Endnotes without a URL: 7." in summary
    text = (
        sources_dir(settings)
        / f"text/{hashlib.sha256(s.url('/article.html').encode()).hexdigest()[:24]}.txt"
    ).read_text()
    assert "1.2 million free kits in 2022" in text
    assert "Home | About" not in text

    s.hits.clear()
    again = fetch_sources(report, settings)

    # ok sources are not fetched again; failures are retried.
    assert s.hits == Counter({"/missing": 1, "/image.png": 1, "/loop-a": 1, "/loop-b": 1})
    assert again.requests_made == 4
    assert again.cached == 3


def test_second_run_makes_no_requests_and_refresh_refetches(tmp_path: Path, server: Server) -> None:
    report = report_citing(
        {1: (server.url("/article.html"), None), 2: (server.url("/report.pdf"), None)}
    )
    settings = loopback(tmp_path)
    fetch_sources(report, settings)
    server.hits.clear()

    second = fetch_sources(report, settings)

    assert server.total() == 0
    assert second.requests_made == 0
    assert second.cached == 2
    assert second.describe().splitlines()[0] == (
        "2 sources: 2 ok (2 already cached), 0 failed; 0 HTTP requests."
    )

    server.routes["/article.html"] = Route(body=ARTICLE_V2)
    refreshed = fetch_sources(report, settings, refresh=True, progress=True)

    assert server.hits == Counter({"/article.html": 1, "/report.pdf": 1})
    assert refreshed.requests_made == 2
    row = read_manifest(sources_dir(settings))[server.url("/article.html")]
    assert row.sha256 == sha(ARTICLE_V2)
    assert "1.5 million free kits" in (sources_dir(settings) / str(row.text_path)).read_text()


def test_failed_refresh_keeps_the_cached_copy(tmp_path: Path, server: Server) -> None:
    url = server.url("/article.html")
    report = report_citing({1: (url, None)})
    settings = loopback(tmp_path, sources_retries=0)
    fetch_sources(report, settings)
    server.routes["/article.html"] = Route(404, b"gone", "text/plain")

    result = fetch_sources(report, settings, refresh=True)

    row = read_manifest(sources_dir(settings))[url]
    assert (row.status, row.sha256) == ("ok", sha(ARTICLE_HTML))
    assert row.error is not None
    assert row.error.endswith("failed (http_404: HTTP 404 Not Found); older copy kept")
    assert "1.2 million" in (sources_dir(settings) / str(row.text_path)).read_text()
    assert [(f.url, f.status) for f in result.failures] == [(url, "http_404")]
    assert [c.url for c in source_chunks(settings)] == [url]


def test_timeout_is_retried_then_recorded(tmp_path: Path, server: Server) -> None:
    report = report_citing({1: (server.url("/slow"), None)})
    settings = loopback(tmp_path, sources_timeout_s=0.5, sources_retries=1)

    result = fetch_sources(report, settings)

    assert [(r.status, r.endnotes, r.sha256, r.text_path) for r in result.rows] == [
        ("timeout", (1,), None, None)
    ]
    assert server.hits["/slow"] == 2
    assert result.requests_made == 2


@pytest.mark.parametrize("path", ["/big", "/big-stream"])
def test_body_over_the_byte_cap_is_too_large(tmp_path: Path, server: Server, path: str) -> None:
    report = report_citing({1: (server.url(path), None)})
    settings = loopback(tmp_path, sources_max_bytes=2000)

    result = fetch_sources(report, settings)

    assert [(r.status, r.content_type, r.error) for r in result.rows] == [
        ("too_large", "text/html", "body exceeds 2,000 bytes")
    ]
    assert not (sources_dir(settings) / "text").exists()


def test_too_many_redirects(tmp_path: Path, server: Server) -> None:
    report = report_citing({1: (server.url("/hop0"), None)})
    settings = loopback(tmp_path, sources_max_redirects=3)

    result = fetch_sources(report, settings)

    assert [r.status for r in result.rows] == ["too_many_redirects"]
    assert server.hits == Counter({"/hop0": 1, "/hop1": 1, "/hop2": 1, "/hop3": 1})


def test_loopback_is_refused_without_a_request(tmp_path: Path, server: Server) -> None:
    report = report_citing({1: (server.url("/article.html"), None), 2: (None, 1)})
    settings = Settings(data_dir=tmp_path)  # private hosts not allowed (the default)

    result = fetch_sources(report, settings)

    assert [(r.status, r.endnotes) for r in result.rows] == [("refused_private_address", (1, 2))]
    assert "127.0.0.1" in str(result.rows[0].error)
    assert server.total() == 0
    assert result.requests_made == 0


def test_each_redirect_hop_is_checked(tmp_path: Path, server: Server) -> None:
    server.routes["/to-file"] = Route(302, location="file:///etc/passwd")
    report = report_citing({1: (server.url("/to-file"), None)})

    result = fetch_sources(report, loopback(tmp_path))

    assert [(r.status, r.error) for r in result.rows] == [
        ("bad_scheme", "only http and https URLs are fetched, not 'file'")
    ]
    assert server.hits == Counter({"/to-file": 1})


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/report.pdf", "file:///etc/passwd", "javascript:alert(1)"]
)
def test_non_http_schemes_are_refused(tmp_path: Path, url: str) -> None:
    result = fetch_sources(report_citing({1: (url, None)}), loopback(tmp_path))

    assert [(r.url, r.status) for r in result.rows] == [(url, "bad_scheme")]
    assert result.requests_made == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://10.1.2.3/",
        "http://192.168.0.1/",
        "http://169.254.169.254/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fe80::1]/",
    ],
)
def test_private_addresses_are_refused(url: str) -> None:
    with pytest.raises(SourceRefusedError) as caught:
        resolve_safe(url, allow_private=False)
    assert caught.value.status == "refused_private_address"


def test_public_address_is_allowed_and_pinned() -> None:
    assert resolve_safe("https://93.184.216.34/page", allow_private=False) == "93.184.216.34"
    assert resolve_safe("http://127.0.0.1:8/", allow_private=True) == "127.0.0.1"


def test_source_chunks_carry_citing_endnotes_and_url(tmp_path: Path, server: Server) -> None:
    article, pdf = server.url("/article.html"), server.url("/report.pdf")
    report = report_citing(
        {1: (article, None), 2: (None, 1), 3: (pdf, None), 4: (server.url("/missing"), None)}
    )
    settings = loopback(tmp_path, sources_retries=0)
    fetch_sources(report, settings)

    chunks = source_chunks(settings, max_chars=200)

    by_url: dict[str | None, list[str]] = {}
    for chunk in chunks:
        assert chunk.kind == "source"
        assert len(chunk.text) <= 200
        by_url.setdefault(chunk.url, []).append(chunk.text)
    assert list(by_url) == [article, pdf]
    article_chunks = [c for c in chunks if c.url == article]
    assert {(c.endnotes, c.section) for c in article_chunks} == {
        ((1, 2), "Source: Naloxone on every shelf")
    }
    joined = " ".join(by_url[article])
    assert "State health departments distributed 1.2 million free kits in 2022" in joined
    assert "Copyright 2023" not in joined
    pdf_chunks = [c for c in chunks if c.url == pdf]
    assert {(c.endnotes, c.section) for c in pdf_chunks} == {
        ((3,), "Source: Retention in treatment")
    }
    assert PDF_SENTENCE in " ".join(by_url[pdf])
    assert len({c.id for c in chunks}) == len(chunks)
    assert source_chunks(settings, max_chars=200) == chunks  # ids are stable


def test_source_chunks_are_capped_per_source(tmp_path: Path) -> None:
    folder = tmp_path / "import"
    folder.mkdir()
    paragraphs = [f"Paragraph {i} says that sample finding number {i} holds." for i in range(200)]
    (folder / "1.txt").write_text("\n\n".join(paragraphs))
    settings = Settings(data_dir=tmp_path / "data")
    import_sources_dir(report_citing({1: ("https://example.org/long", None)}), folder, settings)

    chunks = source_chunks(settings, max_chars=200, max_per_source=5)

    assert len(chunks) == 5
    assert chunks[0].text.startswith("Paragraph 0 says")
    assert all(len(c.text) <= 200 for c in chunks)


def test_import_by_endnote_number_and_by_manifest(tmp_path: Path) -> None:
    article, pdf = "https://example.org/naloxone", "https://example.org/retention.pdf"
    report = report_citing(
        {
            1: (article, None),
            2: (None, 1),
            3: (pdf, None),
            4: (None, None),
            5: ("https://example.org/x", None),
        }
    )
    folder = tmp_path / "downloads"
    folder.mkdir()
    (folder / "2.html").write_bytes(ARTICLE_HTML)  # Ibid. note: stands for note 1's URL
    (folder / "paper.pdf").write_bytes(PDF_BYTES)
    (folder / "4.txt").write_text("A note without a URL.")
    (folder / "manifest.json").write_text(
        json.dumps(
            [
                {"url": pdf, "file": "paper.pdf"},
                {"url": "https://example.org/x", "file": "../outside.pdf"},
                {"url": "https://elsewhere.org/", "file": "paper.pdf"},
            ]
        )
    )
    settings = Settings(data_dir=tmp_path / "data")

    result = import_sources_dir(report, folder, settings)

    assert rows_without_time(settings) == [
        ok_row(article, [1, 2], ARTICLE_HTML, "text/html", "Naloxone on every shelf"),
        ok_row(pdf, [3], PDF_BYTES, "application/pdf", "Retention in treatment"),
    ]
    assert result.requests_made == 0
    assert [(f.url, f.status) for f in result.failures] == [
        ("https://example.org/x", "error"),
        ("https://elsewhere.org/", "error"),
        ("4.txt", "error"),
    ]
    assert [c.endnotes for c in source_chunks(settings)][:1] == [(1, 2)]


def test_import_of_a_missing_folder_raises(tmp_path: Path) -> None:
    with pytest.raises(SourceFetchError, match="no folder of source files"):
        import_sources_dir(report_citing({}), tmp_path / "nope", Settings(data_dir=tmp_path))


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI for a test cert")
def test_https_to_a_pinned_address_verifies_the_host_name(tmp_path: Path) -> None:
    # Requests go to the resolved IP; TLS must still check the certificate against the name.
    key, cert = str(tmp_path / "key.pem"), str(tmp_path / "cert.pem")
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    command += ["-keyout", key, "-out", cert, "-subj", "/CN=localhost"]
    command += ["-addext", "subjectAltName=DNS:localhost"]
    subprocess.run(command, check=True, capture_output=True)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    trust = ssl.create_default_context(cafile=cert)
    settings = loopback(tmp_path, sources_retries=0)
    with serving(tls) as server, httpx.Client(verify=trust, trust_env=False) as client:
        port = server.base.rsplit(":", 1)[1]
        by_name = fetch_url(client, f"https://localhost:{port}/article.html", settings)
        by_ip = fetch_url(client, f"https://127.0.0.1:{port}/article.html", settings)

    assert (by_name.status, by_name.body) == ("ok", ARTICLE_HTML)
    assert server.hosts[0] == f"localhost:{port}"
    # The certificate names localhost, not 127.0.0.1: verification must refuse it.
    assert by_ip.status == "error"
    assert "CERTIFICATE_VERIFY_FAILED" in str(by_ip.error)


def test_broken_pdf_fails_its_own_row_only(tmp_path: Path, server: Server) -> None:
    server.routes["/broken.pdf"] = Route(
        body=b"%PDF-1.4\n" + b"\x00garbage" * 50, content_type="application/pdf"
    )
    report = report_citing(
        {1: (server.url("/broken.pdf"), None), 2: (server.url("/article.html"), None)}
    )

    result = fetch_sources(report, loopback(tmp_path, sources_retries=0))

    assert [(r.endnotes, r.status, r.text_path is None) for r in result.rows] == [
        ((1,), "error", True),
        ((2,), "ok", False),
    ]
    assert str(result.rows[0].error).startswith(("unreadable PDF", "cannot extract text"))
