"""``import musicedge`` stays light: no torch, librosa, training or export (DESIGN.md)."""

import subprocess
import sys


def test_import_musicedge_pulls_in_no_heavy_package():
    code = (
        "import sys, musicedge, musicedge.audio, musicedge.cli, musicedge.providers, musicedge.spec\n"
        "heavy = [m for m in ('torch', 'librosa', 'training', 'export', 'matplotlib', 'benchmarks') "
        "if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"import musicedge imported: {out.stdout.strip()}"
