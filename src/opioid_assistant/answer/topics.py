"""What the report covers: key terms of a question that it never mentions, and its headings.

A question's key terms are its rare words (rarer in English than KEY_ZIPF), its names and
its years. One the report never uses, in any inflection, means the report cannot answer:
"The report does not mention xylazine." The suggestion that follows comes from the report's
own headings, never from a hand-written list of topics.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from wordfreq import zipf_frequency

from opioid_assistant.answer.question_shapes import NOT_A_TOPIC
from opioid_assistant.index.chunking import FRONT_MATTER_SECTION
from opioid_assistant.text import NAME_STEM, QUESTION_WORDS, same_name, tokenize, uncontracted
from opioid_assistant.types import (
    AUTHORS_FIELD,
    PUBLISHER_FIELD,
    TITLE_FIELD,
    Report,
    author_role,
)

KEY_ZIPF = 3.0  # a word rarer than this in English is a key term of the question
MIN_KEY_LENGTH = 3
NAME_RUN = re.compile(r"\b[A-Z][A-Za-z]*\b(?:\s+[A-Z][A-Za-z]*\b)*(?![-\d])")
SENTENCE_START = re.compile(r"(^|[.?!:;]\s+)\W*$")
PREFIXED_STEM = 5  # a report word this long at the end of a question's word is that word
# English prefixes that leave a word's meaning in place ("re-arrested", "non-fatal").
PREFIXES = frozenset(
    "re pre un non over under anti de dis mis co sub super inter multi post counter out mid "
    "semi self cross".split()
)
# A name of several words, with the lowercase words inside it ("Overdose Data to Action",
# "Bureau of Justice Statistics"): what is missing is the whole name, not one of its words.
NAME_JOINS = re.compile(r"\s+(?:of|to|for|on|in)\s+(?=[A-Z][a-z])")
DRUG_NAME = re.compile(
    r"(codone|morphone|done|azine|zine|fentanil|fentanyl|azepine|azepines|azepam|azolam|zene|"
    r"xone|adol|amol|pentin|trexone|orphine|amine|amines|caine|barbital|dronabinol|nitazenes?)$"
)
YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
WORD = re.compile(r"[^\W\d_][^\W\d_\-]*(?:-[^\W\d_]+)*")


def absent_terms(question: str, known: KnownTerms) -> list[str]:
    """The question's key terms the report never uses, as the question writes them.

    A run of capitalised words is one name ("West Virginia"); a rare word or a name counts
    as used when the report has it in any inflection (the same leading letters, for a name
    a capitalised report word); an acronym, when the report prints it or spells it out
    ("SAMHSA"); a year, when the report prints it.
    """
    text = uncontracted(re.sub(r"[’']s\b", "", question))
    missing: list[str] = []
    for name in _names(text):
        words = name.split()
        if any(not _known(w, known) for w in words if w[0].isupper()):
            missing.append(name)
    for match in WORD.finditer(text):
        for word in match.group(0).split("-"):
            if word[:1].isupper() or not _is_rare(word):
                continue
            if not _used(word.lower(), known.words):
                missing.append(word)
    missing += [y for y in YEAR.findall(question) if y not in known.text]
    return list(dict.fromkeys(missing))


@dataclass(frozen=True)
class KnownTerms:
    """What the report uses: its words, names, acronyms and text.

    Attributes:
        words: Every lowercased word of the body and headings.
        names: Every capitalised word of the body and headings, lowercased.
        acronyms: Acronyms printed, and the initials of every capitalised phrase ("Substance
            Abuse and Mental Health Services Administration" gives SAMHSA).
        text: The body text.
    """

    words: frozenset[str]
    names: frozenset[str]
    acronyms: frozenset[str]
    text: str


def known_terms(report: Report) -> KnownTerms:
    """Index what the report's body, headings and front matter use (not its endnotes: a place
    named only in a cited title is not something the report discusses). The publisher's
    initials ("CAP") come with its name, as any capitalised name's do."""
    names = [report.title, report.publisher, *(name for name, _ in report.authors)]
    roles = " ".join(role for _, role in report.authors)
    text = "\n".join([report.text, *(h.text for h in report.headings), *names])
    words = re.findall(r"[A-Za-z]+", text)
    phrases = re.findall(r"[A-Z][a-z]+(?:(?:\s+(?:and|of|for|the|on|in))*\s+[A-Z][a-z]+)+", text)
    initials = set()
    for phrase in phrases:  # every run of two or more of its capitalised words
        letters = "".join(w[0] for w in phrase.split() if w[0].isupper())
        initials |= {
            letters[i:j] for i in range(len(letters)) for j in range(i + 2, len(letters) + 1)
        }
    acronyms = {w for w in words if w.isupper() and len(w) > 1} | initials
    return KnownTerms(
        # Authors' roles are words the report uses, not names ("Intern" is no "Interpol").
        words=frozenset(w.lower() for w in [*words, *re.findall(r"[A-Za-z]+", roles)]),
        names=frozenset(w.lower() for w in words if w[0].isupper()),
        acronyms=frozenset(acronyms),
        text=report.text,
    )


