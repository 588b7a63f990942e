"""Render a score with the ``fluidsynth`` command line and a General MIDI soundfont (real instrument samples).

The score's notes in the requested time span are written to a MIDI file of our own (see
:mod:`training.corpus.midi`), rendered offline ("fast render") to 32-bit float, and mixed to mono.
FluidSynth processes events in blocks of 64 samples, so onsets may land up to 64 samples late.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile
from collections import defaultdict

import numpy as np

from .arrange import PART_VOLUME, Score
from .midi import DRUM_CHANNEL, TICKS_PER_BEAT, MidiEvent, write_smf
from .styles import CHANNELS

DEFAULT_SOUNDFONT = "/usr/share/sounds/sf2/TimGM6mb.sf2"
SOUNDFONT_ENV = "MUSICEDGE_SOUNDFONT"
_BEND_STEPS = 6  # pitch-bend messages per slide
_BEND_RANGE = 2.0  # semitones at full bend (the GM default)


def soundfont_path(soundfont: str | None = None) -> str:
    """The soundfont to use: the argument, else ``$MUSICEDGE_SOUNDFONT``, else TimGM6mb's Debian path."""
    return soundfont or os.environ.get(SOUNDFONT_ENV) or DEFAULT_SOUNDFONT


def available(soundfont: str | None = None) -> str | None:
    """Why fluidsynth cannot render here (``None`` when it can)."""
    if shutil.which("fluidsynth") is None:
        return "the fluidsynth program is not on PATH (Debian: apt-get install fluidsynth)"
    path = soundfont_path(soundfont)
    if not os.path.isfile(path):
        return (
            f"soundfont {path} not found (Debian: apt-get install timgm6mb-soundfont, "
            f"or set ${SOUNDFONT_ENV})"
        )
    return None


def version() -> str | None:
    """The fluidsynth version string (``"2.3.1"``), ``None`` when it cannot be run."""
    try:
        out = subprocess.run(["fluidsynth", "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    words = out.split()
    return words[words.index("version") + 1] if "version" in words[:-1] else None


def score_to_midi(score: Score, start_s: float, end_s: float) -> tuple[bytes, int]:
    """A MIDI file of the notes sounding between ``start_s`` and ``end_s`` (time 0 of the file = ``start_s``).

    Notes that began earlier start at 0. Returns the file's bytes and its length in ticks.
    """
    spb = score.us_per_beat / 1e6
    b0, b1 = start_s / spb, end_s / spb

    def tick(beat: float) -> int:
        return max(0, int(round((beat - b0) * TICKS_PER_BEAT)))

    end_tick = int(math.ceil((b1 - b0) * TICKS_PER_BEAT))
    events: list[MidiEvent] = []
    for part, program in score.programs.items():
        ch = CHANNELS[part]
        events.append(MidiEvent(0, "program", ch, program))
        events.append(MidiEvent(0, "control", ch, 7, PART_VOLUME[part]))
        events.append(MidiEvent(0, "control", ch, 91, score.reverb if part != "bass" else score.reverb // 3))
        events.append(MidiEvent(0, "control", ch, 93, 20 if part in ("pad", "keys") else 0))
    by_key: dict[tuple[int, int], list[tuple[int, int, int, float]]] = defaultdict(list)
    for n in score.notes:
        if n.start >= b1 or n.start + n.dur <= b0 or n.part not in score.programs:
            continue
        ch = CHANNELS[n.part]
        by_key[(ch, n.pitch)].append((tick(n.start), tick(n.start + n.dur), n.vel, n.bend))
    for (ch, pitch), notes in by_key.items():
        notes.sort()
        for i, (t_on, t_off, vel, bend) in enumerate(notes):
            if i + 1 < len(notes):
                if notes[i + 1][0] == t_on:
                    continue  # the same key struck twice at once: keep one
                t_off = min(t_off, notes[i + 1][0])
            t_off = max(t_off, t_on + 1)
            if ch == DRUM_CHANNEL:
                t_off = max(t_off, t_on + TICKS_PER_BEAT // 4)
            events.append(MidiEvent(t_on, "on", ch, pitch, vel))
            events.append(MidiEvent(t_off, "off", ch, pitch))
            if bend > 0:
                ramp = max(_BEND_STEPS, 1)
                slide = min(t_off - t_on, TICKS_PER_BEAT // 4)
                for k in range(ramp + 1):
                    value = int(round(-8191 * (bend / _BEND_RANGE) * (1 - k / ramp)))
                    events.append(MidiEvent(t_on + slide * k // ramp, "bend", ch, value))
    return write_smf(events, score.us_per_beat, end_tick), end_tick


def render(
    score: Score,
    start_s: float,
    seconds: float,
    sample_rate: int,
    soundfont: str | None = None,
    preroll_s: float = 0.0,
) -> np.ndarray:
    """Mono float32 audio of ``score`` from ``start_s`` for ``seconds`` (exactly that many samples).

    ``preroll_s`` seconds before ``start_s`` are rendered too and dropped, so that notes struck just
    before the start ring on naturally.
    """
    reason = available(soundfont)
    if reason:
        raise RuntimeError(f"cannot render with fluidsynth: {reason}")
    sf2 = soundfont_path(soundfont)
    begin = max(0.0, start_s - preroll_s)
    midi, _ = score_to_midi(score, begin, start_s + seconds)
    with tempfile.TemporaryDirectory(prefix="musicedge-corpus-") as tmp:
        mid_path = os.path.join(tmp, "song.mid")
        raw_path = os.path.join(tmp, "song.raw")  # a file, not a pipe: fluidsynth writes in tiny blocks
        with open(mid_path, "wb") as f:
            f.write(midi)
        cmd = ["fluidsynth", "-n", "-i", "-q", "-F", raw_path, "-T", "raw", "-O", "float", "-E", "little"]
        cmd += ["-r", str(int(sample_rate)), "-g", "0.5", "-R", "1", "-C", "1", "-o", "synth.cpu-cores=1"]
        cmd += [sf2, mid_path]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=600, check=False)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"fluidsynth took over 600 s rendering {mid_path}") from None
        size = os.path.getsize(raw_path) if os.path.exists(raw_path) else 0
        if proc.returncode != 0 or size == 0:
            err = (proc.stderr + proc.stdout).decode(errors="replace").strip()[-500:]
            raise RuntimeError(f"fluidsynth failed (exit {proc.returncode}) on {sf2}: {err or 'no audio'}")
        data = np.fromfile(raw_path, dtype="<f4")
    stereo = data[: len(data) // 2 * 2].reshape(-1, 2)
    mono = stereo.mean(axis=1, dtype=np.float32)
    skip = int(round((start_s - begin) * sample_rate))
    n = int(round(seconds * sample_rate))
    out = np.zeros(n, dtype=np.float32)
    chunk = mono[skip : skip + n]
    out[: len(chunk)] = chunk
    return out
