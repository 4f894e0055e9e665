"""depthbench.prep exports its preprocessors without importing the optional heavy subpackages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_import_is_lazy_about_synthetic_and_quantize() -> None:
    code = (
        "import sys, depthbench.prep as p; "
        "assert callable(p.fill_depth_colorization) and callable(p.kitti.velodyne_to_depth); "
        "assert callable(p.run_shards) and callable(p.build_mixture); "
        "lazy = ('depthbench.prep.synthetic', 'depthbench.prep.quantize'); "
        "bad = [m for m in sys.modules if m.startswith(lazy)]; "
        "assert not bad, bad"
    )
    repo = Path(__file__).parents[1]
    result = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
