"""The shape of answer a question asks for: one fact, a definition, a yes/no, a composed
answer (a list, an overview, a why, a how, a comparison, a change over time, the figures or
the case for something: several facts) or a summary of the whole report.

Pure rules over the question's English, never over one report's wording.
"""

from __future__ import annotations

import re
from enum import Enum


class Shape(Enum):
    """What kind of answer fits a question."""

    FACT = "fact"
    DEFINITION = "definition"
    YES_NO = "yes_no"
    COMPOSED = "composed"
    SUMMARY = "summary"


COMPOSED_CUES = re.compile(
    r"\b(walk (me |us )?through|overview|summar\w*|outline|describe|explain|elaborate|"
    r"compare|comparison|contrast|differ\w*|versus|vs\.?|"
    r"over time|trend\w*|evolv\w*|changed?|progress\w*|history of|"
    r"list|what are (the|some|its) (main|key|major|primary|biggest|central)|"
    r"(main|key|major|primary|biggest|central) (causes|drivers|reasons|factors|points|arguments|"
    r"findings|takeaways|recommendations|proposals|solutions|steps|ideas|themes|challenges)|"
    r"in what ways|what (steps|measures|actions|policies|solutions|changes|reforms)|"
    r"recommend\w*|propos\w*|suggest\w*|advocat\w*|call(s|ed)? for|"
    r"(say|says|said|tell \w+|know|learn|find|write|discuss\w*) about|"
    r"approach|strategy|strategies|plan|numbers|figures|statistics|stats|make the case|"
    # Gathering asked for ("sum up", "pull together", "the big picture", "what case ..."), and
    # money or evidence asked for with no one amount named: "What money has X put in?"
    r"sum (it |this |that )?up|pull \w* ?together|in perspective|a sense of|big picture|"
    r"case (for|against)|^\W*what case|^\W*what (?:[\w-]+ ){0,2}?(money|funding|evidence|proof)|"
    r"^\W*(is|are) there (any )?(proof|evidence))\b"
    # "Why ...", and "how" with a verb (a process: "how does ... work"), not with an adjective
    # (a degree: "how small", "how many").
    r"|^\W*(why\b|how (does|do|did|is|are|was|were|can|could|should|would|has|have|had|will)\b)"
    # "What did the administration do?", "What should employers do?": what someone does, with
    # no one matter named, or being done about one ("What has X been doing about Y?", "What has
    # X done or asked for to fight Y?", "What has X done on Y?"), or is asked to do, is a list
    # of actions; and what has happened with a matter, a run of events.
    r"|^\W*what (has|have|had|did|does|do|is|are|was|were|should|can|could|would|will|must) "
    r"[^?]{1,60}?\b(do|done|doing)\W*$"
    r"|^\W*what [^?]{1,60}?\b(done|doing)( \w+){0,3}? (to|about|against|on)\b"
    r"|^\W*what [^?]{1,60}?\basked to do\b|^\W*what(['’]s| has| have| had) (\w+ )?happened\b",
    re.IGNORECASE,
)
# "What does the report recommend on X" is composed; "Which agency did it recommend" wants one name.
ONE_THING = re.compile(
    r"^\W*(which|who|whom|when|where|what year|what (percentage|percent|share|number|amount|"
    r"figure|rate|total|date|agency|program|law|act|office|department))\b|\bhow (many|much)\b",
    re.IGNORECASE,
)
# "Which laws does it name?", "What root causes does it identify?": things in the plural,
# asked for as a list (the noun, then an auxiliary verb).
LIST_ASKED = re.compile(
    r"^\W*(which|what) (?:[\w-]+ ){0,2}(?!(?:does|was|has|is|this|its|us)\b)[a-z-]+[^s\W]s "
    r"(do|does|did|are|were|have|has|can|could|should|would|will)\b"
    # "What are the waves of the epidemic?", "What were its results?": the members of a set
    # (not its names, nor what the things do: "What are the funds used for?"), the noun after
    # up to four modifiers ("the deeper legal and medical causes of").
    r"|^\W*what (are|were) (the|its|their) (?:[\w-]+ ){0,4}?(?!names\b)[a-z-]+[^s\W]s"
    r"(\s+(of|for|to|in|on|from|behind|against|facing)\b(?!.*\b(called|named)\b)|\W*$)",
    re.IGNORECASE,
)
# "What role do pharmacies play?", "What part does Congress play?", "Where do X come up?".
ROLE_ASKED = re.compile(
    r"\b(role|part)s? (do|does|did|can|could|should|would|will) .*\bplay\b|"
    r"^\W*where (do|does|did) .*\b(come up|appear|show up|feature)\b",
    re.IGNORECASE,
)
# "What does the report flag as ...?", "What evidence does it give ...?", "What root causes does
# the report identify?": what the report says on a matter, asked for with no one-thing noun
# (a plural, or a mass noun such as "evidence"), is an open question.
REPORT_CONTENT = re.compile(
    r"^\W*what\s+(?:(?:[\w'’-]+\s+){0,3}?(?:[\w'’-]+[^s\W's]s|evidence|information|data|"
    r"advice|proof|support)\s+(?:[\w,'’-]+\s+){0,6}?)?(does|did|do)\s+((the|this)\s+)?"
    r"(report|paper|authors?|it|cap)\b"
    # "What's the report's case against X?", "What is the paper's view of Y?"
    r"|^\W*what(['’]s|\s+is|\s+are)\s+(the\s+)?(report|paper|authors?)['’]s?\s+(case|arguments?|"
    r"views?|position|stance|take|reasoning|rationale|critique|concerns?|thinking)\b",
    re.IGNORECASE,
)
SUMMARY = re.compile(
    r"\b(summar\w*|overview|gist|tl;?dr|recap\w*|sum (it |this |that )?up|(main|key|central|core|overall|chief) (points?|"
    r"takeaways?|arguments?|findings?|messages?|thesis|ideas?|conclusions?)|bottom line|"
    r"in a nutshell|what is (the report|this report|the paper|this paper|it) about|"
    # "What's in the key takeaways?", "What does the conclusion say?" (naming no topic)
    r"what(['’]s| is| are) in)\b|\b(say|says|cover|covers|contain|contains)\W*$",
    re.IGNORECASE,
)
# Words that name the report or the act of summarising, not a topic.
NOT_A_TOPIC = re.compile(
    r"\b(the|this|a|an|whole|entire|full|report|reports|paper|document|cap|center for american "
    r"progress|section|part|chapter|here|summar\w*|overview|gist|tl;?dr|recap\w*|sum|up|give|"
    r"me|us|please|can|could|"
    r"you|in|of|briefly|brief|"
    r"short|quick|main|key|central|core|overall|chief|points?|takeaways?|arguments?|findings?|"
    r"messages?|thesis|ideas?|conclusions?|bottom|line|nutshell|what|whats|is|are|s|it|"
    r"about|its|and|provide|an?|few|one|two|three|four|five|\d{1,2}|sentences?|words?|paragraphs?|"
    r"lines?|"
    r"bullets?|for|to|with|as|do|does|say|says|cover|covers|contain|contains|tell|show)\b",
    re.IGNORECASE,
)
# A part of the report's apparatus asked for, of the whole report: "What are its main
# recommendations?", "How many solutions does the report propose?", "List the sections.",
# "How many endnotes does it have?". Those words and NOT_A_TOPIC's are all the question has.
REPORT_PARTS = {
    "recommendations": re.compile(r"\b(recommend\w*|propos\w*|solutions?)\b", re.IGNORECASE),
    "sections": re.compile(
        r"\b(sections|chapters?|headings?|contents|outline|structure\w*|organi[sz]ed)\b",
        re.IGNORECASE,
    ),
    "endnotes": re.compile(r"\b(endnotes?|footnotes?|notes)\b", re.IGNORECASE),
}
NOT_A_TOPIC_OF_PARTS = re.compile(
    r"\b(recommend\w*|propos\w*|solutions?|polic(y|ies)|do|does|did|make|makes|made|offer\w*|"
    r"put|puts|forward|how|many|number|list|all|total|authors?|they|there|has|have|i|so|then|"
    r"now|ok|okay|well|every|each|their|sections|chapters?|headings?|table|contents|outline|"
    r"structure\w*|organi[sz]ed|divided|into|endnotes?|footnotes?|notes|name|names|show|biggest|"
    r"top|most|important|primary|major)\b",
    re.IGNORECASE,
)


