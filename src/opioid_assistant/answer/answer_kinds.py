"""What a question asks for, and whether a sentence can be that answer.

Pure rules over text: the figure, year or name a question asks about must be in the answer;
"what share" wants a share, "how many kits" a count of kits, "which institute" an Institute.
"""

from __future__ import annotations

import re

from opioid_assistant.answer.question_shapes import YES_NO
from opioid_assistant.text import ASKING_WORDS, has_name, numbers_in, spelled_out, tokenize
from opioid_assistant.types import Report

NAME = re.compile(r"(?<![.?!]\s)(?<!^)\b([A-Z][a-zA-Z]+(?:[ -][A-Z][a-zA-Z]+)*)")
# The report's own country is its setting, not a name that answers "which state?".
NOT_NAMES = frozenset("I U.S. US United States America American Americans".split())
# Names English gives one group of people by, either of which a text may use.
SAME_GROUP = {
    "black": ("african american",),
    "african": ("black",),
    "hispanic": ("latino", "latina", "latinx"),
    "latino": ("hispanic",),
    "latina": ("hispanic",),
    "latinx": ("hispanic", "latino"),
}
# "How common is X?": a rate, given as a figure or a share ("85 percent", "1 in 5", "most").
HOW_COMMON = "common|prevalent|widespread|frequent|rare"
# A question for a quantity; not one inside a clause that only sets the scene ("Given how
# fast deaths climbed, what does the conclusion call for?").
QUANTITY = re.compile(
    r"(?<!given )(?<!considering )(?<!knowing )(?<!seeing )"
    r"\b(how many|how much|what (share|percentage|percent|fraction|number|rate|amount)|"
    rf"how (high|large|big|fast|{HOW_COMMON}))\b|^what is .*\b(rate|share|percentage|number|total)\??$"
    r"|^what (is|was|are|were) (the )?([\w-]+ ){0,4}(rate|share|percentage|number|total) "
    r"(of|for|among|in)\b",
    re.IGNORECASE,
)
YEAR = re.compile(r"(19|20)\d\d")
ACRONYM_ASKED = re.compile(r"\b[A-Z]{2,5}\b")
COUNT = re.compile(r"\bhow many\b", re.IGNORECASE)
COUNTED = re.compile(r"^\W*(?:and |so |but )?how many (.*)", re.IGNORECASE)
UNIT_OF = re.compile(r"([a-z]+) of\b", re.IGNORECASE)  # "grams of", "doses of"
# Words that say how many, not what is counted: "how many more people".
QUANTIFIERS = frozenset(tokenize("more fewer less additional other extra new total further"))
# Who a count of people counts ("how many lives were lost": people who died).
PEOPLE = frozenset(
    tokenize("people persons individuals Americans residents participants authors lives")
)
FIGURE = re.compile(r"\d[\d,.]*\d|\d")
# A count: not a percentage, and not either end of a range ("18 to 49").
COUNT_FIGURE = re.compile(r"(?<!to )\b(\d[\d,.]*\d|\d)\b(?!\s*(percent|%|to \d))")
NUMBER_WORDS = re.compile(
    r"\b(millions?|billions?|trillions?|thousands?|hundreds?|dozens?|half|third|quarter|twice|double|"
    r"threefold|fourfold|majority|most|times|one|two|three|four|five|six|seven|eight|nine|ten|"
    # an amount told in words: "a small amount", "large quantities"
    r"(small|tiny|large|huge|minute|trace|vast|massive) (amounts?|quantit(y|ies)))\b",
    re.IGNORECASE,
)

