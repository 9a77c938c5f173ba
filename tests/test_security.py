"""Issue 25, hardening, tried as an attacker and a careless operator would: real servers on
loopback, the real index, the page's own handlers. Each test names the item it holds."""

from __future__ import annotations

import gc
import json
import os
import socket
import threading
import time
import weakref
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers import free_port
from opioid_assistant.serve.feedback import read_feedback

PHARMACY = "How much did pharmacy chains pay in the opioid settlement?"
TOKEN = "s3cret-token"
LIMIT = 1 << 20
WRONG_TOKEN = "missing or wrong bearer token: send 'Authorization: Bearer TOKEN'"
NOT_UPLOADED = "Could not load that file: choose a conversation exported from this page."


@contextmanager
def served(assistant: Any, **kwargs: Any) -> Iterator[str]:
    """`opioid-assistant serve` on a free loopback port, for the block's duration."""
    from opioid_assistant.serve.server import serve

    port = free_port()
    server = serve(assistant, "127.0.0.1", port, block=False, **kwargs)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True


@pytest.fixture(scope="module")
def tokened(assistant: Any) -> Iterator[str]:
    """The page and the API with OA_API_TOKEN set and no --auth."""
    with served(assistant, api_token=TOKEN) as url:
        yield url


@pytest.fixture(scope="module")
def base(assistant: Any) -> Iterator[str]:
    """An open server (loopback, no token): what `opioid-assistant serve` starts."""
    with served(assistant) as url:
        yield url


def error(response: httpx.Response) -> str:
    """The message of an error in the API's shape (and check that it has that shape)."""
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    return str(body["error"]["message"])


def gradio_result(client: httpx.Client, event: httpx.Response) -> Any:
    """The data of a finished Gradio call (POST /gradio_api/call/chat, then its stream)."""
    assert event.status_code == 200, event.text
    url = f"/gradio_api/call/chat/{event.json()['event_id']}"
    with client.stream("GET", url, timeout=60) as stream:
        body = "".join(stream.iter_text())
    data = body.split("event: complete\ndata: ", 1)[1].split("\n", 1)[0]
    return json.loads(data)[0]


# Item 2: the token on every route.


def test_the_token_guards_gradio_api_uploads_and_the_page(tokened: str) -> None:
    call = httpx.post(f"{tokened}/gradio_api/call/chat", json={"data": [PHARMACY, None]})
    assert (call.status_code, error(call)) == (401, WRONG_TOKEN)
    files = {"files": ("c.json", b'{"format": "x"}', "application/json")}
    assert httpx.post(f"{tokened}/gradio_api/upload", files=files).status_code == 401
    join = {"data": [PHARMACY], "fn_index": 0, "session_hash": "abc"}
    assert httpx.post(f"{tokened}/gradio_api/queue/join", json=join).status_code == 401
    assert httpx.get(f"{tokened}/config").status_code == 401
    assert httpx.get(f"{tokened}/gradio_api/info").status_code == 401
    page = httpx.get(f"{tokened}/", headers={"Accept": "text/html"})
    assert (page.status_code, page.headers["location"]) == (303, "/signin")
    assert httpx.get(f"{tokened}/healthz").status_code == 200  # probes need no token


def test_api_clients_bring_the_token_as_a_bearer_header(tokened: str) -> None:
    from gradio_client import Client

    client = Client(f"{tokened}/", headers={"Authorization": f"Bearer {TOKEN}"}, verbose=False)
    answer = client.predict(PHARMACY, None, api_name="/chat")
    assert [c["number"] for c in answer["citations"]] == [59]
    ask = httpx.post(
        f"{tokened}/v1/ask",
        json={"question": PHARMACY},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=60,
    )
    assert [c["number"] for c in ask.json()["citations"]] == [59]


