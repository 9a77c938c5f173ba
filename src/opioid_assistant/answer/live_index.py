"""The index a process answers from, and how it follows a re-ingest without failing a question.

A `Snapshot` is everything answering needs from one index generation: its collection, the
report it was built from (read back from the index, never parsed from a file), and what is
derived from both. `LiveIndex` holds the current snapshot and checks the registry's pointer at
most once every `CHECK_INTERVAL_S`; on a change it loads the new generation and swaps it in
with one assignment. A question captures its snapshot once, so it finishes on the generation
it started on (the registry keeps the previous generation until the next swap).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from chromadb.api import ClientAPI

from opioid_assistant.answer.answer_kinds import cited_figures
from opioid_assistant.answer.retrieval import HybridRetriever, tokenize
from opioid_assistant.answer.spelling import Speller, build_speller
from opioid_assistant.answer.topics import known_terms
from opioid_assistant.answer.turn import Turn, following_sentences, quoted_sentences
from opioid_assistant.errors import AssistantError, IndexMissingError
from opioid_assistant.index import store
from opioid_assistant.index.building import embedding_text
from opioid_assistant.index.chunking import FRONT_MATTER_SECTION, front_matter_chunks
from opioid_assistant.index.embedding import Embedder
from opioid_assistant.index.snapshot import read_snapshot
from opioid_assistant.settings import Settings
from opioid_assistant.types import Evidence, Heading, Report, Sentence

CHECK_INTERVAL_S = 1.0  # how often a question may look at the registry's pointer
HEADING_MIN_SIMILARITY = 0.55  # a question this close to a heading draws from its section
HEADING_MIN_SHARED = 2  # ... as does one sharing this many distinctive words with it
COMMON_SHARE = 0.2
HEADING_MARGIN = 0.03
HEADING_PASSAGES = 6  # at most this many of the matched section's passages join the evidence
# A sentence this close to the question brings its passage to the evidence (closest_passages):
# as close as the answer stage needs a sentence to be, by its meaning alone, to answer.
CLOSEST_MIN = 0.4

log = logging.getLogger(__name__)


class Snapshot:
    """One index generation and the report it was built from, ready to answer from."""

    def __init__(self, active: store.ActiveIndex, report: Report, retriever: HybridRetriever):
        """Derive what answering needs from the report and the retriever over its collection."""
        self.version = active.fingerprint
        self.collection = active.collection
        self.report = report
        self.retriever = retriever
        self.sentence_vectors = store.load_sentence_vectors(retriever.collection)
        # What the report says of itself is worded by this code: an index built by an earlier
        # version may hold another wording's vectors, so a missing statement is embedded now.
        unseen = [c for c in front_matter_chunks(report) if c.text not in self.sentence_vectors]
        if unseen:
            vectors = retriever.embedder.embed_documents([embedding_text(c) for c in unseen])
            self.sentence_vectors.update(zip((c.text for c in unseen), vectors, strict=True))
        self.vocabulary = "\n".join([report.text, *report.front_matter()]).lower()
        self.clauses = {s.text: s.clauses() for s in report.sentences}
        self.preceding = {
            s.text: before.text
            for before, s in zip(report.sentences, report.sentences[1:], strict=False)
            if before.section == s.section
        }
        self.position = {s.text: (s.section, i) for i, s in enumerate(report.sentences)}
        self.cited_figures = cited_figures(report)
        self.topic = {
            report.sentences[i].text: h.text
            for h in report.headings
            if h.level == 3
            for i in range(h.first, h.last)
        }
        self.known = known_terms(report)
        # A heading is named by its distinctive words: one found in more than COMMON_SHARE of
        # the report's sentences ("opioid", "drug") is the report's topic, not a section's.
        found = Counter(w for s in report.sentences for w in set(tokenize(s.text)))
        common = {w for w, n in found.items() if n > COMMON_SHARE * len(report.sentences)}
        self.heading_words = [set(tokenize(h.text)) - common for h in report.headings]
        self.heading_vectors = np.asarray(
            retriever.embedder.embed_documents([h.text for h in report.headings])
        )
        self._speller: Speller | None = None
        # Every embedded report sentence, and its vector as a row (closest_passages).
        self.embedded = [s for s in report.sentences if s.text in self.sentence_vectors]
        self.sentence_matrix = np.asarray([self.sentence_vectors[s.text] for s in self.embedded])

    @classmethod
    def load(
        cls, client: ClientAPI, settings: Settings, active: store.ActiveIndex, embedder: Embedder
    ) -> Snapshot:
        """Open `active`'s collection and read its report snapshot.

        Raises:
            IndexMissingError: the collection is gone or holds no snapshot.
            IndexReplacedError: it is gone because a newer ingest replaced it.
            EmbedderMismatchError: it was embedded by another model than the settings name.
        """
        where = store.describe(settings)
        collection = store.open_collection(client, settings, active.collection)
        report = read_snapshot(collection, where)
        retriever = HybridRetriever.from_collection(collection, embedder, settings.top_k, where)
        return cls(active, report, retriever)

    @property
    def speller(self) -> Speller:
        """The report's vocabulary for spelling correction (built on first use)."""
        if self._speller is None:
            headings = (h.text for h in self.report.headings)
            authors = (name for name, _ in self.report.authors)
            texts = [self.report.text, *headings, self.report.publisher, *authors]
            self._speller = build_speller(texts)
        return self._speller

    def matched_heading(
        self, question: str, closeness: np.ndarray, retrieved: Sequence[Evidence] = ()
    ) -> Heading | None:
        """The heading the question names: sharing enough of its distinctive words, or close
        in meaning, apart from the next heading, and (sharing none of its words) holding a
        passage the question retrieved: a short heading's closeness alone is weak evidence."""
        sections = {e.section for e in retrieved}
        words = set(tokenize(question))
        best: tuple[float, Heading] | None = None
        # Close in meaning only counts when it stands out from the next closest heading.
        runner_up = float(np.sort(closeness)[-2]) if len(closeness) > 1 else 0.0
        for heading, heading_words, score in zip(
            self.report.headings, self.heading_words, closeness, strict=True
        ):
            shared = len(words & heading_words)
            apart = score >= HEADING_MIN_SIMILARITY and score - runner_up >= HEADING_MARGIN
            if apart and not shared and retrieved:
                apart = any(x.startswith(heading.section) for x in sections)
            close = apart or shared >= HEADING_MIN_SHARED
            if close and (best is None or score > best[0]):
                best = (float(score), heading)
        return best[1] if best else None

    def passages(
        self,
        vector: list[float],
        spans: Sequence[tuple[int, int]],
        per_span: int = HEADING_PASSAGES,
    ) -> list[Evidence]:
        """The passages of each span (sentence ranges) closest to the question."""
        chosen: list[Evidence] = []
        for first, last in spans:
            start, end = self.report.sentences[first].start, self.report.sentences[last - 1].end
            passages = self.retriever.passages_between(start, end)
            chosen += sorted(passages, key=lambda e: -self.closeness(vector, e))[:per_span]
        return chosen

    def closeness(self, vector: list[float], passage: Evidence) -> float:
        """The question's similarity to the passage's closest sentence."""
        return max(self.similarity(vector, [passage]).values(), default=0.0)

    def part_evidence(
        self, parts: Sequence[str], k: int, scope: Sequence[str]
    ) -> tuple[list[Evidence], tuple[tuple[str, tuple[float, ...]], ...]]:
        """For a question in parts: each part's own passages, and each part with its
        normalised embedding (to score sentences against one part)."""
        evidence: list[Evidence] = []
        vectors = []
        for part in parts:
            vector = self.retriever.embedder.embed_query(part)
            documents = self.retriever.invoke(part, None, k=k, vector=vector, sections=scope)
            evidence += self.retriever.evidence_of(documents)
            unit = np.asarray(vector) / (np.linalg.norm(vector) or 1.0)
            vectors.append((part, tuple(float(x) for x in unit)))
        return evidence, tuple(vectors)

    def closest_passages(
        self,
        vector: list[float],
        evidence: Sequence[Evidence],
        count: int,
        scope: Sequence[str],
        floor: float = CLOSEST_MIN,
    ) -> list[Evidence]:
        """The passages holding the `count` report sentences closest to the question (within
        `scope`, if any), and at least `floor` close, that `evidence` lacks: a passage can rank
        low as a whole for the one sentence in it that answers."""
        if count <= 0 or not len(self.sentence_matrix):
            return []
        query = np.asarray(vector) / (np.linalg.norm(vector) or 1.0)
        closeness = self.sentence_matrix @ query
        ranked = [self.embedded[i] for i in np.argsort(-closeness) if closeness[i] >= floor]
        closest = [s for s in ranked if not scope or s.section in scope][:count]
        return self._passages_of(closest, evidence)

    def similarity(self, vector: list[float], evidence: Sequence[Evidence]) -> dict[str, float]:
        """Cosine similarity of the question to each sentence of the evidence."""
        query = np.asarray(vector)
        query = query / (np.linalg.norm(query) or 1.0)
        similarity = {}
        for sentence in (s for e in evidence for s in e.sentences):
            if sentence in self.sentence_vectors and sentence not in similarity:
                similarity[sentence] = float(np.dot(query, self.sentence_vectors[sentence]))
        return similarity

    def with_quoted(
        self, evidence: tuple[Evidence, ...], quoted: Sequence[int], about: str = ""
    ) -> tuple[Evidence, ...]:
        """The evidence, plus the passage of every quoted sentence (by index in the report)
        that it lacks, and the front-matter statement `about` quotes, if any."""
        added: list[Evidence] = []
        if about:  # the front matter it quotes, shown as a passage of its own
            section = FRONT_MATTER_SECTION
            added.append(
                Evidence(
                    f"front-{section}",
                    about,
                    section,
                    (),
                    1.0,
                    sentences=(about,),
                    sentence_endnotes=((),),
                )
            )
        sentences = [self.report.sentences[i] for i in quoted]
        return (*evidence, *added, *self._passages_of(sentences, evidence))

    def quoted_passages(self, answer: str, evidence: Sequence[Evidence]) -> list[Evidence]:
        """The passages holding the sentences an earlier answer quoted, that `evidence`
        lacks: a follow-up often asks for what is next to them."""
        return self._passages_of(quoted_sentences(self.report, answer), evidence)

    def following_passages(self, answer: str, evidence: Sequence[Evidence]) -> list[Evidence]:
        """The passages holding the sentences "say more" reads on to after `answer`."""
        following = following_sentences(self.report, answer)
        return self._passages_of([self.report.sentences[i] for i in following], evidence)

    def citing_passages(self, number: int, evidence: Sequence[Evidence]) -> list[Evidence]:
        """The passages holding the sentences that cite endnote `number`, that `evidence`
        lacks: "What is endnote 54?" is answered with the claim it backs."""
        citing = [s for s in self.report.sentences if number in s.endnotes]
        return self._passages_of(citing, evidence)

    def _passages_of(
        self, sentences: Sequence[Sentence], evidence: Sequence[Evidence]
    ) -> list[Evidence]:
        """The passages holding each of `sentences` that `evidence` (or an earlier one of
        them) does not already hold, with its endnotes (a key takeaway the report restates,
        citing a source, elsewhere has the same words and none)."""
        held = {p for e in evidence for p in zip(e.sentences, e.sentence_endnotes, strict=True)}
        added: list[Evidence] = []
        for sentence in sentences:
            if (sentence.text, sentence.endnotes) in held:
                continue
            for passage in self.retriever.passages_holding(sentence.start, sentence.end):
                added.append(passage)
                held.update(zip(passage.sentences, passage.sentence_endnotes, strict=True))
        return added