SHARE_NOUNS = "share|percentage|percent|fraction|proportion|portion"
SHARES_IN_WORDS = "half|third|quarter|majority|most"
SHARE_ASKED = re.compile(rf"\b(what|which) ({SHARE_NOUNS})\b", re.IGNORECASE)
SHARE_GIVEN = re.compile(rf"\d percent|%|\b\d+ in \d+\b|\b({SHARES_IN_WORDS})\b", re.IGNORECASE)
SHARE_WORD = re.compile(SHARES_IN_WORDS, re.IGNORECASE)  # a share in words is no count
SHARE_WORDS = frozenset(tokenize(SHARE_NOUNS.replace("|", " ")))  # the words asking a share
# ... or a count of a part of the whole before it ("Of these deaths, 83,000 involved opioids").
PART_COUNTED = re.compile(r"\bof (these|those|them|which)\b[^.?!]*\d|\d of (the |all )?\d", re.I)
# "What percentage" asks for the figure itself, not "most" or "half".
PERCENT_ASKED = re.compile(r"\b(what|which) (percentage|percent)\b", re.IGNORECASE)
PERCENT_GIVEN = re.compile(r"\d percent|\d%", re.IGNORECASE)
# "What is the death rate ...?": a rate, a share or a multiple; not a count.
RATE_ASKED = re.compile(r"\brates?\b", re.IGNORECASE)
RATE_GIVEN = re.compile(r"\brates?\b|\d percent|%|\bper (\d|capita)|\btimes\b", re.IGNORECASE)
# "What does X cost?", "How much did they spend?": an amount of money. (Separate searches,
# not one pattern with a gap, so that no question can make them backtrack.)
ASKS_AMOUNT = re.compile(r"\b(what|how much)\b", re.IGNORECASE)
MONEY_WORDS = re.compile(r"\b(cost|costs|price|prices|priced|budget|budgets)\b", re.IGNORECASE)
SPENDING = re.compile(
    r"\b(spend|spends|spent|spending|pay|pays|paid|invest|invests|invested|budget|budgeted|"
    r"allocate|allocated|award|awarded|fund|funds|funded|funding|money|financing)\b",
    re.IGNORECASE,
)
HOW_MUCH = re.compile(r"\bhow much\b", re.IGNORECASE)
# "What does X cost?", "How much does X sell for?": a price of X, not what a crisis costs.
PRICED = re.compile(
    r"\b(?:how much|what) (?:does|do|did|would|will|could|has|have) (.+?) "
    r"(?:cost|sells? for|goes for|go for)\b",
    re.I,
)
MONEY_GIVEN = re.compile(r"\$\s?\d|\b\d[\d,.]* (dollars|cents)\b", re.IGNORECASE)
# "What dose of X ...?", "How many milligrams ...?": a dose, a figure with its unit (the words
# the guard's dosing rule reads too).
DOSE_WORDS = r"doses?|dosage|dosing|milligrams?|micrograms?|mg|mcg"
DOSE_ASKED = re.compile(rf"\b({DOSE_WORDS})\b", re.I)
DOSE_GIVEN = re.compile(r"\d\s?(mg|mcg|ml|milligrams?|micrograms?|milliliters?)\b", re.I)
# "When did X begin?", "In what year ...": a time ("When states decide ..., what ..." sets a
# scene, and "When should police ..." asks for circumstances).
WHEN_ASKED = re.compile(
    r"^\W*when (did|does|do|was|were|is|are|will|has|have|had)\b|"
    r"\b(what|which) (years?|dates?|months?|decades?)\b",
    re.IGNORECASE,
)
TIME_GIVEN = re.compile(
    r"\b(1[89]|20)\d\d|\b(January|February|March|April|May|June|July|August|September|"
    r"October|November|December)\b|\bdecades?\b|\bcentur(y|ies)\b",
    re.IGNORECASE,
)
# What a question asks for, and what a sentence holding that looks like.
ANSWER_TYPES = (
    (SHARE_ASKED, SHARE_GIVEN),
    (re.compile(rf"\bhow ({HOW_COMMON})\b", re.I), SHARE_GIVEN),  # "How common is X?"
    (  # a count or an amount
        re.compile(r"\bhow (many|much)\b|\bwhat (number|amount|total)\b", re.I),
        re.compile(
            r"\$\d|\b\d[\d,.]*\d? (million|billion|thousand|people|deaths|percent)\b|"
            r"\b(one|two|three|four|five|six|seven|eight|nine|ten)\b|\btimes\b",
            re.I,
        ),
    ),
    (  # a year
        re.compile(r"\b(what|which) year\b|\bwhen\b", re.I),
        re.compile(r"\b(19|20)\d\d\b"),
    ),
    (  # a person, a body, or a group of people ("communities of color", "young adults")
        re.compile(r"\bwho\b", re.I),
        re.compile(
            r"(?<!^)(?<![.?!] )\b[A-Z][a-z]+\b|\b(communit(y|ies)|people|populations?|"
            r"individuals|groups|residents|citizens|families|youth|adults|men|women)\b"
        ),
    ),
    (  # a recommendation
        re.compile(
            r"\b(should|recommend\w*|suggest\w*|propose\w*|urge\w*|calls? for|steps?|need\w*)\b",
            re.I,
        ),
        re.compile(
            r"\b(should|must|needs? to|(is|are) needed|important|recommend\w*|ought|essential|"
            r"necessary|critical)\b|\b(can|could|would|will)\b[\w ,]{0,20}\bhelp\b",
            re.I,
        ),
    ),
)