def test_a_browser_signs_in_once_and_the_page_never_holds_the_token(tokened: str) -> None:
    with httpx.Client(base_url=tokened, timeout=60) as browser:
        form = browser.get("/signin")
        assert form.status_code == 200 and 'type="password" name="token"' in form.text
        wrong = browser.post("/signin", data={"token": "not-it"})
        assert wrong.status_code == 401 and "That is not the token." in wrong.text
        assert "oa-session" not in browser.cookies
        signed = browser.post("/signin", data={"token": TOKEN})
        assert (signed.status_code, signed.headers["location"]) == (303, "/")
        assert "httponly" in signed.headers["set-cookie"].lower()
        assert "samesite=strict" in signed.headers["set-cookie"].lower()
        assert TOKEN not in browser.cookies["oa-session"]
        page = browser.get("/", headers={"Accept": "text/html"})
        config = browser.get("/config")
        assert (page.status_code, config.status_code) == (200, 200)
        assert TOKEN not in page.text and TOKEN not in config.text
        event = browser.post("/gradio_api/call/chat", json={"data": [PHARMACY, None]})
        assert [c["number"] for c in gradio_result(browser, event)["citations"]] == [59]
    forged = httpx.get(f"{tokened}/config", cookies={"oa-session": "9999999999.forged"})
    assert forged.status_code == 401


def test_a_session_is_bound_to_its_token_and_expires() -> None:
    from opioid_assistant.serve.access import SESSION_S, new_session, valid_session

    session = new_session(TOKEN, now=1_000_000)
    assert valid_session(session, TOKEN, now=1_000_000 + SESSION_S - 1)
    assert not valid_session(session, TOKEN, now=1_000_000 + SESSION_S + 1)
    assert not valid_session(session, "another-token", now=1_000_000)


# Item 3: "Load conversation" reads only uploaded files.


@pytest.fixture
def chat_ui(assistant: Any, tmp_path: Path) -> Any:
    """The page's handlers, with the feedback log and exports under this test's tmp_path."""
    from opioid_assistant.serve.chat import ChatUI

    ui = ChatUI(assistant)
    ui.feedback_file = tmp_path / "feedback.jsonl"
    ui.export_dir = tmp_path / "exports"
    return ui


def answered(chat_ui: Any) -> dict[str, Any]:
    """The session after one answered question."""
    return dict(list(chat_ui.respond(PHARMACY, None, None))[-1][3])


def upload_folder() -> Path:
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder())


def test_load_conversation_reads_only_what_was_uploaded(chat_ui: Any, tmp_path: Path) -> None:
    planted = Path(chat_ui.export_json(answered(chat_ui)))  # a real conversation file
    assert chat_ui.load_json(str(planted))[-1] == NOT_UPLOADED
    not_a_conversation = tmp_path / "secret.json"
    not_a_conversation.write_text('{"password": "x"}', encoding="utf-8")
    for name in (str(not_a_conversation), str(tmp_path / "missing.json"), "/etc/passwd"):
        assert chat_ui.load_json(name)[-1] == NOT_UPLOADED  # the same whether it exists or not
    link = upload_folder() / "link" / "conversation.json"
    link.parent.mkdir(parents=True)
    link.symlink_to(planted)
    assert chat_ui.load_json(str(link))[-1] == NOT_UPLOADED  # a link out is not an upload

    upload = upload_folder() / "9f3c" / "conversation.json"
    upload.parent.mkdir(parents=True)
    upload.write_bytes(planted.read_bytes())
    loaded = chat_ui.load_json(str(upload))
    assert loaded[-1] == "Loaded 1 answers; ask on to continue the conversation."
    assert not upload.exists() and not upload.parent.exists()  # deleted once read


# Item 4: one body limit for all routes.


