"""``FrontendConfig``: every setting of the mel frontend, with librosa's names and meanings.

The values are validated by the C++ core (one set of rules for Python and C++ users); an invalid
combination raises :class:`~musicedge.errors.ParameterError` naming the parameter.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import ParameterError

LOG_MODES = ("none", "db")


@dataclass(frozen=True)
class FrontendConfig:
    """Mel spectrogram settings, named and defaulted as in ``librosa.feature.melspectrogram``.

    ``log="db"`` applies ``librosa.power_to_db(S, ref=1.0, amin=amin, top_db=None)``; a per-signal
    ``top_db`` clip is left out on purpose, since a stream cannot know its own maximum in advance.
    ``fmax=None`` means ``sample_rate / 2`` and ``win_length=None`` means ``n_fft``, as in librosa.
    """

    sample_rate: int = 22050
    n_fft: int = 2048
    hop_length: int = 512
    win_length: int | None = None
    window: str = "hann"
    center: bool = True
    pad_mode: str = "constant"
    n_mels: int = 128
    fmin: float = 0.0
    fmax: float | None = None
    htk: bool = False
    norm: str | None = "slaney"
    power: float = 2.0
    log: str = "none"
    amin: float = 1e-10
    _native: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        from . import _native

        try:
            native = _native.MelConfig(
                sample_rate=float(self.sample_rate),
                n_fft=int(self.n_fft),
                hop_length=int(self.hop_length),
                win_length=int(self.win_length) if self.win_length is not None else 0,
                window=str(self.window),
                center=bool(self.center),
                pad_mode=str(self.pad_mode),
                n_mels=int(self.n_mels),
                fmin=float(self.fmin),
                fmax=float(self.fmax) if self.fmax is not None else -1.0,
                htk=bool(self.htk),
                norm=str(self.norm) if self.norm is not None else "none",
                power=float(self.power),
                log=str(self.log),
                amin=float(self.amin),
            )
        except (TypeError, ValueError) as exc:
            if isinstance(exc, ParameterError):
                raise
            raise ParameterError(f"invalid FrontendConfig: {exc}") from None
        native.validate()
        object.__setattr__(self, "_native", native)

    # -- derived values -------------------------------------------------------------------------

    @property
    def n_freqs(self) -> int:
        """Number of FFT bins, ``1 + n_fft // 2``."""
        return 1 + self.n_fft // 2

    @property
    def frame_rate(self) -> float:
        """Frames per second."""
        return self.sample_rate / self.hop_length

    def mel_filterbank(self) -> np.ndarray:
        """The float64 ``(n_mels, n_freqs)`` filter bank the frontend applies (``librosa.filters.mel``)."""
        return self._native.mel_filterbank()

    def analysis_window(self) -> np.ndarray:
        """The float64 ``(n_fft,)`` window: ``win_length`` samples centred in ``n_fft``, as in librosa."""
        return self._native.analysis_window()

    def num_frames(self, n_samples: int) -> int:
        """Frames that ``MelFrontend.compute`` returns for ``n_samples`` samples (librosa's count)."""
        return self._native.num_frames(int(n_samples))

    # -- presets and serialisation --------------------------------------------------------------

    @classmethod
    def preset(cls, name: str) -> FrontendConfig:
        """A named configuration: ``melon16k`` (the seed data's format) or ``gtzan22k``."""
        try:
            return cls(**PRESETS[name])
        except KeyError:
            raise ParameterError(f"unknown frontend preset {name!r}; known: {', '.join(PRESETS)}") from None

    def replace(self, **changes: Any) -> FrontendConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FrontendConfig:
        if not isinstance(data, dict):
            raise ParameterError(f"frontend config must be a mapping, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls) if f.init}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ParameterError(f"unknown frontend config key(s): {', '.join(unknown)}")
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FrontendConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ParameterError(f"frontend config is not valid JSON: {exc}") from None
        return cls.from_dict(data)


PRESETS: dict[str, dict[str, Any]] = {
    # The seed 004 data: 16 kHz, 128 mel bins, 32 ms window, log-power in dB.
    "melon16k": dict(sample_rate=16000, n_fft=512, hop_length=256, n_mels=128, log="db"),
    # GTZAN-style 22.05 kHz audio, librosa's default STFT sizes.
    "gtzan22k": dict(sample_rate=22050, n_fft=2048, hop_length=512, n_mels=128, log="db"),
}
