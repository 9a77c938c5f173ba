"""Help first: the fixed help lines and what tells that a question needs one (the answer
that opens with one is `generation.topic_reply`).

The help lines and the report topic each guard outcome answers from are data
(`data/help_lines.json`), never generated. A question's need is read two ways, which
`guard.decide` combines with the rules for acts: cue words (an overdose under way; seeking
naloxone, legal cover or treatment; who is asking), and a vote of the labelled examples
nearest it (`data/guard_examples.json`) in the assistant's own embedding space.
`topic_reply` is the answer stage for what the guard marked: the help line first, then the
report on the outcome's topic.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

import numpy as np

from opioid_assistant.answer.turn import Turn
from opioid_assistant.index.embedding import Embedder

HELP_KINDS = ("overdose", "treatment")
LABELS = (*HELP_KINDS, "harmful", "benign")
NEIGHBOURS = 5  # the labelled examples nearest a question that vote on it

# "I" is not the asker in "Schedule I" or "Title I".
NOT_ROMAN = "".join(
    f"(?<!{word} )" for word in "schedule title phase class tier type level part".split()
)
FIRST_PERSON = re.compile(
    rf"{NOT_ROMAN}\b(i|i['’]?m|i['’]?ve|me|my|mine|myself|we|our|us)\b", re.IGNORECASE
)
# The asker or the people around them ("give me", "tell me" and "the US" are not).
PERSONAL = re.compile(
    rf"{NOT_ROMAN}\b(i|i['’]?m|i['’]?ve|i['’]?d|my|mine|myself|we|we['’]re|our|ours|ourselves)\b"
    r"|(?<!give )(?<!tell )(?<!show )\bme\b|(?<!the )\bus\b"
    # "you" as anyone ("can you get arrested"), not the assistant ("can you give me ...").
    r"|\b(you|u|ya|your|ur|yourself)\b(?! (think|know|mean|say|give|tell|show|point|explain|list|"
    r"find|provide|share|summari[sz]e|describe|cite|link|quote))|\b(someone|somebody|anyone)\b"
    # The people around the asker, as texting names them ("bf wont wake up").
    r"|\b(bf|gf|bff|boyfriend|girlfriend|husband|wife|partner|fianc[eé]e?|roommate|roomie|"
    r"friend|buddy|bro|sis|mom|mum|mother|dad|father|son|daughter|kid|child|brother|sister|"
    r"cousin|uncle|aunt|grandma|grandpa|neighbou?r|coworker|teen|teenager)\b",
    re.IGNORECASE,
)
# A question about what others do or did ("how did Purdue market ...", "why do dealers ...").
THIRD_PARTY = re.compile(
    r"^\W*(how|why|when|where|what|who|which)\s+(\w+\s+)?(did|do|does|are|were|was|is|have|has)\s+"
    r"(?!(i|you|u|we|one|someone|a person|people)\b)",
    re.IGNORECASE,
)
# A question for a count, a share, a reason, a name or a summary is about the crisis, not a
# way to get help.
ABOUT_THE_CRISIS = re.compile(
    r"^\W*(how (many|much|often|long ago)|what (share|percent\w*|fraction|proportion|rate|number|"
    r"year)|why|when|which|who|in what year|summari[sz]e|explain|describe|list|outline|"
    r"give (me )?(an? )?(overview|summary))\b",
    re.IGNORECASE,
)
# ... or as misuse: from an illicit source, to get high, or on a dose schedule kept alone.
MISUSE = re.compile(
    r"\bwithout (a |my |any )?(prescription|script|rx|doctor|dr)\b|\bonline\b|\bstreet\b|"
    r"\bdark ?web\b|\bfor sale\b|\b(dealers?|plugs?)\b|\bfake\b|\bforged?\b|\bhigh\b|"
    r"\bon (my|your|their) own\b|\b(schedule|chart|regimen)\b",
    re.IGNORECASE,
)
# Signs of an overdose under way or just past ("is ODing", "won't wake up", "turning blue").
EMERGENCY = re.compile(
    r"\b(overdos(ing|ed)|od'?(ing|d|ed)|o\.d\.?'?(ing|d|ed)|(is|are|was|were|keeps?) od)\b"
    r"|\b(not|isn'?t|isnt|barely|stopped|trouble|can'?t|cant|cannot|won'?t|wont|hardly)\s+"
    r"(breath\w*|wak\w*|respon\w*|mov\w*|wake)"
    r"|\b(unresponsive|unconscious|passed out|passing out|collaps\w*|blacked out|"
    r"nodding (off|out)|turn(ing|ed) (blue|gr[ae]y|purple|pale)|blue lips|pinpoint pupils|"
    r"(lips|face|skin|fingers?|nails) (are |is |look |looks |went |turned )?(blue|gr[ae]y|purple)|"
    r"gurgl\w*|foaming|snoring weird|took too (much|many)|slumped|cold and clammy|out cold|"
    r"(having|had|has) (a )?seizure|convuls\w*|(slow|shallow|weird|funny|strange) breathing|"
    r"breathing (is |really |very |so )?(slow|shallow|weird|funny|strange))\b",
    re.IGNORECASE,
)
# "so I don't OD", "without overdosing": an overdose to avoid while using is not under way.
AVOIDING = re.compile(
    r"\b(without|avoid\w*|so (i|we|you|they|he|she) (don'?t|do not|won'?t|wont|dont)|"
    r"not to|never|before (i|you|we))\b.{0,25}\b(overdos\w*|od\w*|dy?ing|die|pass(ing)? out)",
    re.IGNORECASE,
)
# Reaching help in an overdose: naloxone, calling for help, and the law that covers it.
OVERDOSE_HELP = re.compile(
    r"\b(narc[ae]n|narcon|nal[ao]x\w*|kloxxado|zimhi|good samaritan|overdos\w*|od'?s?|"
    r"call(ing|ed|s)?\s+(\w+\s+){0,2}(911|an ambulance|ems|paramedics|for help|the cops|"
    r"the police)|911)\b",
    re.IGNORECASE,
)
# Asking for treatment or support for drug use.
TREATMENT_HELP = re.compile(
    r"\b(quit\w*|(stop|stopping) (using|doing|taking|shooting)|(want|ready|trying|try|need|how) "
    r"to (stop|quit)|can'?t stop|get(ting)? (clean|sober|off|help)|sober\w*|rehab\w*|detox\w*|"
    r"treatment|recover\w*|addict\w*|hooked|dependen\w*|withdraw\w*|relaps\w*|suboxone|"
    r"methadone|buprenorphine|sublocade|vivitrol|naltrexone|helpline|hotline|support group|"
    r"counsel\w*|therap\w*|taper\w*|clinic|hopeless|giv(e|ing) up|struggl\w*|"
    r"(is|are|keeps?|been|started|starts) (using|shooting|snorting|smoking|popping)|"
    r"us(e|ing) again|stay(ing)? clean|kick\w* (the |my |this )?(habit|addiction|it)|dope ?sick|"
    # A crisis: the treatment line carries 988.
    r"suicid\w*|kill myself|want to die|end it all|self[- ]harm|mental health)\b",
    re.IGNORECASE,
)
# Wanting to die or to hurt oneself, in the asker's words: the crisis line before anything else.
CRISIS = re.compile(
    r"\b(kill (me|myself)|end(ing)? (it all|my life|my own life)|tak(e|ing) my (own )?life|"
    r"(want|wants|wanted|wanting|wanna|ready|going|gonna) (to )?die|better off dead|"
    r"rather (be )?dead|(don'?t|dont|do not) want to (live|be alive|be here|wake up|go on)|"
    r"no reason to (live|go on)|(hurt|harm)(ing)? myself|(overdos\w*|od) on purpose|"
    # A lethal amount for oneself: "how many pills would it take to die", "... to kill me".
    r"(take|enough|need|needed)( \w+){0,2} to (die|kill (me|myself))|"
    # A way to die asked for: "the easiest way to die", "is it painless to die from an OD".
    r"(painless|peaceful|easiest|easy|quickest|quick|fastest|surest|best) (way )?to die|"
    r"painless(ly)? (death|dying)|(die|dying|death) (\w+ ){0,3}painless(ly)?)\b"
    # "I'm suicidal", "my self-harm": the word with the asker in it.
    # Anchored, so each lookahead reads the question once.
    r"|^(?=.*\b(suicid|self[- ]harm))(?=.*\b(i|i['’]?m|i['’]?ve|me|my|myself)\b)",
    re.IGNORECASE,
)
# Treatment medicines, which "get" or "find" seeks as treatment unless from an illicit source.
TREATMENT_MEDICINE = re.compile(
    r"\b(suboxone|methadone|buprenorphine|sublocade|vivitrol|naltrexone|naloxone|narcan)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Verdict:
    """What the guard decided a question needs.

    Attributes:
        outcome: 'help' (answer, after a help line), 'harmful' (decline the act, give the
            help line and what the report says on the topic), 'injection' (refuse) or
            'answer' (answer as asked).
        kind: For 'help': which help line ('overdose' or 'treatment'); else ''.
        safety: The help line shown before anything else, '' when none.
        topics: Queries for the report topics that answer this outcome when the question's
            own wording does not (none for 'answer' and 'injection').
    """

    outcome: Literal["help", "harmful", "injection", "answer"]
    kind: str = ""
    safety: str = ""
    topics: tuple[str, ...] = ()

    @property
    def refusal(self) -> str | None:
        """Why the question is refused ('unsafe', 'injection'), or None."""
        return {"harmful": "unsafe", "injection": "injection"}.get(self.outcome)


@dataclass(frozen=True)
class HelpLines:
    """The fixed help lines and the report topic of each outcome (data/help_lines.json)."""

    lines: dict[str, str]
    declined_line: str
    report_topics: dict[str, tuple[str, ...]]
    topics_only: frozenset[str] = frozenset()  # kinds answered from their topics alone

    def verdict(self, outcome: Literal["help", "harmful"], kind: str = "") -> Verdict:
        """The verdict for `outcome`, with its help line and report topic."""
        line = kind if outcome == "help" else self.declined_line
        topics = self.report_topics[kind if outcome == "help" else "harmful"]
        return Verdict(outcome, kind, self.lines[line], topics)


@cache
def help_lines() -> HelpLines:
    """The packaged help lines (read once)."""
    data = json.loads(_data_file("help_lines.json"))
    topics = {outcome: tuple(queries) for outcome, queries in data["report_topics"].items()}
    only = frozenset(data.get("topics_only", ()))
    return HelpLines(dict(data["lines"]), data["declined_line"], topics, only)


@cache
def labelled_examples() -> tuple[tuple[str, str], ...]:
    """The packaged (label, question) examples the nearest-neighbour check votes with."""
    data = json.loads(_data_file("guard_examples.json"))
    return tuple((label, text) for label in LABELS for text in data[label])


def _data_file(name: str) -> str:
    return resources.files("opioid_assistant.data").joinpath(name).read_text("utf-8")


class Neighbours:
    """Labelled example questions as unit vectors: a question's nearest ones vote on it."""

    def __init__(self, examples: Sequence[tuple[str, str]], embedder: Embedder):
        """Embed the examples once with the assistant's embedder."""
        self.labels = [label for label, _ in examples]
        self.vectors = _unit(np.asarray(embedder.embed_documents([t for _, t in examples])))

    def vote(self, vector: Sequence[float], exclude: int | None = None) -> dict[str, float]:
        """Each label's share of the similarity of the NEIGHBOURS nearest examples."""
        similarity = self.vectors @ _unit(np.asarray(vector, dtype=float))
        if exclude is not None:
            similarity[exclude] = -np.inf
        votes = dict.fromkeys(LABELS, 0.0)
        for index in np.argsort(-similarity)[:NEIGHBOURS]:
            votes[self.labels[index]] += max(float(similarity[index]), 0.0)
        total = sum(votes.values()) or 1.0
        return {label: weight / total for label, weight in votes.items()}