@dataclass(frozen=True)
class SnapshotTurn(Turn):
    """A turn that carries the snapshot its question was captured on, stage to stage."""

    snapshot: Snapshot | None = field(default=None, compare=False)


class LiveIndex:
    """The current snapshot, following the registry's pointer to each new generation."""

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        """Open the active index.

        Raises:
            IndexMissingError: nothing was ingested, or the index holds no report snapshot.
            StoreUnavailableError: the Chroma store or server cannot be reached.
        """
        self.settings, self.embedder = settings, embedder
        self.client = store.connect(settings)
        active = store.read_active(self.client, settings)
        if active is None:
            raise IndexMissingError(f"no index in {store.where_of(settings)}: {store.INGEST_HINT}")
        self.current = Snapshot.load(self.client, settings, active, embedder)
        self.problem = ""  # why the last new generation could not be followed, for /healthz
        self._checked = time.monotonic()
        self._following = threading.Lock()

    def snapshot(self) -> Snapshot:
        """The snapshot to answer a new question from (checks the pointer when due)."""
        due = time.monotonic() - self._checked >= CHECK_INTERVAL_S
        if due and self._following.acquire(blocking=False):  # others answer from current
            try:
                self._follow()
            finally:
                self._following.release()
        return self.current

    def refresh(self) -> Snapshot:
        """Check the pointer now (a question's collection was collected) and return current."""
        with self._following:
            self._follow()
        return self.current

    def _follow(self) -> None:
        self._checked = time.monotonic()
        try:
            active = store.read_active(self.client, self.settings)
        except Exception as e:  # a dead server: keep answering; the search reports it
            log.debug("registry unreadable: %s", e)
            return
        if active is None or active.collection == self.current.collection:
            return
        try:
            snapshot = Snapshot.load(self.client, self.settings, active, self.embedder)
        except AssistantError as e:  # e.g. built with another embedder: keep the old one
            self.problem = f"cannot switch to the index {active.collection}: {e}"
            log.warning(self.problem)
            return
        self.current, self.problem = snapshot, ""  # one assignment: the swap
        log.info("switched to the index %s (%s)", active.collection, active.fingerprint[:12])
