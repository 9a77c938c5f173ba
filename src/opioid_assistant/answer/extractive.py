"""The extractive answerer: the report's own sentences, each with its own endnotes.

Pure functions of the question, the retrieved evidence and a few signals; no model writes
anything, so the answer never states what the report does not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from opioid_assistant.answer.answer_kinds import (
    holds_names,
    kind_lacking,
    names_in,
    off_report,
    wrong_kind,
)
from opioid_assistant.answer.composer import (
    Draft,
    Pick,
    compose,
    quoted_fact,
    quoted_passage,
    section_summary,
    summary,
)
from opioid_assistant.answer.continuity import goes_on, leans_on
from opioid_assistant.answer.prompts import KIND_NOT_GIVEN, WHERE_LEAD
from opioid_assistant.answer.question_shapes import (
    REPORT_NAMED,
    WHERE_ASKED,
    Shape,
    asks_for_sources,
    endnote_asked,
    question_shape,
    report_part_asked,
    requested_count,
)
from opioid_assistant.answer.ranking import (
    FEATURES,
    OPEN_WEIGHTS,
    Candidate,
    idf_weights,
    leaning_coverage,
    rank_sentences,
    rescored,
    sentences_around,
)
from opioid_assistant.answer.small_talk import asks_for_more, asks_for_shorter
from opioid_assistant.answer.source_answers import endnote_answer, source_addition, source_answer
from opioid_assistant.answer.topics import (
    ASKS_WHO,
    DATE_ASKED,
    asked_of_part,
    front_matter_answer,
    front_matter_reply,
    without_part_named,
)
from opioid_assistant.answer.turn import Question, Signals, following_sentences, lead_sentence
from opioid_assistant.text import tokenize
from opioid_assistant.types import Endnote, Evidence

LOCAL_NEIGHBOURS = 2
# The best sentence for one part of a question leads when it is at least this likely (fitted
# relevance) to state what the part asks: below the bar for further sentences, since it is the
# only candidate its part has.
PART_MIN_RELEVANCE = 0.25
NEIGHBOUR_SIMILARITY = 0.3  # ... that share a word with the question or are this close in meaning
MIN_COVERAGE = 0.3  # abstain unless the best sentence holds this share of the question's terms
MIN_SIMILARITY = 0.4  # ... or is at least this close in meaning (plain, or as the adapter maps it)
TOPIC_WITNESSES = 3  # ... or one of the best this many sentences is
# A fact whose best sentence is this unlikely (fitted relevance) to state it quotes the next
UNSURE = 0.3
RUNNER_UP_SHARE = 0.3  # ... best too, when that one is at least this share as likely
OWN_RUNNER_UP_SHARE = 0.2  # ... for the report's own statement, which adds no citation
OWN_RUNNER_UP_NOVELTY = 0.5  # ... and which must not restate the best: this share of new words
# The fitted relevance (a probability of stating what is asked) a sentence needs to join a
# composed answer besides the best one, unless it is beside it or under the heading asked about.
MIN_RELEVANCE = 0.5
# ... or this share of the best sentence's relevance: an open question's sentences are each
# less likely to state "the" answer than a fact's, and the best of them sets the scale.
RELATIVE_RELEVANCE = 0.5
SPARE = 6  # an open answer's words left go to the next this many ranked sentences, if close
# A sentence joining a composed answer by where it stands (beside the best, under the heading
# asked) must be this share as likely as the best: diversity alone picks the least related.
JOIN_MIN_SHARE = 0.01

FITTED = FEATURES.index("dense_fitted")
CONTEXT = FEATURES.index("context")


def extractive_answer(
    question: Question,
    evidence: Sequence[Evidence],
    endnotes: Mapping[int, Endnote],
    signals: Signals,
) -> Draft | None:
    """Compose an answer from the report's sentences; None when the report does not say.

    `signals.report` must be set: neighbours, sections and the summary come from it.
    """
    report = signals.report
    if report is None:
        raise ValueError("extractive_answer needs signals.report")
    shape = question_shape(question.text)
    root = min(signals.scope, key=len) if signals.scope else ""
    if root and question_shape(without_part_named(question.text, root)) is Shape.SUMMARY:
        shape = Shape.SUMMARY  # "summarize the border section": the part's words are no topic
    count = requested_count(question.text)
    lead = lead_sentence(report, question.previous_answer)  # what the last answer quoted first
    if asks_for_shorter(question.text) and question.previous_answer:  # "shorter": that alone
        return None if lead is None else Draft(*quoted_fact(lead, report), Shape.FACT)
    if shape is Shape.SUMMARY and root:  # a summary of the section asked about
        text, quoted = section_summary(report, root, count)
        return Draft(text, quoted, shape) if quoted else None
    # The whole report's, asked outside a conversation or naming it ("summarize the report").
    whole = not question.context or bool(REPORT_NAMED.search(question.text))
    part = report_part_asked(question.text)  # its recommendations, sections or endnotes
    if whole and (shape is Shape.SUMMARY or part):
        return Draft(*summary(report, count, part), Shape.SUMMARY)
    if shape is Shape.SUMMARY and lead is not None:  # "an overview?": of the topic's section
        text, quoted = section_summary(report, report.sentences[lead].section, count)
        if quoted:
            return Draft(text, quoted, shape)
    if shape is Shape.SUMMARY:
        shape = Shape.COMPOSED
    if asks_for_more(question.text) and question.previous_answer:  # "say more": read on
        following = following_sentences(report, question.previous_answer)
        if following:
            return Draft(*quoted_passage(following, report), Shape.COMPOSED)
    idf = idf_weights(evidence)
    ranked = rank_sentences(question, evidence, signals, idf)
    front = front_matter_answer(question.standalone, signals.query, signals.vectors, report)
    # "Who wrote this?": what the report says of itself answers when it is closer in meaning
    # than any sentence of the body that cites a source (its own summaries and appeals speak
    # of the crisis, not of the report, yet sit close to any question about "it").
    closest = max((c.similarity for c in ranked if c.endnotes), default=0.0)
    # Asked when it came out, the front matter answers that its text gives no date: an
    # abstention, unless the question asks who or which too ("Who issued it, and when?").
    dated = bool(DATE_ASKED.search(question.text))
    if front and front[1] > closest and (dated or not wrong_kind(question.text, front[0], "")):
        abstains = dated and not ASKS_WHO.search(question.text)
        reply = front_matter_reply(question.text, front[0])
        return Draft(reply, (), Shape.FACT, front[0], abstains=abstains)
    number = endnote_asked(question.text)
    if number is not None:
        return endnote_answer(number, evidence, endnotes, signals)
    if asks_for_sources(question.text):  # the claim the best sentence makes, and its source
        found = _best(question, ranked, signals)
        answer = source_answer(question, found, endnotes, signals, idf) if found else ""
        return Draft(answer, (), Shape.FACT) if answer else None
    best = _best(question, ranked, signals, wide=shape is Shape.COMPOSED)
    admitted: set[str] | None = None
    if shape is Shape.COMPOSED:
        # An open question's answer: the sentences that each state one of the facts asked
        # for, by the weights fitted to find them. It abstains only when neither ranking
        # finds a sentence close to the question.
        opened = rescored(ranked, OPEN_WEIGHTS)
        found = _best(question, opened, signals, wide=True)
        if best is not None:  # what the ranking holds relevant joins, in the open order
            admitted = {c.text for c in ranked if relevant(c.score, best.score)}
            if found is None:
                found = next(c for c in opened if c.text == best.text)
            else:  # ... as does what the open weights do
                admitted |= {c.text for c in opened if relevant(c.score, found.score)}
        best, ranked = found, opened
    leads = _part_leads(evidence, signals, idf)  # for a question in parts, each part's best
    if best is None:  # no sentence answers it whole: one that answers a part
        best = next(iter(leads), None)
    if best is None:
        return _kind_not_given(question, ranked, signals)
    picks = _picks(question, best, ranked, leads, signals, shape, admitted)
    if shape is not Shape.COMPOSED and len(picks) == 1:
        second = _runner_up(question, best, ranked, signals)
        if second is not None:  # unsure of the best: the next best joins
            picks.append(Pick(signals.position[second.text][1], second.score, lead=True))
        elif (after := goes_on(picks[0].index, report, question.text)) is not None:
            picks.append(Pick(after, 0.0, lead=True))  # the best's sentence goes on to answer
    said = question.previous_answer
    text, quoted = compose(
        shape, picks, report, signals.vectors, signals.spans, said, question.text
    )
    if WHERE_ASKED.search(question.text):  # "Which section covers X?": where, then what
        text = f"{WHERE_LEAD.format(section=report.sentences[quoted[0]].section)} {text}"
    addition = source_addition(question, best, evidence, idf) if len(quoted) == 1 else None
    return Draft(f"{text} {addition}" if addition else text, quoted, shape)


def _picks(
    question: Question,
    best: Candidate,
    ranked: Sequence[Candidate],
    leads: Sequence[Candidate],
    signals: Signals,
    shape: Shape,
    admitted: set[str] | None = None,
) -> list[Pick]:
    """The best sentence first, then (for a composed answer) the others that plausibly
    answer: its cited neighbours in the same section and the sentences under a heading the
    question names (the report's own explanation goes on there), and elsewhere any sentence
    close by its own words or meaning (a heading's words do not count here), of the right
    kind, and about what the report holds (by where it stands: JOIN_MIN_SHARE as likely as
    the best). With `admitted` (an open question's: those either ranking holds relevant), a
    sentence elsewhere joins when it is one of them. Last, as spares, the next SPARE ranked
    that share a word with the question or are close to it in meaning, and stand on their own
    (a sentence leaning on the one before, "Yet ... they reached", would lose its subject)."""
    report = signals.report
    where = signals.position[best.text]
    picks = [Pick(where[1], best.score)]
    if report is None:
        return picks
    # The report's own statement (it cites no source) brings the best sentence that does.
    sourced = None if best.endnotes else _runner_up(question, best, ranked, signals, True)
    if sourced is not None:
        picks.append(Pick(signals.position[sourced.text][1], sourced.score, lead=True))
    for lead in leads:  # the best sentence for each part of a question in parts
        index = signals.position[lead.text][1]
        if all(p.index != index for p in picks):
            picks.append(Pick(index, lead.score, lead=True))
    if shape is not Shape.COMPOSED:
        return picks
    scores = {signals.position[c.text][1]: c.score for c in ranked if c.text in signals.position}
    own = set(tokenize(question.standalone))
    anchors = [p.index for p in picks[: 2 if sourced else 1]]
    floor = JOIN_MIN_SHARE * best.score
    for anchor in anchors:
        section = report.sentences[anchor].section
        for step in range(1, LOCAL_NEIGHBOURS + 1):
            for index in (anchor - step, anchor + step):
                if 0 <= index < len(report.sentences) and all(p.index != index for p in picks):
                    sentence = report.sentences[index]
                    near = scores.get(index, 0.0) >= floor and _near(own, signals, sentence.text)
                    if sentence.section == section and sentence.endnotes and near:
                        picks.append(Pick(index, scores.get(index, 0.0), beside=step == 1))
    for c in ranked:
        index = signals.position.get(c.text, (None, -1))[1]
        if c is best or index < 0 or any(p.index == index for p in picks):
            continue
        # Under the heading asked about, or relevant by the fitted relevance (kind, wording).
        if (c.text in signals.favoured and c.score >= floor) or (
            c.text in admitted if admitted is not None else relevant(c.score, best.score)
        ):
            picks.append(Pick(index, c.score))
    for c in ranked[:SPARE]:  # the next best, close to the question, fill the words left
        index = signals.position.get(c.text, (None, -1))[1]
        spare = index >= 0 and _near(own, signals, c.text) and not leans_on(c.text)
        if spare and all(p.index != index for p in picks):
            picks.append(Pick(index, c.score, spare=True))
    return picks


def relevant(score: float, best: float) -> bool:
    """Whether a sentence scoring `score` is relevant enough to join a composed answer
    whose best sentence scores `best`."""
    return score >= MIN_RELEVANCE or score >= RELATIVE_RELEVANCE * best


def _kind_not_given(
    question: Question, ranked: Sequence[Candidate], signals: Signals
) -> Draft | None:
    """A question for a kind of figure the report does not give ("What percentage ...?" where
    it says "the vast majority"): an abstention that says so and quotes what the report says,
    when its closest sentence is close to the question by both its words and its meaning."""
    report = signals.report
    if not ranked or report is None or ranked[0].text not in signals.position:
        return None
    top = ranked[0]
    kind = kind_lacking(question.text, top.text, top.before)
    close = top.coverage >= MIN_COVERAGE and _close_in_meaning(top)
    if kind in ("", "name") or not close or signals.parts:
        return None
    if question.context and not (top.features and top.features[CONTEXT]):
        return None  # a follow-up's: only a sentence on the conversation's topic
    unscoped = asked_of_part(question.text, report)  # not the words naming a part
    if off_report(unscoped, top.text, top.before, signals.vocabulary):
        return None
    text, quoted = quoted_fact(signals.position[top.text][1], report)
    return Draft(KIND_NOT_GIVEN.format(kind=kind, answer=text), quoted, Shape.FACT, abstains=True)


def _runner_up(
    question: Question,
    best: Candidate,
    ranked: Sequence[Candidate],
    signals: Signals,
    sourced: bool = False,
) -> Candidate | None:
    """The next best sentence of the right kind, RUNNER_UP_SHARE as likely, when the best is
    unlikely to state the answer (fitted relevance below UNSURE) or was just quoted (then one
    not quoted: a conversation moves on); or the report's own statement (OWN_RUNNER_UP_*).
    With `sourced` (the best cites no source), the best that cites one, however likely."""
    again = question.just_said(best.text)
    for c in ranked:
        if c is best or c.text not in signals.position or (sourced and not c.endnotes):
            continue
        if wrong_kind(question.text, c.text, c.before) or (again and question.just_said(c.text)):
            continue
        if c.score < (RUNNER_UP_SHARE if c.endnotes else OWN_RUNNER_UP_SHARE) * best.score:
            return None
        # The report's own statement (no endnote) joins however sure the best is: it says
        # what the report itself argues, and adds no citation (unless it restates the best).
        words = set(tokenize(c.text))
        new = words - set(tokenize(best.text))
        own = not c.endnotes and len(new) >= OWN_RUNNER_UP_NOVELTY * len(words)
        return c if sourced or own or again or best.score < UNSURE else None
    return None


def _part_leads(
    evidence: Sequence[Evidence], signals: Signals, idf: Mapping[str, float]
) -> list[Candidate]:
    """For a question in parts, the best sentence for each part, scored against that part
    alone (its own words and meaning) over the same evidence."""
    leads = []
    texts = {s for e in evidence for s in e.sentences if s in signals.vectors}
    for part, vector in signals.parts:
        query = np.asarray(vector)
        similarity = {t: float(np.dot(query, signals.vectors[t])) for t in texts}
        alone = replace(signals, similarity=similarity, parts=(), query=vector)
        # The passages in the order the part alone would rank them (its own retrieval rank).
        closest = sorted(
            evidence, key=lambda e: -max(similarity.get(t, 0.0) for t in e.sentences or ("",))
        )
        best = [
            c
            for c in rank_sentences(Question(part, part), closest, alone, idf)
            if c.text in signals.position  # a body sentence, not the front matter
        ]
        if best and best[0].score >= PART_MIN_RELEVANCE:
            leads.append(best[0])
    return leads


def _near(own: set[str], signals: Signals, text: str) -> bool:
    """Whether a sentence shares a word with the question or is this close to it in meaning."""
    return bool(own & set(tokenize(text))) or _closeness(signals, text) >= NEIGHBOUR_SIMILARITY


def _closeness(signals: Signals, text: str) -> float:
    """The sentence's similarity to the question, from the evidence or its stored vector."""
    if text in signals.similarity:
        return signals.similarity[text]
    vector = signals.vectors.get(text)
    if vector is None or not signals.query:
        return 0.0
    return float(np.dot(np.asarray(signals.query), np.asarray(vector)))


def _best(
    question: Question, ranked: Sequence[Candidate], signals: Signals, wide: bool = False
) -> Candidate | None:
    """The best-scoring sentence of the right kind, if it plausibly answers; else None.

    Sentences of the wrong kind (a count for "what share") are passed over; one ranked below
    such a sentence must be close to the question both by its words and by its meaning. With
    `wide` (a composed answer, which quotes a sentence's neighbours too), the years and names
    asked about may stand in a neighbour.
    """
    # Of a question in parts ("How many died? How much does it cost?"), a kind any part asks.
    asked = [part for part, _ in signals.parts] or [question.text]
    fitting = [c for c in ranked if not all(wrong_kind(q, c.text, c.before) for q in asked)]
    if not fitting:
        return None
    # "What is X?" asks for what X is: a sentence that says so is the kind of answer asked.
    defining = [c for c in fitting if c.features and c.features[FEATURES.index("defines")]]
    candidate = (defining or fitting)[0]
    # Every name the question asks about ("Congress") standing in the sentence is word
    # evidence enough that the report covers its topic.
    named = names_in(question.text)

    def close(c: Candidate) -> bool:  # by its words (or names, a definition), by meaning
        found = (  # (a follow-up's own words are few: the conversation topic's count too)
            c.coverage + leaning_coverage(question.text, c) >= MIN_COVERAGE
            or (bool(named) and holds_names(c.text, named))
            or bool(defining)  # it says what the term asked about is
            or (bool(question.context and c.features) and c.features[CONTEXT] >= MIN_COVERAGE),
            _close_in_meaning(c),
        )
        return all(found) if fitting[0] is not ranked[0] else any(found)

    # The evidence holds the topic if one of its best few sentences is close: the best answers.
    if not any(close(c) for c in [candidate, *fitting[:TOPIC_WITNESSES]]):
        return None
    around = sentences_around(candidate.text, signals) if wide else candidate.before
    unscoped = asked_of_part(question.text, signals.report)  # not the words naming a part
    if off_report(unscoped, candidate.text, around, signals.vocabulary):
        return None  # e.g. a year or country the report gives no figure for
    return candidate


def _close_in_meaning(candidate: Candidate) -> bool:
    """Whether the sentence is MIN_SIMILARITY close to the question, plain or as the fitted
    adapter maps the question."""
    fitted = candidate.features[FITTED] if candidate.features else 0.0
    return max(candidate.similarity, fitted) >= MIN_SIMILARITY