def test_one_body_limit_on_every_route(base: str) -> None:
    over = f"request body over {LIMIT} bytes: send a shorter question or file"
    files = {"files": ("big.json", b"x" * (LIMIT + 1), "application/json")}
    upload = httpx.post(f"{base}/gradio_api/upload", files=files)
    assert (upload.status_code, error(upload)) == (413, over)
    assert list(upload_folder().rglob("big.json")) == []
    big = json.dumps({"data": ["x" * LIMIT, None]})
    call = httpx.post(
        f"{base}/gradio_api/call/chat", content=big, headers={"Content-Type": "application/json"}
    )
    assert (call.status_code, error(call)) == (413, over)

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(12):
            yield b"x" * 100_000

    join = httpx.post(f"{base}/gradio_api/queue/join", content=chunks())
    assert "content-length" not in join.request.headers
    assert (join.status_code, error(join)) == (413, over)
    small = httpx.post(f"{base}/gradio_api/upload", files={"files": ("c.json", b"{}")})
    assert small.status_code == 200  # what fits goes through


# Item 5: evaluation runs from the page.


@pytest.fixture
def small_set(tmp_path: Path) -> Path:
    evalset = Path(__file__).resolve().parents[1] / "eval" / "evalset.jsonl"
    rows = [json.loads(line) for line in evalset.read_text("utf-8").splitlines() if line.strip()]
    small = tmp_path / "small.jsonl"
    chosen = [r for r in rows if r["id"] in ("num-004", "num-008")]
    small.write_text("".join(json.dumps(r) + "\n" for r in chosen), encoding="utf-8")
    return small


def eval_ui(assistant: Any, runs: Path, small: Path, allow: bool = True) -> Any:
    from opioid_assistant.serve.chat import ChatUI
    from opioid_assistant.serve.eval_tab import EvalUI

    return EvalUI(assistant, ChatUI(assistant), runs, evalset=small, allow_runs=allow)


def test_a_page_open_to_the_network_starts_no_runs(
    assistant: Any, tmp_path: Path, small_set: Path
) -> None:
    from opioid_assistant.serve.server import page_may_run_evaluations

    off = eval_ui(assistant, tmp_path / "runs", small_set, allow=False)
    steps = [step[0] for step in off.run(None, "", None, 6)]
    assert steps == [
        "Runs are off on this page: it is open to the network without a token or login. "
        "Serve it with OA_API_TOKEN or --auth, or run `opioid-assistant eval` on the server."
    ]
    assert not (tmp_path / "runs").exists()
    assert page_may_run_evaluations("0.0.0.0", None, None) is False  # --no-auth
    assert page_may_run_evaluations("0.0.0.0", TOKEN, None) is True
    assert page_may_run_evaluations("0.0.0.0", None, ("u", "p")) is True
    assert page_may_run_evaluations("127.0.0.1", None, None) is True


def test_one_run_at_a_time_and_the_newest_runs_are_kept(
    assistant: Any, tmp_path: Path, small_set: Path
) -> None:
    runs = tmp_path / "runs"
    keep = assistant.settings.keep_eval_runs
    for i in range(keep):  # older runs, oldest first
        (runs / f"20200101T0000{i:02d}Z").mkdir(parents=True)
        os.utime(runs / f"20200101T0000{i:02d}Z", (1_000_000 + i, 1_000_000 + i))
    ui = eval_ui(assistant, runs, small_set)
    first = ui.run(None, "", None, 6)
    next(first)  # started: it holds the server's one run slot
    busy = [step[0] for step in ui.run(None, "", None, 6)]
    assert busy == ["An evaluation is already running on this server: wait for it to finish."]
    first.close()  # cancelled: the slot is free again
    done = list(ui.run(None, "", None, 6))
    assert done[-1][0].startswith("Run **")
    left = sorted(p.name for p in runs.iterdir())
    assert len(left) == keep
    assert "20200101T000000Z" not in left and "20200101T000001Z" in left


def test_only_one_assistant_for_another_k_is_kept(
    assistant: Any, tmp_path: Path, small_set: Path
) -> None:
    ui = eval_ui(assistant, tmp_path / "runs", small_set)
    three = weakref.ref(ui._assistant_for(3))
    four = ui._assistant_for(4)
    gc.collect()
    assert three() is None
    assert ui._assistant_for(4) is four and ui._assistant_for(6) is assistant


