"""The chat UI's handlers, feedback log, launch guard and /chat API (real index, real HTTP)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers import free_port
from opioid_assistant import Settings
from opioid_assistant.serve.feedback import append_feedback, current_feedback, read_feedback
from opioid_assistant.serve.formatting import render_answer, render_question
from opioid_assistant.types import Answer, Citation

PHARMACY = "How much did pharmacy chains pay in the opioid settlement?"
WORLD_CUP = "Who won the World Cup in 2022?"
REUTERS = "https://www.reuters.com/"


@pytest.fixture(scope="module")
def assistant(index_settings: Settings) -> Any:
    """An extractive Assistant over the session's index of the bundled report."""
    from opioid_assistant import Assistant

    return Assistant(settings=index_settings)


@pytest.fixture(scope="module")
def chat_ui(assistant: Any) -> Any:
    from opioid_assistant.serve.chat import ChatUI

    return ChatUI(assistant)


def run_turn(chat_ui: Any, question: str, chat: Any = None, session: Any = None) -> tuple:
    """Drive `respond` to the end; return its last output and how many updates it streamed."""
    outputs = list(chat_ui.respond(question, chat, session))
    return outputs[-1], len(outputs)


def test_answer_links_citation_59_to_reuters_and_lists_sources(chat_ui: Any) -> None:
    import gradio as gr

    outputs = list(chat_ui.respond(PHARMACY, None, None))
    assert len(outputs) > 3  # the answer streamed in pieces before the final replacement
    # The box is cleared when the question is taken, then left alone: what the reader types
    # while the answer streams is not wiped by a later update.
    assert [box for _, box, _, _ in outputs] == [""] + [gr.skip()] * (len(outputs) - 1)
    chat, _, evidence, session = outputs[-1]
    assert [m["role"] for m in chat] == ["user", "assistant"]
    answer_html = chat[1]["content"]
    links = re.findall(r'<a class="cite" data-endnote="(\d+)" href="([^"]+)"', answer_html)
    assert links == [("59", "#endnote-59")]  # the page opens the endnote in place
    # The Sources entry prints the endnote with its URL once, as a link.
    (source,) = re.findall(r"<li data-endnote=\"59\">(.*?)</li>", answer_html)
    assert source.count(REUTERS) == 2  # the link's href and its text
    assert re.search(
        rf'available at <a class="oa-source-url" href="{REUTERS}[^"]+" target="_blank" '
        rf'rel="noopener noreferrer">{REUTERS}[^<]+</a>',
        source,
    )
    assert 'title="Brendan Pierson, “CVS, Walmart, Walgreens' in answer_html
    assert '<p class="oa-sources-title">Sources</p>' in answer_html
    assert "oa-abstained" not in answer_html
    # The evidence panel anchors endnote 59 on the highlighted sentence.
    assert re.search(
        r'id="endnote-59"></span><mark class="oa-cited" data-endnotes="59">'
        r"An additional settlement of \$13\.8 billion with pharmacy chains followed\.</mark>",
        evidence,
    )
    turn = session["turns"][0]
    assert [c["number"] for c in turn["citations"]] == [59]
    assert turn["index"] == 1
    text = Path(chat_ui.export(session)).read_text(encoding="utf-8")  # written when asked
    assert f"## Q: {PHARMACY}" in text
    assert "- [59] Brendan Pierson" in text and f"available at {REUTERS}" in text
    assert text.count(REUTERS) == 1  # each URL once


def test_follow_up_uses_history_and_cites_58(chat_ui: Any) -> None:
    (chat, _, _, session), _ = run_turn(chat_ui, PHARMACY)
    (chat, _, _, session), _ = run_turn(
        chat_ui, "And what did the distributors pay?", chat, session
    )
    assert [m["role"] for m in chat] == ["user", "assistant"] * 2
    assert [c["number"] for c in session["turns"][1]["citations"]] == [58]
    assert "$26 billion" in chat[3]["content"]
    assert Path(chat_ui.export(session)).read_text(encoding="utf-8").count("## Q: ") == 2


