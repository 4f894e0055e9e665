"""Small stand-ins for the five zero-shot datasets, written in each dataset's REAL raw format by the
format tests' writers and prepared through the real preparers.

    python -m tests.zeroshot_standins OUT_DIR     # prints --root arguments for `depthbench evaluate`

Used by tests/test_zeroshot_e2e.py and to produce the leaderboard's zero-shot stand-in results.
The content is random (noise images, random depth): it checks the pipeline, not a model.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

from depthbench.prepare import prepare_dataset
from tests import test_data1_nyu as nyu
from tests import test_data1_sintel as sintel
from tests import test_data1_tum as tum
from tests import test_data2_kitti as kitti


def build_zeroshot_standins(out: Path, seed: int = 0) -> dict[str, Path]:
    """Raw stand-ins under OUT/raw, prepared folders under OUT/<dataset>; returns dataset → folder."""
    rng = np.random.default_rng(seed)
    raw = out / "raw"
    roots: dict[str, Path] = {}

    src = raw / "nyu"
    src.mkdir(parents=True, exist_ok=True)
    images, depths, raw_depths = nyu.make_frames(3, seed=seed)
    nyu.write_labeled_mat(src / "nyu_depth_v2_labeled.mat", images, depths, raw_depths, ["a_0001", "b_0002", "b_0002"])
    scipy.io.savemat(src / "splits.mat", {"trainNdxs": np.array([[1]]), "testNdxs": np.array([[2], [3]])})
    roots["nyu-v2"] = prepare_dataset("nyu-v2", src, out / "nyu-v2")

    src = raw / "tum"
    tum.write_sequence(src / tum.SEQ, 3, seed=seed)
    roots["tum-rgbd"] = prepare_dataset("tum-rgbd", src, out / "tum-rgbd", sequences={"test": [tum.SEQ]}, sequence_lists=None)

    src = raw / "kitti"
    frames = {5: kitti.random_points(rng), 9: kitti.random_points(rng)}
    kitti.write_raw_drive(src, frames, rng)
    split = raw / "kitti_test_files.txt"
    split.write_text("".join(f"{kitti.DATE}/{kitti.DRIVE} {f:010d} l\n" for f in frames))
    roots["kitti-eigen-raw"] = prepare_dataset("kitti-eigen-raw", src, out / "kitti-eigen-raw", split_file=str(split))

    src = raw / "sintel"
    sintel.make_sintel(src, {"alley_1": 2}, seed=seed)
    roots["sintel"] = prepare_dataset("sintel", src, out / "sintel")

    src = raw / "diw"
    (src / "DIW_test").mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(src / "DIW_test" / f"{i}.jpg")
        ya, yb = rng.integers(1, 25, 2)
        xa, xb = rng.integers(1, 33, 2)
        lines += [f"./DIW_test/{i}.jpg", f"{ya},{xa},{yb},{xb},{'>' if i % 2 else '<'},24,32"]
    (src / "DIW_test.csv").write_text("\n".join(lines) + "\n")
    roots["diw"] = prepare_dataset("diw", src, out / "diw")
    return {name: Path(path) for name, path in roots.items()}


if __name__ == "__main__":
    folders = build_zeroshot_standins(Path(sys.argv[1]))
    print(" ".join(f"--root {name}={path}" for name, path in folders.items()))
