"""Bilingual (Arabic/English) retrieval-augmented briefing assistant."""

__version__ = "0.1.0"
