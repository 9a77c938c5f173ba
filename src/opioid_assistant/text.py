"""Words and numbers of a text: the one tokeniser, the word lists that say which words carry
no meaning, and numbers as written.

This module imports nothing from the package, so any stage may use it without pulling in
Chroma, torch or LangChain.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Glue words. Parsing ignores only these when it asks whether a heading restates a summary
# bullet: every other word of a heading ("how", "will", "should") is part of what it says.
FUNCTION_WORDS = frozenset(
    "a an and the of to in on for with by at from as or their its is are".split()
)
# Words that carry no search meaning in a question: glue words, the question's own wording,
# and what it says about the report itself ("what does the report say about ...").
STOPWORDS = FUNCTION_WORDS | frozenset(
    """be but can could did do does had has have how i if into it me my on our says say said so
    than that them then there these they this those us was we were what when where which who
    whom why will would you your about according report report’s report's tell give show
    please much many done since after before during another any some each every just only very
    also such both own""".split()
)
# Words that ask rather than name: capitalised at the start of a question or clause ("Which",
# "Explain", "And"), they are still not a name.
ASKING_WORDS = frozenset(
    "what which who whom whose how why when where does did do is are was were can could should "
    "would will tell give list explain describe summarize please and or but the a an in of".split()
)
# Words of a question that are never what it is about: asking words, glue words, and words
# about the report and its sources. A question's key terms are among its other words.
QUESTION_WORDS = ASKING_WORDS | frozenset(
    """summarise on for to about with from by at as it its this that these those there their
    they them report report's reports say says said mention mentions mentioned cover covers
    covered discuss discusses anything something any some much many more most also than
    according me us our you your have has had been being be not no yes
    source sources link links url urls cite cites cited citation citations endnote endnotes
    footnote reference references pdf doi website webpage page""".split()
)
# Words a question uses for what the report phrases as "should".
SYNONYMS = dict.fromkeys(
    "recommend recommends recommended recommendation recommendations propose proposes urge "
    "urges suggest suggests advise advises".split(),
    "should",
)
# Irregular verb forms that stemming by suffix cannot join to their verb.
SYNONYMS |= {"wrote": "write", "written": "write", "authored": "author", "ran": "run"}
# Places people are held: "corrections systems", "jails" and "prisons" are one.
SYNONYMS |= dict.fromkeys("corrections correctional jail jails".split(), "prison")
SYNONYMS |= {"track": "schedule"}  # "on track" is "on schedule" (the report never says "track")
TOKEN = re.compile(r"\$?\d+(?:[.,]\d+)*%?|[a-z]+")
# "One" after a determiner or an ordinal stands for a noun said before ("another one", "the
# first one", "which ones"): a pronoun, not the number. A ratio ("one in five") and a compound
# ("one-time") keep it.
PRONOUN_ONE = re.compile(
    r"\b(another|this|that|which|each|every|the|any|no|other|same|first|second|third|last|"
    r"next|only)\s+ones?\b(?![-’'])(?!\s+(?:in|out of)\s)"
)


# "A second one" is another of a kind ("Was there a second one?"), not a second of anything.
ANOTHER_ONE = re.compile(r"\ban? (?:second|third|fourth|fifth) (?=ones?\b)")
# The country, one token however written ("U.S.", "U.S.A.", "US" and "USA" in capitals), not
# the letters "u" and "s", nor the pronoun "us".
COUNTRY = re.compile(r"\bUSA?\b|\bU\.S\.(?:A\.)?(?=\W|$)")
# Contractions: a negative one is its verb and "not" ("hasn't" -> "has not", "won't" -> "will
# not"); the others ("they're", "we've", "I'd", "you'll", "I'm") add only a helping verb.
NEGATIVE_CONTRACTION = re.compile(r"\b(\w+)n[’']t\b", re.IGNORECASE)
IRREGULAR_NEGATIVES = {"ca": "can", "wo": "will", "sha": "shall"}  # can't, won't, shan't
HELPING_CONTRACTION = re.compile(r"(?<=\w)[’'](?:re|ve|d|ll|m)\b")


def tokenize(text: str) -> list[str]:
    """Lowercase word and number tokens; numbers keep their decimals ('13.8', '1,216')."""
    return list(_tokens(text))


@lru_cache(maxsize=16384)
def _tokens(text: str) -> tuple[str, ...]:
    """tokenize's work, kept for texts met again: an answer tokenizes the same report
    sentences many times over (ranking, follow-ups, checks)."""
    tokens = []
    # Possessives go ("Seattle’s" -> "seattle"); hyphens split ("know-your-customer").
    text = COUNTRY.sub(" usa ", text)
    text = ANOTHER_ONE.sub("another ", re.sub(r"[’']s\b", "", text.lower()))
    text = uncontracted(text, negation=False)
    text = PRONOUN_ONE.sub(r"\1", text)
    for token in TOKEN.findall(text):
        token = SYNONYMS.get(token, token).lstrip("$").rstrip("%")
        if token and token not in STOPWORDS:
            tokens.append(_stem(token))
    return tuple(tokens)


def uncontracted(text: str, negation: bool = True) -> str:
    """The text with its contractions undone: "hasn't" -> "has not", "can't" -> "can not",
    "won't" -> "will not" (without `negation`, the verb alone); "they're", "we've", "I'd" ->
    "they", "we", "I"."""
    not_ = " not" if negation else ""
    return HELPING_CONTRACTION.sub(
        "",
        NEGATIVE_CONTRACTION.sub(
            lambda m: IRREGULAR_NEGATIVES.get(m[1].lower(), m[1]) + not_, text
        ),
    )


def _stem(token: str) -> str:
    """Fold plurals so 'substances' meets 'substance' (numbers are left alone)."""
    if token[0].isdigit() or len(token) <= 3:
        return token
    if token.endswith("ies"):
        return token[:-3] + "y"
    if token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


# The endings a name takes in another inflection (China, Chinese; Mexico, Mexicans; Canada,
# Canadian; Democrat, Democratic; Congress, Congressional; Latina, Latino): two forms of one
# name differ only in these after their shared letters ("Medicaid" is no form of "Medicare").
NAME_ENDINGS = frozenset(
    "s es n ns an ans ian ians ese ish ic ics ical al ial ional ionals is a e i o u x y".split()
) | {""}
NAME_STEM = 4  # the forms of a name share this many leading letters at least ("Chin-ese")


def same_name(name: str, other: str) -> bool:
    """Whether two lowercase words are forms of one name: they share all but their last few
    letters (NAME_STEM at least), and past those each ends in a name ending (NAME_ENDINGS)."""
    pairs = zip(name, other, strict=False)
    shared = next((i for i, (a, b) in enumerate(pairs) if a != b), min(len(name), len(other)))
    if shared < max(NAME_STEM, min(len(name), len(other)) - 3):
        return False
    return name[shared:] in NAME_ENDINGS and other[shared:] in NAME_ENDINGS


@lru_cache(maxsize=8192)
def has_name(text: str, name: str) -> bool:
    """Whether a lowercase text writes a (lowercase) one-word name in any of its forms
    ("mexico" for "mexican")."""
    if re.search(rf"\b{re.escape(name)}", text):
        return True
    stem = name[: max(NAME_STEM, len(name) - 3)]
    return any(same_name(name, found) for found in re.findall(rf"\b{re.escape(stem)}[a-z]*", text))


@lru_cache(maxsize=4)  # one per report snapshot in use
def capitalised_names(text: str) -> frozenset[str]:
    """The words a text capitalises inside its sentences and never writes in lowercase: its
    names ("America", "Congress", "Narcan"), not the words that only open a sentence."""
    lowercase = set(re.findall(r"\b[a-z]+\b", text))
    inside = re.findall(r"(?<=[a-z,;] )[A-Z][a-z]+", text)
    return frozenset(w for w in inside if w.lower() not in lowercase)


# A number as written, and the scale letter that may follow it: "$5.4M" is the report's
# "$5.4 million", "2k" its "2,000".
NUMBER = re.compile(r"\b(?:FY)?(\d[\d,.]*\d|\d)(k|K|M|B|bn)?\b")
DECIMAL = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")  # 1,500 or 1.5
SERVICE_LINE = re.compile(r"[2-9]11|988")  # N11 codes and the crisis line


def numbers_in(text: str) -> set[str]:
    """Numbers as written ('2024' for 'FY2024'), without trailing punctuation; not the
    three-digit service lines people dial ('911', '988'), which name a service."""
    found = {_scaled(m.group(1).rstrip(".,"), m.group(2)) for m in NUMBER.finditer(text)}
    return {n for n in found if not SERVICE_LINE.fullmatch(n)}


def _scaled(number: str, scale: str | None) -> str:
    """A number with a thousands letter written out ("2k" -> "2,000"); a million or billion
    letter leaves the number as the report writes it before the word ("5.4M" -> "5.4")."""
    if scale not in ("k", "K") or not DECIMAL.fullmatch(number):
        return number  # "1.2.3k" is no number to scale: kept as written
    value = float(number.replace(",", "")) * 1000
    return f"{value:,.0f}" if value.is_integer() else number


@lru_cache(maxsize=64)  # asked once per candidate sentence of a question: the same answer
def spelled_out(acronym: str, text: str) -> str:
    """The words a (lower-case) text spells a defined acronym with ("customs and border
    protection" where it writes "customs and border protection (cbp)", "department of
    justice" for DOJ); '' if it defines none."""
    at = text.find(f"({acronym.lower()})")
    words = re.findall(r"[\w’'.-]+", text[max(0, at - 160) : at]) if at > 0 else []
    for n in range(1, len(words) + 1):
        parts = [p for w in words[-n:] for p in w.split("-") if p]
        content = [p for p in parts if p not in FUNCTION_WORDS]
        if acronym.lower() in ("".join(p[0] for p in content), "".join(p[0] for p in parts)):
            return " ".join(words[-n:])
        if len(content) > len(acronym):
            break
    return ""
