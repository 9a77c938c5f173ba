"""Typos and casual wording: a question's words corrected against the report's own vocabulary.

A word is left alone when the report uses it, when it is a common English word (so a real
word the report lacks, "xylazine" or "Ohio", stays as typed and can be named as missing), or
when it is an acronym. Any other word is replaced by the closest report word within a small
edit distance (SymSpell), and texting shorthand ("r", "ppl") by its word.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from functools import cached_property
from importlib import resources

from symspellpy import SymSpell, Verbosity
from wordfreq import top_n_list, zipf_frequency

from opioid_assistant.answer.topics import looks_like_a_drug

# Texting shorthand, abbreviations and everyday words ("OTC", "cops", "ppl"), as English writes
# them anywhere: data, shipped in the package.
SHORTHAND: dict[str, str] = json.loads(
    resources.files("opioid_assistant.data").joinpath("everyday_words.json").read_text("utf-8")
)["words"]
COMMON_ZIPF = 3.0  # a word this frequent in English is a real word, not a typo
ENGLISH_WORDS = 5000  # the most frequent English words are corrected to as well ("waht")
MIN_LENGTH = 3  # shorter words are too ambiguous to correct
CLIPPED = 4  # a word cut short ("fent", "bupe") has at least this many letters ...
CLIPPED_REST = 3  # ... and the report word it was cut from at least this many more
# A term the report coins in quotation marks, or as a hyphenated compound ("know your
# customer", "know-your-customer"): questions may write it by its initials ("KYC").
COINED = re.compile(
    r"[“\"]([A-Za-z]+(?:[ -][A-Za-z]+){2,4})[,.]?[”\"]|(?<![\w-])([a-z]+(?:-[a-z]+){2,4})(?![\w-])"
)
# A name of capitalised words ("National Institute on Drug Abuse"): questions may write it by
# the initials of those words ("NIDA", "nida"), as the report may not.
NAME = re.compile(r"(?<!\w)(?!The )[A-Z][a-z]+(?:(?: (?:and|of|for|the|on|in))* [A-Z][a-z]+){2,}")
# A word, not part of an abbreviation ("U.S.") or a web address.
WORD = re.compile(r"(?<![.\w/])[A-Za-z][A-Za-z0-9/'’]*(?![.@]\w)")


class Speller:
    """A report's vocabulary, and the English words questions are written in, for look-ups.

    Args:
        texts: The report's body and headings.
        max_distance: The largest edit distance a correction may make.
    """

    def __init__(self, texts: Iterable[str], max_distance: int = 2) -> None:
        texts = list(texts)
        self.counts = Counter(w.lower() for t in texts for w in re.findall(r"[A-Za-z]+", t))
        self.vocabulary = frozenset(self.counts)
        self.max_distance = max_distance
        named: dict[str, set[str]] = {}
        for t in texts:
            for m in NAME.finditer(t):
                letters = "".join(w[0] for w in m.group(0).split() if w[0].isupper())
                named.setdefault(letters, set()).add(m.group(0))
        # Initials that stand for one name only; a coined term's win over a name's.
        self.coined = {k: next(iter(v)) for k, v in named.items() if len(v) == 1}
        self.coined |= {
            "".join(w[0] for w in re.split(r"[ -]", phrase)).upper(): phrase.replace("-", " ")
            for t in texts
            for m in COINED.finditer(t)
            for phrase in [m.group(1) or m.group(2)]
        }

    @cached_property
    def symspell(self) -> SymSpell:
        """The SymSpell index, built on the first word that needs it (~0.3 s)."""
        symspell = SymSpell(max_dictionary_edit_distance=self.max_distance, prefix_length=7)
        for word in [*self.counts, *top_n_list("en", ENGLISH_WORDS)]:
            if len(word) >= MIN_LENGTH and word.isalpha():
                symspell.create_dictionary_entry(word, self.counts.get(word, 0) + 1)
        return symspell

    def unclipped(self, word: str) -> str | None:
        """The report's commonest word that this one is the start of, cut short ("fent" for
        "fentanyl"); None if the report has none."""
        if len(word) < CLIPPED:
            return None
        longer = [
            w for w in self.counts if w.startswith(word) and len(w) >= len(word) + CLIPPED_REST
        ]
        return max(longer, key=lambda w: (self.counts[w], w), default=None)

    def best(self, word: str, max_distance: int | None = None) -> str | None:
        """The closest known word: the fewest edits, then the same letters swapped, then a
        report word, then the commonest in English."""
        distance = 1 if len(word) <= 5 else self.max_distance
        distance = min(distance, max_distance or distance)
        found = self.symspell.lookup(word, Verbosity.CLOSEST, max_edit_distance=distance)
        if not found:
            return None
        ranked = sorted(
            found,
            key=lambda s: (
                s.distance,
                sorted(s.term) != sorted(word),  # two letters swapped: the commonest slip
                s.term not in self.vocabulary,
                -zipf_frequency(s.term, "en"),
            ),
        )
        return str(ranked[0].term)


def build_speller(texts: Iterable[str], max_distance: int = 2) -> Speller:
    """A Speller over the texts (the report's body and headings)."""
    return Speller(texts, max_distance)


# "4"/"2" for "for"/"to", where no number can stand: before a determiner or a pronoun.
DIGIT_WORD = re.compile(
    r"\b([24])\b(?= (the|a|an|my|your|our|their|this|that|these|those|me|us|them|him|her|it)\b)"
)


# A year written with two digits: "since 99", "in '71", "between 99 and 2012" (not "by 27
# percent", "in 22 states").
SHORT_YEAR = re.compile(
    r"\b(since)\s+(\d\d)\b(?![.,%]?\d)(?!\s*(%|percent))|(\s)[’'](\d\d)\b|"
    r"\b(between|from)\s+(\d\d)\b(?=\s+(?:and|to|through|until|-)\s+(?:19|20)\d\d\b)",
    re.IGNORECASE,
)
CENTURY_SPLIT = 40  # "since 99" is 1999, "since 05" is 2005


# ... and, in a question written in texting shorthand ("wat", "ppl"), any lone "4"/"2" that
# counts nothing after it ("do 2 police violence", "more 4 drug charges").
DIGIT_IN_TEXTING = re.compile(
    r"(?<!\bthe )(?<!\bthese )(?<!\bthose )(?<!\ball )(?<!\bfirst )(?<!\blast )(?<!\btop )"
    r"(?<!\bnext )(?<!\bover )(?<!\bunder )(?<!\bin )(?<!\bby )(?<!\bat )(?<!\bonly )"
    r"(?<!\bjust )(?<!\bthan )(?<!\babout )(?<!\bnearly )(?<!\bevery )(?<!\bper )"
    r"\b([24])\b(?![.,]?\d)(?!\s*(%|percent|times|years?|months?|weeks?|days?|hours?|"
    r"million|billion|thousand|hundred|dozen|people|persons|ppl|in \d|out of|of|or|and|to|-))"
    # ... nor a plural: "get 2 doses" counts doses.
    r"(?!\s+(?!(this|is|was|his|its|us|as|less|across|access)\b)[a-z]+s\b)",
    re.IGNORECASE,
)


def correct_question(question: str, speller: Speller) -> str:
    """The question with shorthand expanded and misspelled words corrected ('' if unchanged)."""
    corrected = DIGIT_WORD.sub(_digit_word, question)
    if _in_texting(corrected):
        corrected = DIGIT_IN_TEXTING.sub(_digit_word, corrected)
    corrected = SHORT_YEAR.sub(_full_year, corrected)
    corrected = WORD.sub(lambda m: _correct_word(m.group(0), speller), corrected)
    return corrected if corrected != question else ""


def _digit_word(match: re.Match[str]) -> str:
    return "for" if match.group(1) == "4" else "to"


def _in_texting(question: str) -> bool:
    """Whether the question uses texting shorthand for a word ("ppl", "wat", "u")."""
    return any(
        SHORTHAND.get(w, w) != w and w.islower() and w.isalpha()
        for w in re.findall(r"[A-Za-z]+", question)
    )


def _full_year(match: re.Match[str]) -> str:
    digits = match.group(2) or match.group(5) or match.group(7)
    year = int(digits) + (2000 if int(digits) < CENTURY_SPLIT else 1900)
    word = match.group(1) or match.group(6)
    return f"{word} {year}" if word else f"{match.group(4)}{year}"


def _correct_word(word: str, speller: Speller) -> str:
    lower = word.lower()
    if word in SHORTHAND:  # as typed: "u" is shorthand, "U" is not
        return SHORTHAND[word]
    if word[:-1].isupper() and word.endswith("s") and word[:-1] in SHORTHAND:
        return SHORTHAND[word[:-1]] + "s"  # an acronym's plural: "SUDs", substance use disorders
    initials = word.upper() if word.isupper() or word.islower() else ""
    if initials in speller.coined and lower not in speller.vocabulary and not _common(lower):
        return speller.coined[initials]  # "KYC": the report's "know your customer"
    if (
        len(lower) < MIN_LENGTH
        or sum(c.isupper() for c in word) > 1  # an acronym: LEAD, HIDTA, ODs
        or not lower.isalpha()
        or lower in speller.vocabulary
        or _common(lower)
    ):
        return word
    # A capitalised word may be a name the report lacks ("Sackler"), and a word English knows
    # may be a term it lacks ("ketamine"): only a slip of one letter is corrected there.
    known = word[:1].isupper() or zipf_frequency(lower, "en") > 0
    if known and looks_like_a_drug(lower):
        return word
    whole = None if word[:1].isupper() else speller.unclipped(lower)
    if whole:
        return whole  # "fent" is "fentanyl" cut short, not "went" misspelled
    found = speller.best(lower, max_distance=1 if known else None)
    return _same_case(word, found) if found else word


def _common(word: str) -> bool:
    """Whether English uses the word (or the acronym) often: "DOD" has a meaning of its own."""
    return zipf_frequency(word, "en") >= COMMON_ZIPF


def _same_case(original: str, replacement: str) -> str:
    if original[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement
