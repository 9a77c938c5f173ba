"""Cleaning a question reads a bounded amount of text, whatever arrives."""

from __future__ import annotations

from opioid_assistant.answer.guard import RAW_CHARS_PER_LIMIT, sanitize_question

LIMIT = 2000


def test_markup_and_control_characters_go() -> None:
    cleaned, notice = sanitize_question(
        "What is <b>LEAD</b>?<script>alert(1)</script>\x00 <style>p{}</style>", LIMIT
    )
    assert (cleaned, notice) == ("What is LEAD ?", "")


def test_an_unclosed_script_keeps_the_text_after_it() -> None:
    assert sanitize_question("<script>What is LEAD?", LIMIT) == ("What is LEAD?", "")
    # Without a closing bracket it is not a tag at all, just text.
    assert sanitize_question("<script>x</script> a <script b", LIMIT) == ("a <script b", "")


def test_a_megabyte_of_unclosed_tags_reads_only_the_head_and_tail() -> None:
    # ~1 MB of "<script": the old regex ran for minutes on this. Only the head and tail of
    # the raw text (RAW_CHARS_PER_LIMIT times the limit) may be read, so the answer equals
    # the answer for that bounded text.
    hostile = "<script" * 150_000 + " What is LEAD?"
    half = RAW_CHARS_PER_LIMIT * LIMIT // 2
    bounded = f"{hostile[:half]} {hostile[-half:]}"
    cleaned, notice = sanitize_question(hostile, LIMIT)
    assert cleaned == sanitize_question(bounded, LIMIT)[0]
    assert cleaned.endswith("What is LEAD?") and len(cleaned) <= LIMIT
    assert notice.startswith("Your question was 1,050,014 characters, over the limit of 2,000")


def test_a_long_paste_keeps_its_last_question() -> None:
    context = "Some context sentence about the opioid crisis. " * 100  # 4,700 characters
    cleaned, notice = sanitize_question(context + "What does LEAD stand for?", LIMIT)
    assert cleaned.endswith(
        "Some context sentence about the opioid crisis. What does LEAD stand for?"
    )
    assert len(cleaned) <= LIMIT and cleaned.startswith("Some ")
    assert notice == (
        "Your question was 4,725 characters, over the limit of 2,000: the last question in it, "
        "with the context before it that fits, was used."
    )
    assert len(notice) <= 200