# "Which state ...", "What companies ...": places and firms are answered by their names.
NAME_ASKED = re.compile(
    r"\b(which|what) (\w+ )?(states?|cit(y|ies)|countries|country|count(y|ies)|compan(y|ies)|"
    r"firms?|distributors?|manufacturers?|officials?)\b(?! of\b)",
    re.IGNORECASE,
)
# "Which institute ..." is answered by a name with "Institute" in it.
NAMED_KIND = re.compile(
    r"\b(?:which|what) (?:\w+ )?(president|agenc|institute|organization|department|office|administration|"
    r"compan|program|law|act|operation)",
    re.IGNORECASE,
)


def answer_type_match(question: str, sentence: str) -> float:
    """Share of the kinds of answer the question asks for that the sentence holds (0 if none)."""
    asked = [holds for asks, holds in ANSWER_TYPES if asks.search(question)]
    kind = NAMED_KIND.search(question)
    if kind:
        asked.append(re.compile(rf"\b{kind.group(1).capitalize()}"))
    if not asked:
        return 0.0
    return sum(1 for holds in asked if holds.search(sentence)) / len(asked)


def names_in(question: str) -> set[str]:
    """Capitalised words of names, not the question's first word; acronyms are left out
    (they are often spelled out in the report, or spelled differently)."""
    text = re.sub(r"^[^A-Za-z]+", "", question.strip())  # junk before the first word
    words = {w for m in NAME.finditer(text) for w in re.split(r"[ -]", m.group(1))}
    return {w for w in words if not w.isupper() and w.lower() not in ASKING_WORDS} - NOT_NAMES


def holds_names(text: str, names: set[str]) -> bool:
    """Whether the text has every one of the names, as whole words."""
    return all(re.search(rf"\b{re.escape(n)}\b", text) is not None for n in names)


# "Schedule I" is what a question may type as "schedule 1".
ROMAN_NUMBERED = re.compile(
    r"\b(schedule|title|phase|tier|class|level|part|type|chapter|stage)\s+(I{1,3}|IV|V)\b",
    re.IGNORECASE,
)
ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5}


def _arabic(match: re.Match[str]) -> str:
    return f"{match[1]} {ROMAN[match[2].upper()]}"


# "Did Congress approve the request?": what was granted, which a request alone does not tell.
GRANTED = re.compile(r"\b((approv|appropriat|enact)(e|es|ed|ing|s)?|end(s|ed)? up)\b", re.I)
ASKED_FOR = re.compile(r"\b(asked|asks|requested|requests|proposed|proposes)\b", re.I)


def off_report(question: str, sentence: str, before: str, vocabulary: str) -> bool:
    """Whether the question asks about something the report does not hold.

    A number in the question (a year, a figure) must appear in the answering sentence or the
    one before it; a name must appear somewhere in the report, and for a quantity, in the
    answering sentence or the one before it, as must an acronym the report defines ("CBP") or
    the words it spells. What was approved or appropriated is not told by a request alone.
    """
    around = f"{before} {sentence}"
    if GRANTED.search(question) and ASKED_FOR.search(around) and not GRANTED.search(around):
        return True  # a request told, not what came of it
    asked = numbers_in(question) - _corrected_figures(question, around)
    if asked - numbers_in(ROMAN_NUMBERED.sub(_arabic, around)):
        return True
    names = names_in(question)
    if vocabulary and any(not _has_word(vocabulary, name) for name in names):
        return True
    if QUANTITY.search(question):
        lower = around.lower()
        defined = {a: spelled_out(a, vocabulary) for a in ACRONYM_ASKED.findall(question)}
        return any(not _has_word(lower, name) for name in names) or any(
            words and not re.search(rf"\b{a.lower()}\b", lower) and words not in lower
            for a, words in defined.items()
        )
    return False


