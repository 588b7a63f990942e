"""Readers of the dataset layouts the seed projects use, all returning one :class:`Dataset` type.

=============  =====================================================================  ======================
layout         files                                                                  reader
=============  =====================================================================  ======================
``gtzan``      ``genres/<genre>/<name>.wav``                                          :func:`load_gtzan`
``salami``     ``annotations/<id>/textfile{1,2}.txt``, ``audio/<id>.<ext>``           :func:`load_salami`
``retrieval``  ``<split>/origin/<label>/<label>_<k>.wav``, ``<split>/sample/...``     :func:`load_retrieval`
``melon``      ``<split>/<split>_data/mel_spectrogram/<id>.npy``, ``<split>_label``   :func:`load_melon`
=============  =====================================================================  ======================

``load_layout(name, root, **options)`` dispatches by name. A ``corpus.json`` at a root (the generated corpus's
ground truth) is never required.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .base import (
    AUDIO_EXTENSIONS,
    SPLIT_NAMES,
    Clip,
    Dataset,
    DataWarning,
    Section,
    Skipped,
    Track,
    assign_splits,
)
from .gtzan import load_gtzan
from .melon import load_melon
from .retrieval import load_retrieval
from .salami import (
    FUNCTION_TAXONOMY,
    TAXONOMY,
    UNMAPPED_FUNCTIONS,
    SalamiAnnotation,
    function_to_taxonomy,
    load_salami,
    parse_salami_text,
    parse_salami_textfile,
    taxonomy_sections,
)

LAYOUTS: dict[str, Callable[..., Dataset]] = {
    "gtzan": load_gtzan,
    "salami": load_salami,
    "retrieval": load_retrieval,
    "melon": load_melon,
}


def load_layout(name: str, root: str | Path, **options: Any) -> Dataset:
    """Read ``root`` with the reader of layout ``name`` (one of :data:`LAYOUTS`), passing ``options`` on."""
    try:
        reader = LAYOUTS[name]
    except KeyError:
        raise ValueError(f"unknown layout {name!r}; known: {', '.join(LAYOUTS)}") from None
    return reader(root, **options)


__all__ = [
    "AUDIO_EXTENSIONS",
    "FUNCTION_TAXONOMY",
    "LAYOUTS",
    "SPLIT_NAMES",
    "TAXONOMY",
    "UNMAPPED_FUNCTIONS",
    "Clip",
    "DataWarning",
    "Dataset",
    "SalamiAnnotation",
    "Section",
    "Skipped",
    "Track",
    "assign_splits",
    "function_to_taxonomy",
    "load_gtzan",
    "load_layout",
    "load_melon",
    "load_retrieval",
    "load_salami",
    "parse_salami_text",
    "parse_salami_textfile",
    "taxonomy_sections",
]
