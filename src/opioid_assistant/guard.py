"""Questions the assistant must not answer as asked: injected instructions and unsafe advice."""

from __future__ import annotations

import re
import unicodedata

INJECTION = re.compile(
    r"ignore (all |any |the |your )?(previous|prior|above|earlier)?\s*(instructions|rules|prompts?)"
    r"|disregard (the |your |all )?(instructions|rules|system)|system prompt|you are now|"
    r"pretend (you are|you're|to be)|jailbreak|developer mode|act as (an? )?(unfiltered|unrestricted)"
    r"|(ignore|forget|disregard) (the|this) (report|document|context)"
    r"|(reveal|print|show) (your|the|its) (hidden |full )?(instructions|system prompt|prompt|api keys?)"
    r"|write (me )?(an? )?(persuasive |short )?(op-ed|essay|poem|story|song|tweet)"
    r"|(skip|ignore|bypass) (the )?(report|sources|citations)|evaluation mode"
    r"|(reply|respond|answer) (only )?with (the|that|this) (exact )?(string|text|word|phrase)",
    re.IGNORECASE,
)
DRUGS = r"(fentanyl|heroin|opioids?|oxy\w*|pills|drugs|meth\w*|carfentanil|xylazine|morphine)"
UNSAFE = re.compile(
    r"\b(doses?|dosage|dosing|milligrams?|mg|micrograms?|mcg|"
    r"how much (\w+ ){1,3}(should|can|could|do) i (safely )?(take|use|inject|snort|smoke|give)|"
    r"how (do|can|to|would) (i |you |one )?(make|cook|synthesi[sz]e|press|cut|inject|snort|smoke)|"
    rf"(buy|get|obtain|order|find|source) (some |cheap )?{DRUGS} (online|without)|"
    rf"where (can|do|could) (i|you) (buy|get|find|order) {DRUGS}|get high|recreational(ly)?|"
    r"synthesis (recipe|route|instructions)|recipes?|make my own|(contact|buy|order|purchase) "
    r"\w* ?(precursors?|chemicals)|suppliers? should i|get \w+ across the border)\b",
    re.IGNORECASE,
)

# Asking for oneself ("can I", "my", "the best way"), not about what the report describes ...
FOR_ONESELF = re.compile(
    r"\b(i|me|my|we|us|our)\b|\b(best|easiest|safest|quickest|cheapest) (way|route|method)",
    re.IGNORECASE,
)
# ... how to move or hide drugs or precursors, or slip past detection.
TRAFFICKING = re.compile(
    rf"\b(mail|ship|send|post|smuggl\w*|traffic\w*|hide|conceal|sneak|transport|move|import|"
    rf"bring|carry|package)\b.{{0,40}}\b({DRUGS}|precursors?|chemicals|powder|package)|"
    r"\b(without|avoid|evad\w*|bypass\w*|get past|beat|fool|trick|doesn'?t|don'?t|won'?t|not)\b"
    r".{0,40}\b(flag\w*|detect\w*|caught|notic\w*|scann\w*|seiz\w*|intercept\w*|trac\w*)",
    re.IGNORECASE,
)


def refusal_reason(question: str) -> str | None:
    """'injection' or 'unsafe' when the question must be refused, else None."""
    if INJECTION.search(question):
        return "injection"
    if UNSAFE.search(question):
        return "unsafe"
    if FOR_ONESELF.search(question) and TRAFFICKING.search(question):
        return "unsafe"
    return None


def sanitize_question(question: str, max_chars: int) -> tuple[str, str]:
    """Strip control characters and bound the length.

    Returns:
        The cleaned question and a notice for the reader ('' when nothing was changed).
    """
    cleaned = "".join(
        ch if ch in "\n\t" or unicodedata.category(ch)[0] != "C" else " " for ch in question
    )
    cleaned = re.sub(r"\s+", " ", cleaned).strip()
    notice = ""
    if len(cleaned) > max_chars:
        notice = (
            f"Your question was {len(cleaned):,} characters; only the first {max_chars:,} "
            "were used. Ask a shorter question for a precise answer."
        )
        cleaned = cleaned[:max_chars]
    return cleaned, notice
