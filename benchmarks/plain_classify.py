"""The baseline of the pipeline suite: what a plain script does without musicedge. It loads each file
with librosa (soxr resampling), computes the same log-mel with librosa, cuts the same windows and
runs the same architecture in PyTorch eager, file after file.

    python -m benchmarks.plain_classify MODEL.onnx FILE...   (prints one line per file)
"""

from __future__ import annotations

import json
import sys

import numpy as np


def main(argv: list[str]) -> int:
    import librosa
    import torch

    from musicedge.model import OnnxModel
    from training.checkpoint import import_model_class

    spec = OnnxModel(argv[0]).spec
    torch.manual_seed(0)
    model = import_model_class(spec.extra["model_class"])(**json.loads(spec.extra["model_kwargs"])).eval()
    cfg = spec.frontend
    for path in argv[1:]:
        y, sr = librosa.load(path, sr=cfg.sample_rate)
        mel = librosa.feature.melspectrogram(
            y=y, sr=sr, n_fft=cfg.n_fft, hop_length=cfg.hop_length, n_mels=cfg.n_mels
        )
        mel = librosa.power_to_db(mel, ref=1.0, amin=cfg.amin, top_db=None)
        w, h = spec.window_frames, spec.hop_frames
        starts = range(0, max(1, mel.shape[1] - w + h), h)
        windows = np.full((len(starts), 1, cfg.n_mels, w), -100.0, np.float32)
        for i, s in enumerate(starts):
            piece = mel[:, s : s + w]
            windows[i, 0, :, : piece.shape[1]] = piece
        with torch.inference_mode():
            probs = torch.softmax(model(torch.from_numpy(windows)), dim=1).mean(dim=0)
        print(path, spec.labels[int(probs.argmax())])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
