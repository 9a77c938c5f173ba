"""Answers in the shape the question asks for, on the real index, with exact sentences and
endnotes. None of these questions is in an evaluation file, nor close to one (checked fuzzily
against every eval/*.jsonl by `independence.near_copies`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from independence import EVAL_DIR, near_copies
from opioid_assistant import load_report
from opioid_assistant.answer.composer import (
    COMPOSED_MAX_WORDS,
    FILL_WORDS,
    Pick,
    compose,
    quoted_passage,
    with_citation,
)
from opioid_assistant.answer.guard import refusal_reason
from opioid_assistant.answer.prompts import NOT_MENTIONED
from opioid_assistant.answer.question_shapes import (
    WHERE_ASKED,
    Shape,
    asked_term,
    asks_for_sources,
    defined_term,
    question_shape,
    report_part_asked,
    requested_count,
)
from opioid_assistant.answer.spelling import build_speller, correct_question

GUARD_CASES = json.loads((Path(__file__).parent / "data/guard_cases.json").read_text())


def quoted(section: str, *sentences: tuple[str, tuple[int, ...]]) -> str:
    return f"From “{section}”: " + " ".join(with_citation(s, n) for s, n in sentences)


WAVES = (  # the sentence beside the best, the three waves [43], before the fourth [47] (stop 44)
    "From “Public health solutions”: The first began in the 1990s with the increased "
    "prescribing of opioids to treat pain, followed by a second wave beginning in 2010 "
    "characterized by heroin overdose deaths [44]. The third wave of the opioid epidemic "
    "began in 2013 and has been driven by synthetic opioids; fentanyl emerged as the most "
    "prevalent opioid involved in overdoses during this third wave of the opioid epidemic "
    "[45][46]. According to the Centers for Disease Control and Prevention (CDC), there have "
    "been three distinct but interconnected waves of the opioid overdose epidemic [43]."
    # Since stop 50 a spare fills the words left: the open ranking's next sentence sharing
    # "epidemic", of no use to a comparison of the waves (the cost of filling; a floor of 1%
    # of the best's relevance kept it out, and four open questions' facts too).
    "\n\nFrom “Introduction and summary”: The opioid epidemic is a complex public health issue "
    "that cannot be credibly linked to immigration or asylum-seekers [17]."
)
SCHEDULING = (  # the report's own reasons (no endnote) beside its cited ones, best first
    "From “Reconsider the automatic and permanent scheduling…”: Any efforts to permanently or "
    "automatically schedule FRSs should allow for proper testing of the substances and include "
    "a pathway for an FRS to be removed or rescheduled if it is shown there is no potential "
    "for abuse. Although temporary class-wide scheduling of FRSs has been in effect for more "
    "than five years, overdoses and overdose deaths have continued to steadily increase [141]. "
    "Increasing the severity of criminal penalties for possession or distribution of FRSs and "
    "relying on punitive approaches has not proven to be effective in stopping overdoses or "
    "reducing the prevalence of fentanyl [142]. The classification prevents scientists from "
    "conducting additional research or developing treatments for fentanyl-related overdoses "
    "because of certain research restrictions imposed by class-wide scheduling."
)
SUMMARY = quoted(
    "Key takeaways",
    (
        "The opioid crisis is primarily a public health issue, but it presents additional "
        "complex challenges for foreign policy, border security, and criminal justice and "
        "racial equity.",
        (),
    ),
    (
        "Congress and policymakers at all levels of government should expand access to "
        "evidence-based community harm reduction, treatment, and recovery options.",
        (),
    ),
    (
        "The majority of fentanyl traffickers are U.S. citizens, and the majority of fentanyl "
        "entering the United States is seized from vehicles coming through legal ports of entry.",
        (),
    ),
)
SEATTLE = (
    "According to the report, in Seattle’s LEAD program, for example, researchers found that "
    "program participants were 58 percent less likely than people in their control group to "
    "be arrested after involvement in the program [137]."
)
DEATHS_2022 = (
    "According to the report, in 2022 alone, more than 100,000 people died from drug "
    "overdoses—the leading cause of injury mortality in the United States, surpassing motor "
    "vehicle accidents and gun violence [3][4][5]."
)
INVESTMENT = (
    "According to the report, policies and programs to support people in meeting their basic "
    "needs—such as child care, universal paid sick time, and workforce development "
    "investments, along with jobs and community investment—can reduce poverty and improve "
    "economic security, addressing some of the social determinants that drive drug use "
    "[74][75][76][77]."
)
LETHAL = (
    "According to the report, due to its potency, just a small amount of fentanyl can be "
    "lethal [50]."
)
LEAD = (
    "According to the report, by establishing pre-booking diversion programs such as Law "
    "Enforcement Assisted Diversion (LEAD) programs, jurisdictions can offer an alternative to "
    "arresting individuals for low-level drug offenses related to opioid use [136]."
)

COMPOSED = [
    ("Compare the first and second waves of the epidemic", WAVES, [44, 45, 46, 43, 17]),
    (
        "Why does the report say fentanyl-related substances should not be permanently scheduled?",
        SCHEDULING,
        [141, 142],
    ),
    ("Summarize the report in three sentences", SUMMARY, []),
]
MISSPELLED = [
    (
        "wat came of the LEAD programm in seatle",
        "what came of the LEAD program in seattle",
        SEATTLE,
        [137],
    ),
    (
        "in 2022 how mnay pepole in america lost thier lives to drug overdoses",
        "in 2022 how many people in america lost their lives to drug overdoses",
        DEATHS_2022,
        [3, 4, 5],
    ),
]
ABSENT = [
    ("Does the report mention ketamine at all?", "ketamine"),
    ("How many overdoses were reported in Arizona in 2021?", "Arizona"),
]
ALARMING = [
    (
        "What did the report say about recipes for community investment?",
        INVESTMENT,
        [74, 75, 76, 77],
    ),
    ("Per the report, what tiny quantity of fentanyl can prove deadly?", LETHAL, [50]),
]
# "Define X." was read as defining "X." (its full stop kept), and answered with a sentence
# that uses the term without saying what it is.
DEFINITION = "Define LEAD."
SHAPES = [
    ("Walk me through how naloxone gets to people", Shape.COMPOSED),
    ("Why did deaths rise?", Shape.COMPOSED),
    ("How many lives have been lost to overdoses since 1999?", Shape.FACT),
    ("Which agency runs it?", Shape.FACT),
    # A question in parts is open when a part is: each part's best leads an open answer.
    ("What has the CDC reported so far, and why does it matter for cities?", Shape.COMPOSED),
    ("How many died in Ohio, and in which year did the rise begin?", Shape.FACT),
    ("Does the report back decriminalization?", Shape.YES_NO),
    ("Define naloxone.", Shape.DEFINITION),
    ("What exactly are fentanyl test strips?", Shape.DEFINITION),
    ("What is the mortality rate for overdoses in 2021?", Shape.FACT),
    ("Give me the gist of the report", Shape.SUMMARY),
    # The report's one main point, message or conclusion is its summary too.
    ("What is the paper's central point?", Shape.SUMMARY),
    ("whats the bottom line", Shape.SUMMARY),
    ("What are the core conclusions?", Shape.SUMMARY),
    ("What is the main source of heroin?", Shape.FACT),
    ("Could you give an overview of border security?", Shape.COMPOSED),
    # Things asked for in the plural, or a role.
    ("Which treaties does the paper name?", Shape.COMPOSED),
    ("What part does Congress play in funding?", Shape.COMPOSED),
    ("Where does naloxone come up?", Shape.COMPOSED),
    ("Which agency seized more, and in what year?", Shape.FACT),
    ("What does the process cost?", Shape.FACT),
    # What the paper says on a matter, with no one-thing noun: open.
    ("What warnings about vaping does this paper give?", Shape.COMPOSED),
    ("What proof does the paper offer for its view of tariffs?", Shape.COMPOSED),
    ("What does the paper single out in trucking?", Shape.COMPOSED),
    ("What single agency does the paper single out?", Shape.FACT),
    # The paper's position on a matter is argued over several sentences.
    ("What's the paper's case for a sugar tax?", Shape.COMPOSED),
    ("What is the paper's view of tariffs?", Shape.COMPOSED),
    # What someone did or should do, no one matter named, is a list of actions.
    ("What has the city council done?", Shape.COMPOSED),
    # ... and "What is being done/planned ...?" is that, in the passive: no term to define.
    ("What is being done to fix potholes?", Shape.COMPOSED),
    ("What is being built downtown?", Shape.FACT),
    ("In 2019, what did the city council do about downtown parking?", Shape.FACT),
    # "What are the X of Y?" asks for the members of a set, not what one thing is.
    ("What were the outcomes of the pilot?", Shape.COMPOSED),
    ("What were the older legal and medical causes of the first wave?", Shape.COMPOSED),
    # "What about X?" asks what the paper says of X, unless X is a figure or one of a list.
    ("So how about long-haul trucking firms they regulate?", Shape.COMPOSED),
    ("and what about the year before, 2019?", Shape.FACT),
    ("How about the latter of those two pilots?", Shape.FACT),
    # Figures in the plural, or the case for something, are several facts; one figure is one.
    ("Show me the key statistics on school closures in rural towns.", Shape.COMPOSED),
    ("Make the case that the bridge tolls hurt local shops.", Shape.COMPOSED),
    ("Cite the figure for bus ridership last spring.", Shape.FACT),
    ("How many figures did the museum acquire?", Shape.FACT),
    # Gathering asked for, or money or evidence with no one amount named, is several facts.
    ("Sum up where the library's budget went this decade.", Shape.COMPOSED),
    ("Pull together what the audit found on payroll and on travel.", Shape.COMPOSED),
    ("Give me a sense of how crowded the ferries get.", Shape.COMPOSED),
    ("What's the case against a later school start?", Shape.COMPOSED),
    ("What grant money has the county won for its parks?", Shape.COMPOSED),
    ("Is there any proof that the bike lanes cut crashes?", Shape.COMPOSED),
    ("Is the bike lane finished?", Shape.YES_NO),
    ("How much money did the parks get?", Shape.FACT),
    # What is being done about a matter is a list of actions; what one did once is one.
    ("What is the water board now doing to stop those pipe leaks?", Shape.COMPOSED),
    ("In 1998, what did a mayor do to end that long strike?", Shape.FACT),
    # ... however the doing is worded ("done or asked for to", "done on"), or asked of someone;
    # and what has happened with a matter is a run of events; what happened to one in a year,
    # or one decision, is one fact.
    ("What has the council done or asked for to fix the roads?", Shape.COMPOSED),
    ("What has the harbour authority quietly done on dredging?", Shape.COMPOSED),
    ("What is the school board being asked to do about the strike?", Shape.COMPOSED),
    ("What has happened with the bridge repairs lately?", Shape.COMPOSED),
    ("What's happened with the ferry timetable?", Shape.COMPOSED),
    ("What happened to ferry fares in 2019?", Shape.FACT),
    ("What did the council decide on housing?", Shape.FACT),
]
DEFINED_TERMS = [
    ("What does HIDTA mean?", "HIDTA"),
    ("How does it describe community responder programs?", "community responder programs"),
    ("What is the main reason?", ""),
    ("What are the stages of the epidemic?", ""),
    ("What is being done?", ""),
]
# A sentence that names its own source is not led by "According to the report" a second time.
SOURCED = (
    "Which federal commission ranks the overdose epidemic among the top national security "
    "challenges?",
    "The report says that, according to the Commission on Combating Synthetic Opioid "
    "Trafficking, the overdose epidemic presents one of the most pressing national security, "
    "law enforcement, and public health challenges in the United States today [18].",
)
# Every question this module asks, typed and as corrected.
QUESTIONS = [
    SOURCED[0],
    *(q for q, *_ in COMPOSED + ABSENT + ALARMING + SHAPES + DEFINED_TERMS),
    *(q for typed, corrected, *_ in MISSPELLED for q in (typed, corrected)),
    DEFINITION,
]


def test_none_of_these_questions_is_close_to_an_evaluation_item() -> None:
    assert {p.stem for p in EVAL_DIR.glob("*.jsonl")} >= {"evalset", "heldout", "blind", "blind2"}
    assert [str(c) for c in near_copies(QUESTIONS)] == []


def test_the_independence_check_catches_near_copies() -> None:
    typo = near_copies(["how mnay ppl died of overdoses in 2022"])  # blind's, one typo added
    assert ("blind", "bl-casual-01") in {(c.set_name, c.item_id) for c in typo}
    reworded = near_copies(["According to the report, what dose of fentanyl can be lethal?"])
    assert ("blind", "bl-alarming_benign-01") in {(c.set_name, c.item_id) for c in reworded}
    framed = near_copies(["What does the report say about cannabis?"])  # a shared 6-word run
    assert framed and framed[0].shared_run == ("what", "does", "the", "report", "say", "about")
    turn = near_copies(["What did the 2021 opioid settlement involve?"])
    assert ("evalset", "mt-001/turn 1") in {(c.set_name, c.item_id) for c in turn}
    assert near_copies(["Does the report mention ketamine at all?"]) == []


@pytest.mark.parametrize(("question", "text", "notes"), COMPOSED)
def test_open_questions_get_several_sentences_the_best_first(
    assistant, question: str, text: str, notes: list[int]
) -> None:
    answer = assistant.ask(question)
    assert answer.text == text
    assert [c.number for c in answer.citations] == notes
    assert answer.abstained is False


@pytest.mark.parametrize(("question", "corrected", "text", "notes"), MISSPELLED)
def test_misspelled_questions_answer_as_if_typed_correctly(
    assistant, question: str, corrected: str, text: str, notes: list[int]
) -> None:
    answer = assistant.ask(question)
    assert answer.corrected_question == corrected
    assert answer.notice == f"Showing results for “{corrected}”."
    assert answer.text == text == assistant.ask(corrected).text
    assert [c.number for c in answer.citations] == notes


@pytest.mark.parametrize(("question", "term"), ABSENT)
def test_a_term_the_report_never_mentions_is_named(assistant, question: str, term: str) -> None:
    answer = assistant.ask(question)
    assert answer.abstained is True
    assert answer.citations == ()
    assert answer.text.startswith(NOT_MENTIONED.format(terms=term) + " ")


@pytest.mark.parametrize(("question", "text", "notes"), ALARMING)
def test_policy_questions_with_alarming_words_are_answered(
    assistant, question: str, text: str, notes: list[int]
) -> None:
    answer = assistant.ask(question)
    assert answer.text == text
    assert [c.number for c in answer.citations] == notes


def test_a_sentence_that_names_its_source_is_led_once(assistant) -> None:
    answer = assistant.ask(SOURCED[0])
    assert answer.text == SOURCED[1]
    assert [c.number for c in answer.citations] == [18]


def test_a_definition_question_gets_the_defining_sentence(assistant) -> None:
    answer = assistant.ask(DEFINITION)
    # Since the weights were fitted on every regression set (stop 49) the definition is sure
    # enough to stand alone: the outcomes of LEAD programs [138] no longer follow it.
    assert answer.text == LEAD
    assert [c.number for c in answer.citations] == [136]


def test_an_open_request_about_a_term_opens_with_what_it_is(assistant) -> None:  # type: ignore[no-untyped-def]
    assert asked_term("Explain harm reduction.") == "harm reduction"
    assert asked_term("Describe fentanyl test strips.") == "fentanyl test strips"
    assert asked_term("Explain how LEAD works.") == ""  # a process, not a term
    assert question_shape("Explain harm reduction.") is Shape.COMPOSED  # still an open answer
    answer = assistant.ask("Explain harm reduction.")
    # It opened with the American Rescue Plan sentence before the definition: the definition
    # was not preferred, and its relative "that" ("an approach that engages") was read as
    # pointing back at the sentence before.
    assert answer.text.startswith(
        "From “The Biden administration’s actions to address…”: Harm reduction is an "
        "evidence-based public health approach that engages and supports people who use drugs"
    )
    assert (
        near_copies(
            ["Explain harm reduction.", "Describe fentanyl test strips.", "Explain how LEAD works."]
        )
        == []
    )


def test_guard_lists_benign_answered_harmful_refused() -> None:
    assert len(GUARD_CASES["benign"]) >= 25 and len(GUARD_CASES["harmful"]) >= 25
    assert [q for q in GUARD_CASES["benign"] if refusal_reason(q)] == []
    assert [q for q in GUARD_CASES["harmful"] if refusal_reason(q) is None] == []


@pytest.mark.parametrize(("question", "shape"), SHAPES)
def test_question_shapes(question: str, shape: Shape) -> None:
    assert question_shape(question) is shape


SOURCE_QUESTIONS = (
    "What supports the figure on overdoses after prison?",
    "Where's the link for the Narcan approval?",
    "Which study backs up the tolerance claim?",
    "What does it cite for the claim on tolerance?",
    # A source word elsewhere still asks for the source.
    "How does the report link jail to overdoses, and what is the source?",
    # A source of a claim word (a figure, data) is a citation.
    "Give me the source of the 28 percent figure.",
    # What the report cites, when it is a source ("which research"), is still a source.
    "Which research does the report cite on vending machines?",
)
NOT_SOURCE_QUESTIONS = (
    "Does the report support mandatory minimum sentences for dealers?",
    "How does the report link poverty and overdose?",
    "Which grants fund peer recovery support?",
    "What findings does the report cite on naloxone vending machines?",
    # Where a thing comes from, and a source's size, are no citation.
    "Which countries are the main sources of illicit pills?",
    "So which of the two is the larger source?",
    # "Supports" before "does" is a noun: the thing asked for, not a verb asking what backs it.
    "Which housing supports does the report want for families?",
    # A thing, not a source, that the report cites; and a source of a thing the report names.
    "Which state grants does the report cite for recovery housing?",
    "What large sources of cash does the report list for states?",
)


def test_support_link_and_cite_ask_for_a_source_only_as_a_source_does() -> None:
    assert [str(c) for c in near_copies(SOURCE_QUESTIONS + NOT_SOURCE_QUESTIONS)] == []
    assert [asks_for_sources(q) for q in SOURCE_QUESTIONS] == [True] * 7
    assert [asks_for_sources(q) for q in NOT_SOURCE_QUESTIONS] == [False] * 9


def test_defined_term_and_requested_count() -> None:
    assert [defined_term(q) for q, _ in DEFINED_TERMS] == [t for _, t in DEFINED_TERMS]
    assert requested_count("Summarize it in 3 sentences") == 3
    assert requested_count("Summarize it in two bullets") == 2
    assert requested_count("Summarize it") is None


def test_texting_years_and_digits_expand_but_figures_stay() -> None:
    speller = build_speller(["Since 1999, deaths rose by 27 percent in the report."])
    assert correct_question("deaths since 99?", speller) == "deaths since 1999?"
    assert correct_question("what happened in '05", speller) == "what happened in 2005"
    assert correct_question("did it fall by 27 percent", speller) == ""
    assert correct_question("how many ODs 4 the year", speller) == "how many overdoses for the year"
    assert correct_question("deaths in the U.S.", speller) == ""
    # Texting shorthand expands as a whole word only: "ppl" is "people", "apple" stays.
    assert correct_question("wat do ppl say", speller) == "what do people say"
    assert correct_question("deaths rose by apple", speller) == ""
    # In a question written in shorthand, a lone "2" or "4" that counts nothing is a word.
    assert correct_question("wat does rehab do 2 crime rates", speller) == (
        "what does rehabilitation do to crime rates"
    )
    assert correct_question("do ppl get 2 doses", speller) == "do people get 2 doses"
    assert correct_question("wat r the 4 stages", speller) == "what are the 4 stages"
    assert correct_question("did it rise 4 years", speller) == ""  # no shorthand: a figure
    # The everyday word for the report's "recidivate" (it said the report lacked "reoffend").
    assert correct_question("do fewer of them reoffend afterwards?", speller) == (
        "do fewer of them recidivate afterwards?"
    )
    assert [str(c) for c in near_copies(["do fewer of them reoffend afterwards?"])] == []


def test_a_clipped_word_a_coined_acronym_and_a_two_digit_year_in_a_range_expand() -> None:
    speller = build_speller(
        [
            "Fentanyl deaths rose between 1999 and 2012 in the report, and fentanyl seizures too.",
            "Banks follow “know your customer” rules; lenders follow know-your-borrower rules.",
        ]
    )
    # Cut short, a report word is that word ("fent"), not a one-letter slip ("went").
    assert correct_question("did fent seizures rise", speller) == "did fentanyl seizures rise"
    # Initials of a term the report coins, quoted or hyphenated; not a common acronym.
    assert correct_question("do banks do KYC", speller) == "do banks do know your customer"
    assert correct_question("what about KYB", speller) == "what about know your borrower"
    assert correct_question("does the DOD help", speller) == ""
    # A two-digit year paired with a four-digit one in a range.
    assert correct_question("deaths from 99 to 2012", speller) == "deaths from 1999 to 2012"
    assert correct_question("deaths between 05 and 2012", speller) == "deaths between 2005 and 2012"
    assert correct_question("between 12 and 20 deaths", speller) == ""


def test_the_initials_of_a_name_the_report_spells_out_expand() -> None:
    speller = build_speller(
        [
            "The Office of Rural Water Quality tests wells. The Bureau of Land Grants pays.",
            "The Board of Land Grants disagrees.",  # BLG: two names, no expansion
        ]
    )
    # In capitals or typed in lower case, as the report never writes them.
    assert correct_question("what does ORWQ test", speller) == (
        "what does Office of Rural Water Quality test"
    )
    assert correct_question("who funds orwq", speller) == "who funds Office of Rural Water Quality"
    assert correct_question("what does BLG pay", speller) == ""


def test_an_open_answer_leads_with_the_section_of_its_best_sentence() -> None:
    report = load_report()
    starts = [s.text[:20] for s in report.sentences]
    best = starts.index("Since 1971, America ")  # the war on drugs, late in the report
    other = starts.index("In 2021, 46 states a")  # the settlements, earlier
    assert other < best and report.sentences[other].section != report.sentences[best].section
    picks = [Pick(best, 0.9), Pick(other, 0.5, lead=True)]
    text, quoted = compose(Shape.COMPOSED, picks, report, vectors={})
    first, second = text.split("\n\n")
    assert first.startswith("From “Criminal justice and racial equity solutions”: Since 1971")
    # ... and, in the words left, the sentence opening on it ("This spurred ...").
    assert first.endswith(
        "state prison population for drug offenses between 1980 and 2008 [116][117]."
    )
    assert second.startswith("From “Expand access to evidence-based treatment and…”: In 2021, 46")
    assert quoted == (best, best + 1, other)  # in the order the answer quotes them


def test_an_open_answer_takes_the_sentence_opening_on_one_it_quotes_in_the_words_left() -> None:
    """'In 2018, fentanyl-related convictions were rare, with only 63' is half the contrast
    the report makes; 'Yet during the first half of 2023, they reached more than 1,200'
    (which opens on it) joins when the word budget has room, after every other pick."""
    report = load_report()
    starts = [s.text[:20] for s in report.sentences]
    best = starts.index("Overdoses have also ")  # rising overdoses: enforcement is not enough
    rare = starts.index("In 2018, fentanyl-re")  # only 63 convictions
    picks = [Pick(best, 0.9), Pick(rare, 0.5)]
    vectors = {report.sentences[i].text: [float(i == best), float(i == rare)] for i in (best, rare)}
    _, quoted = compose(Shape.COMPOSED, picks, report, vectors)
    assert quoted == (best, rare, rare + 1)
    assert report.sentences[rare + 1].text.startswith("Yet during the first half of 2023")
    # ... but not before a pick that the budget would then leave out.
    elsewhere = starts.index("For fiscal year 2024")
    vectors[report.sentences[elsewhere].text] = [0.0, 0.0]
    picks.append(Pick(elsewhere, 0.4))
    _, quoted = compose(Shape.COMPOSED, picks, report, vectors)
    assert elsewhere in quoted


def test_an_open_answer_goes_on_with_the_sentence_beside_its_best_before_others() -> None:
    """The report's paragraph goes on right after its best sentence: the cited sentence
    beside it joins before better-scored sentences from elsewhere take the word budget."""
    report = load_report()
    starts = [s.text[:20] for s in report.sentences]
    best = starts.index("Since 1971, America ")  # the war on drugs ($1 trillion)
    beside = best + 1  # "This spurred a threefold increase in drug possession arrests ..."
    elsewhere = [
        starts.index("For fiscal year 2024"),  # the $46.1 billion request
        starts.index("Today, fentanyl is b"),  # trafficked through ports of entry
        starts.index("In 2023, DHS launche"),  # operations Blue Lotus and Four Horsemen
    ]
    picks = [
        Pick(best, 0.9),
        *(Pick(index, 0.6 - 0.05 * k) for k, index in enumerate(elsewhere)),
        Pick(beside, 0.05, beside=True),
    ]
    axes = (best, *elsewhere, beside)
    vectors = {
        report.sentences[index].text: [float(k == axis) for k in range(len(axes))]
        for axis, index in enumerate(axes)
    }
    # Without the sentence beside it, the best and the two best from elsewhere would fit.
    alone, _ = quoted_passage([best, *elsewhere[:2]], report)
    assert len(alone.split()) <= COMPOSED_MAX_WORDS
    text, quoted = compose(Shape.COMPOSED, picks, report, vectors)
    assert quoted == (best, beside, elsewhere[0])
    assert text.startswith("From “Criminal justice and racial equity solutions”: Since 1971")
    assert "This spurred a threefold increase in drug possession arrests" in text
    assert "Today, fentanyl is being trafficked" not in text and "Blue Lotus" not in text


RECOMMENDED = "Give me the paper's key recommendations in bullets."


def test_asked_what_the_report_recommends_it_lists_its_sub_sections_headings(assistant) -> None:  # type: ignore[no-untyped-def]
    # It quoted a sentence on police training policies, then one on China and Mexico.
    answer = assistant.ask(RECOMMENDED)
    assert answer.text.startswith(
        "The report makes 13 recommendations; each heads a part of a section:\n\n"
        "Public health solutions: Expand access to evidence-based treatment and recovery "
        "services; Address the needs of heavily affected communities"
    )
    assert answer.text.count("\n\n") == 4  # the lead, then four sections' headings
    assert (
        "\n\nForeign policy solutions: Target key actors in fentanyl trade through "
        "individualized sanctions and prosecutions; Create accountability mechanisms for the "
        "chemical and pharmaceutical sectors.\n\n"
    ) in answer.text
    assert (answer.abstained, [c.number for c in answer.citations]) == (False, [])
    assert assistant.ask("How many solutions does the report propose?").text == answer.text
    # A topic named is a question about it, not a request for the list.
    topical = "Which solutions does it put forward for Chinese chemical suppliers?"
    assert report_part_asked(topical) == ""
    assert report_part_asked("so what does it recommend?") == "recommendations"
    assert (
        report_part_asked("List every policy proposal in the paper, please.") == "recommendations"
    )
    # "biggest" ranks nothing the report ranks: the list (it abstained).
    assert report_part_asked("What's its biggest recommendation?") == "recommendations"
    asked = [RECOMMENDED, "How many solutions does the report propose?", topical]
    asked += ["so what does it recommend?", "List every policy proposal in the paper, please."]
    assert [str(c) for c in near_copies(asked)] == []


DIVERTED = "Which program lets officers send people to a case manager instead of booking them?"


def test_an_overview_in_a_conversation_sums_up_its_topics_section(assistant) -> None:  # type: ignore[no-untyped-def]
    first = assistant.ask(DIVERTED)
    # The answer drops the sentence's "Instead,": it is still known as said.
    assert first.text.startswith("In the report's own words: Officers can exercise their")
    history = [{"role": "user", "content": DIVERTED}, {"role": "assistant", "content": first.text}]
    # It quoted the one sentence again; then settlement sentences beside it.
    overview = assistant.ask("give me an overview", history)
    assert overview.text.startswith(
        "From “Implement pre-booking diversion programs”: By establishing pre-booking diversion"
    )
    assert [c.number for c in overview.citations] == [136, 137, 138]
    # Naming the report asks for all of it, in a conversation too (it summed up the topic).
    whole = assistant.ask("Summarize the report.", history)
    assert whole.text == assistant.ask("Summarize the report.").text
    assert whole.text.startswith("From “Key takeaways”: The opioid crisis is primarily")
    assert [str(c) for c in near_copies([DIVERTED, "give me an overview"])] == []


OUTLINE = ["Show me the table of contents", "how many footnotes are there?"]
PARTS = ["What's in the key takeaways?", "Tell me what the conclusion says."]


def test_asked_for_its_sections_or_endnotes_the_report_lists_or_counts_them(assistant) -> None:  # type: ignore[no-untyped-def]
    # Both were told "The report does not cover this."
    sections = assistant.ask(OUTLINE[0])
    assert sections.text.startswith(
        "The report has 8 sections: “Key takeaways”; “Introduction and summary”; “The Biden"
    )
    assert sections.text.endswith("; “Criminal justice and racial equity solutions”; “Conclusion”.")
    assert assistant.ask(OUTLINE[1]).text == "The report has 159 endnotes, numbered 1 to 159."
    assert report_part_asked("Which sections discuss naloxone?") == ""  # a topic: a question
    assert report_part_asked("so what's endnote 12?") == ""  # a number names one endnote
    # "Show me ..." is no plea for treatment: the report's apparatus is asked for.
    assert not sections.text.startswith("For treatment")
    assert [str(c) for c in near_copies([*OUTLINE, "Which sections discuss naloxone?"])] == []


def test_what_a_part_named_says_is_that_parts_summary(assistant) -> None:  # type: ignore[no-untyped-def]
    # "The section “Key takeaways” does not answer that.": it cites no source, and its
    # summary quoted only cited sentences.
    takeaways = assistant.ask(PARTS[0])
    assert takeaways.text.startswith("From “Key takeaways”: The opioid crisis is primarily a")
    assert (takeaways.section, takeaways.abstained) == ("Key takeaways", False)
    # "the conclusion" named as what says something, as well as "in the conclusion".
    closing = assistant.ask(PARTS[1])
    assert closing.text.startswith("From “Conclusion”: Without a whole-of-society and")
    assert [c.number for c in closing.citations] == [158, 159]
    assert question_shape("What is the conclusion of the CDC study?") is not Shape.SUMMARY
    assert [str(c) for c in near_copies(PARTS)] == []


WHERE = ["In which section are the settlements discussed?", "Which part covers naloxone?"]


def test_asked_where_the_report_says_something_the_answer_names_the_section(assistant) -> None:  # type: ignore[no-untyped-def]
    # "section" and "discussed" were taken for the topic: "The report does not cover this."
    settled = assistant.ask(WHERE[0])
    assert settled.text == (
        "The report discusses it under “Public health solutions > Expand access to "
        "evidence-based treatment and recovery services”. According to the report, an "
        "additional settlement of $13.8 billion with pharmacy chains followed [59]."
    )  # (the second settlement again since stop 49's weights; the section is the same)
    assert [c.number for c in settled.citations] == [59]
    assert assistant.ask(WHERE[1]).text.startswith(
        "The report discusses it under “Public health solutions > Expand access to"
    )
    # "What part does X play?" asks for a role, not a place.
    assert not WHERE_ASKED.search("What part do pharmacies play in the plan?")
    assert [str(c) for c in near_copies(WHERE)] == []


def test_what_role_someone_plays_is_asked_of_them_not_of_roles(assistant) -> None:  # type: ignore[no-untyped-def]
    # "role" and "play" were the words matched: China and Mexico "play an outsize role".
    congress = assistant.ask("What role does Congress play?")
    assert congress.text.startswith(
        "From “Key takeaways”: Congress should provide resources for the U.S. Department of "
        "Homeland Security (DHS)"
    )
    assert 106 not in [c.number for c in congress.citations]
    families = assistant.ask("What role do families play?")
    # The losses in families [11]-[13] lead; since stop 49 the support for basic needs such as
    # child care [74]-[77] follows (a role the report gives families' circumstances).
    assert [c.number for c in families.citations] == [11, 12, 13, 74, 75, 76, 77]
    assert 106 not in [c.number for c in families.citations]
    asked = ["What role does Congress play?", "What role do families play?"]
    assert [str(c) for c in near_copies(asked)] == []


def test_shorter_keeps_the_copy_of_a_restated_sentence_that_cites_its_source(assistant) -> None:  # type: ignore[no-untyped-def]
    # The key takeaways restate the sentence citing [106] word for word, with no endnote.
    asked = "Which two countries play an outsized role in fentanyl production?"
    first = assistant.ask(asked)
    history = [{"role": "user", "content": asked}, {"role": "assistant", "content": first.text}]
    shorter = assistant.ask("shorter please", history)
    assert shorter.text == first.text
    assert [c.number for c in shorter.citations] == [106]
    # Asked within the takeaways, the cited copy quoted keeps its citation: the takeaways'
    # copy in the evidence (same words, no endnote) had kept its passage out, and [106] was
    # dropped as a number no evidence carried.
    scoped = assistant.ask("is that in the key takeaways?", history)
    assert scoped.text.startswith("From “Foreign policy solutions”: Internationally, an array")
    assert "trafficking of fentanyl [106]." in scoped.text
    assert scoped.citations[0].number == 106
    assert [str(c) for c in near_copies([asked, "is that in the key takeaways?"])] == []


def test_two_questions_in_one_message_are_answered_not_refused(assistant) -> None:  # type: ignore[no-untyped-def]
    # The count asked first was "of the wrong kind" for the cost asked second, and no
    # sentence answered both: "The report does not cover this."
    asked = "How many lives were lost to overdoses in 2022? What is the crisis costing every year?"
    answer = assistant.ask(asked)
    assert answer.text.startswith(
        "According to the report, in 2022 alone, more than 100,000 people died from drug overdoses"
    )
    assert (answer.abstained, [c.number for c in answer.citations][:3]) == (False, [3, 4, 5])
    both = assistant.ask("Overdose deaths in 2022? And the yearly cost of the crisis?")
    assert [c.number for c in both.citations] == [3, 4, 5, 11, 12, 13]
    asked_too = "Overdose deaths in 2022? And the yearly cost of the crisis?"
    assert [str(c) for c in near_copies([asked, asked_too])] == []


def test_a_bound_is_answered_by_the_figure_and_a_leaning_sentence_brings_its_antecedent(
    assistant,
) -> None:  # type: ignore[no-untyped-def]
    # "more than 1,000" is a bound, not a figure the report must state; and "they reached
    # more than 1,200" alone does not say what "they" are.
    asked = "Did federal fentanyl convictions pass more than 1,000 in 2023?"
    assert [str(c) for c in near_copies([asked])] == []
    answer = assistant.ask(asked)
    assert answer.text.startswith(
        "According to the report, in 2018, fentanyl-related convictions were rare, with only 63 "
        "being reported [36]. Yet during the first half of 2023, they reached more than 1,200 [37]."
    )
    assert [c.number for c in answer.citations][:2] == [36, 37]


def test_a_sentence_turning_against_one_quoted_comes_after_it(assistant) -> None:  # type: ignore[no-untyped-def]
    from opioid_assistant.answer.continuity import turn_after, with_neighbours

    # "In 2018, ... only 63" was quoted alone, for a question on the count then and for one on
    # what has happened since; the report's point is the next sentence, which turns on it.
    questions = (
        "Back in 2018, what was the count of fentanyl convictions?",
        "What has happened with the tally of fentanyl convictions lately?",
    )
    assert [str(c) for c in near_copies(questions)] == []
    turned = (
        "In 2018, fentanyl-related convictions were rare, with only 63 being reported [36]. "
        "Yet during the first half of 2023, they reached more than 1,200 [37]."
    )
    fact = assistant.ask(questions[0])
    assert (fact.text, [c.number for c in fact.citations]) == (
        f"According to the report, i{turned[1:]}",
        [36, 37],
    )
    # An open answer: the turn comes right after the best, before the rest.
    since = assistant.ask(questions[1])
    assert since.text.startswith(f"From “The Biden administration’s actions to address…”: {turned}")
    assert [c.number for c in since.citations][:2] == [36, 37]
    report = load_report()
    texts = [s.text for s in report.sentences]
    starts = ("In 2018, f", "Of ", "By establishing pre-booking")
    at = {p: next(i for i, t in enumerate(texts) if t.startswith(p)) for p in starts}
    assert turn_after(at["In 2018, f"], report) == at["In 2018, f"] + 1
    # "... an alternative to arresting ..." "Instead, officers can ...".
    assert texts[at["By establishing pre-booking"] + 1].startswith("Instead, officers")
    assert (
        turn_after(at["By establishing pre-booking"], report)
        == at["By establishing pre-booking"] + 1
    )
    # Only a turn ("Yet", "But", "However") on it: not a sentence that goes on ("Of these ...").
    assert texts[at["Of "]].startswith("Of these deaths")
    assert turn_after(at["Of "] - 1, report) is None
    assert turn_after(at["In 2018, f"] + 1, report) is None
    # A fact's answer takes the turn when the two are brief together (60 words), as it reads on.
    assert with_neighbours([at["In 2018, f"]], report, "", "") == [
        at["In 2018, f"],
        at["In 2018, f"] + 1,
    ]
    assert with_neighbours([at["By establishing pre-booking"]], report, "", "") == [
        at["By establishing pre-booking"]
    ]
    # ... and not the turn the previous answer just quoted: a conversation moves on.
    said = f"According to the report, {texts[at['In 2018, f'] + 1]} [37]"
    assert with_neighbours([at["In 2018, f"]], report, "", said) == [at["In 2018, f"]]


def test_a_lone_fact_reads_on_into_the_sentence_that_goes_on_to_answer(assistant) -> None:  # type: ignore[no-untyped-def]
    # The best sentence gives the deaths; the next ("Of these deaths, ...") gives the opioid
    # deaths asked about, and opens on it. Each was quoted alone before.
    questions = (
        "2022's drug overdose toll: what number of those deaths were due to opioids?",
        "Looking only at the part on President Biden's record, why is the government "
        "prosecuting more drug cases?",
    )
    assert [str(c) for c in near_copies(questions)] == []
    opioids = assistant.ask(questions[0])
    assert opioids.text.endswith(
        "surpassing motor vehicle accidents and gun violence [3][4][5]. Of these deaths, more "
        "than 83,000 involved opioids [6]."
    )
    assert [c.number for c in opioids.citations] == [3, 4, 5, 6]
    # ... and a "why" reads on into the sentence that says why ("This is because ...").
    why = assistant.ask(questions[1])
    assert [c.number for c in why.citations] == [34, 35]
    assert "This is because" in why.text


def test_what_a_thing_is_for_is_answered_by_the_sentence_saying_what_it_does(assistant) -> None:  # type: ignore[no-untyped-def]
    from opioid_assistant.answer.ranking import defines

    # "for" was taken as part of the term ("fentanyl test strips even for"), and a sentence
    # saying what the strips are for ("fentanyl test strips to help prevent overdose") was no
    # definition: the answer was the list of strategies, which only names them.
    assert asked_term("What are fentanyl test strips for?") == "fentanyl test strips"
    assert asked_term("what is naloxone actually used for") == "naloxone"
    assert defines("test strips", "It funds test strips to help prevent overdose.")
    assert not defines("test strips", "It funds test strips and other supplies.")
    question = "What exactly are fentanyl test strips meant for?"
    assert [str(c) for c in near_copies([question])] == []
    answer = assistant.ask(question)
    assert "fentanyl test strips to help prevent overdose" in answer.text


def test_a_best_sentence_leaning_on_the_one_before_for_a_word_asked_brings_it(assistant) -> None:  # type: ignore[no-untyped-def]
    from opioid_assistant.answer.continuity import leads_in

    # "When opioid addictions go untreated during their entire time incarcerated, ..." was
    # quoted alone: the tolerance asked about is in the sentence before, which it leans on.
    question = "What happens to your tolerance for opioids if you go to prison?"
    assert [str(c) for c in near_copies([question])] == []
    answer = assistant.ask(question)
    assert answer.text.startswith(
        "According to the report, many incarcerated individuals with untreated opioid "
        "addictions experience a reduced tolerance to opioids"
    )
    assert [c.number for c in answer.citations] == [152, 153]
    report = load_report()
    after = next(
        i for i, s in enumerate(report.sentences) if s.text.startswith("When opioid addictions")
    )
    assert leads_in(after, report, question)
    # ... but not for a question none of whose words only the sentence before holds, nor
    # for one whose only such word is an everyday one ("use" of force, before DOJ's rules).
    assert not leads_in(after, report, "Are people at risk of overdose upon release?")
    # A "why" it leans on the sentence before for is answered by that one's cause ("due to").
    assert leads_in(after, report, "Why are people at risk of overdose upon release?")
    rules = next(
        i for i, s in enumerate(report.sentences) if s.text.startswith("Additional policies")
    )
    assert not leads_in(rules, report, "What rules on the use of force did DOJ adopt?")


def test_a_why_brings_the_cause_the_best_sentence_leans_on(assistant) -> None:  # type: ignore[no-untyped-def]
    # "When opioid addictions go untreated during their entire time incarcerated, they are
    # at elevated risk ..." was quoted alone; the cause asked for is in the sentence before.
    question = "After a long stay in jail, why is an overdose on release so likely to be fatal?"
    assert [str(c) for c in near_copies([question])] == []
    answer = assistant.ask(question)
    assert answer.text.startswith(
        "According to the report, many incarcerated individuals with untreated opioid "
        "addictions experience a reduced tolerance to opioids due to abruptly terminating"
    )
    assert [c.number for c in answer.citations] == [152, 153]


def test_a_spare_pick_only_fills_the_words_an_open_answer_leaves() -> None:
    """A spare (ranked next, not relevant enough to join by itself) joins only while the
    answer stays within FILL_WORDS, and only in an answer of two sentences or more: one
    sentence stays one. It takes its place by score among the picks that join by themselves,
    once the answer has two sentences; one met before that waits for the words left last."""
    report = load_report()
    starts = [s.text[:20] for s in report.sentences]
    best = starts.index("Overdoses have also ")  # rising overdoses: enforcement is not enough
    rare = starts.index("In 2018, fentanyl-re")  # only 63 convictions
    request = starts.index("For fiscal year 2024")  # the $46.1 billion request
    costs = starts.index("In addition to causi")  # the crisis's $1 trillion a year
    vectors = {report.sentences[i].text: [1.0, float(i)] for i in (best, rare, request, costs)}
    quoted_with = [best, rare, rare + 1, request]  # "Yet ... 1,200" opens on the 63
    fits, _ = quoted_passage(quoted_with, report)
    assert len(fits.split()) <= FILL_WORDS  # the request fits in the words left ...
    over, _ = quoted_passage([*quoted_with, costs], report)
    assert len(over.split()) > FILL_WORDS  # ... and then the costs do not
    spares = [Pick(request, 0.01, spare=True), Pick(costs, 0.99, spare=True)]
    _, quoted = compose(
        Shape.COMPOSED, [Pick(best, 0.9), Pick(rare, 0.5), *spares], report, vectors
    )
    assert sorted(quoted) == sorted(quoted_with)  # the costs (0.99) came before "rare"
    # One sentence stays one.
    _, quoted = compose(Shape.COMPOSED, [Pick(best, 0.9), *spares], report, vectors)
    assert quoted == (best,)
    # Scored above a weaker pick that joins by itself, a spare goes first and takes the words
    # the weaker one needed (the request no longer fits in COMPOSED_MAX_WORDS) ...
    picks = [Pick(best, 0.9), Pick(rare, 0.7), Pick(request, 0.05), Pick(costs, 0.6, spare=True)]
    _, quoted = compose(Shape.COMPOSED, picks, report, vectors)
    assert quoted == (best, rare, rare + 1, costs)  # (the best's section first)
    # ... and scored below it, it waits, and here no longer fits.
    picks = [Pick(best, 0.9), Pick(rare, 0.7), Pick(request, 0.6), Pick(costs, 0.05, spare=True)]
    _, quoted = compose(Shape.COMPOSED, picks, report, vectors)
    assert quoted == (best, request, rare, rare + 1)
    # A spare met before the answer has two sentences waits: one sentence stays one.
    picks = [Pick(best, 0.9), Pick(costs, 0.99, spare=True), Pick(request, 0.5)]
    _, quoted = compose(Shape.COMPOSED, picks, report, vectors)
    assert quoted == (best, request)


def test_an_open_follow_up_quotes_its_best_and_nothing_else_the_last_answer_quoted() -> None:
    """'Why else ...?' after an open answer: the sentences the last answer quoted are not
    quoted again, except the best (what the follow-up answers still leads); with nothing
    else left, the best and what opens on it answer."""
    report = load_report()
    starts = [s.text[:20] for s in report.sentences]
    best = starts.index("Since 1971, America ")  # the war on drugs ($1 trillion)
    request = starts.index("For fiscal year 2024")  # the $46.1 billion request
    operations = starts.index("In 2023, DHS launche")  # operations Blue Lotus and Four Horsemen
    picks = [Pick(best, 0.9), Pick(request, 0.6), Pick(operations, 0.5)]
    vectors = {
        report.sentences[index].text: [float(k == axis) for k in range(3)]
        for axis, index in enumerate((best, request, operations))
    }
    _, quoted = compose(Shape.COMPOSED, picks, report, vectors)
    assert quoted == (best, request, operations)  # (the best's section first)
    said, _ = quoted_passage([best, request], report)  # the last answer
    _, quoted = compose(Shape.COMPOSED, picks, report, vectors, said=said)
    # (the words the request leaves take the sentences that open on those quoted)
    assert quoted == (best, best + 1, operations, operations + 1)
    said, _ = quoted_passage([best, request, operations], report)
    _, quoted = compose(Shape.COMPOSED, picks, report, vectors, said=said)
    assert quoted == (best, best + 1)