# Where the report says something: "Which section covers X?", "Where in the report is Y?".
WHERE_ASKED = re.compile(
    r"\b(where in (the|this|its) (report|paper|document)|(which|what) (section|chapter|page|"
    r"heading)s?( of (the|this|its) (report|paper|document))?\b(?! (of|on|about|called|titled)\b)"
    # "Which part covers X?", "What part of the report is about Y?" ("What part does X
    # play?" asks for a role)
    r"|(which|what) parts? (of (the|this|its) (report|paper|document)|(covers?|discuss\w*|talks?|"
    r"deals?|address\w*|mentions?)\b)"
    r"|where (does|do) (the|this) (report|paper|document|authors?) (talk|discuss|mention|cover|"
    r"address|deal))",
    re.IGNORECASE,
)
# A question that names the report itself: "Summarize the report." asks for all of it.
REPORT_NAMED = re.compile(r"\b(report|paper|document)\b", re.IGNORECASE)


def report_part_asked(question: str) -> str:
    """The report's apparatus asked for, naming no topic ('recommendations', 'sections', ...)."""
    text = NOT_A_TOPIC.sub(" ", " ".join(question.split()))
    if re.search(r"\d", question) or re.sub(r"\W+", "", NOT_A_TOPIC_OF_PARTS.sub(" ", text)):
        return ""  # (a number names one: "What is endnote 3?")
    return next((part for part, asked in REPORT_PARTS.items() if asked.search(question)), "")


