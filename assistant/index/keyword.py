"""Keyword search: BM25 (bm25s) over textnorm tokens, so Arabic words match across spellings.

bm25s is used rather than LangChain's BM25Retriever, whose whitespace tokenizer keeps
Arabic clitics and diacritics attached and so misses most Arabic matches.
"""

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import bm25s
import numpy as np

from assistant.index.base import Scored


class Bm25Index:
    """BM25 over token rows keyed by vector id (`assistant.index.base.KeywordIndex`).

    bm25s indexes a fixed corpus, so a change rebuilds the index on its next search.
    """

    def __init__(self, ids: Sequence[int] = (), rows: Sequence[list[str]] = ()) -> None:
        self._bm25: bm25s.BM25 | None = None
        self._hold(ids, rows)

    def _hold(self, ids: Sequence[int], rows: Sequence[list[str]]) -> None:
        self._ids: list[int] = [int(i) for i in ids]
        self._rows: list[list[str]] = list(rows)
        self._position = {vector_id: position for position, vector_id in enumerate(self._ids)}
        self._bm25 = None

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, ids: Sequence[int], rows: Sequence[list[str]]) -> None:
        for vector_id, row in zip(ids, rows, strict=True):
            self._position[int(vector_id)] = len(self._ids)
            self._ids.append(int(vector_id))
            self._rows.append(list(row))
        self._bm25 = None

    def remove(self, ids: Iterable[int]) -> None:
        gone = {int(i) for i in ids} & self._position.keys()
        if gone:
            kept = [p for p, vector_id in enumerate(self._ids) if vector_id not in gone]
            self._hold([self._ids[p] for p in kept], [self._rows[p] for p in kept])

    def _index(self) -> bm25s.BM25:
        """BM25 over the rows, built on first use; only called with rows (bm25s fails on none)."""
        if self._bm25 is None:
            self._bm25 = bm25s.BM25()
            self._bm25.index(self._rows, show_progress=False)
        return self._bm25

    def search(self, tokens: list[str], k: int, among: np.ndarray | None = None) -> Scored:
        if not self._ids or (among is not None and not len(among)):
            return []
        known = [t for t in tokens if t in self._index().vocab_dict]
        if not known:
            return []
        scores = self._index().get_scores(known)
        if among is not None:
            admitted = np.zeros(len(scores), dtype=bool)
            admitted[[self._position[int(i)] for i in among.tolist() if int(i) in self._position]] = True
            scores = np.where(admitted, scores, 0)
        matching = np.flatnonzero(scores > 0)
        if len(matching) > k:  # the k best without sorting every row
            matching = matching[np.argpartition(-scores[matching], k - 1)[:k]]
        best = sorted(matching.tolist(), key=lambda p: (-scores[p], self._ids[p]))
        return [(self._ids[p], float(scores[p])) for p in best]

    def matched_share(self, tokens: list[str], vector_id: int) -> float:
        if not self._ids or vector_id not in self._position:
            return 0.0
        index = self._index()
        starts = index.scores["indptr"]  # token t's postings are starts[t]:starts[t + 1], one per row holding it
        total = index.scores["num_docs"]
        held_by = {
            token: int(starts[index.vocab_dict[token] + 1] - starts[index.vocab_dict[token]])
            for token in tokens
            if token in index.vocab_dict
        }
        idf = {token: math.log(1 + (total - n + 0.5) / (n + 0.5)) for token, n in held_by.items()}
        mass = sum(idf.values())
        if not mass:
            return 0.0
        held = set(self._rows[self._position[vector_id]])
        return sum(weight for token, weight in idf.items() if token in held) / mass

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        with (directory / "tokens.jsonl").open("w", encoding="utf-8") as file:
            for row in self._rows:
                file.write(json.dumps(row, ensure_ascii=False) + "\n")
        if self._rows:
            self._index().save(str(directory / "bm25"), allow_pickle=False)

    @classmethod
    def load(cls, directory: Path, ids: Sequence[int]) -> "Bm25Index":
        """The index saved in directory, whose rows belong to ids, in order (the snapshot's chunks)."""
        with (directory / "tokens.jsonl").open(encoding="utf-8") as file:
            keyword = cls(ids, [json.loads(line) for line in file])
        if keyword._rows:
            keyword._bm25 = bm25s.BM25.load(str(directory / "bm25"), allow_pickle=False)
        return keyword