# Item 6: the login back-off.


def test_wrong_passwords_cost_a_doubling_wait(assistant: Any) -> None:
    with served(assistant, ui_auth=("reader", "pw")) as base:

        def login(password: str) -> httpx.Response:
            return httpx.post(f"{base}/login", data={"username": "reader", "password": password})

        statuses = [login(f"guess-{i}").status_code for i in range(8)]
        assert statuses == [400] * 6 + [429] * 2  # 5 free, the 6th costs 1 s
        blocked = login("pw")  # even the right password is not checked meanwhile
        assert (blocked.status_code, blocked.headers["retry-after"]) == (429, "1")
        assert error(blocked) == "too many wrong credentials from your address: try again in 1 s"
        time.sleep(1.2)
        assert login("guess-8").status_code == 400
        assert login("pw").headers["retry-after"] == "2"  # each failure doubles the wait
        time.sleep(2.2)
        assert login("pw").status_code == 200  # and a success forgets them
        assert [login(f"again-{i}").status_code for i in range(5)] == [400] * 5


def test_wrong_tokens_cost_the_same_wait_on_every_route(assistant: Any) -> None:
    with served(assistant, api_token=TOKEN, ui=False) as base:
        wrong = {"Authorization": "Bearer guess"}
        statuses = [httpx.get(f"{base}/v1/models", headers=wrong).status_code for _ in range(6)]
        assert statuses == [401] * 6
        right = httpx.get(f"{base}/v1/models", headers={"Authorization": f"Bearer {TOKEN}"})
        assert (right.status_code, right.headers["retry-after"]) == (429, "1")
        form = httpx.post(f"{base}/signin", data={"token": TOKEN})  # the form shares the wait
        assert form.status_code == 429
        assert "Too many wrong credentials from your address: try again in 1 s." in form.text
        assert httpx.get(f"{base}/healthz").status_code == 200  # no credentials, no wait


# Item 7: liveness under load.