YES_NO = re.compile(
    r"^\W*(is|are|was|were|does|do|did|can|could|should|has|have|had|will|would)\b", re.IGNORECASE
)
# "What is LEAD?", "What are fentanyl test strips?", "Define X", "What does HIDTA stand for?"
IN_THE_REPORT = r"(\s+(in|according to|per) (the|this|its) (report|paper|document))?"
DEFINITION = re.compile(
    # "What exactly is X?", "What is meant by X?", "Define X.": the end's mark is not the term's,
    # nor "in this report" ("What does MAT stand for in this report?"); "What is being done?"
    # asks what is done (a passive), no term.
    rf"^\W*(what|who)\s+((exactly|actually|really)\s+)?(is|are|was|were)\s+(meant by\s+)?"
    rf"(an?\s+|the\s+)?(?!being\b)(?P<term>[^?,;]{{2,60}}?){IN_THE_REPORT}\s*[.?!]*\s*$"
    rf"|^\W*(define|what does)\s+(?P<term2>[^?]{{2,60}}?)(\s+(stand for|mean))?{IN_THE_REPORT}"
    rf"\s*[.?!]*\s*$|^\W*how (does|do) (the report|it|they) (define|describe|explain)\s+"
    rf"(?P<term3>[^?]{{2,60}}?){IN_THE_REPORT}\s*[.?!]*\s*$",
    re.IGNORECASE,
)
DEFINITION_MAX_WORDS = 5
PURPOSE_ASKED = re.compile(r"\s+(even |really |actually )?(used |meant )?for$", re.I)  # "X for?"
# Terms that ask for a figure or a judgement, not a definition: "what is the death rate".
NOT_DEFINED = re.compile(
    r"\b(report|paper|author|main|key|difference|reason|role|goal|purpose|impact|effect|rate|"
    r"number|share|percentage|total|cost|amount|figure|budget|price|count|level|status|result|"
    r"outcome|problem|solution|answer|point|best|biggest|largest)s?\b",
    re.IGNORECASE,
)

# "And what about the chemical companies?" asks what the report says of a matter named alone;
# not of a figure ("what about 2019?" asks the last question again), nor of one of a list.
WHAT_ABOUT = re.compile(
    r"^\W*(and |so |ok,? )?(what|how) about (?!the (one|other|first|second|third|last|latter|"
    r"former)\b)(?![^?]*\d)[^?,;]{2,60}\??\s*$",
    re.IGNORECASE,
)