def _known(word: str, known: KnownTerms) -> bool:
    """Whether the report uses a capitalised word: an acronym, a word or a name it has."""
    lower = word.lower()
    # An everyday word, stressed in capitals ("going INTO Mexico"), is no acronym.
    if lower in QUESTION_WORDS or (word.isupper() and zipf_frequency(lower, "en") >= EVERYDAY_ZIPF):
        return True
    if sum(c.isupper() for c in word) > 1:  # an acronym, perhaps plural: "ODs"
        acronym = word[:-1] if word.endswith("s") else word
        return acronym.upper() in known.acronyms or word in known.acronyms
    if lower in known.words:
        return True
    return any(same_name(n, lower) for n in known.names)


def _names(text: str) -> list[str]:
    """The runs of capitalised words, but a sentence's first word, a run joined to the next
    by "of", "to", "for", "on" or "in" when the first is not an acronym ("Overdose Data to
    Action" is one name; "CAP for Medicaid" is two)."""
    spans: list[tuple[int, int]] = []
    for match in NAME_RUN.finditer(text):
        start, end = match.span()
        if SENTENCE_START.search(text[:start]):  # capitalised anyway
            start = text.find(" ", start, end) + 1 or end
            if start >= end:
                continue
        if spans:
            first, last = spans[-1]
            join = NAME_JOINS.match(text, last)
            if join and join.end() == start and not text[first:last].isupper():
                spans[-1] = (first, end)
                continue
        spans.append((start, end))
    return [text[a:b] for a, b in spans]


def _used(word: str, vocabulary: frozenset[str]) -> bool:
    """Whether the report uses a word in any inflection ("tripling" for "tripled"), or inside
    a compound ("dose" in "overdoses")."""
    if word in vocabulary:
        return True
    stem = word[: max(NAME_STEM, len(word) - 3)]
    return any(
        v.startswith(stem)
        or (len(word) >= NAME_STEM and word in v)  # inside a compound: "dose", "overdoses"
        # prefixed: "rearrested" is "arrested" again ("telehealth" is not "health")
        or (len(v) >= PREFIXED_STEM and word.endswith(v) and word[: -len(v)] in PREFIXES)
        for v in vocabulary
    )


def _is_rare(word: str) -> bool:
    lower = word.lower()
    if len(lower) < MIN_KEY_LENGTH or lower in QUESTION_WORDS:
        return False
    stems = (lower[len(p) :] for p in PREFIXES if lower.startswith(p))  # "misreads": "reads"
    return zipf_frequency(lower, "en") < KEY_ZIPF and not any(
        len(stem) >= PREFIXED_STEM and zipf_frequency(stem, "en") >= KEY_ZIPF for stem in stems
    )


def looks_like_a_drug(word: str) -> bool:
    """Whether a word ends like a drug's or a chemical's name (international nonproprietary
    name stems: -done, -zine, -fentanil, -zepine, -azepam, -zene, -xone, -mol ...)."""
    return DRUG_NAME.search(word.lower()) is not None


# A part of the report named in a question: "in the border section", "its conclusion".
NAMED_PART = re.compile(
    r"\b(?:the|its|this report'?s|the report'?s)\s+(?P<name>(?:[\w’'-]+\s+){1,6}?)"
    r"(?:section|part|chapter|portion)\b"
    r"|\b(?:section|part|chapter)\s+(?:on|about|called|titled)\s+(?P<after>(?:[\w’'-]+\s*){1,6})"
    # A part whose name says what part it is: "in its conclusion", "from the introduction".
    r"|\b(?:in|from)\s+(?:the|its|their|this report'?s|the report'?s)\s+"
    r"(?P<own>conclusion|introduction|intro|key takeaways|closing|opening)\b"
    r"(?:\s+(?:remarks|words|thoughts|argument))?"
    # ... or ending the question, or saying something ("what does the introduction say?").
    r"|\b(?:the|its)\s+(?P<ends>conclusion|introduction|intro|key takeaways)"
    r"(?=\s+(?:says?|covers?)\b|\W*$)",
    re.IGNORECASE,
)
# Other words for the parts whose name says what part they are.
PART_WORDS = {"closing": "conclusion", "concluding": "conclusion", "final": "conclusion"}
PART_WORDS |= {"opening": "introduction", "intro": "introduction"}