def test_abstained_answer_is_labelled(chat_ui: Any) -> None:
    (chat, _, evidence, session), _ = run_turn(chat_ui, WORLD_CUP)
    html = chat[-1]["content"]
    assert html.startswith(
        '<div class="oa-answer oa-abstained"><p class="oa-label">Not in the report:'
    )
    assert "The report does not mention World Cup. Its sections are “Key takeaways”;" in html
    assert 'class="cite"' not in html and "Sources" not in html
    assert session["turns"][0]["abstained"] is True
    assert "No passage of the report answers this" in evidence


def test_an_empty_question_adds_nothing_to_the_chat(chat_ui: Any) -> None:
    earlier = [{"role": "user", "content": render_question(PHARMACY)}]
    outputs = list(chat_ui.respond("   ", earlier, None))
    assert len(outputs) == 1  # the page shows a hint (gr.Info) instead of a message
    chat, box, evidence, session = outputs[0]
    assert (chat, box) == (earlier, "")
    for skipped in (evidence, session):
        assert skipped == {"__type__": "update"}


def test_every_history_shape_normalizes_to_the_same_turns() -> None:
    from opioid_assistant.answer.turn import normalize_history
    from opioid_assistant.errors import InvalidQuestionError

    turns = [
        {"role": "user", "content": PHARMACY},
        {"role": "assistant", "content": "They paid $13.8 billion [59]."},
    ]
    gradio = [
        {"role": "user", "content": [{"type": "text", "text": PHARMACY}]},
        {"role": "system", "content": "ignored"},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "They paid $13.8 billion [59]."}],
        },
        {"role": "user", "content": "  "},
    ]
    recorded = [{"index": 1, "question": PHARMACY, "answer": "They paid $13.8 billion [59]."}]
    assert normalize_history(turns) == turns
    assert normalize_history(gradio) == turns
    assert normalize_history(recorded) == turns  # the chat page's session turns
    assert normalize_history(json.dumps(turns)) == turns  # the /chat API's JSON string
    assert normalize_history("") == normalize_history(None) == []
    with pytest.raises(InvalidQuestionError, match="history is not valid JSON"):
        normalize_history("[{")
    with pytest.raises(InvalidQuestionError, match="history must be a list"):
        normalize_history('{"role": "user"}')


def test_chat_api_says_what_is_wrong_with_a_history(chat_ui: Any) -> None:
    import gradio as gr

    with pytest.raises(gr.Error, match="history must be a list of"):
        chat_ui.chat_api(PHARMACY, '"just text"')
    result = chat_ui.chat_api(PHARMACY, None)
    assert [c["number"] for c in result["citations"]] == [59]


def test_user_text_is_escaped() -> None:
    assert render_question('<img src=x onerror="alert(1)"> & **b**') == (
        '<div class="oa-question"><p>&lt;img src=x onerror=&quot;alert(1)&quot;&gt; '
        "&amp; **b**</p></div>"
    )
    answer = Answer(
        text="<script>x</script> says [3].",
        citations=(Citation(3, 'A "quoted" <source>', "javascript:alert(1)"),),
        evidence=(),
        abstained=False,
    )
    html = render_answer(answer)
    assert "<script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert "javascript:" not in html
    assert 'href="#endnote-3" title="A &quot;quoted&quot; &lt;source&gt;">[3]</a>' in html


