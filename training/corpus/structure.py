"""Song form: which sections, in what order, how many bars each, so that a song fills a target length.

Section lengths are whole phrases of their material (the progression a section plays; intro and outro
may be half a phrase), so every boundary falls on a bar line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SECTION_LABELS = ("intro", "verse", "pre-chorus", "chorus", "bridge", "instrumental", "outro", "silence")
# SALAMI's function names for each label
SALAMI_FUNCTIONS = {
    "intro": "Intro",
    "verse": "Verse",
    "pre-chorus": "Pre-Chorus",
    "chorus": "Chorus",
    "bridge": "Bridge",
    "instrumental": "Instrumental",
    "outro": "Outro",
    "silence": "Silence",
}
# how loud and busy each section is, before the song's own energy scales it
SECTION_ENERGY = {
    "intro": 0.45,
    "verse": 0.6,
    "pre-chorus": 0.7,
    "chorus": 0.92,
    "bridge": 0.5,
    "instrumental": 0.8,
    "outro": 0.5,
    "silence": 0.0,
}
_GROW_ORDER = ("chorus", "verse", "instrumental", "intro", "bridge", "outro", "pre-chorus")


@dataclass(frozen=True)
class FormSection:
    """One planned section: its label, length in bars, the material (progression) it plays, which repeat."""

    label: str
    bars: int
    material: str
    instance: int


def _limits(label: str, phrase: int) -> tuple[int, int, int]:
    """(min, typical, max) bars of a ``label`` section whose material has ``phrase``-bar phrases."""
    typical = phrase * (2 if phrase <= 4 else 1)
    longest = phrase * (4 if phrase <= 4 else 2)
    if label in ("intro", "outro"):
        low = phrase // 2 if phrase % 2 == 0 and phrase >= 4 else phrase
        return low, phrase, 2 * phrase
    if label == "pre-chorus":
        return phrase, phrase, 2 * phrase
    if label == "bridge":
        return phrase, typical, typical
    return phrase, typical, longest


def _next_size(bars: int, phrase: int) -> int:
    """The next section length up: a whole phrase, then twice and four times as many phrases."""
    for k in (1, 2, 4):
        if bars < k * phrase:
            return k * phrase
    return bars + 2 * phrase


def _single_choruses(form: list[str]) -> list[str]:
    return [s for i, s in enumerate(form) if not (i and s == "chorus" and form[i - 1] == "chorus")]


def _reductions(template: tuple[str, ...]) -> list[list[str]]:
    """Ever shorter versions of a form: the whole, fewer repeats, no bridge, no pre-chorus, then the core
    (intro, verse, chorus, outro) that every complete song keeps."""
    forms = [list(template)]
    forms.append(_single_choruses(forms[-1]))
    forms.append(_single_choruses([s for s in forms[-1] if s not in ("bridge", "instrumental")]))
    forms.append(
        [s for i, s in enumerate(forms[-1]) if s != "pre-chorus" or "pre-chorus" not in forms[-1][:i]]
    )
    forms.append([s for s in forms[-1] if s != "pre-chorus"])
    forms.append(["intro", "verse"] + (["chorus"] if "chorus" in template else []) + ["outro"])
    return forms


def plan_form(
    template: tuple[str, ...],
    material_of: dict[str, str],
    phrase_bars: dict[str, int],
    bar_seconds: float,
    target_seconds: float,
) -> list[FormSection]:
    """Sections lasting at least ``target_seconds`` (or the shortest form of ``template`` if longer).

    ``material_of`` maps each label to the material it plays and ``phrase_bars`` each material to its
    phrase length. The longest reduction of the template that fits is grown section by section
    (choruses and verses first) up to the target, and repeated verse-chorus pairs are added when even
    the longest sections fall short.
    """
    target_bars = max(1, math.ceil(target_seconds / bar_seconds - 1e-9))
    chosen = None
    for form in _reductions(template):
        low = sum(_limits(s, phrase_bars[material_of[s]])[0] for s in form)
        if low <= target_bars:
            chosen = form
            break
    if chosen is None:
        chosen = _reductions(template)[-1]
    labels = list(chosen)
    bars = [_limits(s, phrase_bars[material_of[s]])[0] for s in labels]
    while sum(bars) < target_bars:
        grown = False
        for pass_typical in (True, False):
            candidates = []
            for i, s in enumerate(labels):
                phrase = phrase_bars[material_of[s]]
                _, typical, longest = _limits(s, phrase)
                cap = typical if pass_typical else longest
                if bars[i] < cap:
                    candidates.append((bars[i] / cap, _GROW_ORDER.index(s), i))
            if candidates:
                _, _, i = min(candidates)
                bars[i] = _next_size(bars[i], phrase_bars[material_of[labels[i]]])
                grown = True
                break
        if not grown:  # every section at its longest: play another verse and chorus before the outro
            at = labels.index("outro") if "outro" in labels else len(labels)
            extra = ["verse", "chorus"] if "chorus" in labels else ["verse"]
            for s in reversed(extra):
                labels.insert(at, s)
                bars.insert(at, _limits(s, phrase_bars[material_of[s]])[0])
    counts: dict[str, int] = {}
    sections = []
    for label, n in zip(labels, bars, strict=True):
        sections.append(FormSection(label, n, material_of[label], counts.get(label, 0)))
        counts[label] = counts.get(label, 0) + 1
    return sections


def section_energy(label: str, instance: int, rng: np.random.Generator) -> float:
    """The energy of a section: its label's, a little more on each repeat, with some jitter."""
    if label == "silence":
        return 0.0
    return float(np.clip(SECTION_ENERGY[label] + 0.04 * instance + rng.normal(0, 0.04), 0.2, 1.0))