def part_naming_words(question: str, report: Report) -> set[str]:
    """The words with which a question names a part of the report ("in the public health
    section"): they say where to look, not what is asked. None when it names no part the
    report has ("did the pandemic play a part?")."""
    match = _part_named(question, report)
    return set() if match is None else set(tokenize(match.group(0)))


def asked_of_part(question: str, report: Report | None) -> str:
    """The question without the words naming a part of the report ("In the part about the
    Postal Service, how much ...?" -> "In the , how much ...?") or its publisher ("according
    to CAP"): a name there says where to look or who says it, not what is asked."""
    if report is None:
        return question
    if report.publisher:  # its name or its initials
        maker = "|".join(re.escape(n) for n in (report.publisher, report.publisher_initials) if n)
        question = re.sub(rf"\b(?:{maker})\b", "", question)
    if (match := _part_named(question, report)) is None:
        return question
    return question[: match.start()] + question[match.end() :]


def _part_named(question: str, report: Report) -> re.Match[str] | None:
    """The words naming a part of the report that it has ("the public health section")."""
    match = NAMED_PART.search(question)
    return match if match is not None and _section_named(match, report) else None


def without_part_named(question: str, section: str) -> str:
    """The question without the words that name `section` (the scope, as a path): its
    heading's words and the part the question names, but not the words of the ask inside that
    ("the main points of the criminal justice part" -> "the main points of the part"), so what
    is left says what is asked of that part."""
    match = NAMED_PART.search(question)
    group = next((g for g in ("name", "after", "own") if match and match.group(g)), "")
    named = set(tokenize(match.group(group))) if match and group else set()
    heading = set(tokenize(section.split(" > ")[-1]))

    def names_part(word: str) -> bool:
        words = set(tokenize(word))
        return bool(words & heading) or bool(words & named and not NOT_A_TOPIC.search(word))

    return " ".join(w for w in question.split() if not names_part(w))


def named_section(question: str, report: Report) -> str:
    """The section a question names as where to look ("In the foreign policy section, …"),
    as a path `section_scope` takes; '' when it names none the report has.

    The named words are matched against each section's heading: most shared words wins, a
    top-level section before the introduction's summary of it."""
    match = NAMED_PART.search(question)
    return _section_named(match, report) if match else ""


def _section_named(match: re.Match[str], report: Report) -> str:
    """The section whose path shares most words with what a NAMED_PART match names."""
    named = next(match.group(g) for g in ("name", "after", "own", "ends") if match.group(g))
    wanted = {PART_WORDS.get(w, w) for w in tokenize(named)}
    best: tuple[int, int, str] | None = None
    for section in report.sections:
        shared = len(wanted & set(tokenize(section.path)))
        key = (shared, -section.level, section.path)
        if shared and (best is None or key[:2] > best[:2]):
            best = key
    return best[2] if best else ""


# A question about the report that asks when it came out ("..., and when?", "What's the date?").
DATE_ASKED = re.compile(
    r"\b(when|what(['’]s| is| was)?( the)? (year|date|month|day)|how (old|recent))\b", re.IGNORECASE
)
NO_DATE = "Its text gives no publication date."
# A question for an agent besides a date: "Who issued it, and when?".
ASKS_WHO = re.compile(r"\b(who|whom|which)\b", re.IGNORECASE)

# What a question must name for each front-matter statement to answer it (besides the
# publisher's or an author's own name).
FRONT_MATTER_FIELDS = (
    (TITLE_FIELD, frozenset(tokenize("title titled called named name headline"))),
    (
        PUBLISHER_FIELD,
        frozenset(
            tokenize(
                "publish published publisher release released issue issued produced "
                "organization organisation institution think tank behind put date dated year"
            )
        ),
    ),
    (AUTHORS_FIELD, frozenset(tokenize("write wrote written writer author authors authored"))),
)

FIELD_WORDS = frozenset().union(*(words for _, words in FRONT_MATTER_FIELDS))
AUTHOR_WORDS = FRONT_MATTER_FIELDS[2][1]
EVERYDAY_ZIPF = 5.4  # words this common ("put", "out", "run") name no subject of a question
ROLE_STEM = 5  # "directs" and "Director" share their first five letters
# Authors asked about in the plural ("which authors ...", "who among the authors are ...").
SEVERAL_AUTHORS = re.compile(r"\b(which|what) authors\b|\bauthors (are|were|work|do)\b", re.I)
# The authors' roles asked for with the authors: "Who are the authors and what are their jobs?"
# A question that asks for a person ("Which of the authors ...?", "Who among them ...?"); one
# without these asks about something else, if in the authors' words ("in the authors' view").
PERSON_ASKED = re.compile(r"\b(who|whom|which)\b", re.I)
ROLES_ASKED = re.compile(r"\b(roles?|jobs?|titles?|positions?|affiliations?|backgrounds?)\b", re.I)
# The words a question names the report by ("the CAP fentanyl paper"): which, not what is asked.
REPORT_NAMED_BY = re.compile(
    r"\b(?:this|the|that|their|your)\s+((?:[\w’'-]+\s+){1,3}?)"
    r"(?:report|paper|document|study|brief|publication)\b",
    re.I,
)