# Per embedder (by identity; the entry keeps it alive so its id is not reused): a process
# has one or two, and embedding the examples takes about a second.
_NEIGHBOURS: dict[int, tuple[Embedder, Neighbours]] = {}
_NEIGHBOURS_LOCK = threading.Lock()


def neighbours_for(embedder: Embedder) -> Neighbours:
    """The packaged examples embedded with `embedder` (once per embedder)."""
    with _NEIGHBOURS_LOCK:
        if id(embedder) not in _NEIGHBOURS:
            if len(_NEIGHBOURS) >= 4:
                _NEIGHBOURS.pop(next(iter(_NEIGHBOURS)))
            _NEIGHBOURS[id(embedder)] = (embedder, Neighbours(labelled_examples(), embedder))
        return _NEIGHBOURS[id(embedder)][1]


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def safety_first(line: str) -> str:
    """The help line as the opening of an answer's text ('' when there is none)."""
    return f"{line}\n\n" if line else ""


def help_kind(text: str, emergency: bool, votes: Mapping[str, float]) -> str:
    """Which help line: an overdose's (signs, naloxone, calling 911) or treatment's."""
    overdose = emergency or OVERDOSE_HELP.search(text) is not None
    treatment = TREATMENT_HELP.search(text) is not None
    if overdose != treatment:
        return "overdose" if overdose else "treatment"
    return "overdose" if votes["overdose"] >= votes["treatment"] else "treatment"


def help_line(turn: Turn) -> str:
    """The help line a turn's answer opens with: its need's, or treatment's for a declined
    act; '' when none."""
    lines = help_lines()
    if turn.refusal == "unsafe":
        return lines.lines[lines.declined_line]
    return lines.lines.get(turn.need, "")