# A yes-or-no question may put a figure to the test ("Did all 50 states sign?"): a sentence
# giving another figure of the same thing ("46 states") answers it.
FIGURE_OF = re.compile(r"\b(\d[\d,.]*\d|\d)\s+([a-z]{3,})\b", re.IGNORECASE)


# "Were there more than 1,000 ...?": a bound the answer's figure is held against.
BOUND = re.compile(
    r"\b(?:more|fewer|less|greater|higher|lower)\s+than\s+(\d[\d,.]*\d|\d)\b|"
    r"\b(?:over|under|above|below|at least|at most)\s+(\d[\d,.]*\d|\d)\b",
    re.IGNORECASE,
)


def _corrected_figures(question: str, text: str) -> set[str]:
    """The figures a yes-or-no question proposes that the text gives another figure for:
    counting the same thing, or any figure (not a year) when the question's is a bound."""
    if not YES_NO.search(question):
        return set()
    given = {(n, thing.lower()) for n, thing in FIGURE_OF.findall(text)}
    bounds = {a or b for a, b in BOUND.findall(question)}
    if bounds and all(YEAR.fullmatch(n) for n in FIGURE.findall(text)):
        bounds = set()  # a bound is held against a figure the text gives, not a year
    return bounds | {
        n
        for n, thing in FIGURE_OF.findall(question)
        if not YEAR.fullmatch(n) and any(t == thing.lower() and m != n for m, t in given)
    }


def wrong_kind(question: str, sentence: str, before: str) -> bool:
    """Whether the sentence cannot be the kind of answer the question asks for."""
    return bool(kind_lacking(question, sentence, before))


def kind_lacking(question: str, sentence: str, before: str) -> str:
    """The kind of answer the question asks for that the sentence does not give ("percentage",
    "share", "amount", "date", "name", "figure"); '' when it gives every kind asked.

    "What share" needs a share; a question for a quantity needs a figure that is not a year
    or the question's own number (and, for "how many", not a percentage or an age, and a
    count of what is asked about).
    """
    if (
        SHARE_ASKED.search(question)
        and not SHARE_GIVEN.search(sentence)
        and not (PART_COUNTED.search(sentence) and _counts_part(question, f"{before} {sentence}"))
    ):
        return "share"
    # Each kind asked must be there: "How many were installed, and what did they cost?" is
    # not answered by a count alone.
    if PERCENT_ASKED.search(question) and not PERCENT_GIVEN.search(sentence):
        return "percentage"
    if asks_money(question) and not (
        MONEY_GIVEN.search(sentence) and prices_what_is_asked(question, f"{before} {sentence}")
    ):
        return "amount"
    if (
        DOSE_ASKED.search(question)
        and ASKS_AMOUNT.search(question)
        and not DOSE_GIVEN.search(sentence)
    ):
        return "dose"
    if WHEN_ASKED.search(question) and not TIME_GIVEN.search(sentence):
        return "date"
    if NAME_ASKED.search(question) and not names_in(sentence) - names_in(question):
        return "name"
    whole = next(filter(None, (part.search(question) for part in PART_OF_WHOLE)), None)
    if (
        whole
        and not YEAR.fullmatch(whole["figure"])
        and not _another_figure(whole, question, sentence)
    ):
        return "amount" if whole["figure"].startswith("$") else "figure"
    if not QUANTITY.search(question):
        return ""
    if RATE_ASKED.search(question) and not RATE_GIVEN.search(sentence):
        return "rate"  # a death rate is not a count of deaths
    pattern = COUNT_FIGURE if COUNT.search(question) else FIGURE
    figures = {m.group(0) for m in pattern.finditer(sentence)} - numbers_in(question)
    counting = pattern is COUNT_FIGURE
    if not {f for f in figures if not YEAR.fullmatch(f)} and not _number_words(sentence, counting):
        return "figure"
    return "" if counts_what_is_asked(question, f"{before} {sentence}") else "figure"


