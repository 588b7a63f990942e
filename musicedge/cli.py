"""The ``musicedge`` command line (click). Results go to stdout or ``-o``, progress and errors to stderr.

Exit status: 0 when every input succeeded, 1 when some failed, 2 for a usage error.
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys
from pathlib import Path

import click

from . import __version__
from .errors import MusicEdgeError
from .writers import RecordWriter, error_record


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _audio_files(paths) -> list[Path]:
    """The audio files PATHS name (folders walked); none at all is an error (exit status 1)."""
    from .audio import find_audio

    files = find_audio(list(paths))
    if not files:
        _fail("no audio files found in " + ", ".join(str(p) for p in paths))
    return files


def _load_model(load, name: str, **options):
    """``load(name, **options)``; a model that cannot be loaded is a usage error on ``--model`` (exit 2)."""
    try:
        return load(name, **options)
    except MusicEdgeError as exc:
        raise click.BadParameter(str(exc), param_hint="--model") from None


_device_option = click.option(
    "--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="musicedge")
def cli() -> None:
    """musicedge: music analysis at the edge (C++ mel frontend, ONNX Runtime models)."""


@cli.command()
def info() -> None:
    """Versions, the native build, and the ONNX Runtime providers that really run here."""
    import numpy
    import onnxruntime
    import soundfile
    import soxr

    from . import _native
    from .providers import usable_providers

    build = _native.build_info
    rows = [
        ("musicedge", __version__),
        ("python", platform.python_version()),
        ("platform", f"{platform.system()} {platform.machine()}"),
        ("native build", build["build_flags"]),
        ("native SIMD", f"{build['simd']} ({build['simd_lanes']} double lanes)"),
        ("numpy", numpy.__version__),
        ("onnxruntime", f"{onnxruntime.__version__} ({onnxruntime.get_device()})"),
        ("providers built in", ", ".join(onnxruntime.get_available_providers())),
        ("providers usable", ", ".join(usable_providers())),
        ("soundfile", f"{soundfile.__version__} (libsndfile {soundfile.__libsndfile_version__})"),
        ("soxr", soxr.__version__),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        click.echo(f"{key:<{width}}  {value}")


def _frontend_name(frontend) -> str:
    from .config import PRESETS, FrontendConfig

    preset = next((name for name in PRESETS if FrontendConfig.preset(name) == frontend), None)
    if preset:
        return preset
    f = frontend
    return f"{f.sample_rate} Hz, n_fft {f.n_fft}, hop {f.hop_length}, {f.n_mels} mels"


def _outputs_text(spec) -> str:
    if spec.labels:
        kind = "tags" if spec.multilabel else "labels"
        return f"{len(spec.labels)} {kind}"
    return f"{spec.embedding_dim} dims" if spec.embedding_dim else ""


@cli.command()
def models() -> None:
    """The bundled models: task, version, outputs, frontend, size and model card, read from each file."""
    from . import models as bundled
    from .model import OnnxModel

    rows = [("name", "task", "version", "outputs", "frontend", "size", "card")]
    for name, path in bundled.available().items():
        try:
            with OnnxModel(path, device="cpu", threads=1) as model:
                spec = model.spec
        except MusicEdgeError as exc:  # a broken bundled file is reported, the others still listed
            click.echo(f"error: {exc}", err=True)
            continue
        card = bundled.card(name)
        rows.append(
            (
                name,
                spec.task,
                spec.model_version,
                _outputs_text(spec),
                _frontend_name(spec.frontend),
                f"{path.stat().st_size / 1024:.0f} KiB",
                card.name if card else "",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@cli.command()
@click.argument("audio", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the (n_mels, n_frames) float32 array (.npy).",
)
@click.option("--preset", default="gtzan22k", show_default=True, help="Frontend preset (melon16k, gtzan22k).")
def mel(audio: Path, output: Path, preset: str) -> None:
    """Compute the mel spectrogram of AUDIO with a preset and save it as .npy."""
    import numpy as np

    from .audio import load
    from .config import PRESETS, FrontendConfig
    from .frontend import MelFrontend

    if preset not in PRESETS:
        raise click.BadParameter(
            f"unknown preset {preset!r}; known: {', '.join(PRESETS)}", param_hint="--preset"
        )
    config = FrontendConfig.preset(preset)
    try:
        y, _ = load(audio, sr=config.sample_rate)
        frames = MelFrontend(config).compute(y)
    except MusicEdgeError as exc:
        _fail(str(exc))
    try:
        np.save(output, frames)
    except OSError as exc:
        _fail(f"{output}: cannot write ({exc.strerror})")
    click.echo(f"{audio}: {frames.shape[1]} frames x {frames.shape[0]} mels ({preset}) -> {output}", err=True)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-m", "--model", default="genre", show_default=True, help="A bundled model's name or an ONNX file."
)
@click.option("--top-k", type=click.IntRange(min=1), default=None, help="Keep the K best labels per file.")
@click.option(
    "-f", "--format", "fmt", type=click.Choice(["table", "jsonl", "csv"]), default="table", show_default=True
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write results here.")
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Decoding threads (default: the cores, at most 4).",
)
@_device_option
def classify(
    paths: tuple[Path, ...],
    model: str,
    top_k: int | None,
    fmt: str,
    output: Path | None,
    jobs: int | None,
    device: str,
) -> None:
    """Classify or tag audio files; folders are walked recursively for audio."""
    from .classify import Classifier, default_workers
    from .model import session_threads

    files = _audio_files(paths)
    workers = jobs or default_workers()
    # The model (on this thread) and the decoding workers share the cores, half each: the workers wait
    # once they are ahead, so they rarely need more.
    classifier = _load_model(Classifier.load, model, device=device, threads=session_threads(2))
    with _open_output(output) as stream:
        writer = RecordWriter(stream, fmt, "classify")
        failures = _write_results(
            classifier.predict_files(files, workers=workers),
            writer,
            len(files),
            lambda result: result.to_dict(top_k),
        )
    if failures:
        click.echo(f"{failures} of {len(files)} files failed", err=True)
        sys.exit(1)


@contextlib.contextmanager
def _open_output(path: Path | None):
    if path is None:
        yield sys.stdout
        return
    try:
        stream = open(path, "w", encoding="utf-8", newline="")
    except OSError as exc:
        _fail(f"{path}: cannot write ({exc.strerror})")
    with stream:
        yield stream


def _write_results(results, writer: RecordWriter, total: int, to_record) -> int:
    """Write each result or error record as it comes, with a progress bar on stderr; count failures."""
    from tqdm import tqdm

    failures = 0
    with tqdm(total=total, file=sys.stderr, unit="file", disable=None, leave=False) as bar:
        for result in results:
            if isinstance(result, tuple):
                path, exc = result
                failures += 1
                click.echo(f"error: {exc}", err=True)
                writer.write(error_record(path, exc))
            else:
                writer.write(to_record(result))
            bar.update(1)
    return failures


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-m", "--model", default="structure", show_default=True, help="A bundled model's name or an ONNX file."
)
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["table", "jsonl", "csv", "lab", "jams"]),
    default="table",
    show_default=True,
    help="lab (MIREX) and jams are one file per track: -o FOLDER for several tracks.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Results file; with -f lab|jams a folder (one <stem>.lab|.jams per track) or one track's file.",
)
@click.option(
    "--plot",
    "plot_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write one PNG per track here (mel, activation, self-similarity, sections).",
)
@click.option(
    "--reference",
    "reference_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Folder of reference sections (<stem>.lab or <stem>.segments.csv) drawn in the plots; "
    "references beside the audio are used too.",
)
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, help="Tracks processed at once.")
@_device_option
def segment(
    paths: tuple[Path, ...],
    model: str,
    fmt: str,
    output: Path | None,
    plot_dir: Path | None,
    reference_dir: Path | None,
    jobs: int | None,
    device: str,
) -> None:
    """Find the sections of songs (intro, verse, chorus, ...); folders are walked recursively for audio."""
    from .model import session_threads
    from .segment import Segmenter, TrackFiles

    files = _audio_files(paths)
    try:
        track_files = TrackFiles.choose(fmt, output, files)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    workers = jobs or 2
    # each worker decodes a song and runs the model on it
    segmenter = _load_model(Segmenter.load, model, device=device, threads=session_threads(workers))
    results = segmenter.segment_files(files, workers=workers)
    if plot_dir is not None:
        from .plot_segments import check_matplotlib, plot_results

        try:
            check_matplotlib()
            plot_dir.mkdir(parents=True, exist_ok=True)
        except (MusicEdgeError, OSError) as exc:
            _fail(f"--plot {plot_dir}: {exc}")
        results = plot_results(
            results, files, plot_dir, reference_dir, threshold=segmenter.peak_params.threshold
        )
    if track_files is not None:
        try:
            failures = _write_results(results, track_files, len(files), lambda result: result)
        except MusicEdgeError as exc:
            _fail(str(exc))
    else:
        with _open_output(output) as stream:
            writer = RecordWriter(stream, fmt, "segment")
            failures = _write_results(results, writer, len(files), lambda result: result.to_dict())
    if failures:
        click.echo(f"{failures} of {len(files)} files failed", err=True)
        sys.exit(1)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder: results.sqlite (resumable), results.jsonl and results.csv.",
)
@click.option(
    "--tasks",
    default=",".join(("classify", "segment", "fingerprint")),
    show_default=True,
    help="Comma-separated: classify (genre), tag (moods), segment (sections), "
    "fingerprint (into OUT/fingerprints, a library for musicedge query).",
)
@click.option(
    "-m",
    "--model",
    "models",
    multiple=True,
    metavar="TASK=MODEL",
    help="Another model for a task (a bundled name or an ONNX file); repeatable.",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Decoding threads (default: the cores, at most 4).",
)
@click.option("--force", is_flag=True, help="Redo files whose results are already stored.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option("--address", default=None, help="Ray cluster address (--engine ray; default: a local Ray).")
@_device_option
def analyze(paths, out, tasks, models, jobs, force, engine, address, device) -> None:
    """Run several tasks over a whole library in one pass; re-running skips what is stored."""
    from .analyze import TASKS, run_analysis

    try:
        model_map = dict(item.split("=", 1) for item in models)
    except ValueError:
        raise click.BadParameter("use TASK=MODEL", param_hint="--model") from None
    names = [n.strip() for n in tasks.split(",") if n.strip()]
    unknown = [n for n in names + list(model_map) if n not in TASKS]
    if unknown or not names:
        raise click.BadParameter(
            f"unknown task(s) {', '.join(unknown) or '(none given)'}; known: {', '.join(TASKS)}",
            param_hint="--tasks",
        )
    try:
        summary = run_analysis(
            paths,
            out,
            names,
            model_map,
            jobs=jobs,
            force=force,
            engine=engine,
            address=address,
            device=device,
        )
    except MusicEdgeError as exc:
        _fail(str(exc))
    click.echo(summary.text(), err=True)
    if summary.failed:
        sys.exit(1)


@cli.group("eval")
def eval_group() -> None:
    """Score a model against a labelled dataset layout (markdown to stdout)."""


def _open_library(
    db: Path,
    model: str | None,
    *,
    create: bool,
    index_type: str = "flat",
    lock_timeout: float = 60.0,
    threads: int | None = None,
):
    """The library in ``db`` with its fingerprint model (``model``, else the one the library names), run
    on ``threads`` ONNX Runtime threads (None: ONNX Runtime's default)."""
    from .fingerprint import Fingerprinter
    from .library import CATALOGUE, Library, library_model_name

    exists = (db / CATALOGUE).is_file()
    if not exists and not create:
        _fail(f"{db}: no such library (create one with: musicedge index PATH... --db {db})")
    name = model or (library_model_name(db) if exists else None) or "fingerprint"
    fingerprinter = _load_model(Fingerprinter.load, name, threads=threads)
    if exists:
        return Library.open(db, fingerprinter, lock_timeout=lock_timeout)
    return Library.create(db, fingerprinter, index=index_type, lock_timeout=lock_timeout)


_wait_option = click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="Seconds to wait for another writer.",
)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--db", required=True, type=click.Path(path_type=Path), help="Library folder (created if absent)."
)
@click.option(
    "-m", "--model", default=None, help="Fingerprint model (default: the library's, else 'fingerprint')."
)
@click.option(
    "--index-type",
    type=click.Choice(["flat", "ivfpq"]),
    default="flat",
    show_default=True,
    help="FAISS index of a new library: exact inner product, or IVF-PQ (about 60 bytes per "
    "fingerprint; exact until it holds about 10,000 fingerprints to train on).",
)
@click.option(
    "-j", "--jobs", type=click.IntRange(min=1), default=2, show_default=True, help="Decoding threads."
)
@_wait_option
def index(
    paths: tuple[Path, ...], db: Path, model: str | None, index_type: str, jobs: int, wait: float
) -> None:
    """Fingerprint audio files into a library; folders are walked recursively for audio."""
    from tqdm import tqdm

    from .model import session_threads

    files = _audio_files(paths)
    counts = {"added": 0, "present": 0, "failed": 0}
    try:
        # each worker decodes a file and runs the model on it
        library = _open_library(
            db, model, create=True, index_type=index_type, lock_timeout=wait, threads=session_threads(jobs)
        )
        with tqdm(total=len(files), file=sys.stderr, unit="file", disable=None, leave=False) as bar:

            def report(path: str, error: MusicEdgeError | None, added: bool) -> None:
                if error is not None:
                    counts["failed"] += 1
                    bar.write(f"error: {error}", file=sys.stderr)
                else:
                    counts["added" if added else "present"] += 1
                bar.update(1)

            library.add_files(files, workers=jobs, on_result=report)
    except MusicEdgeError as exc:
        _fail(str(exc))
    click.echo(
        f"{db}: {counts['added']} added, {counts['present']} already present, {counts['failed']} failed; "
        f"{len(library)} tracks, {library.n_fingerprints} fingerprints ({library.index_kind})",
        err=True,
    )
    if counts["failed"]:
        sys.exit(1)


