"""Messages that are not a question about the report: small talk (a greeting, thanks, what the
assistant does, goodbye), a request to go on or to be shorter, and a greeting or a request to
be brief before a question.

Pure rules over the message's English, never over one report's wording.
"""

from __future__ import annotations

import re

from opioid_assistant.answer.question_shapes import SUMMARY

# A whole message that is not a question about the report: a greeting, thanks or an "ok",
# what the assistant does, or goodbye. Anchored at both ends: "hi, what is LEAD?" is a question.
SMALL_TALK = {
    "greeting": re.compile(
        r"^\W*(hi|hello|hey|hiya|howdy|greetings|good (morning|afternoon|evening))"
        r"( there| all| everyone)?\W*$",
        re.IGNORECASE,
    ),
    "thanks": re.compile(
        # "cool, thanks", "ok thank you so much": one to three of them in a row.
        r"^(\W*(thanks|thank you|thx|ty|cheers|ok|okay|got it|great|perfect|cool|nice)"
        r"( so much| a lot| very much)?){1,3}\W*((that|this)( is|'s| was) )?"
        r"((very|really|so|super) )?(helpful|useful|great|clear|perfect|interesting)?\W*$",
        re.IGNORECASE,
    ),
    "capability": re.compile(
        r"^\W*(what can you do|what do you do|who are you|what are you|what is this|"
        r"how (do|does) (this|it|you) work|how (do|should) i use (this|you|it)|"
        r"what (can|should) i ask( you)?)\W*$",
        re.IGNORECASE,
    ),
    # A bare plea may be an emergency: it gets the overdose line before what the assistant does.
    "help": re.compile(r"^\W*((please )?help( me| us)?( please)?|i need help|sos)\W*$", re.I),
    "farewell": re.compile(r"^\W*(bye|goodbye|good bye|see you|see ya|that'?s all)\W*$", re.I),
}


# "Say more", "go on", "tell me more": read on from where the last answer stopped.
MORE = re.compile(
    r"^\W*((please )?(say|tell me|tell us) more( please)?|go on|continue|keep going|elaborate|"
    r"more( please| details?)?|(say |tell me )?more (on|about) (that|this|it)|expand on (that|this|it))\W*$",
    re.IGNORECASE,
)


def asks_for_more(message: str) -> bool:
    """Whether a whole message asks to go on from the last answer, naming nothing new."""
    return MORE.match(" ".join(message.split())) is not None


# "Shorter please", "in one sentence", "tl;dr", "sum that up": the last answer, cut to its best.
SHORTER = re.compile(
    r"^\W*((can|could|would) you |please )?("
    r"(make|keep) (it|that|this|the answer) (shorter|briefer|simpler|short|brief|simple)|"
    r"(say|put|explain) (it|that|this) (more )?(briefly|simply|in (one|a single) sentence)|"
    r"shorten (it|that|this)|(shorter|briefer|simpler)( version| answer)?|"
    r"(in )?(one|a single) sentence|in short|briefly|tl;? ?dr|too long|the short version|"
    r"(sum|summ?ari[sz]e) (it|that|this)( up)?|in a nutshell)( please)?\W*$",
    re.IGNORECASE,
)


def asks_for_shorter(message: str) -> bool:
    """Whether a whole message asks for the last answer again, shorter, naming nothing new."""
    return SHORTER.match(" ".join(message.split())) is not None


# A greeting or a request to be brief before a question ("Hi, what is LEAD?", "In one
# sentence: what does the report argue?"): the question is what follows it.
GREETING_LEAD = re.compile(
    r"^\W*((hi|hello|hey|hiya|good (morning|afternoon|evening))( there| all)?|"
    r"((can|could) you )?(answer |tell me |explain )?(briefly|quickly|in short|"
    r"in (one|a single) sentence))\s*[,!.:;-]+\s*(?=\w)",
    re.IGNORECASE,
)


def plain_case(question: str) -> str:
    """A question typed in capitals throughout, read in lower case: its words are not all
    names and acronyms ("WHAT DOES THE REPORT SAY ABOUT NARCAN")."""
    return question.lower() if question.isupper() and len(question.split()) >= 3 else question


def small_talk(message: str, conversation: bool = True) -> str:
    """The kind of small talk a whole message is ('greeting', 'thanks', 'capability', 'help',
    'farewell'), or '' for anything else. Outside a `conversation`, "say more" asks what the
    assistant does too: nothing has been said to go on from (or to shorten)."""
    text = " ".join(message.split())
    # ("tl;dr" or "sum it up" alone asks for the report in brief).
    if not conversation and (
        MORE.match(text) or (SHORTER.match(text) and not SUMMARY.search(text))
    ):
        return "capability"
    return next((kind for kind, pattern in SMALL_TALK.items() if pattern.match(text)), "")
