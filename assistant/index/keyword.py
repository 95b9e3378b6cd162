"""Keyword search: BM25 (bm25s) over textnorm tokens, so Arabic words match across spellings.

bm25s is used rather than LangChain's BM25Retriever, whose whitespace tokenizer keeps
Arabic clitics and diacritics attached and so misses most Arabic matches.
"""

import json
import math
from pathlib import Path

import bm25s
import numpy as np

from assistant.textnorm import tokenize


class KeywordIndex:
    """BM25 over the rows of a snapshot's chunk list; also keeps each row's tokens."""

    def __init__(self, rows: list[list[str]]) -> None:
        self.rows = rows
        self._bm25: bm25s.BM25 | None = None

    def _index(self) -> bm25s.BM25:
        """BM25 over the rows, built on first use; only called with rows (bm25s fails on none)."""
        if self._bm25 is None:
            self._bm25 = bm25s.BM25()
            self._bm25.index(self.rows, show_progress=False)
        return self._bm25

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """Row numbers and scores of the best matches; rows sharing no token are left out."""
        if not self.rows:
            return []
        tokens = [t for t in tokenize(query) if t in self._index().vocab_dict]
        if not tokens:
            return []
        scores = self._index().get_scores(tokens)
        best = np.argsort(-scores, kind="stable")[:k]
        return [(int(row), float(scores[row])) for row in best if scores[row] > 0]

    def matched_share(self, query_tokens: list[str], row: int) -> float:
        """Share of the query's IDF mass (its rare words weigh most) that one row contains."""
        if not self.rows:
            return 0.0
        index = self._index()
        starts = index.scores["indptr"]  # token t's postings are starts[t]:starts[t + 1], one per row holding it
        total = index.scores["num_docs"]
        held_by = {
            token: int(starts[index.vocab_dict[token] + 1] - starts[index.vocab_dict[token]])
            for token in query_tokens
            if token in index.vocab_dict
        }
        idf = {token: math.log(1 + (total - n + 0.5) / (n + 0.5)) for token, n in held_by.items()}
        mass = sum(idf.values())
        if not mass:
            return 0.0
        held = set(self.rows[row])
        return sum(weight for token, weight in idf.items() if token in held) / mass

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        with (directory / "tokens.jsonl").open("w", encoding="utf-8") as file:
            for row in self.rows:
                file.write(json.dumps(row, ensure_ascii=False) + "\n")
        if self.rows:
            self._index().save(str(directory / "bm25"), allow_pickle=False)

    @classmethod
    def load(cls, directory: Path) -> "KeywordIndex":
        with (directory / "tokens.jsonl").open(encoding="utf-8") as file:
            keyword = cls([json.loads(line) for line in file])
        if keyword.rows:
            keyword._bm25 = bm25s.BM25.load(str(directory / "bm25"), allow_pickle=False)
        return keyword
