"""The persistent hybrid index: FAISS vectors, BM25 keywords, a docstore and a manifest."""

from assistant.index.snapshot import Snapshot
from assistant.index.store import IndexStore

__all__ = ["IndexStore", "Snapshot"]