def naming(question: str) -> set[str]:
    """The words before the noun a question names the report by ("opioid" in "Who published
    this opioid report?")."""
    return {t for m in REPORT_NAMED_BY.finditer(question) for t in tokenize(m[1])}


ABOUT_ITSELF = frozenset(
    tokenize(
        "report paper document study article publication piece full exact official date year "
        "role people person group team responsible many number "
        # what its name's initials spell out ("What does CAP stand for?")
        "stand stands short acronym abbreviation initials spell letters "
        # which of the authors leads ("Who is the lead author?")
        "lead main first primary principal"
    )
)


def front_matter_reply(question: str, statement: str) -> str:
    """A front-matter statement as the answer quotes it; a question that also asks when the
    report came out is told that its text gives no date (the capture carries none)."""
    text = f"From “{FRONT_MATTER_SECTION}”: {statement}"
    return f"{text} {NO_DATE}" if DATE_ASKED.search(question) else text


def front_matter_answer(
    question: str,
    query: Sequence[float],
    vectors: Mapping[str, Sequence[float]],
    report: Report,
) -> tuple[str, float]:
    """The front-matter statement a question asks for, with its closeness in meaning: one
    whose field it names (the title, the publisher, the authors) or whose name it holds (the
    publisher's, an author's); an author's role also answers a question holding every word
    of the role. Of several, the one sharing most words, then the closest. ('', 0) if none."""
    asked = set(tokenize(question))
    roles = {author_role(name, role): (name, role) for name, role in report.authors}
    authors = set(tokenize(" ".join(name for name, _ in report.authors)))
    initials, name_words = report.publisher_initials.lower(), set(tokenize(report.publisher))
    publisher = initials in asked or name_words <= asked
    # A field word, or the publisher's name, answers only a question about the report itself
    # ("Which think tank released it?", "Who is CAP?"), not one about its subject ("Who is
    # released from prison?", "What border steps does CAP recommend?").
    about_itself = not {
        w
        for w in asked - FIELD_WORDS - ABOUT_ITSELF - name_words - {initials} - naming(question)
        if zipf_frequency(w, "en") < EVERYDAY_ZIPF
    }
    unit = np.asarray(query) if len(query) else None
    found = []
    for statement in report.front_matter():
        if statement in roles:
            name, role = roles[statement]
            names = {t for t in tokenize(name) if len(t) > 1}  # not an initial ("Q.")
            role_words = set(tokenize(role))
            # "Which of the authors directs criminal justice work?": an author asked about
            # by the words of a role.
            by_role = bool(asked & AUTHOR_WORDS and PERSON_ASKED.search(question)) and any(
                a[:ROLE_STEM] == r[:ROLE_STEM] for a in asked for r in role_words
            )
            fits = bool(asked & names) or role_words <= asked or by_role
            named = False  # a role is asked for by its words, never by a field's
        else:
            field = next(w for start, w in FRONT_MATTER_FIELDS if statement.startswith(start))
            named = bool(asked & field) and about_itself
            fits = named or (statement.startswith(PUBLISHER_FIELD) and publisher and about_itself)
        vector = vectors.get(statement)
        if fits and unit is not None and vector is not None:
            # A question about the report itself that names a field ("What organization is
            # behind this?", "How many authors ...?") asks for that field, however far its
            # words are from the statement's in meaning.
            closeness = 1.0 if named else float(np.dot(unit, np.asarray(vector)))
            # Of statements sharing as many words, the one with fewest words not asked, names
            # aside ("Director, Public Health" over "Associate Director, Public Health").
            words = set(tokenize(statement))
            unasked = len(words - asked - authors)
            found.append((len(asked & words), -unasked, closeness, statement))
    best = max(found, default=None)
    if best is None:
        return "", 0.0
    if best[3].startswith(AUTHORS_FIELD) and ROLES_ASKED.search(question):
        return " ".join(s for s in report.front_matter() if s in roles), best[2]
    if best[3] in roles and SEVERAL_AUTHORS.search(question):
        # "Which authors work on public health?": every author whose role fits as well.
        tied = [statement for shared, _, _, statement in found if shared == best[0]]
        return " ".join(s for s in report.front_matter() if s in tied), best[2]
    return best[3], best[2]
