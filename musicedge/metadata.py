"""Track metadata as model input: the tokens metadata-fusion models read (their optional ``meta`` input).

A model trained with metadata stores its vocabulary in ``musicedge.extra.meta_vocab`` (a JSON list;
a token's id is its position + 1, 0 is padding) and its length in ``musicedge.extra.meta_max_tokens``.
Training (``training.tasks.data``) and the runtime build tokens with the same function, here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np


def metadata_tokens(
    artists: Iterable[str] = (), album: str | None = None, words: Iterable[str] = (), title: str | None = None
) -> list[str]:
    """``artist:<name>`` per artist, ``album:<name>``, ``word:<w>`` per lyric word, ``title:<w>`` per word
    of the song's title (runs of letters, digits and ``#``): stripped, lower case."""
    tokens = [f"artist:{str(a).strip().lower()}" for a in artists if str(a).strip()]
    if isinstance(album, str) and album.strip():
        tokens.append(f"album:{album.strip().lower()}")
    tokens += [f"word:{str(w).strip().lower()}" for w in words if str(w).strip()]
    if isinstance(title, str):
        tokens += [f"title:{w}" for w in re.findall(r"[^\W_]+#?", title.lower())]
    return tokens


def encode_tokens(tokens: Sequence[str], vocabulary: Sequence[str], max_tokens: int) -> np.ndarray:
    """``(max(1, max_tokens),)`` int64 ids of the known tokens in order, zero-padded; unknown ones dropped."""
    lookup = {t: i + 1 for i, t in enumerate(vocabulary)}
    ids = [lookup[t] for t in tokens if t in lookup][:max_tokens]
    out = np.zeros(max(1, max_tokens), dtype=np.int64)
    out[: len(ids)] = ids
    return out