class HeldAssistant:
    """The real assistant (our own interface) whose answers wait until `release` is set,
    counting how many are computed at once."""

    def __init__(self, real: Any) -> None:
        self.real, self.release = real, threading.Event()
        self.running = self.most = 0
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def ask(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            self.release.wait(120)
            return self.real.ask(*args, **kwargs)
        finally:
            with self._lock:
                self.running -= 1


def test_healthz_answers_while_every_answer_thread_is_busy(assistant: Any) -> None:
    held = HeldAssistant(assistant)
    threads = 4  # OA_ANSWER_THREADS's default
    with served(held, ui=False) as base:
        with ThreadPoolExecutor(48) as pool:
            asks = [
                pool.submit(httpx.post, f"{base}/v1/ask", json={"question": PHARMACY}, timeout=180)
                for _ in range(48)
            ]
            deadline = time.monotonic() + 60
            while held.running < threads and time.monotonic() < deadline:
                time.sleep(0.05)
            health = httpx.get(f"{base}/healthz", timeout=20)  # every answer thread is held
            assert (health.status_code, health.json()["status"]) == (200, "ok")
            assert held.running == threads  # and the probe did not need one of them
            held.release.set()
            assert [a.result().status_code for a in asks] == [200] * 48
        assert held.most == threads == assistant.settings.answer_threads  # 44 waited


def test_no_event_imports_pyplot_on_the_event_loop(index_settings: Any) -> None:
    """Gradio saves matplotlib's backend around every event; an unresolved backend made the
    first event import pyplot on the event loop while every probe waited."""
    import subprocess
    import sys

    code = (
        "import sys, matplotlib\n"
        "from opioid_assistant import Assistant\n"
        "from opioid_assistant.serve.server import create_server_app\n"
        "create_server_app(Assistant())\n"
        "print(matplotlib.get_backend(), 'matplotlib.pyplot' in sys.modules)\n"
    )
    env = {**os.environ, "OA_DATA_DIR": str(index_settings.data_dir)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.stdout.split() == ["agg", "False"], done.stderr


def test_an_idle_connection_outlives_clients_keep_alive(base: str) -> None:
    host, port = base.removeprefix("http://").split(":")
    request = f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(request)
        assert conn.recv(65536).startswith(b"HTTP/1.1 200 OK")
        time.sleep(6)  # past uvicorn's default keep-alive (5 s), which reset clients' reuse
        conn.sendall(request)
        assert conn.recv(65536).startswith(b"HTTP/1.1 200 OK")


# Item 8: errors in the documented shape, with the right status.


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status", "message"),
    [
        ("GET", "/v1/ask", None, {}, 405, "GET is not allowed on /v1/ask: use POST"),
        ("PUT", "/v1/chat/completions", b"{}", {}, 405,
         "PUT is not allowed on /v1/chat/completions: use POST"),
        ("GET", "/v1/nowhere", None, {}, 404, "no route /v1/nowhere: see /docs for the API"),
        ("POST", "/v1/ask", b'{"question": "q", "section": "\\ud800"}', {}, 400,
         "invalid Unicode in section: a lone surrogate is not text; send UTF-8"),
        ("POST", "/v1/ask",
         b'{"question": "and why?", "history": [{"role": "user", "content": "a \\ud800"}]}',
         {}, 400, "invalid Unicode in history.0.content: a lone surrogate is not text; send UTF-8"),
        ("POST", "/v1/chat/completions",
         b'{"messages": [{"role": "user", "content": "\\udfff?"}]}', {}, 400,
         "invalid Unicode in messages.0.content: a lone surrogate is not text; send UTF-8"),
        ("POST", "/v1/ask", b'{"question": "\xff\xfe"}', {}, 400,
         "the body is not UTF-8 (byte 14): send JSON encoded as UTF-8"),
        ("POST", "/v1/ask", b"[" * 5000 + b"]" * 5000, {}, 400,
         "the JSON nests deeper than 32 levels"),
        ("POST", "/v1/ask", b'{"question": ' + b"[" * 40 + b"]" * 40 + b"}", {}, 400,
         "the JSON nests deeper than 32 levels"),
        ("POST", "/v1/ask", b"{question", {}, 400,
         "the body is not valid JSON: Expecting property name enclosed in double quotes: "
         "line 1 column 2 (char 1)"),
        ("POST", "/v1/ask", b'{"question": "q"}', {"Content-Type": ""}, 415,
         "the Content-Type is none: send the body as JSON with the header 'Content-Type: "
         "application/json' (curl: -H 'Content-Type: application/json')"),
        ("POST", "/v1/ask", b'{"question": "q"}', {"Content-Type": "text/plain"}, 415,
         "the Content-Type is text/plain: send the body as JSON with the header "
         "'Content-Type: application/json' (curl: -H 'Content-Type: application/json')"),
    ],
)  # fmt: skip
def test_every_v1_failure_is_an_error_in_the_api_shape(
    base: str,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str],
    status: int,
    message: str,
) -> None:
    sent = {"Content-Type": "application/json", **headers}
    if not sent["Content-Type"]:
        del sent["Content-Type"]
    response = httpx.request(method, f"{base}{path}", content=body, headers=sent)
    assert (response.status_code, error(response)) == (status, message)
    if status == 405:
        assert response.headers["allow"] == "POST"
    ok = httpx.post(f"{base}/v1/ask", json={"question": PHARMACY}, timeout=60)
    assert [c["number"] for c in ok.json()["citations"]] == [59]  # and it keeps answering


# Item 10: bounded stores.


