"""Stage 3, answering: a question and its history in, a cited Answer out.

`assistant.py` wires the stages into one LangChain chain; each module belongs to one stage
and imports only its own stage and the ones before it (tests/test_architecture.py):

- shared words: the fixed answer texts (`prompts`), citation marks and their check
  (`citations`), the LLM interface (`backends`), what a question asks for (`question_shapes`,
  `answer_kinds`), a message that is no question (`small_talk`), the report's own names
  (`topics`) and spelling (`spelling`);
- understand: the turn, its history and the standalone question (`turn`), and the guard
  (`guard`, with its help lines and cues in `help_first`);
- retrieve: hybrid search (`retrieval`) over the live index snapshot (`live_index`), the
  fitted map of a question toward its answers (`query_adapter`), and the stage that gathers a
  question's passages and signals (`retrieve_stage`);
- select: one fitted relevance per candidate sentence (`ranking`), and the neighbours a quoted
  sentence needs (`continuity`);
- compose: the extractive answer (`extractive`, laid out by `composer`; what the report's
  sources back or add in `source_answers`), abstentions (`abstaining`) and the replies
  streamed, the LLM's included (`generation`);
- suggest: follow-up questions from the report around the answer (`follow_ups`,
  `follow_up_topics`).
"""

STAGES: dict[str, tuple[str, ...]] = {
    "shared": (
        "prompts",
        "citations",
        "backends",
        "question_shapes",
        "small_talk",
        "answer_kinds",
        "topics",
        "spelling",
    ),
    "understand": ("turn", "help_first", "guard"),
    "retrieve": ("retrieval", "query_adapter", "live_index", "retrieve_stage"),
    "select": ("continuity", "ranking"),
    "compose": ("composer", "source_answers", "extractive", "abstaining", "generation"),
    "suggest": ("follow_ups", "follow_up_topics"),
    "wire": ("assistant",),
}
