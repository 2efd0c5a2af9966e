"""`make ablation`'s step table (evals/ablate_steps.py) runs end to end: the seeds pack indexed
into a scratch directory, its check split answered with every step on and with one step off."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_the_step_ablation_prints_a_row_per_step_and_the_baseline(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(REPO / "evals" / "ablate_steps.py"), "--work", str(tmp_path), "--packs", "seeds",
         "--steps", "quote_reads_alone"], capture_output=True, text=True, timeout=600, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    base = next(line for line in lines if line.startswith("| none (all steps on)"))
    figures = [float(f) for f in base.split("|")[2].split("/")]  # accuracy, false refusals, refusals, citation precision
    assert all(0.0 <= f <= 1.0 for f in figures) and figures[0] > 0.5, base
    assert any(line.startswith("| `quote_reads_alone` (quote) |") for line in lines), out.stdout
    assert (tmp_path / "seeds.check.retrieved.pkl").exists()  # the retrievals are kept for --reuse
