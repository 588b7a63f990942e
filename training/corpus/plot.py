"""A picture of a generated song: its mel spectrogram with the section boundaries and labels drawn on it.

``python -m training.corpus.plot OUT.png [--style pop] [--seconds 75] [--seed 7] [--synth auto]``
"""

from __future__ import annotations

import argparse

import numpy as np

from .song import Song, generate_song


def mel_db(y: np.ndarray, sample_rate: int) -> tuple[np.ndarray, float]:
    """A 128-bin dB mel spectrogram of ``y`` and its frame rate (musicedge's frontend, else librosa)."""
    try:
        from musicedge.config import FrontendConfig
        from musicedge.frontend import MelFrontend

        cfg = FrontendConfig(sample_rate=sample_rate, n_fft=2048, hop_length=512, n_mels=128, log="db")
        return MelFrontend(cfg).compute(y), sample_rate / 512
    except ImportError:
        import librosa

        mel = librosa.feature.melspectrogram(y=y, sr=sample_rate, n_fft=2048, hop_length=512, n_mels=128)
        return librosa.power_to_db(mel, ref=1.0, amin=1e-10), sample_rate / 512


def plot_song(song: Song, path: str, title: str | None = None) -> None:
    """Write a PNG of ``song``'s mel spectrogram with its sections (upper band) and phrases (lower band)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mel, rate = mel_db(song.audio, song.sample_rate)
    top = float(mel.max())
    t = song.truth
    fig, ax = plt.subplots(figsize=(14, 5.2), dpi=100)
    ax.imshow(
        np.maximum(mel, top - 80),
        origin="lower",
        aspect="auto",
        cmap="magma",
        extent=(0, mel.shape[1] / rate, 0, mel.shape[0]),
    )
    for sec in t.sections:
        ax.axvline(sec.start, color="white", lw=1.6)
        ax.text(
            (sec.start + sec.end) / 2,
            mel.shape[0] - 4,
            f"{sec.label}\n{sec.letter}",
            color="white",
            ha="center",
            va="top",
            fontsize=9,
            fontweight="bold",
            bbox=dict(facecolor="black", alpha=0.45, lw=0, pad=1.5),
        )
    for ph in t.phrases:
        ax.axvline(ph.start, ymax=0.1, color="cyan", lw=1.2)
        ax.text(
            (ph.start + ph.end) / 2,
            4,
            ph.label,
            color="cyan",
            ha="center",
            fontsize=9,
            bbox=dict(facecolor="black", alpha=0.5, lw=0, pad=1.0),
        )
    ax.set_xlabel("time (s)")
    ax.set_ylabel("mel bin (sections above, phrases below)")
    ax.set_title(
        title
        or f"{t.style}, {t.tempo:.1f} BPM, {t.key}, {t.synth}: {', '.join(t.moods)} (station {t.station})"
    )
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.corpus.plot", description=__doc__.splitlines()[0]
    )
    parser.add_argument("out", help="PNG file to write")
    parser.add_argument("--style", default="pop")
    parser.add_argument("--seconds", type=float, default=75.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--synth", default="auto", choices=("auto", "fluidsynth", "numpy"))
    parser.add_argument("--wav", help="also write the song's audio here")
    args = parser.parse_args(argv)
    song = generate_song(args.style, args.seconds, args.seed, synth=args.synth, form="full")
    plot_song(song, args.out)
    if args.wav:
        import soundfile as sf

        sf.write(args.wav, song.audio, song.sample_rate, subtype="PCM_16")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
