"""Keyword search: BM25 over textnorm tokens (so Arabic words match across spellings), in segments.

Each segment keeps its postings in CSC form: for each token, the rows that hold it and how often.
Scores are BM25 as Lucene computes it (bm25s's default, this index's earlier backend), with the
statistics (row count, average length, each token's document frequency) of the live rows of
every segment together, so a chunk scores the same whichever segment holds it and however the
segments were merged. The k best come from an argpartition, not a sort of every row.

LangChain's BM25Retriever is not used: its whitespace tokenizer keeps Arabic clitics and
diacritics attached and so misses most Arabic matches.
"""

import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from assistant.index.base import Scored, ascending, members
from assistant.index.memory import BM25_B, BM25_K1

_NO_IDS = np.zeros(0, dtype=np.int64)
_NO_COUNTS = np.zeros(0, dtype=np.float32)
_ARRAYS = ("ids", "indptr", "rows", "tf", "lengths")


class KeywordSegment:
    """One immutable run of token rows, as postings."""

    def __init__(
        self,
        ids: np.ndarray,
        vocab: list[str],
        indptr: np.ndarray,
        rows: np.ndarray,
        tf: np.ndarray,
        lengths: np.ndarray,
    ) -> None:
        self.ids = ids  # vector id of each row, ascending
        self.vocab = vocab
        self._column = {token: column for column, token in enumerate(vocab)}
        self.indptr = indptr  # token t's postings are rows[indptr[t]:indptr[t + 1]]
        self.rows = rows
        self.tf = tf
        self.lengths = lengths  # tokens in each row

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def build(cls, ids: Sequence[int], token_rows: Sequence[list[str]]) -> "KeywordSegment":
        order = np.argsort(np.asarray(ids, dtype=np.int64), kind="stable")
        postings: dict[str, list[tuple[int, int]]] = {}
        for row, position in enumerate(order.tolist()):
            for token, count in Counter(token_rows[position]).items():
                postings.setdefault(token, []).append((row, count))
        vocab = sorted(postings)
        flat = [pair for token in vocab for pair in postings[token]]
        return cls(
            ids=np.asarray(ids, dtype=np.int64)[order],
            vocab=vocab,
            indptr=np.cumsum([0] + [len(postings[token]) for token in vocab], dtype=np.int64),
            rows=np.array([row for row, _ in flat], dtype=np.int32),
            tf=np.array([count for _, count in flat], dtype=np.float32),
            lengths=np.array([len(token_rows[p]) for p in order.tolist()], dtype=np.int32),
        )

    def postings(self, token: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The vector ids of the rows holding token, its count in each, and their lengths."""
        column = self._column.get(token)
        if column is None:
            return _NO_IDS, _NO_COUNTS, _NO_COUNTS
        span = slice(self.indptr[column], self.indptr[column + 1])
        rows = self.rows[span]
        return self.ids[rows], self.tf[span], self.lengths[rows]

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for name in _ARRAYS:
            np.save(directory / f"{name}.npy", getattr(self, name))
        (directory / "vocab.json").write_text(json.dumps(self.vocab, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> "KeywordSegment":
        # Memory-mapped: a search reads the postings of its own tokens only. Plain arrays over the
        # mapping (np.asarray), as np.memmap's Python-level indexing was 40% of a keyword search.
        arrays = {name: np.asarray(np.load(directory / f"{name}.npy", mmap_mode="r")) for name in _ARRAYS}
        return cls(vocab=json.loads((directory / "vocab.json").read_text(encoding="utf-8")), **arrays)


class SegmentedBm25:
    """`assistant.index.base.KeywordIndex` over sealed segments, tombstones and what a writer adds."""

    def __init__(self, segments: list[KeywordSegment] | None = None, deleted: np.ndarray | None = None) -> None:
        self.segments = segments or []
        self.deleted = np.zeros(0, dtype=np.int64) if deleted is None else np.unique(deleted.astype(np.int64))
        self._pending_rows: dict[int, list[str]] = {}
        self._pending: KeywordSegment | None = None
        self._statistics: tuple[int, int] | None = None
        self._scoped: dict[bytes, tuple[int, int]] = {}

    def __len__(self) -> int:
        return self._totals()[0]

    def add(self, ids: Sequence[int], rows: Sequence[list[str]]) -> None:
        self._pending_rows |= {int(i): list(row) for i, row in zip(ids, rows, strict=True)}
        self._pending, self._statistics, self._scoped = None, None, {}

    def remove(self, ids: Iterable[int]) -> None:
        ids = [int(i) for i in ids]
        for vector_id in ids:
            self._pending_rows.pop(vector_id, None)
        sealed = np.concatenate([s.ids for s in self.segments]) if self.segments else _NO_IDS
        self.deleted = np.union1d(self.deleted, np.intersect1d(np.array(ids, dtype=np.int64), sealed))
        self._pending, self._statistics, self._scoped = None, None, {}

    def pending(self) -> KeywordSegment | None:
        """What a writer added, as the segment it will be sealed as; None when nothing was added."""
        if self._pending is None and self._pending_rows:
            self._pending = KeywordSegment.build(list(self._pending_rows), list(self._pending_rows.values()))
        return self._pending

    def _searched(self) -> list[KeywordSegment]:
        pending = self.pending()
        return [*self.segments, pending] if pending else self.segments

    def _totals(self, among: np.ndarray | None = None) -> tuple[int, int]:
        """Live rows and their tokens, over every segment, or over the rows among admits.

        Statistics within a scope are the scope's own: a search confined to some collections must
        not score its passages by how often a word occurs in documents outside them (that would
        tell a reader whether a word is in a document they may not read). among is ascending.
        """
        if among is None and self._statistics is not None:
            return self._statistics
        key = None if among is None else hashlib.blake2b(among.tobytes(), digest_size=16).digest()
        if key is not None and key in self._scoped:
            return self._scoped[key]
        rows = tokens = 0
        for segment in self._searched():
            live = ~members(segment.ids, self.deleted)
            if among is not None:
                live &= members(segment.ids, among)
            rows, tokens = rows + int(live.sum()), tokens + int(np.asarray(segment.lengths)[live].sum())
        if key is None:
            self._statistics = (rows, tokens)
        else:
            self._scoped = {key: (rows, tokens)}  # the last scope: a user's questions share theirs
        return rows, tokens

    def _live_postings(self, token: str, among: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The token's postings in live rows (and only rows among, ascending, admits, when given)."""
        parts = [segment.postings(token) for segment in self._searched()]
        if not parts:
            return _NO_IDS, _NO_COUNTS, _NO_COUNTS
        ids, tf, lengths = (np.concatenate([part[n] for part in parts]) for n in range(3))
        if len(self.deleted) and len(ids):
            live = ~members(ids, self.deleted)
            ids, tf, lengths = ids[live], tf[live], lengths[live]
        if among is not None and len(ids):  # a mask on the postings: the filter never cuts a top k
            admitted = members(ids, among)
            ids, tf, lengths = ids[admitted], tf[admitted], lengths[admitted]
        return ids, tf, lengths

    @staticmethod
    def _idf(held_by: int, rows: int) -> float:
        return math.log(1 + (rows - held_by + 0.5) / (held_by + 0.5))

    def search(self, tokens: list[str], k: int, among: np.ndarray | None = None) -> Scored:
        among = None if among is None else ascending(among)  # once, not for every token
        rows, length = self._totals(among)
        if not rows or k <= 0:
            return []
        average = length / rows
        found_ids, found_scores = [], []
        for token, repeats in Counter(tokens).items():
            ids, tf, lengths = self._live_postings(token, among)
            if len(ids):
                norm = BM25_K1 * (1 - BM25_B + BM25_B * lengths / average)
                found_ids.append(ids)
                found_scores.append(repeats * self._idf(len(ids), rows) * tf / (tf + norm))
        if not found_ids:
            return []
        ids, scores = np.concatenate(found_ids), np.concatenate(found_scores)
        totals = np.bincount(ids, weights=scores)  # by vector id: linear, where np.unique would sort
        matching = np.flatnonzero(totals > 0)
        if len(matching) > k:  # the k best without sorting every row
            matching = matching[np.argpartition(-totals[matching], k - 1)[:k]]
        best = sorted(matching.tolist(), key=lambda i: (-totals[i], i))
        return [(int(i), float(totals[i])) for i in best]

    def matched_share(self, tokens: list[str], vector_id: int, among: np.ndarray | None = None) -> float:
        among = None if among is None else ascending(among)
        rows, _ = self._totals(among)
        idf, held = {}, set()
        for token in dict.fromkeys(tokens):
            ids, _, _ = self._live_postings(token, among)
            if len(ids):
                idf[token] = self._idf(len(ids), rows)
                if vector_id in ids:
                    held.add(token)
        mass = sum(idf.values())
        return sum(idf[token] for token in held) / mass if mass else 0.0

    def merged(self, segments: list[KeywordSegment]) -> KeywordSegment:
        """One segment holding the live rows of several: their postings joined, tombstoned rows dropped."""
        vocab = sorted(set().union(*(segment.vocab for segment in segments)))
        column_of = {token: column for column, token in enumerate(vocab)}
        columns, ids, counts, kept_ids, kept_lengths = [], [], [], [], []
        for segment in segments:
            remap = np.array([column_of[token] for token in segment.vocab], dtype=np.int64)
            columns.append(np.repeat(remap, np.diff(segment.indptr)))
            ids.append(np.asarray(segment.ids)[segment.rows])
            counts.append(np.asarray(segment.tf))
            live = ~members(segment.ids, self.deleted)
            kept_ids.append(np.asarray(segment.ids)[live])
            kept_lengths.append(np.asarray(segment.lengths)[live])
        column, vector_id, tf = np.concatenate(columns), np.concatenate(ids), np.concatenate(counts)
        live = ~members(vector_id, self.deleted)
        column, vector_id, tf = column[live], vector_id[live], tf[live]
        row_ids = np.concatenate(kept_ids)
        order = np.argsort(row_ids, kind="stable")
        row_ids, lengths = row_ids[order], np.concatenate(kept_lengths)[order]
        rows = np.searchsorted(row_ids, vector_id)
        by_column = np.lexsort((rows, column))
        return KeywordSegment(
            ids=row_ids,
            vocab=vocab,
            indptr=np.concatenate([[0], np.cumsum(np.bincount(column, minlength=len(vocab)))]).astype(np.int64),
            rows=rows[by_column].astype(np.int32),
            tf=tf[by_column].astype(np.float32),
            lengths=lengths.astype(np.int32),
        )