def test_feedback_is_logged_for_the_rated_answer(chat_ui: Any) -> None:
    (_, _, _, session), _ = run_turn(chat_ui, PHARMACY)
    before = len(read_feedback(chat_ui.feedback_file))
    status, comment = chat_ui.feedback(1, False, "  wanted the year too ", session)
    assert (status, comment) == (
        "Thanks: your feedback (down) and your comment were saved.",
        "wanted the year too",
    )
    records = read_feedback(chat_ui.feedback_file)
    assert len(records) == before + 1
    record = records[-1]
    assert record["rating"] == "down"
    assert record["comment"] == "wanted the year too"
    assert record["question"] == PHARMACY
    assert record["citations"][0]["number"] == 59
    assert record["backend"] == "extractive"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", record["timestamp"])
    # A thumbs on a non-answer message logs nothing.
    assert chat_ui.feedback(0, True, "", session)[0].startswith("Feedback can only")
    assert len(read_feedback(chat_ui.feedback_file)) == before + 1


def test_a_comment_after_the_thumbs_replaces_that_feedback(chat_ui: Any) -> None:
    (_, _, _, session), _ = run_turn(chat_ui, PHARMACY)
    log = chat_ui.feedback_file
    before = len(current_feedback(log))
    # The page's form: thumbs first, the comment saved after, as JSON through on_feedback.
    first = json.loads(chat_ui.on_feedback(json.dumps(sent(1, "up", "")), session))
    assert first == {
        "index": 1,
        "status": "Thanks: your feedback (up) was saved.",
        "saved": True,
        "comment": "",
    }
    second = json.loads(chat_ui.on_feedback(json.dumps(sent(1, "up", " Cite the year. ")), session))
    assert second == {
        "index": 1,
        "status": "Thanks: your feedback (up) and your comment were saved.",
        "saved": True,
        "comment": "Cite the year.",
    }
    lines = read_feedback(log)[-2:]
    assert lines[0]["id"] == lines[1]["id"] == f"{session['id']}:1"
    assert [(r["rating"], r["comment"]) for r in lines] == [("up", ""), ("up", "Cite the year.")]
    # The newest line of an id is that feedback: one record, with the comment.
    current = current_feedback(log)
    assert len(current) == before + 1
    assert (current[-1]["rating"], current[-1]["comment"]) == ("up", "Cite the year.")
    assert current[-1]["question"] == PHARMACY
    # What the page cannot have sent is refused without a line.
    refused = json.loads(chat_ui.on_feedback('{"index": "x"}', session))
    assert refused == {"index": -1, "status": "Feedback not understood.", "saved": False}
    assert len(read_feedback(log)) == before + 2


def sent(index: int, rating: str, comment: str) -> dict[str, Any]:
    return {"index": index, "rating": rating, "comment": comment}


def test_feedback_log_survives_32_concurrent_writers(tmp_path: Path) -> None:
    path = tmp_path / "fb" / "feedback.jsonl"
    long_comment = "x" * 5000  # well past PIPE_BUF, so a torn write would show

    def writer(w: int) -> None:
        for i in range(50):
            append_feedback(path, {"writer": w, "line": i, "comment": long_comment})

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1600
    records = [json.loads(line) for line in lines]
    assert sorted((r["writer"], r["line"]) for r in records) == [
        (w, i) for w in range(32) for i in range(50)
    ]


def test_launch_refuses_open_host_without_auth(assistant: Any) -> None:
    from opioid_assistant.serve.page import launch

    with pytest.raises(
        ValueError, match=r"refusing to serve the chat page on 0\.0\.0\.0 without auth"
    ):
        launch(assistant, host="0.0.0.0", port=free_port(), block=False)


@pytest.fixture(scope="module")
def served(assistant: Any) -> Iterator[str]:
    from opioid_assistant.serve.page import launch

    port = free_port()
    demo = launch(assistant, port=port, block=False)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