@cli.command()
@click.argument("clips", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--db", required=True, type=click.Path(path_type=Path), help="Library folder.")
@click.option("-m", "--model", default=None, help="Fingerprint model (default: the library's).")
@click.option("--top-k", type=click.IntRange(min=1), default=5, show_default=True)
@click.option(
    "-f", "--format", "fmt", type=click.Choice(["table", "jsonl", "csv"]), default="table", show_default=True
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write results here.")
@click.option(
    "--threshold",
    type=float,
    default=None,
    help="Match score threshold (default: the model's calibrated one).",
)
def query(
    clips: tuple[Path, ...],
    db: Path,
    model: str | None,
    top_k: int,
    fmt: str,
    output: Path | None,
    threshold: float | None,
) -> None:
    """Find the library tracks that clips come from, with the offset of each clip in its track."""
    files = _audio_files(clips)
    try:
        library = _open_library(db, model, create=False)
    except MusicEdgeError as exc:
        _fail(str(exc))
    with _open_output(output) as stream:
        writer = RecordWriter(stream, fmt, "query")
        failures = _write_results(
            library.query_files(files, top_k=top_k, threshold=threshold),
            writer,
            len(files),
            lambda r: r.to_dict(),
        )
    if failures:
        click.echo(f"{failures} of {len(files)} files failed", err=True)
        sys.exit(1)


@cli.command()
@click.argument("tracks", nargs=-1, required=True)
@click.option("--db", required=True, type=click.Path(path_type=Path), help="Library folder.")
@_wait_option
def remove(tracks: tuple[str, ...], db: Path, wait: float) -> None:
    """Remove tracks from a library: each TRACK is the path it was indexed under (as given then, or
    the same file by absolute path) or its track id."""
    try:
        library = _open_library(db, None, create=False, lock_timeout=wait)
        ids_of: dict[str, list[int]] = {}  # indexed path, its absolute path and the id -> track ids
        for t in library.tracks:
            for key in dict.fromkeys((t.path, os.path.abspath(t.path), str(t.id))):
                ids_of.setdefault(key, []).append(t.id)
        chosen, unknown = [], []
        for name in tracks:
            found = {*ids_of.get(name, ()), *ids_of.get(os.path.abspath(name), ())}
            chosen += found
            if not found:
                unknown.append(name)
        removed = library.remove(chosen) if chosen else 0
    except MusicEdgeError as exc:
        _fail(str(exc))
    for name in unknown:
        click.echo(f"error: {db}: no track {name!r} (neither an indexed path nor a track id)", err=True)
    click.echo(
        f"{db}: {removed} removed; {len(library)} tracks, {library.n_fingerprints} fingerprints", err=True
    )
    if unknown:
        sys.exit(1)


def _report_scores(evaluate) -> None:
    """Run an evaluation (``evaluate()`` returns scores with ``failed`` and ``markdown()``): the files
    that failed on stderr, the table on stdout, exit status 1 when any failed."""
    try:
        scores = evaluate()
    except MusicEdgeError as exc:
        _fail(str(exc))
    for path, message in scores.failed:  # the runtime's messages mostly name the file already
        click.echo("error: " + (message if path in message else f"{path}: {message}"), err=True)
    click.echo(scores.markdown())
    if scores.failed:
        sys.exit(1)


@eval_group.command("classify")
@click.option("--data", required=True, type=click.Path(path_type=Path), help="A labelled folder.")
@click.option("--layout", type=click.Choice(["gtzan"]), default="gtzan", show_default=True)
@click.option("-m", "--model", default="genre", show_default=True)
@click.option("-j", "--workers", type=click.IntRange(min=1), default=None, help="Decoding threads.")
def eval_classify(data: Path, layout: str, model: str, workers: int | None) -> None:
    """Classify a labelled folder's files: accuracy, top-3, balanced accuracy, per label, confusion."""
    from .classify import Classifier, default_workers
    from .classify_eval import evaluate_classifier

    classifier = _load_model(Classifier.load, model)
    _report_scores(
        lambda: evaluate_classifier(data, classifier, layout=layout, workers=workers or default_workers())
    )


@eval_group.command("segment")
@click.option("--data", required=True, type=click.Path(path_type=Path), help="A SALAMI folder.")
@click.option("--layout", type=click.Choice(["salami"]), default="salami", show_default=True)
@click.option("-m", "--model", default="structure", show_default=True)
def eval_segment(data: Path, layout: str, model: str) -> None:
    """Segment a SALAMI folder's songs and score them with mir_eval: boundary hit rates at 0.5 s and
    3 s, pairwise and entropy scores of the labels, frame label accuracy; per song and their mean."""
    from .segment import Segmenter
    from .segment_eval import evaluate_segmenter

    segmenter = _load_model(Segmenter.load, model)
    _report_scores(lambda: evaluate_segmenter(data, segmenter, layout=layout))


@eval_group.command("retrieval")
@click.option("--data", required=True, type=click.Path(path_type=Path), help="A retrieval layout root.")
@click.option("--layout", type=click.Choice(["retrieval"]), default="retrieval", show_default=True)
@click.option("-m", "--model", default="fingerprint", show_default=True)
@click.option("--split", "splits", multiple=True, help="Splits to score (default: every split present).")
@click.option("--db", type=click.Path(path_type=Path), help="Keep the library built from the origins here.")
@click.option("--threshold", type=float, default=None, help="Match threshold (default: the model's).")
def eval_retrieval(
    data: Path, layout: str, model: str, splits: tuple[str, ...], db: Path | None, threshold: float | None
) -> None:
    """Index a retrieval layout's origin tracks, query its sample clips: top-1/top-5 and offset error."""
    import tempfile

    from .fingerprint import Fingerprinter
    from .library import evaluate_retrieval

    fingerprinter = _load_model(Fingerprinter.load, model)
    with tempfile.TemporaryDirectory(prefix="musicedge-eval-") as tmp:
        try:
            result = evaluate_retrieval(
                data,
                fingerprinter,
                db or Path(tmp) / "library",
                splits=list(splits) or None,
                threshold=threshold,
            )
        except MusicEdgeError as exc:
            _fail(str(exc))
    click.echo(result.markdown())
    if result.failed:
        sys.exit(1)


@cli.command()
@click.option(
    "--suite",
    type=click.Choice(
        ["frontend", "inference", "pipeline", "streaming", "segment", "retrieval", "analyze", "all"]
    ),
    default="all",
    show_default=True,
)
@click.option(
    "--quick", is_flag=True, help="Shorter inputs and fewer repeats (a smoke run, not the figures)."
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write one JSON record per case.",
)
@click.option(
    "-o",
    "--output",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a markdown report (and a PNG plot beside it).",
)
def bench(suite: str, quick: bool, json_path: Path | None, report_path: Path | None) -> None:
    """Latency and throughput against the baselines, as ratios measured in the same run."""
    try:
        from benchmarks.run import SUITES, run_suites
    except ImportError as exc:
        _fail(f"the benchmarks need the dev extras ({exc}); install with: pip install 'musicedge[dev]'")
    names = list(SUITES) if suite == "all" else [suite]
    command = "musicedge bench " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else "musicedge bench"
    run_suites(names, quick=quick, json_path=json_path, report_path=report_path, command=command)


@cli.group("latent")
def latent_group() -> None:
    """A latent space over short excerpts: interpolate, tweak one dimension, explain the dimensions."""


def _latent_model(model: str):
    from .latent import LatentModel

    try:
        return LatentModel.load(model)
    except MusicEdgeError as exc:
        _fail(str(exc))


def _latent_render(latent, zs, out_dir: Path, stem: str, labels: list[str], iterations: int) -> None:
    from .latent import render_steps, steps_table

    try:
        records = render_steps(latent, zs, out_dir, stem, labels, n_iter=iterations)
    except (MusicEdgeError, OSError) as exc:
        _fail(str(exc))
    click.echo(steps_table(records))
    click.echo(f"{len(records)} WAV files and {stem}.png written to {out_dir}", err=True)


_latent_options = [
    click.option(
        "-o",
        "--output",
        "out_dir",
        required=True,
        type=click.Path(file_okay=False, path_type=Path),
        help="Folder for the WAV files (one per step) and the PNG strip of their mels.",
    ),
    click.option(
        "-m", "--model", default="latent", show_default=True, help="A bundled name or either ONNX file."
    ),
    click.option(
        "--iterations",
        type=click.IntRange(min=1),
        default=32,
        show_default=True,
        help="Griffin-Lim iterations per step.",
    ),
]


def _with_latent_options(fn):
    for option in reversed(_latent_options):
        fn = option(fn)
    return fn


@latent_group.command("interpolate")
@click.argument("a", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("b", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--steps", type=click.IntRange(min=2), default=8, show_default=True, help="Points, both ends included."
)
@click.option("--mode", type=click.Choice(["linear", "slerp"]), default="linear", show_default=True)
@click.option(
    "--offset-a", type=click.FloatRange(min=0), default=0.0, show_default=True, help="Seconds into A."
)
@click.option(
    "--offset-b", type=click.FloatRange(min=0), default=0.0, show_default=True, help="Seconds into B."
)
@_with_latent_options
def latent_interpolate(a, b, steps, mode, offset_a, offset_b, out_dir, model, iterations) -> None:
    """Decode STEPS points from the excerpt of A to the excerpt of B: one WAV each and a PNG strip."""
    latent = _latent_model(model)
    try:
        za, zb = latent.encode(a, offset=offset_a), latent.encode(b, offset=offset_b)
    except MusicEdgeError as exc:
        _fail(str(exc))
    zs = latent.interpolate(za, zb, steps, mode)
    labels = [f"{mode} t={i / (steps - 1):.3f}" for i in range(steps)]
    _latent_render(latent, zs, out_dir, "interpolation", labels, iterations)


@latent_group.command("tweak")
@click.argument("a", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dim", required=True, type=int, help="The latent dimension to sweep (0 to latent size - 1).")
@click.option("--steps", type=click.IntRange(min=2), default=7, show_default=True)
@click.option(
    "--span",
    type=click.FloatRange(min=0, min_open=True),
    default=3.0,
    show_default=True,
    help="Sweep the training latents' mean +- SPAN standard deviations of the dimension.",
)
@click.option(
    "--offset", type=click.FloatRange(min=0), default=0.0, show_default=True, help="Seconds into A."
)
@_with_latent_options
def latent_tweak(a, dim, steps, span, offset, out_dir, model, iterations) -> None:
    """Sweep one latent dimension of the excerpt of A: one WAV per value and a PNG strip."""
    latent = _latent_model(model)
    if not 0 <= dim < latent.latent_dim:
        raise click.BadParameter(
            f"must be from 0 to {latent.latent_dim - 1} (the model has {latent.latent_dim} dimensions), "
            f"got {dim}",
            param_hint="--dim",
        )
    try:
        z = latent.encode(a, offset=offset)
    except MusicEdgeError as exc:
        _fail(str(exc))
    values = latent.traversal_values(dim, steps, span)
    zs = latent.tweak(z, dim, values)
    _latent_render(latent, zs, out_dir, f"tweak_dim{dim}", [f"z[{dim}]={v:+.3f}" for v in values], iterations)


@latent_group.command("explain")
@click.option(
    "-m", "--model", default="latent", show_default=True, help="A bundled name or either ONNX file."
)
@click.option(
    "-f", "--format", "fmt", type=click.Choice(["table", "jsonl"]), default="table", show_default=True
)
def latent_explain(model: str, fmt: str) -> None:
    """What each latent dimension does to the decoded excerpt, strongest first."""
    import json

    latent = _latent_model(model)
    rows = latent.explain()
    if fmt == "jsonl":
        for row in rows:
            click.echo(json.dumps(row.to_dict()))
    else:
        click.echo(latent.explain_table(rows))


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the exit status instead of raising SystemExit."""
    try:
        cli.main(args=argv, prog_name="musicedge", standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return 0
