"""The static site: files, offline-ness, determinism, plots, galleries; and in headless Chromium
(skipped when /usr/bin/chromium is absent): no console errors, sorting on click, images decoded,
with a screenshot kept under the pytest tmp dir."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from depthbench.leaderboard.site import bar_chart_svg, build_site, scatter_svg
from depthbench.leaderboard.tables import metric_table
from tests.test_board_helpers import nyu_set, stored

CHROMIUM = Path("/usr/bin/chromium")


def _store(tmp_path: Path) -> Path:
    """A store with the NYU set and one gallery of two samples for 'alpha'."""
    root = tmp_path / "results"
    for entry in nyu_set():
        entry.result.save(root / entry.group / entry.path.name)
    alpha = next(e for e in nyu_set() if e.result.model.name == "alpha")
    vis = root / "nyu-v2" / "visuals" / alpha.path.stem
    samples = []
    for i in range(2):
        files = {}
        for kind in ("rgb", "gt", "pred", "error"):
            rel = f"s{i}/{kind}.png"
            (vis / f"s{i}").mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.full((12, 16, 3), 40 * i + 10, dtype=np.uint8)).save(vis / rel)
            files[kind] = rel
        samples.append({"sample_id": f"s{i}", "files": files})
    (vis / "visuals.json").write_text(json.dumps({"samples": samples}))
    return root


def test_site_files_are_offline_and_deterministic(tmp_path: Path) -> None:
    root = _store(tmp_path)
    out = build_site(root, tmp_path / "site")
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert "index.html" in names and "nyu-v2.html" in names
    for ext in ("md", "tex", "csv", "html"):
        assert f"tables/nyu-v2-depth.{ext}" in names
    assert sum(n.startswith("img/nyu-v2/alpha__") and n.endswith(".png") for n in names) == 8
    page = (out / "nyu-v2.html").read_text()
    # Offline: no remote scripts, styles, images or fonts.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert '<script src="site.js">' in page and '<link rel="stylesheet" href="site.css">' in page
    assert {"site.js", "site.css"} <= set(names) and "<svg" in page and 'data-kind="reported"' in page
    for src in re.findall(r'<img src="([^"]+)"', page):
        assert (out / src).is_file()
    first = {n: (out / n).read_bytes() for n in names}
    build_site(root, tmp_path / "site")
    assert {n: (out / n).read_bytes() for n in names} == first
    assert not list(tmp_path.glob(".site.*"))


def test_bar_chart_has_interval_whisker_and_scatter_needs_parameters() -> None:
    table = metric_table("t", "t", nyu_set())
    assert table is not None
    bars = bar_chart_svg(table, table.columns[0])
    assert bars.count("<rect") == 4 and bars.count("<path") == 1  # only alpha has an interval
    scatter = scatter_svg(table, table.columns[0])
    assert scatter.count("<circle") == 2  # alpha and beta have parameter counts
    no_params = metric_table("t", "t", [e for e in nyu_set() if e.result.model.parameters is None])
    assert no_params is not None and scatter_svg(no_params, no_params.columns[0]) == ""
    # Throughput: measured rows with a runtime only (images_evaluated / runtime_s).
    assert scatter_svg(table, table.columns[0], "fps") == ""
    timed = [e.result.model_copy(update={"runtime_s": 2.0, "images_evaluated": 10}) for e in nyu_set()]
    fps_table = metric_table("t", "t", [stored(r) for r in timed])
    assert fps_table is not None
    assert [r.fps for r in fps_table.rows if r.kind == "measured"] == [5.0, 5.0, 5.0]
    assert [r.fps for r in fps_table.rows if r.kind == "reported"] == [None]
    assert scatter_svg(fps_table, fps_table.columns[0], "fps").count("<circle") == 3


def _chromium(url: str, tmp_path: Path, tag: str, extra: list[str]) -> subprocess.CompletedProcess[str]:
    args = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp_path / ('profile-' + tag)}", "--enable-logging=stderr", "--v=0",
            "--virtual-time-budget=3000", "--window-size=1280,900", *extra, url]
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)


def _console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is absent (Debian package 'chromium')")
def test_site_in_headless_chromium(tmp_path: Path) -> None:
    root = _store(tmp_path)
    out = build_site(root, tmp_path / "site")
    url = (out / "nyu-v2.html").as_uri()
    # The page as loaded: script ran, default order (best δ1 first), no console output.
    plain = _chromium(url, tmp_path, "plain", ["--dump-dom"])
    assert plain.returncode == 0, plain.stderr[-2000:]
    assert _console_messages(plain.stderr) == []
    assert 'data-ready="1"' in plain.stdout
    assert re.search(r'data-images="8/8"', plain.stdout), "gallery images not all decoded"
    assert _row_order(plain.stdout) == ["beta", "paper_net", "alpha", "gamma"]
    # A simulated click on the rel column: first click puts the best (lowest) first.
    sorted_dom = _chromium(url + "?test-sort=abs_rel", tmp_path, "sort", ["--dump-dom"])
    assert _console_messages(sorted_dom.stderr) == []
    assert 'data-sorted-by="abs_rel"' in sorted_dom.stdout and 'data-sort-order="asc"' in sorted_dom.stdout
    assert _row_order(sorted_dom.stdout) == ["beta", "paper_net", "alpha", "gamma"]
    by_model = _chromium(url + "?test-sort=model", tmp_path, "model", ["--dump-dom"])
    assert _row_order(by_model.stdout) == ["alpha", "beta", "gamma", "paper_net"]
    by_rms = _chromium(url + "?test-sort=rmse", tmp_path, "rms", ["--dump-dom"])
    assert _row_order(by_rms.stdout) == ["paper_net", "beta", "alpha", "gamma"]
    # The kind filter hides reported rows (and their bars).
    filtered = _chromium(url + "?test-hide=reported", tmp_path, "filter", ["--dump-dom"])
    assert _console_messages(filtered.stderr) == []
    assert re.search(r'<tr data-kind="reported"[^>]*class="hidden"', filtered.stdout)
    assert not re.search(r'<tr data-kind="measured"[^>]*class="hidden"', filtered.stdout)
    # Screenshot kept as a test artifact.
    shot = tmp_path / "nyu-v2.png"
    shot_run = _chromium(url, tmp_path, "shot", [f"--screenshot={shot}"])
    assert shot_run.returncode == 0 and _console_messages(shot_run.stderr) == []
    image = np.asarray(Image.open(shot))
    assert image.shape[:2] == (900, 1280) and image.std() > 5
    index = _chromium((out / "index.html").as_uri(), tmp_path, "index", ["--dump-dom"])
    assert _console_messages(index.stderr) == [] and 'data-ready="1"' in index.stdout
    shutil.copyfile(shot, tmp_path / "artifact-nyu-v2.png")


def _row_order(dom: str) -> list[str]:
    """Model names of the first board table's body rows, in DOM order."""
    body = dom.split('class="board"', 1)[1].split("</tbody>", 1)[0]
    return re.findall(r'<tr data-kind="[^"]+"[^>]*>\s*<td data-value="([^"]+)"', body)


