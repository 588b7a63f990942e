"""``musicedge analyze --engine ray`` on a local Ray instance: the same records as the local engine, in
the same store format, resumable by either engine."""

from __future__ import annotations

import pytest
from test_analyze import write_library

ray = pytest.importorskip("ray", reason="the Ray engine needs ray[data] (pip install 'musicedge[dev]')")

from musicedge.analyze import run_analysis  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_gives_the_local_engine_records_and_the_same_store(tmp_path, local_ray):
    files = write_library(tmp_path / "lib", 5, seconds=5.0)
    (tmp_path / "lib" / "broken.wav").write_bytes(b"RIFF....WAVEfmt not really")
    tasks = ["classify", "tag", "segment", "fingerprint"]
    local = run_analysis([tmp_path / "lib"], tmp_path / "local", tasks)
    on_ray = run_analysis([tmp_path / "lib"], tmp_path / "ray", tasks, engine="ray")
    assert (on_ray.done, on_ray.failed) == (local.done, local.failed) == (5, 1)
    rows = {}
    for name in ("local", "ray"):
        lines = (tmp_path / name / "results.jsonl").read_text().splitlines()
        rows[name] = sorted(lines)
    assert rows["ray"] == rows["local"]
    assert len(rows["ray"]) == len(files) + 1
    # A store written on Ray resumes locally (the broken file is tried again, and fails again).
    again = run_analysis([tmp_path / "lib"], tmp_path / "ray", tasks)
    assert (again.done, again.skipped, again.failed) == (0, 5, 1)