def question_shape(question: str) -> Shape:
    """Classify the answer the question wants (see Shape)."""
    text = " ".join(question.split())  # one space between words: no pattern sees a long run
    if SUMMARY.search(text) and not re.sub(r"\W+", "", NOT_A_TOPIC.sub(" ", text)):
        return Shape.SUMMARY
    if defined_term(text):
        return Shape.DEFINITION
    if COMPOSED_CUES.search(text) and not ONE_THING.search(text):
        return Shape.COMPOSED
    open_asked = (LIST_ASKED, ROLE_ASKED, REPORT_CONTENT)  # and "what about X?": X named alone
    if any(asked.search(text) for asked in open_asked) or WHAT_ABOUT.match(text):
        return Shape.COMPOSED
    parts = question_parts(text)  # "What has it done, and where does it fall short?"
    if len(parts) > 1 and any(question_shape(part) is Shape.COMPOSED for part in parts):
        return Shape.COMPOSED
    if YES_NO.search(text):
        return Shape.YES_NO
    return Shape.FACT


# "Explain harm reduction.", "Tell me about LEAD": an open request about a term, which opens
# with what the term is (the answer goes on past it: the shape stays composed).
EXPLAINED = re.compile(
    r"^\W*(?:explain|describe|tell (?:me|us) about)\s+(?:the\s+|an?\s+)?"
    r"(?!(?:how|why|what|when|where|which|who|whether|if)\b)(?P<term>[^?,;.!]{2,60}?)"
    r"\s*[.?!]?\s*$",
    re.IGNORECASE,
)


def asked_term(question: str) -> str:
    """The term a definition question, or a request to explain one alone, asks about, in the
    question or in one of its parts ("What does X stand for, and what does it involve?"); or ''."""
    terms = (defined_term(p) or defined_term(p, EXPLAINED) for p in question_parts(question))
    return next(filter(None, terms), "")


def defined_term(question: str, pattern: re.Pattern[str] = DEFINITION) -> str:
    """The term a definition question asks about ('LEAD'), or ''."""
    match = pattern.search(text := " ".join(question.split()))
    if match is None or LIST_ASKED.search(text):  # "What are the waves?": no one thing
        return ""
    groups = match.groupdict()
    term = (groups.get("term") or groups.get("term2") or groups.get("term3") or "").strip()
    term = PURPOSE_ASKED.sub("", term)
    words = term.split()
    if not words or len(words) > DEFINITION_MAX_WORDS:
        return ""
    if re.search(r"\d", term) or NOT_DEFINED.search(term):
        return ""
    return term


COUNT_WORDS = dict(
    zip("one two three four five six seven eight nine ten".split(), range(1, 11), strict=True)
)
REQUESTED_COUNT = re.compile(
    r"\b(\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten)\s+"
    r"(sentences?|points?|bullets?|lines?|takeaways?)\b",
    re.IGNORECASE,
)


def requested_count(question: str) -> int | None:
    """How many sentences the question asks for ("in three sentences"), or None."""
    match = REQUESTED_COUNT.search(question)
    if match is None:
        return None
    word = match.group(1).lower()
    return int(word) if word.isdigit() else COUNT_WORDS[word]


