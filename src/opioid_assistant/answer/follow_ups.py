"""Suggested follow-up questions, drawn by rule (English, the report's structure) from the
report around an answer's evidence, never by a model: a figure in a sentence next to the
quoted ones gives "How many people died ...?", the nearby headings (side boxes, sibling
sub-sections, other sections) give questions about those parts. `checked_follow_ups` keeps
only suggestions the assistant answers with a citation: a click never meets "not in the report".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from itertools import zip_longest

from opioid_assistant.errors import AssistantError
from opioid_assistant.text import FUNCTION_WORDS, tokenize
from opioid_assistant.types import Answer, Heading, Report

NEIGHBOURS = 3  # a sentence this many places from an anchor is "next to" the evidence
MAX_FIGURE_QUESTIONS = 3
MAX_WORDS = 20  # a longer suggestion is a paragraph, not something to click
QUOTED_MIN_COVERAGE = 0.75  # share of a sentence's words an answer repeats when it quotes it
SAME_QUESTION = 0.7  # token overlap (Jaccard) above which a suggestion restates the question
GERUND_MIN_ZIPF = 2.5  # an "-ing" form this common in English marks the word as a verb

WHY_AUXILIARIES = frozenset("is are was were".split())
AUXILIARIES = WHY_AUXILIARIES | frozenset(
    "can could should must will would may might has have".split()
)
DETERMINERS = frozenset("the a an this that these those its their our".split())
CATENATIVES = frozenset("continue keep stop start begin resume avoid quit".split())  # + "-ing"
# Headings that name a part of the document rather than a topic.
DOCUMENT_PARTS = frozenset(
    "key takeaways introduction summary conclusion conclusions overview executive background "
    "and".split()
)
# Sentence openers that only link to the sentence before; a question drops them.
CONNECTIVES = frozenset(
    "moreover additionally however indeed meanwhile furthermore specifically currently today "
    "thus instead likewise similarly also still yet and but so overall".split()
)
CONNECTIVE_PHRASES = ("for example", "for instance", "in fact", "in addition", "as a result")
# Words that point back at an earlier sentence: a question holding one makes no sense alone.
ANAPHORS = re.compile(r"\b(?:this|these|those|such)\b", re.IGNORECASE)
QUALIFIER = r"(?:(?:more than|less than|fewer than|nearly|almost|about|around|over|only|roughly|approximately|an estimated|at least|some)\s+)*"
NUMBER = r"\d[\d,]*(?:\.\d+)?"
SCALE = r"(?:\s+(?:thousand|million|billion|trillion))?"
COUNT_SUBJECT = re.compile(rf"^{QUALIFIER}(?P<n>{NUMBER}){SCALE}\s+(?P<rest>.+)$", re.IGNORECASE)
PERCENT_OF = re.compile(rf"(?i)(?:^|\bthat\s+){QUALIFIER}{NUMBER}\s+percent\s+of\s+(?P<rest>.+)$")
MONEY = rf"\${NUMBER}{SCALE}"
MONEY_MODIFIER = re.compile(rf"(?i)\b(?:an?|the)\s+{QUALIFIER}{MONEY}\s+(?P<np>[a-z].*)$")
RATIO = re.compile(rf"^{NUMBER}\s+in\s+{NUMBER}\s+(?P<rest>.+)$")
PERFECT_MONEY = re.compile(
    rf"(?i)^(?P<subject>.+?)\s+(?P<aux>has|have|had)\s+(?P<verb>[a-z]+)\s+{QUALIFIER}{MONEY}\s+(?P<rest>.+)$"
)
# Where a too-long question may be cut: before a trailing phrase these words open.
TRIM_BEFORE = frozenset(
    "in during between within at from for on across through to or and with by after before since due".split()
)
MONEY_OF = re.compile(rf"^(?P<head>[^$]+?)\s+of\s+{QUALIFIER}{MONEY}(?P<tail>.*)$", re.IGNORECASE)
# A leading adverbial with a date ("In 2021,", "Since 1999,") moves to the question's end.
TIME_LEAD = re.compile(
    r"(?i)^(?P<lead>(?:in|since|during|between|from|by|before|after|for)\s+[^,]{0,25}?\b(?:1[89]|20)\d\d\b[^,]{0,10}),\s+"
)
OTHER_LEAD = re.compile(
    r"(?i)^(?:according to|pursuant to|through|despite|under|with)\s[^,]{1,80},\s+"
)
# A clause ends at a comma before a space (not "100,000"), a dash or colon, or a full stop
# that does not close an initialism ("U.S.").
CLAUSE_END = re.compile(
    r"\s*(?:,[”\"’]?\s|[;:—–]|(?<![A-Z])\.(?:\s|$)|\s(?:which|while|whereas)\s)"
)
PARENTHESIS = re.compile(r"\s*\([^)]*\)")
NP_STOP = frozenset("to that which who for in on by from at as than when where whereas".split())
YEAR = re.compile(r"^(?:1[89]|20)\d\d$")


def candidate_follow_ups(report: Report, answer: Answer, limit: int = 6) -> list[str]:
    """Up to `limit` follow-up questions for an answer, best first (pure, no model): questions
    about figures next to the evidence alternate with ones about nearby headings, and none
    restates the question. An abstention gets questions about the heading it names as the
    closest part of the report, or none (a refusal, or one listing every section)."""
    if answer.abstained:
        named = _named_headings(report, answer.text)
        if len(named) != 1:
            return []
        home = named[0]
        span = range(report.headings[home].first, report.headings[home].last)
        headings = [heading_question(report, report.headings[home])]
        headings += _heading_questions(report, span)
        return _finish(headings, [], answer.question, limit)
    anchors = anchor_sentences(report, answer)
    if not anchors:
        return []
    figures = _figure_questions(report, anchors, answer.text)
    return _finish(_heading_questions(report, anchors), figures, answer.question, limit)


def checked_follow_ups(
    candidates: Iterable[str], answer: Answer, ask: Callable[[str], Answer], want: int = 4
) -> tuple[str, ...]:
    """Keep, in order, the candidates `ask` (e.g. `assistant.ask`) answers, at most `want`.

    A suggestion is kept when asking it gives a non-abstained answer with a citation, whose
    text differs from `answer.text` and from the answers of the suggestions already kept
    (two suggestions leading to one answer are one suggestion).
    """
    kept: list[str] = []
    seen = {answer.text}
    for question in candidates:
        if len(kept) >= want:
            break
        try:
            reply = ask(question)
        except AssistantError:  # a suggestion that cannot be asked is no suggestion
            continue
        if reply.abstained or not reply.citations or reply.text in seen:
            continue
        kept.append(question)
        seen.add(reply.text)
    return tuple(kept)


def anchor_sentences(report: Report, answer: Answer) -> list[int]:
    """Indices in `report.sentences` of the sentences an answer quotes (most of their words),
    or failing those (an answer from endnotes or sources) of those carrying its cited notes."""
    index = {(s.section, s.text): i for i, s in reversed(list(enumerate(report.sentences)))}
    by_text = {s.text: i for i, s in reversed(list(enumerate(report.sentences)))}
    said = set(tokenize(answer.text))
    anchors: set[int] = set()
    for evidence in answer.evidence:
        if evidence.kind != "report":
            continue
        for sentence in evidence.sentences:
            words = set(tokenize(sentence))
            if words and len(words & said) >= QUOTED_MIN_COVERAGE * len(words):
                found = index.get((evidence.section, sentence), by_text.get(sentence))
                if found is not None:
                    anchors.add(found)
    if not anchors:
        cited = {c.number for c in answer.citations}
        anchors = {i for i, s in enumerate(report.sentences) if cited & set(s.endnotes)}
    return sorted(anchors)


def heading_question(report: Report, heading: Heading) -> str:
    """A question about the part of the report under `heading`: a clause ('Harm reduction is
    critical ...') is inverted ('Why is harm reduction ...?'), an imperative ('Invest in ...')
    becomes a gerund ('... about investing in ...'), a title that is neither is quoted."""
    words = heading.text.split()
    lower = [w.lower().strip(",") for w in words]
    if set(lower) <= DOCUMENT_PARTS:
        return f"What does the report say in its {heading.text.lower()}?"
    aux = next((i for i, w in enumerate(lower) if i > 0 and w in AUXILIARIES), None)
    if aux is not None:
        wh = "Why" if lower[aux] in WHY_AUXILIARIES else "How"
        subject = _common_case(report, " ".join(words[:aux]))
        return f"{wh} {lower[aux]} {subject} {' '.join(words[aux + 1 :])}?"
    if lower[0] in CATENATIVES and len(lower) > 1 and lower[1].endswith("ing"):
        words, lower = words[1:], lower[1:]  # "Continue partnering with X": about partnering
    if lower[0] in DETERMINERS or lower[0].endswith("ing"):
        return f"What does the report say about {_common_case(report, ' '.join(words))}?"
    if _is_verb(report.text, lower[0]):
        return f"What does the report say about {_gerund_phrase(report, words)}?"
    # A short title without glue words ("Border security solutions") names a topic.
    if len(lower) <= 6 and not (set(lower) - {"and"}) & (FUNCTION_WORDS | NP_STOP):
        return f"What does the report say about {_common_case(report, heading.text)}?"
    return f"What does the report say about “{heading.text}”?"


def figure_question(text: str) -> str | None:
    """A question about what a sentence's figure measures, or None when no rule fits: 'In
    2022 alone, more than 100,000 people died from ...' -> 'How many people died from ... in
    2022 alone?' (the shortest of the count, money and share rules that fit)."""
    clause, when = _main_clause(text)
    questions = []
    for rule in (_count_question, _money_question, _percent_question):
        asked = _trim(rule(clause) or "")
        if not asked:
            continue
        question = f"{asked} {when}".strip().rstrip(" .,")
        question += "”?" if question.count("“") > question.count("”") else "?"
        if not ANAPHORS.search(question) and len(question.split()) <= MAX_WORDS:
            questions.append(question)
    return min(questions, key=len) if questions else None


def gerund(verb: str) -> str:
    """The '-ing' form of an English verb: 'invest' -> 'investing', 'create' -> 'creating'."""
    if verb.endswith("ie"):
        return verb[:-2] + "ying"
    if verb.endswith("e") and not verb.endswith(("ee", "oe", "ye")):
        return verb[:-1] + "ing"
    if re.fullmatch(r"[^aeiou]*[aeiou][^aeiouwxy]", verb):  # one syllable ending vowel-consonant
        return verb + verb[-1] + "ing"
    return verb + "ing"


def _finish(headings: list[str], figures: list[str], question: str, limit: int) -> list[str]:
    """Alternate figures and headings, drop repeats and restatements of the question."""
    asked = set(tokenize(question))
    merged = [q for pair in zip_longest(figures, headings) for q in pair if q]
    out: list[str] = []
    for candidate in merged:
        words = set(tokenize(candidate))
        overlap = len(words & asked) / len(words | asked) if words | asked else 1.0
        if candidate not in out and overlap < SAME_QUESTION:
            out.append(candidate)
    return out[:limit]


def _named_headings(report: Report, text: str) -> list[int]:
    """Indices of the headings an abstention names as “...”."""
    named = set(re.findall(r"“([^”]+)”", text))
    return [i for i, h in enumerate(report.headings) if h.text in named]


def _top(section: str) -> str:
    return section.split(" > ")[0]


def _heading_questions(report: Report, anchors: Sequence[int]) -> list[str]:
    """Questions about the headings near the anchors: the anchors' own section's side boxes
    and sub-sections first (nearest first), then the section its path names, then the other
    top-level sections."""
    near = set(anchors)
    tops = {_top(report.sentences[i].section) for i in anchors}
    named = {report.sentences[i].section.split(" > ")[-1] for i in anchors}
    ranked: list[tuple[int, int, int]] = []
    for position, heading in enumerate(report.headings):
        if near & set(range(heading.first, heading.last)):
            continue  # the answer already draws on this part
        rank = 0 if _top(heading.section) in tops else 1 if heading.text in named else 2
        if rank == 2 and heading.level > 1:
            continue  # another section's sub-sections are too far
        distance = min(abs(heading.first - a) for a in anchors)
        ranked.append((rank, distance, position))
    return [heading_question(report, report.headings[p]) for _, _, p in sorted(ranked)]


def _figure_questions(report: Report, anchors: Sequence[int], said: str) -> list[str]:
    """Questions about the figures in the sentences next to the anchors, nearest first."""
    tops = {_top(report.sentences[i].section) for i in anchors}
    near: dict[int, int] = {}
    for anchor in anchors:
        for step in range(1, NEIGHBOURS + 1):
            for i in (anchor + step, anchor - step):  # the next sentence before the previous
                if 0 <= i < len(report.sentences) and i not in anchors:
                    near[i] = min(near.get(i, step), step)
    questions: list[str] = []
    for i in sorted(near, key=lambda i: (near[i], i < min(anchors), i)):
        sentence = report.sentences[i]
        if _top(sentence.section) not in tops or sentence.text in said:
            continue
        question = figure_question(sentence.text)
        if question and question not in questions:
            questions.append(question)
    return questions[:MAX_FIGURE_QUESTIONS]


def _main_clause(text: str) -> tuple[str, str]:
    """The sentence's first clause without its openers, and a dated opener to append."""
    text = text.strip()
    when = ""
    for _ in range(3):  # openers stack: "Moreover, in 2021, ..."
        lowered = text.lower()
        first, _, rest = text.partition(", ")
        match = TIME_LEAD.match(text)
        if match:
            lead = match.group("lead")
            when = lead[0].lower() + lead[1:]
            text = text[match.end() :]
        elif rest and (first.lower() in CONNECTIVES or lowered.startswith(CONNECTIVE_PHRASES)):
            text = rest
        elif other := OTHER_LEAD.match(text):
            text = text[other.end() :]
        else:
            break
    text = PARENTHESIS.sub("", text)
    end = CLAUSE_END.search(text)
    return (text[: end.start()] if end else text), when


def _count_question(clause: str) -> str | None:
    """'More than 234,000 people died ...' -> 'How many people died ...'."""
    match = COUNT_SUBJECT.match(clause)
    if not match or YEAR.match(match.group("n")):
        return None
    rest = match.group("rest")
    first = rest.split()[0].lower()
    # A verb or glue word next ("83,000 involved"), or a bare count ("63 being reported"),
    # leaves nothing that the number counts.
    if first in NP_STOP | FUNCTION_WORDS | AUXILIARIES | {"percent"} or first.endswith("ed"):
        return None
    return None if len(rest.split()) < 3 else f"How many {rest}"


def _money_question(clause: str) -> str | None:
    """'... agreed to a $26 billion national settlement with X to ...' -> 'How much was the
    national settlement with X'; 'An additional settlement of $13.8 billion with X followed'
    -> 'How much was the additional settlement with X'."""
    match = PERFECT_MONEY.match(clause)
    if match:
        subject = match.group("subject")
        if subject.split()[0].lower() in DETERMINERS:
            subject = subject[0].lower() + subject[1:]
        verb, rest = match.group("verb"), match.group("rest")
        return f"How much {match.group('aux').lower()} {subject} {verb} {rest}"
    match = MONEY_MODIFIER.search(clause)
    if match:
        np = _noun_phrase(match.group("np").split())
        return f"How much was the {np}" if np else None
    match = MONEY_OF.match(clause)
    if match:
        head = match.group("head").split()
        if head[0].lower() in {"a", "an", "the"}:
            head = head[1:]
        if not head or any(w.lower() in NP_STOP | AUXILIARIES for w in head):
            return None  # the figure is not the subject's
        tail = [w for w in _noun_phrase(match.group("tail").split()).split() if w]
        return f"How much was the {' '.join([head[0].lower(), *head[1:], *tail])}"
    return None


def _percent_question(clause: str) -> str | None:
    """'... that only about 28 percent of people get ...' -> 'What share of people get ...';
    '1 in 5 incarcerated people is ...' -> 'What share of incarcerated people is ...'."""
    match = PERCENT_OF.search(clause) or RATIO.match(clause)
    return f"What share of {match.group('rest')}" if match else None


def _trim(question: str) -> str:
    """Cut trailing phrases off a too-long question, at the words that open them."""
    words = question.split()
    joins = [i for i in range(6, len(words)) if _joins(words, i)]
    if len(words) > MAX_WORDS - 2 and joins:  # a coordinated tail goes first, whole
        words = words[: joins[0]]
    while len(words) > MAX_WORDS - 2:  # room for an appended date
        cuts = [i for i, w in enumerate(words) if i >= 6 and w.lower() in TRIM_BEFORE]
        if not cuts:
            return ""
        words = words[: cuts[-1]]
    while words and words[-1].lower() in FUNCTION_WORDS | TRIM_BEFORE:
        words.pop()
    return " ".join(words)


def _joins(words: Sequence[str], i: int) -> bool:
    """Whether words[i] joins two clauses or phrases (not 'between 1999 and 2012')."""
    return words[i].lower() in {"and", "or"} and words[i - 2].lower() != "between"


def _noun_phrase(words: list[str]) -> str:
    """The words of a noun phrase up to its first verb or clause-opening word; one 'with' or
    'of' phrase stays ('settlement with pharmacy chains')."""
    kept: list[str] = []
    for word in words:
        bare = word.lower().strip("“”\"'")
        if bare in NP_STOP or bare in AUXILIARIES or (kept and bare.endswith("ed")):
            break
        kept.append(word)
    while kept and kept[-1].lower() in FUNCTION_WORDS:
        kept.pop()
    return " ".join(kept)


def _common_case(report: Report, text: str) -> str:
    """Lowercase a heading's first letter unless the report only writes that word capitalised."""
    if re.search(rf"\b{re.escape(text.split()[0].lower())}\b", report.text):
        return text[0].lower() + text[1:]
    return text


@lru_cache(maxsize=1024)  # the report's text is one string, hashed once
def _is_verb(report_text: str, word: str) -> bool:
    """A word is a verb when its '-ing' form is common English and the report never puts an
    article before it ('the border' is a noun, though 'bordering' is a word)."""
    noun = re.search(rf"\b(?:the|a|an)\s+{re.escape(word)}\b", report_text, re.IGNORECASE)
    return noun is None and _zipf(gerund(word)) >= GERUND_MIN_ZIPF


def _gerund_phrase(report: Report, words: Sequence[str]) -> str:
    """'Address the needs ... and ensure access' -> 'addressing the needs ... and ensuring
    access': the first verb, and a verb coordinated after 'and' (not before a plural noun,
    which makes 'support programs' a noun phrase)."""
    out = [gerund(words[0].lower())]
    for i, word in enumerate(words[1:], start=1):
        plural_after = i + 1 < len(words) and words[i + 1].endswith("s")
        if words[i - 1] == "and" and not plural_after and _is_verb(report.text, word.lower()):
            word = gerund(word.lower())
        out.append(word)
    return " ".join(out)


@lru_cache(maxsize=256)
def _zipf(word: str) -> float:
    from wordfreq import zipf_frequency  # loads its word list on first use (~0.5 s)

    return float(zipf_frequency(word, "en"))