def test_chat_api_over_http(served: str) -> None:
    from gradio_client import Client

    client = Client(served, verbose=False)
    result = client.predict(PHARMACY, None, api_name="/chat")
    assert result["abstained"] is False
    assert [c["number"] for c in result["citations"]] == [59]
    assert result["citations"][0]["url"].startswith(REUTERS)
    assert "[59]" in result["answer"]
    history = json.dumps(
        [{"role": "user", "content": PHARMACY}, {"role": "assistant", "content": result["answer"]}]
    )
    follow = client.predict("And what did the distributors pay?", history, api_name="/chat")
    assert [c["number"] for c in follow["citations"]] == [58]
    refused = client.predict(WORLD_CUP, None, api_name="/chat")
    assert refused["abstained"] is True and refused["citations"] == []


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("::", False),
        ("example.org", False),
    ],
)
def test_is_loopback(host: str, expected: bool) -> None:
    from opioid_assistant.serve.hosts import is_loopback

    assert is_loopback(host) is expected


def uploaded(name: str, text: str) -> str:
    """A file where Gradio's upload route puts what a browser sends (a folder per upload)."""
    from gradio.utils import get_upload_folder

    folder = Path(get_upload_folder()) / "0123abcd"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return str(folder / name)


def test_json_export_loads_back_and_the_conversation_continues(chat_ui: Any) -> None:
    (chat, _, evidence, session), _ = run_turn(chat_ui, PHARMACY)
    path = Path(chat_ui.export_json(session))
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == "opioid-assistant-conversation"
    assert [c["number"] for c in data["turns"][0]["citations"]] == [59]

    upload = uploaded("conversation.json", path.read_text(encoding="utf-8"))
    loaded, _, loaded_evidence, new_session, status = chat_ui.load_json(upload)
    assert status == "Loaded 1 answers; ask on to continue the conversation."
    assert loaded == chat
    assert loaded_evidence == evidence
    assert new_session["id"] != session["id"]
    (chat, _, _, new_session), _ = run_turn(
        chat_ui, "And what did the distributors pay?", loaded, new_session
    )
    assert [c["number"] for c in new_session["turns"][1]["citations"]] == [58]


def test_a_loaded_file_cannot_put_markup_on_the_page(chat_ui: Any) -> None:
    (_, _, _, session), _ = run_turn(chat_ui, PHARMACY)
    data = json.loads(Path(chat_ui.export_json(session)).read_text(encoding="utf-8"))
    data["turns"][0]["question"] = "<script>alert(1)</script>"
    data["turns"][0]["text"] = "<img src=x onerror=alert(1)> [59]"
    chat, *_ = chat_ui.load_json(uploaded("hostile.json", json.dumps(data)))
    assert "<script>" not in chat[0]["content"] and "&lt;script&gt;" in chat[0]["content"]
    assert "<img" not in chat[1]["content"] and "&lt;img src=x" in chat[1]["content"]

    status = chat_ui.load_json(uploaded("broken.json", '{"format": "something else"}'))[-1]
    assert status == (
        'Could not load broken.json: the file is not a conversation export (no "format": '
        '"opioid-assistant-conversation")'
    )


def test_answer_shows_scope_follow_ups_and_share_link(chat_ui: Any) -> None:
    section = "Public health solutions"
    (chat, _, evidence, _), _ = run_turn(
        chat_ui, "What does the report recommend about naloxone?", None, None
    )
    html = chat[1]["content"]
    assert '<span class="oa-scope">Answered from: the whole report</span>' in html
    assert 2 <= html.count('<button type="button" class="oa-follow-up">') <= 4
    assert 'href="?q=What+does+the+report+recommend+about+naloxone%3F"' in html
    outputs = list(
        chat_ui.respond("What does the report recommend about naloxone?", None, None, section)
    )
    scoped_html, scoped_evidence = outputs[-1][0][1]["content"], outputs[-1][2]
    assert f'<span class="oa-scope">Answered from: {section}</span>' in scoped_html
    assert "section=Public+health+solutions" in scoped_html
    sections = re.findall(r'<p class="oa-section">([^<]+)', scoped_evidence)
    assert sections and all(s.startswith(section) for s in sections)
    assert re.search(r'<a class="oa-show" href="#s-\d+">Show in report</a>', evidence)