# A question about the sources themselves: which link or endnote backs a claim. "Support"
# and "link" ask for one only as a source does ("what supports it", "the link for it"), not
# as the report does ("Does the report support ...?", "How does it link X to Y?"). "Supports"
# before "does" is a noun, the thing asked for ("What economic supports does it propose?").
SOURCE_INTENT = re.compile(
    r"\b(source|sources|links?|url|cite|cites|cited|citation|citations|reference|endnote|"
    r"endnotes|footnote|evidence for|backs? up)\b"
    r"|\b(what|which)\s+(\w+\s+){0,2}supports?\b(?!\s+(do|does|did|would|should|could|can|will)\b)",
    re.IGNORECASE,
)
LINK_AS_A_VERB = re.compile(r"\b(do|does|did)\s+(\w+\s+){1,3}link\b", re.IGNORECASE)
# "What results does it cite?", "NIDA figures cited in the report": what is cited is asked
# for; as is any thing but a source a "what ... does it cite" asks for ("What federal money
# does the report cite?"; not "Which study does it cite?").
SOURCE_NOUN = (
    r"sources?|stud(y|ies)|research|reports?|papers?|articles?|analys[ie]s|surveys?|"
    r"organi[sz]ations?|agenc(y|ies)|authors?|links?|urls?|(end|foot)notes?|references?|"
    r"citations?|experts?|institutes?"
)
CONTENT_CITED = re.compile(
    r"\b(results|figures|numbers|evidence|examples|data|statistics|findings)\b"
    r"(\s+[\w’']+){0,4}\s+(cite|cites|cited)\b"
    rf"|\b(what|which)\s+((?!({SOURCE_NOUN})\b)\w+\s+){{1,3}}(does|do|did)\s+"
    r"(the\s+(report|authors)|it|they)\s+cite\b",
    re.IGNORECASE,
)

# "The main sources of fentanyl", "the bigger source?": where a thing comes from, not what backs
# a claim. A source "of" something asks for a citation only when a claim word (a figure, a
# statement, data) follows within a few words; a source's size is never a citation's.
THING_SOURCED = re.compile(
    r"\bsources?\s+of\s+(?!(?:(?!(?:does|do|did|is|are|was|were)\b)[\w’',.%$-]+\s+){0,3}"
    r"(?:claims?|figures?|numbers?|statistics?|"
    r"stats|data|information|info|quotes?|statements?|facts?|findings?|estimates?|answers?|"
    r"reports?|study|studies|sentences?|this|that|these|those|it)\b)"
    r"|\b(?:bigger|biggest|larger|largest|greater|greatest)\s+sources?\b",
    re.IGNORECASE,
)


# "What is endnote 54?", "show me note 12", "what's [37]?": one endnote, by its number.
ENDNOTE_NUMBER = re.compile(
    r"\b(?:end ?notes?|foot ?notes?|notes?|citations?|references?|refs?|sources?)\s*"
    r"(?:no\.?|number|#)?\s*\[?(\d{1,4})\]?(?!\s*(?:%|percent|million|billion))"
    r"|\[(\d{1,4})\]",
    re.IGNORECASE,
)


def endnote_asked(question: str) -> int | None:
    """The number of the endnote a question asks about by number, or None."""
    match = ENDNOTE_NUMBER.search(question)
    return int(match[1] or match[2]) if match else None


def asks_for_sources(question: str) -> bool:
    """Whether the question asks which source, link or endnote backs a claim: a source word
    outside a verb "link", a "cite" of what is asked for, and a source of a thing."""
    rest = THING_SOURCED.sub(" ", CONTENT_CITED.sub(" ", LINK_AS_A_VERB.sub(" ", question)))
    return SOURCE_INTENT.search(rest) is not None


# Where a question asks a second thing: ", and how …", " and why …", "; what …". The second
# part starts with a question word or an auxiliary verb, so "X and Y programs" never splits.
PART_BOUNDARY = re.compile(
    r"(?:,|;)?\s+(?:and|as well as|plus)\s+(?=(?:how|what|when|which|who|whom|where|why|whether|"
    r"is|are|was|were|does|do|did|has|have|had|can|could|should|would|will)\b)"
    r"|[;?]\s+(?=\w)",
    re.IGNORECASE,
)
PART_MIN_WORDS = 3  # a shorter piece ("and why?") leans on the other part: no split


def question_parts(question: str) -> tuple[str, ...]:
    """Each part of a question that asks several things ("How much, and when?" stays whole)."""
    pieces = [p for p in (q.strip(" ,;") for q in PART_BOUNDARY.split(question.strip())) if p]
    if len(pieces) < 2 or any(len(p.split()) < PART_MIN_WORDS for p in pieces):
        return (question.strip(),)
    return tuple(p if p.endswith("?") else f"{p}?" for p in pieces)
