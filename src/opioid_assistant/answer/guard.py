"""What a question needs before it is answered: help first, a declined act, or an answer.

`verdict` has four outcomes. A person in or near an overdose, or looking for naloxone, legal
cover or treatment, is answered first, after a fixed help line (`help_first.py`). A personal
request for a harmful act is declined in one sentence, with the same help line and what the
report says on harm reduction and treatment. Injected instructions are refused. Everything
else is answered as asked.

The guard declines what a request asks someone to do, never a word: "how many naloxone doses
were distributed" and "how do traffickers smuggle fentanyl" are policy questions the report
answers; "what dose should I take" and "how can I mail pills unnoticed" are declined. A request
for harm is a personal ask (I, me, my friend, "the best way") aimed at one of the acts: taking
a dose, obtaining, making or moving drugs, or beating a drug test. Rules find the acts; a vote
of labelled example questions nearest the question in the embedding space weighs in where the
rules say nothing (`decide`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from opioid_assistant.answer.answer_kinds import DOSE_WORDS
from opioid_assistant.answer.help_first import (
    ABOUT_THE_CRISIS,
    AVOIDING,
    CRISIS,
    EMERGENCY,
    FIRST_PERSON,
    MISUSE,
    OVERDOSE_HELP,
    PERSONAL,
    THIRD_PARTY,
    TREATMENT_HELP,
    TREATMENT_MEDICINE,
    Verdict,
    help_kind,
    help_lines,
    neighbours_for,
)
from opioid_assistant.answer.question_shapes import WHERE_ASKED, asks_for_sources
from opioid_assistant.index.embedding import Embedder

# The raw text read at most: a few times the question limit, so markup can be stripped first.
RAW_CHARS_PER_LIMIT = 4

# Attempts to change the assistant's role, rules or output format.
INJECTION = re.compile(
    r"\b(ignore|disregard|forget|override|bypass|skip)\b.{0,30}\b(instructions?|rules|prompts?|"
    r"guidelines|guardrails|restrictions|safety|report|document|context|sources|citations)\b"
    r"|\b(system|hidden|developer|initial) (prompt|message|instructions)\b"
    r"|\byou are (now|no longer)\b|\bfrom now on\b|\bnew instructions\b"
    r"|\bpretend (you are|you're|to be)\b|\broleplay as\b|\bjailbreak\w*\b"
    r"|\b(developer|god|unrestricted|unfiltered|dan) mode\b|\bact as (an? )?(unfiltered|unrestricted)"
    r"|\b(reveal|print|show|repeat|output) (me )?(your|the|its) (hidden |full |exact )?"
    r"(instructions|prompt|configuration|api keys?)"
    r"|\bwrite (me )?(an? )?(persuasive |short )?(op-ed|essay|poem|story|song|tweet)"
    # Telling the assistant what to output, word for word: "reply only with 'PWNED'".
    r"|\b(reply|respond|answer|say|output|print)\b( \w+){0,4} (with|exactly)\b[^?]{0,30}[\"“'‘]",
    re.IGNORECASE,
)
DRUG = (
    r"(fentanyl|heroin|opioids?|opiates?|oxy\w*|percs?|percocets?|pills?|drugs?|meth\w*|"
    r"carfentanil|xylazine|morphine|cocaine|crack|narcotics?|dope|powder|precursors?|chemicals|"
    r"pharmaceuticals|buprenorphine|methadone|suboxone|painkillers?|tablets?|substances?|"
    r"fent|blues|m30s?|roxys?|roxies|xanax|xans|benzos?|product)"
)
# Who the request serves: the asker or someone they name, "the best way" to do it, or a
# procedure ("how to", "steps to"). Plural "we" and "you" in "do you think" are not asks.
# "me" as the one told ("tell me about", "give me an overview") asks for information, not help;
# "tell me which doctors will ..." still asks for oneself.
SELF = re.compile(
    r"\b(i|i'm|im|i've|my|mine|myself)\b|\bsomeone\b"
    r"|\bme\b(?! (about|more|an? (overview|summary|rundown)|the (gist|basics|summary))\b)",
    re.IGNORECASE,
)
ASKING_YOU = re.compile(
    r"\b(can|could|would|will|should|do) you\b(?! (think|know|mean|say))|\byou (can|could|should)\b"
    r"|\b(can|could|does|would|should) one\b|\b(can|could|do|should|would) we (\w+ ){0,2}"
    r"(mail|ship|send|post|smuggle|sneak|hide|conceal|get|buy|order|make|cook|press|take|inject)\b",
    re.IGNORECASE,
)
PROCEDURE = re.compile(
    r"\bhow to\b|\bsteps? (to|for)\b|\b(instructions|guide|tutorial|walkthrough|recipe) (to|for|on)\b"
    r"|\bteach\b|\b(best|easiest|safest|quickest|cheapest|fastest|simplest) (way|route|method|place)",
    re.IGNORECASE,
)
# Looking for something for oneself or someone: a place, a number, a way, a person.
SEEKING = re.compile(
    r"\b(where (can|could|should|would|to|is (a|the))|where'?s (a|the)|who (sells|has|can|will|do|"
    r"should|to)|is there|are there|any (tips|way|advice)|tips (for|on|to)|"
    r"what'?s the (best|easiest|safest|quickest|move|number|trick|way)|"
    r"(good|best|easiest|safest|quickest|cheapest) (way|place|spot|site|market|method|amount)|"
    r"how (do|can|would|should|could|to) (i|you|u|we|one|someone|people|a person|get|find)|"
    r"is it (ok|okay|safe|enough|too much)|enough for|too much for|"
    r"help (me|my|us|him|her|them)|what (do|should|can) (i|we|you) do|"
    r"(get|gets|make|makes) (you|u|me|someone|a person) high)\b"
    r"|^\W*(need|want|looking for|trying to find)\b",
    re.IGNORECASE,
)
# A question that ends on a word pointing back at the conversation ("... requires it?").
POINTS_BACK = re.compile(r"\b(it|this|that|these|those|them)\W*$", re.IGNORECASE)
# Asking how to stop an act is a policy question, unless it is about slipping past a check.
PREVENTING = re.compile(
    r"\b(stop(s|ped|ping)?|prevent\w*|reduc(e|es|ed|ing)|curb\w*|combat\w*|counter(s|ing)?|"
    r"fight\w*|tackl\w*|disrupt\w*|deter|deterr\w*|crack\w* down( on)?|cut(ting)? off|block\w*|"
    r"dismantl\w*|interdict\w*)\b.{0,30}"
    r"\b(\w*(fentanyl|heroin|opioid|opiate|drug|pill|meth|trafficking|trafficker|smuggl|overdos|"
    r"flow|supply|cartel|dealer|precursor)\w*)",
    re.IGNORECASE,
)
# The acts: taking a dose, obtaining, making, moving drugs, beating a drug test.
# One clause's: "how much is there, and how should states use it?" asks no dose.
ONE_CLAUSE = r"(?:(?!\b(?:and|but|or)\s+(?:how|what|why|where|when|who|which)\b)[^.?!;:]){0,50}"
DOSING = re.compile(
    rf"\b({DOSE_WORDS}|how much|how many|amount)\b"
    + ONE_CLAUSE
    + r"\b(take|taking|use|used|using|inject|snort|smoke|swallow|give|shoot|administer|"
    r"microdose|safe(ly)?|mix|handle|tolerate|survive|withstand|"
    r"get high|get me high|feel)\b"
    r"|\b(take|taking|use|inject|snort|smoke|mix)\b.{0,40}\b(safely|without (dying|overdosing))"
    r"|\b(get|gets|getting|got) (you |me |u |someone )?high\b|\brecreational(ly)?\b"
    r"|\b(safe|safest|starting|lethal|right|correct|max\w*|minimum) (starting )?(dose|dosage|amount)"
    # An amount for a first use ("is 2 mg enough for a first timer").
    r"|\b(mg|milligrams?|mcg|micrograms?|doses?|amount|how much|how many|enough|too much|too many)"
    r"\b.{0,40}\b(first[- ]?tim\w*|beginners?|newbies?|new users?|no tolerance|low tolerance|"
    r"never (used|done|tried))"
    # A schedule of doses to follow alone ("a weekly dose reduction schedule").
    r"|\b(dos(e|es|ing|age))\b.{0,30}\b(schedule|chart|plan|regimen)\b"
    r"|\b(schedule|chart|regimen)\b.{0,20}\bdos(e|es|ing|age)\b",
    re.IGNORECASE,
)
OBTAINING = re.compile(
    # "get off heroin", "get help for my pills": leaving a drug, not obtaining it.
    rf"\b(buy|get|getting|obtain|order|score|cop|purchase|acquire|grab|find)\s+"
    rf"(?!(off|away|clean|rid|help|sober|treatment|through)\b)(\S+\s+){{0,2}}"
    rf"{DRUG}\b|\b{DRUG}\b.{{0,40}}\b(without (a )?(prescription|script|doctor)|online|"
    r"on the (dark ?web|street)|for sale)\b|\b(dealers?|suppliers?|vendors?|plugs?|brokers?)\b"
    # ... or through a prescriber: faking a condition, a doctor who asks no questions.
    r"|\b(fake|feign|exaggerat\w*|lie about)\b.{0,30}\b(pain|symptoms?|condition|injury)"
    r"|\bno questions asked\b|\b(write|fill|prescribe)s?\b.{0,30}\bprescriptions?\b"
    r"|\bprescribe (me|him|her|us|them)\b.{0,20}\b(more|extra|stronger|higher|early)\b"
    r"|\b(early|extra) refills?\b",
    re.IGNORECASE,
)
# ... in one sentence: "My sister uses fentanyl. What could I keep at home?" makes nothing.
MAKING = re.compile(
    rf"\b(make|making|cook|cooking|synthesi[sz]\w*|press|pressing|cut|cutting|"
    rf"produce|manufacture|brew|extract|lace|recipe|synthesis (route|recipe|instructions))\b"
    rf"[^.?!]{{0,40}}\b{DRUG}\b|\b{DRUG}\b[^.?!]{{0,30}}\b(recipe|synthesis|from scratch|at home)\b",
    re.IGNORECASE,
)
EVADING = re.compile(
    r"\b(without|avoid|evad\w*|bypass\w*|get past|beat|fool|trick|doesn'?t|don'?t|won'?t|not|"
    r"never|un)\b.{0,40}\b(flag\w*|detect\w*|caught|notic\w*|scann\w*|seiz\w*|intercept\w*|"
    r"trac\w*|found|spotted)|\bundetect\w*|\bunnoticed\b|\bunder the radar\b"
    # Where checks are thinnest, and what hides a drug's smell.
    r"|\b(least|less|rarely|seldom|barely|never|not) (checked|inspected|searched|scanned|"
    r"patrolled|watched|guarded|policed)\b"
    r"|\b(mask\w*|cover\w*|hid(e|es|ing)|block\w*|get rid of|kill\w*)\b.{0,30}\b(smell|scent|odou?r)s?\b",
    re.IGNORECASE,
)
# The checks a drug is slipped past: a place, an agent, a dog, a scanner, the mail.
CHECKS = re.compile(
    rf"\b({DRUG}|borders?|ports? of entry|customs|airports?|tsa|checkpoints?|k-?9s?|dogs?|cops|"
    r"police|postal|usps|mail|scanners?|inspections?|guards?)\b",
    re.IGNORECASE,
)
# ... and slipping past a drug test.
BEATING_TESTS = re.compile(
    r"\b(pass|passing|beat|beating|cheat\w*|fool|trick|fake|faking)\s+(a |an |the |my |your )?"
    r"(drug|urine|pee|piss|hair|saliva|dot|tox\w*)\s*(tests?|screens?|screening)\b",
    re.IGNORECASE,
)
ACROSS = r"(across|over|past|through) (the )?(border|customs|security|checkpoints?)"
MOVING = re.compile(
    rf"\b(mail|ship|send|post|smuggl\w*|traffic\w*|hide|conceal|sneak|transport|move|import|"
    rf"bring|carry|package|pack|stash|load|launder\w*)\b.{{0,40}}\b({DRUG}|{ACROSS})"
    # "get" moves drugs only across a line ("get off heroin" is quitting it).
    rf"|\bget\b.{{0,40}}\b{ACROSS}",
    re.IGNORECASE,
)
# Instructions for making drugs are refused however they are asked.
MANUFACTURE = re.compile(
    r"\b(synthesis (route|recipe|instructions|steps)|reagents?|reaction conditions|"
    r"(home|clandestine|makeshift|meth|drug|fentanyl|pill) lab|equipment and chemicals)\b",
    re.IGNORECASE,
)
# A question about what the report says is never itself a request for harm.
ABOUT_THE_REPORT = re.compile(
    r"\b(the report|the authors?|cap|this (report|paper|document)|it (says|recommends|argues))\b"
    # "Is methadone mentioned?", "Does it discuss Suboxone?": what the report holds.
    r"|^\W*(is|are|was|were)\b.*\b(mentioned|discussed|covered)\W*$"
    r"|^\W*does it (mention|discuss|cover|talk about)\b"
    # "What page talks about Narcan?", "Show me the table of contents": its parts and notes.
    rf"|{WHERE_ASKED.pattern}|\b(table of contents|endnotes?|footnotes?|headings|sections)\b",
    re.IGNORECASE,
)


def refusal_reason(question: str) -> str | None:
    """'injection' or 'unsafe' when the rules alone refuse the question, else None."""
    if INJECTION.search(question):
        return "injection"
    return "unsafe" if asks_for_harm(question) else None


def asks_for_harm(question: str) -> bool:
    """Whether the rules for acts find a request for harm (see the module docstring)."""
    # "US" is the country, not "us".
    text = re.sub(r"\bU\.?S\.?(?=\W|$)", "United States", question)
    for_oneself = any(cue.search(text) for cue in (SELF, PROCEDURE, SEEKING))
    if ABOUT_THE_REPORT.search(text) and not for_oneself:
        return False  # what the report says, asked in the report's voice
    if MANUFACTURE.search(text):
        return True
    # Slipping a drug past a check is an act whoever it is asked for, unless it is what others
    # do ("how do traffickers evade ...") or how to stop it.
    evading = EVADING.search(text) and CHECKS.search(text) and not PREVENTING.search(text)
    if evading and not THIRD_PARTY.search(text):
        return True
    if not (for_oneself or ASKING_YOU.search(text)):
        return False
    if PREVENTING.search(text) and not EVADING.search(text):
        return False
    return any(act.search(text) for act in (DOSING, OBTAINING, MAKING, MOVING, BEATING_TESTS))


# --- Help first: who needs a help line, whose request is declined, and who is answered as asked.

# Overdoses past, as a count of them names them.
PAST_OVERDOSE = re.compile(r"\b(overdosed|od'?d|od'?ed|o\.d\.?'?(d|ed))\b", re.IGNORECASE)
COUNTING = re.compile(
    r"\b(how (many|much|often)|what (share|percent\w*|fraction|proportion|rate|number))\b",
    re.IGNORECASE,
)
# A vote this strong for help answers a question asked for someone first, with no cue word.
HELP_ALONE = 0.6
# ... or, with a cue word, asked in no one's voice ("does Narcan work on fentanyl?").
HELP_CUED = 0.5
# A vote this strong for "harmful" declines a request that says nothing of who it is for
# ("how much is too much for a beginner"); one asked for someone needs this much and the lead.
HARMFUL_ALONE = 0.75
HARMFUL_ASKED = 0.4


def verdict(question: str, embedder: Embedder) -> Verdict:
    """Decide what `question` needs: a help line first, a declined act, a refusal, or an answer.

    The rules for acts (`asks_for_harm`) and a vote of the labelled examples nearest the
    question in the embedder's space are combined by `decide`. Injected instructions are
    refused, unless the rules find a request for harm in them: that is declined with help.
    """
    if INJECTION.search(question):  # an injected act is declined with help, like any other
        return help_lines().verdict("harmful") if asks_for_harm(question) else Verdict("injection")
    return decide(question, neighbours_for(embedder).vote(embedder.embed_query(question)))


def decide(question: str, votes: Mapping[str, float]) -> Verdict:
    """Combine the rules with the neighbours' `votes` (label -> share, summing to 1).

    A person who needs help is answered first: signs of an overdose under way, then words of
    wanting to die (the crisis line, whatever else is asked), outrank the rules for acts ("my
    friend is overdosing, how much naloxone do I give?"), and getting a treatment medicine is
    treatment, not obtaining. A question in the report's voice, or one
    for a count, a reason or a name, gets no help line unless it is asked for someone.
    """
    text = re.sub(r"\bU\.?S\.?(?=\W|$)", "United States", question)
    act = requests_act(text)
    # "Show me the sections": the asker is named only as who is shown (PERSONAL's exceptions).
    asker = FIRST_PERSON.search(re.sub(r"\b(give|tell|show) me\b", " ", text, flags=re.I))
    if ABOUT_THE_REPORT.search(text) and not asker and not act:
        return Verdict("answer")
    avoiding = AVOIDING.search(text) is not None  # "so I don't OD": using, not an emergency
    personal = PERSONAL.search(text) is not None
    # "How many people OD'd in 2022?" counts overdoses past: asked for no one, its "OD'd" is
    # no sign of one under way (any other sign still is).
    signs = PAST_OVERDOSE.sub(" ", text) if COUNTING.search(text) and not personal else text
    emergency = EMERGENCY.search(signs) is not None and not avoiding
    if CRISIS.search(text) and not emergency:  # an overdose under way still comes first
        return help_lines().verdict("help", "crisis")
    if asks_for_sources(text) and not (emergency or act):
        return Verdict("answer")  # the source of a figure: a question about the report
    seeking = SEEKING.search(text) is not None
    for_someone = personal or seeking
    needs = (OVERDOSE_HELP.search(text) and not avoiding) or TREATMENT_HELP.search(text)
    helped = votes["overdose"] + votes["treatment"]
    # "Is there a law for this?" seeks something about what was just said: with no person
    # and no word of need in it, the neighbours' vote alone does not make it a plea.
    voted = helped >= HELP_ALONE and (personal or not POINTS_BACK.search(text))
    about_others = bool(THIRD_PARTY.search(text) or ABOUT_THE_CRISIS.search(text))
    # "Why ..., and what evidence is there that ...?" seeks no help for anyone: only a
    # question that is not about others seeks help by its "is there", "where can" alone.
    pleads = personal or (seeking and not about_others)
    if (
        emergency
        or (pleads and not act and (needs or voted))
        or (not about_others and not act and needs and helped >= HELP_CUED)
    ):
        return help_lines().verdict("help", help_kind(text, emergency, votes))
    if act:
        return help_lines().verdict("harmful")
    if PREVENTING.search(text) and not EVADING.search(text):
        return Verdict("answer")
    asked = for_someone or SELF.search(text) or ASKING_YOU.search(text) or PROCEDURE.search(text)
    harmful = votes["harmful"]
    if (harmful >= HARMFUL_ALONE and not THIRD_PARTY.search(text)) or (
        asked and harmful >= HARMFUL_ASKED and harmful >= max(votes.values())
    ):
        return help_lines().verdict("harmful")
    return Verdict("answer")


def requests_act(text: str) -> bool:
    """Whether the rules find a request for a harmful act. Getting or giving a treatment
    medicine ("how do I get on Suboxone", "how many Narcan sprays do I give") is treatment or
    rescue, unless a drug of misuse is named too or the ask is misuse."""
    if not asks_for_harm(text):
        return False
    if not TREATMENT_MEDICINE.search(text) or MISUSE.search(text):
        return True
    # The request without the medicine: still an act, and still about a drug of misuse?
    rest = TREATMENT_MEDICINE.sub("treatment", text)
    return asks_for_harm(rest) and re.search(rf"\b{DRUG}\b", rest, re.I) is not None


# A question is plain text: pasted scripts and styles are dropped with their body.
_MARKUP_BODIES = ("script", "style")
# Any tag is noise. `[^<>]*` stops at the next angle bracket, so each character is read once.
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")


def _without_body(text: str, name: str) -> str:
    """Drop every <name …>…</name> in one left-to-right pass.

    A body with no closing tag is kept (its opening tag goes with the other tags). Each search
    starts where the last one ended, so the work is linear in the text's length.
    """
    lowered = text.lower()
    kept, position = [], 0
    while (opening := lowered.find(f"<{name}", position)) != -1:
        closing = lowered.find(f"</{name}", opening)
        end = lowered.find(">", closing) if closing != -1 else -1
        if end == -1:
            break  # no closing tag after this opening, so none after any later one either
        kept += [text[position:opening], " "]
        position = end + 1
    kept.append(text[position:])
    return "".join(kept)


def _last_question(text: str, max_chars: int) -> str:
    """The last sentence ending in '?' and as much of the context before it as fits."""
    mark = text.rfind("?")
    if mark == -1:
        return text[:max_chars].strip()
    start = max(0, mark + 1 - max_chars)
    kept = text[start : mark + 1]
    if start > 0 and " " in kept:
        kept = kept[kept.index(" ") + 1 :]  # start on a whole word
    return kept.strip()


def sanitize_question(question: str, max_chars: int) -> tuple[str, str]:
    """Strip control characters and markup, and bound the length, in time linear in the input.

    The raw text is cut to a few times the limit before anything else reads it (its head
    and tail), so a huge
    request costs no more than a long question. Over the limit, the last question ("…?") in
    the text is kept with as much of the context before it as fits: a long paste usually
    ends with what the reader wants to know.

    Returns:
        The cleaned question and a notice for the reader ('' when nothing was changed).
    """
    raw_limit = RAW_CHARS_PER_LIMIT * max_chars
    # Over that, the head and the tail: the question is usually at one end of a paste.
    half = raw_limit // 2
    raw = question if len(question) <= raw_limit else f"{question[:half]} {question[-half:]}"
    cleaned = "".join(
        ch if ch in "\n\t" or unicodedata.category(ch)[0] != "C" else " " for ch in raw
    )
    for name in _MARKUP_BODIES:
        cleaned = _without_body(cleaned, name)
    cleaned = _TAG.sub(" ", cleaned)
    cleaned = " ".join(cleaned.split())
    if len(question) <= raw_limit and len(cleaned) <= max_chars:
        return cleaned, ""
    kept = _last_question(cleaned, max_chars)
    size = f"Your question was {len(question):,} characters, over the limit of {max_chars:,}"
    if kept.endswith("?"):
        notice = f"{size}: the last question in it, with the context before it that fits, was used."
    else:
        notice = f"{size}: only the first {len(kept):,} were used. Ask a shorter question."
    return kept, notice