def test_benchmark_group_renders_zeroshot_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from depthbench.leaderboard import site
    from depthbench.leaderboard.tables import ZeroShotColumn
    from tests.test_board_helpers import NYU, SINTEL, TUM, zeroshot_set

    tum_d1 = TUM.with_overrides({"headline": "delta1"})
    columns = [ZeroShotColumn("nyu-v2", NYU.hash, "delta1"), ZeroShotColumn("tum-rgbd", tum_d1.hash, "delta1"),
               ZeroShotColumn("sintel", SINTEL.hash, "abs_rel")]
    monkeypatch.setattr(site, "benchmark_columns", lambda: {"zs": columns, "empty": columns[:1]})
    root = tmp_path / "results"
    for entry in zeroshot_set():
        entry.result.save(root / entry.group / entry.path.name)
    out = build_site(root, tmp_path / "site")
    assert (out / "tables" / "bench-zs-headline.md").is_file()
    page = (out / "bench-zs.html").read_text()
    assert "mean rank" in page and "sintel rel" in page and "tum-rgbd δ1 %" in page
    # The bar chart of a zero-shot page shows the mean rank.
    assert 'aria-label="mean rank per model"' in page
    # ... followed by each dataset's own depth table.
    for z in columns:
        assert (out / "tables" / f"bench-zs-{z.protocol_hash[:8]}-depth.csv").is_file()
    # Every dataset also has its own page, whatever folder its results are filed in.
    for dataset in ("nyu-v2", "tum-rgbd", "sintel"):
        assert (out / f"{dataset}.html").is_file()
    index = (out / "index.html").read_text()
    assert 'href="bench-zs.html"' in index
    # 'empty' shares NYU's protocol but nothing is filed under it: no page.
    assert not (out / "bench-empty.html").exists()
    # A benchmark with no matching result gets no page.
    monkeypatch.setattr(site, "benchmark_columns", lambda: {"none": [ZeroShotColumn("x", "0" * 64, "delta1")]})
    out = build_site(root, tmp_path / "site")
    assert not (out / "bench-none.html").exists()
