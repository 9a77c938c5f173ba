"""Which neighbours a quoted sentence needs: a sentence leaning on the one before ("Yet ...
they reached"), opening on it ("Of these, ..."), or turning against it, and the brief pairs a
fact's answer quotes together (pure functions of the report's sentences)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from wordfreq import zipf_frequency

from opioid_assistant.answer.topics import EVERYDAY_ZIPF
from opioid_assistant.answer.turn import read_on, said_before
from opioid_assistant.text import tokenize
from opioid_assistant.types import Report

# Words that point back at what came before. "That", "other" and "another" do at the start
# ("That program ...", "Other studies ..."); inside a sentence "that" is most often a relative
# pronoun or a conjunction ("an approach that engages", "found that"), pointing at nothing.
REFERRING = re.compile(
    r"^(yet|but|however|still|also|likewise|similarly|instead|that|other|another)\b|"
    r"\b(they|them|their|these|those|this|it|its|such|the program)\b|"
    # "the combined operations", "the two programs", "the latter": a noun phrase naming
    # what was said before as a whole or by its count.
    r"\bthe (combined|same|latter|former|both|two|three|four|five) \w+",
    re.IGNORECASE,
)
REFERRING_WORDS = 10  # a referring word this early means the sentence leans on the one before


def leans_on(sentence: str) -> bool:
    """Whether a sentence leans on the one before ("Yet ... they reached")."""
    return REFERRING.search(" ".join(sentence.split()[:REFERRING_WORDS])) is not None


# A sentence that opens on the one before: a connective or a pronoun in its first words
# ("Yet during 2023, they reached ...", "Of these deaths, ..."), or "of these" anywhere early.
OPENS_ON = re.compile(
    r"^(\W*[\w’'-]+\W+){0,3}?(yet|but|however|instead|they|them|these|those|this|"
    r"it|such)\b|^(\W*[\w’'-]+\W+){0,9}?of (these|those|them)\b"
    r"|^(\W*[\w’'-]+\W+){0,3}?the (combined|same|latter|former|two|three)\b",
    re.IGNORECASE,
)
WHY_ASKED = re.compile(r"\bwhy\b", re.IGNORECASE)
BECAUSE = re.compile(r"\b(because|due to|as a result|driven by)\b", re.IGNORECASE)
# A fact answer read on, into the sentence before or after its best, stays this brief.
READ_ON_MAX_WORDS = 60


def brief(first: str, second: str) -> bool:
    """Whether two sentences together stay within READ_ON_MAX_WORDS."""
    return len(first.split()) + len(second.split()) <= READ_ON_MAX_WORDS


def goes_on(index: int, report: Report, asked: str) -> int | None:
    """The sentence after a lone best one that opens on it, in its section, holding a word of
    the question the best lacks ("... 100,000 died." "Of these, 83,000 involved opioids.")
    or saying why for a "why" ("This is because ..."), the two brief together; else None."""
    if index + 1 >= len(report.sentences):
        return None
    best, after = report.sentences[index], report.sentences[index + 1]
    gains = set(tokenize(asked)) & set(tokenize(after.text)) - set(tokenize(best.text))
    why = WHY_ASKED.search(asked) is not None and BECAUSE.search(after.text) is not None
    short = brief(best.text, after.text)
    return index + 1 if opens_on_it(index, report) and short and (gains or why) else None


def opens_on_it(index: int, report: Report) -> bool:
    """Whether the sentence after this one opens on it, in its section ("Of these, ...")."""
    if index + 1 >= len(report.sentences):
        return False
    sentence, after = report.sentences[index], report.sentences[index + 1]
    return after.section == sentence.section and OPENS_ON.search(after.text) is not None


def leads_in(index: int, report: Report, asked: str = "") -> bool:
    """Whether the sentence before `index`, in its section, belongs before it in a fact's
    answer, the two brief together: the sentence opens on it ("Yet in 2023, they ...") or
    leans on it for a word of the question only that one holds, rarer than everyday words
    ("... lose their tolerance." "When addictions go untreated during their time ..."), or
    for the cause a "why" asks ("... due to ...")."""
    if index <= 0:
        return False
    before, best = report.sentences[index - 1], report.sentences[index]
    if before.section != best.section or not brief(before.text, best.text):
        return False
    gains = set(tokenize(asked)) & set(tokenize(before.text)) - set(tokenize(best.text))
    rare = any(zipf_frequency(word, "en") < EVERYDAY_ZIPF for word in gains)  # not "use"
    why = WHY_ASKED.search(asked) is not None and BECAUSE.search(before.text) is not None
    return OPENS_ON.search(best.text) is not None or (leans_on(best.text) and (rare or why))


# A sentence that turns against the one before it opens on ("... only 63 were reported." "Yet
# in 2023, they reached 1,200."; "... an alternative to arresting." "Instead, officers can
# ..."): the report's point is the turn, so the two go together.
CONTRAST = re.compile(r"^\W*(yet|but|however|instead)\b", re.IGNORECASE)


def turn_after(index: int, report: Report, said: str = "") -> int | None:
    """The sentence after `index` when it turns against it (see CONTRAST), else None; None
    too when the previous answer (`said`) just quoted it (a conversation moves on)."""
    after = index + 1
    if not opens_on_it(index, report) or not CONTRAST.match(report.sentences[after].text):
        return None
    return None if said_before(report.sentences[after].text, said) else after


def with_neighbours(chosen: Sequence[int], report: Report, asked: str, said: str) -> list[int]:
    """A fact's sentences (the best first) with the neighbours they need: after a best sentence
    the previous answer (`said`) just quoted, the one after it (a follow-up asks for more than
    it: `read_on`); before the best, one it leads on from (`leads_in`), unless just quoted;
    and after any of them, one turning against it (`turn_after`), the two brief together,
    unless just quoted (a conversation moves on)."""
    chosen = list(chosen)
    if (more := read_on(report, chosen[0], said)) is not None and more not in chosen:
        chosen.insert(1, more)
    first = chosen[0]
    lead_in = first - 1 not in chosen and leads_in(first, report, asked)
    if lead_in and not said_before(report.sentences[first - 1].text, said):
        chosen.insert(0, first - 1)
    for index in list(chosen):
        turn = turn_after(index, report, said)
        if turn is None or turn in chosen:
            continue
        if brief(report.sentences[index].text, report.sentences[turn].text):
            chosen.insert(chosen.index(index) + 1, turn)
    return chosen