def test_a_feedback_comment_is_capped_and_feedback_is_rate_limited(chat_ui: Any) -> None:
    session = answered(chat_ui)
    status, _ = chat_ui.feedback(1, True, "x" * 5_000_000, session, "10.0.0.1")
    assert status == (
        "Thanks: your feedback (up) and your comment were saved (the comment was cut to 2,000 "
        "characters)."
    )
    assert len(read_feedback(chat_ui.feedback_file)[0]["comment"]) == 2000
    for _ in range(9):
        chat_ui.feedback(1, False, "again", session, "10.0.0.1")
    eleventh = chat_ui.feedback(1, False, "again", session, "10.0.0.1")
    assert eleventh == (
        "Feedback was not saved: at most 10 a minute. Try again shortly.",
        "again",
    )
    assert chat_ui.feedback(1, True, "", session, "10.0.0.2")[0].startswith("Thanks")
    assert len(read_feedback(chat_ui.feedback_file)) == 11


def test_exports_are_written_only_when_asked_and_the_newest_are_kept(chat_ui: Any) -> None:
    session = answered(chat_ui)
    assert not chat_ui.export_dir.exists()  # an answer writes nothing
    keep = chat_ui.keep_exports
    for i in range(keep + 1):
        path = Path(chat_ui.export({**session, "id": f"s{i:03d}"}))
        os.utime(path, (1_000_000 + i, 1_000_000 + i))
    names = sorted(p.name for p in chat_ui.export_dir.iterdir())
    assert len(names) == keep and "conversation-s000.md" not in names
    assert "conversation-s001.md" in names


# Items 2, 3 and 10 in a browser: sign in with the token, export on click, load it back.


@pytest.mark.browser
def test_a_browser_signs_in_exports_on_click_and_loads_the_export_back(
    index_settings: Any, tmp_path: Path
) -> None:
    import shutil

    from helpers import headless_chromium
    from opioid_assistant import Assistant

    data = tmp_path / "data"
    shutil.copytree(index_settings.data_dir / "chroma", data / "chroma")
    browsed = Assistant(settings=index_settings.model_copy(update={"data_dir": data}))
    exports = data / "exports"
    with served(browsed, api_token=TOKEN) as base, headless_chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        page.goto(f"{base}/", wait_until="load")
        assert page.url == f"{base}/signin"
        page.fill('input[name="token"]', TOKEN)
        page.click('button[type="submit"]')
        page.wait_for_url(f"{base}/")
        assert TOKEN not in page.content()
        box = page.locator("#oa-question textarea")
        box.wait_for(timeout=60_000)
        box.fill(PHARMACY)
        box.press("Enter")
        page.locator('[data-testid="bot"] a.cite').first.wait_for(timeout=60_000)
        page.locator('[data-testid="bot"] .oa-answer:not(.oa-streaming)').wait_for(timeout=60_000)
        assert not exports.exists()  # answering wrote no export
        # Feedback goes through the signed-in page's queue, as the answers do.
        page.get_by_role("button", name="Helpful", exact=True).click()
        thanks = page.locator(".oa-feedback .oa-fb-status")
        thanks.get_by_text("Thanks: your feedback (up) was saved.").wait_for(timeout=30_000)
        assert [r["rating"] for r in read_feedback(data / "feedback.jsonl")] == ["up"]
        with page.expect_download(timeout=60_000) as markdown:
            page.locator("#oa-export").click()
        saved = tmp_path / "conversation.md"
        markdown.value.save_as(saved)
        assert f"## Q: {PHARMACY}" in saved.read_text(encoding="utf-8")
        with page.expect_download(timeout=60_000) as conversation:
            page.locator("#oa-export-json").click()
        exported = tmp_path / "conversation.json"
        conversation.value.save_as(exported)
        assert sorted(p.suffix for p in exports.iterdir()) == [".json", ".md"]
        page.locator("#oa-clear").click()
        with page.expect_file_chooser(timeout=30_000) as chooser:
            page.locator("#oa-import").click()
        chooser.value.set_files(str(exported))
        status = page.locator("#oa-feedback-status")
        status.get_by_text("Loaded 1 answers").wait_for(timeout=60_000)
        assert page.locator('[data-testid="bot"] a.cite').first.inner_text() == "[59]"
        assert list(upload_folder().rglob("conversation.json")) == []  # deleted once read
