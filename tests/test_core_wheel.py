"""The YAML catalog ships inside the wheel and is found from an installed copy too."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_catalog_found_in_checkout():
    from depthbench.catalog import catalog_dir

    assert (catalog_dir("loaders") / "synthetic-rooms.yaml").is_file()
    assert (catalog_dir("preprocess") / "synthetic-rooms.yaml").is_file()


@pytest.mark.slow
def test_built_wheel_contains_and_finds_catalog(tmp_path):
    pytest.importorskip("hatchling")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    wheel = next(tmp_path.glob("depthbench-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        zf.extractall(tmp_path / "site")
    assert "depthbench/_catalog/loaders/synthetic-rooms.yaml" in names
    assert "depthbench/_catalog/preprocess/synthetic-rooms.yaml" in names
    assert "depthbench/py.typed" in names
    # Import the extracted wheel from a folder with no checkout around it.
    code = ("import depthbench, depthbench.catalog as c; "
            "print(depthbench.__file__); print(c.catalog_dir('loaders')); print(c.list_datasets())")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    module_file, loaders, names_line = out.stdout.strip().splitlines()
    assert module_file.startswith(str(tmp_path / "site"))
    assert loaders == str(tmp_path / "site" / "depthbench" / "_catalog" / "loaders")
    assert "synthetic-rooms" in names_line