# "How much of the $26 billion went to X?", "Of the $26 billion, how much ...?": a part of a
# whole the question states, answered only by a figure besides it.
FIGURE_STATED = r"(?P<figure>\$\s?\d[\d,.]*\d|\$\s?\d|\d[\d,.]*\d|\d)\b"
THE = r"(the |that |this |those |its |their )?"
PART_OF_WHOLE = (
    re.compile(rf"\bhow (much|many) of {THE}([\w-]+ ){{0,2}}?{FIGURE_STATED}", re.IGNORECASE),
    re.compile(rf"^\W*of {THE}{FIGURE_STATED}[^?]{{0,60}}\bhow (much|many)\b", re.IGNORECASE),
)
MONEY_FIGURE = re.compile(r"\$\s?\d[\d,.]*\d|\$\s?\d")


def _another_figure(whole: re.Match[str], question: str, sentence: str) -> bool:
    """Whether the sentence gives a figure besides those the question states: an amount of
    money when the whole is one."""
    pattern = MONEY_FIGURE if whole["figure"].startswith("$") else FIGURE
    given = pattern.finditer(sentence)
    own = numbers_in(question)
    return any(
        not (numbers_in(m.group(0)) <= own) and not YEAR.fullmatch(m.group(0)) for m in given
    )


def _number_words(sentence: str, counting: bool = False) -> bool:
    """Whether the sentence says a figure in words ("four times", "half"); a capitalised one
    inside the sentence is part of a name ("Operation Four Horsemen"). `counting`: a count,
    so not a share ("most", "half": "how many died?" is not answered by "most of them")."""
    return any(
        (m.start() == 0 or not m.group(0)[0].isupper())
        and not (counting and SHARE_WORD.fullmatch(m.group(0)))
        for m in NUMBER_WORDS.finditer(sentence)
    )


def asks_money(question: str) -> bool:
    """Whether the question asks what something costs or how much was spent or paid."""
    if PRICED.search(question) or (MONEY_WORDS.search(question) and ASKS_AMOUNT.search(question)):
        return True  # "what does X cost?", "how much does X sell for?", "what was the budget?"
    return bool(HOW_MUCH.search(question) and SPENDING.search(question))


def prices_what_is_asked(question: str, text: str) -> bool:
    """For "what does X cost?", whether the text names a word of X (any, when X is "it")."""
    priced = set(tokenize(match[1])) if (match := PRICED.search(question)) else set()
    return not priced or bool(priced & set(tokenize(text)))


def _counts_part(question: str, text: str) -> bool:
    """Whether the text holds every word of a share question besides its asking words ("What
    portion of those were from opioids?": "opioids"), so that its count is that share."""
    return set(tokenize(question)) - SHARE_WORDS <= set(tokenize(text))


def counts_what_is_asked(question: str, text: str) -> bool:
    """For "how many X ...", whether the text names X, the first word of what is counted
    ("people" may be "individuals"); the verb after it says what they did, not who they are.

    "How many naloxone kits were handed out?" is not answered by a count of deaths.
    """
    match = COUNTED.search(question)
    if match is None:
        return True
    unit = UNIT_OF.match(match.group(1))
    if unit:  # "how many grams of fentanyl": grams are counted, not fentanyl
        return bool(set(tokenize(unit.group(1))) & set(tokenize(text)))
    # ("how many of the 12 cities": cities are counted, not the 12 the question states)
    counted = next(
        (t for t in tokenize(match.group(1)) if t not in QUANTIFIERS and not t[0].isdigit()), None
    )
    words = set(tokenize(text))
    return counted is None or counted in words or bool(counted in PEOPLE and words & PEOPLE)


def _has_word(text: str, word: str) -> bool:
    """Whether the (lower-case) text has the word, or another name of the same group; a
    one-word name in any of its forms ("Mexico" for "Mexican")."""
    lower = word.lower()
    if " " in lower:
        found = re.search(rf"\b{re.escape(lower)}", text) is not None
    else:
        found = has_name(text, lower)  # the name as written first, then its other forms
    return found or any(
        re.search(rf"\b{re.escape(w)}", text) is not None for w in SAME_GROUP.get(lower, ())
    )


def cited_figures(report: Report) -> frozenset[str]:
    """The figures stated by the report's sentences that cite a source."""
    return frozenset(f for s in report.sentences if s.endnotes for f in numbers_in(s.text))
