"""Synthetic feed generator: a Chengdu-like city's calls, SMS and transfers, with fraud.

`generate_feed` writes events.jsonl (the wire contract), labels.jsonl (ground truth)
and the reference CSVs; see feeds/README.md for the typologies and look-alikes.
"""

from .generate import GENERATOR_VERSION, FeedSummary, generate_feed
from .typologies import BY_NAME, NAMES, TYPOLOGIES, Typology

__all__ = [
    "BY_NAME",
    "GENERATOR_VERSION",
    "NAMES",
    "TYPOLOGIES",
    "FeedSummary",
    "Typology",
    "generate_feed",
]
