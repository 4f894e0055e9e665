"""Registry, crops, manifests, protocols and benchmarks."""

from __future__ import annotations

import pytest

from depthbench.catalog import DatasetManifest, catalog_dir, get_manifest, list_datasets, load_manifest
from depthbench.crops import CROP_NAMES, crop_box, crop_mask
from depthbench.errors import ConfigError, UnknownNameError, UsageError
from depthbench.protocol import EvalProtocol, default_protocol, get_benchmark, list_benchmarks
from depthbench.registry import Registry


def test_registry_aliases_lazy_duplicates_and_suggestions():
    reg: Registry[object] = Registry("thing")
    reg.register("alpha-one", 1, aliases=("a1",))
    reg.register("lazy-path", lazy="os.path:join")
    assert reg.get("A1") == 1 and reg.get("alpha-one") == 1
    import os

    assert reg.get("lazy-path") is os.path.join
    with pytest.raises(UsageError, match="already registered"):
        reg.register("ALPHA-ONE", 2)
    with pytest.raises(UnknownNameError, match="did you mean 'alpha-one'"):
        reg.get("alpha-on")
    with pytest.raises(UsageError):
        bad: Registry[object] = Registry("x")
        bad.register("bad", lazy="nomodule_xyz:attr")
        bad.get("bad")


def test_crop_coordinates():
    assert crop_box("nyu-eigen", 480, 640) == (45, 471, 41, 601)
    assert crop_box("densedepth", 480, 640) == (20, 460, 24, 616)
    # KITTI raw image 375×1242: monodepth2's int32 truncation of the Garg fractions.
    assert crop_box("kitti-garg", 375, 1242) == (153, 371, 44, 1197)
    assert crop_box("kitti-eigen", 375, 1242) == (124, 342, 44, 1197)
    m = crop_mask("nyu-eigen", 480, 640)
    assert m.sum() == 426 * 560 and m[45, 41] and not m[44, 41] and not m[45, 601] and m[470, 600]
    with pytest.raises(UsageError, match="480×640"):
        crop_box("nyu-eigen", 240, 320)
    assert set(CROP_NAMES) == {"none", "nyu-eigen", "densedepth", "kitti-garg", "kitti-eigen"}


@pytest.mark.parametrize("name", list_datasets())
def test_every_manifest_validates(name):
    manifest = get_manifest(name)
    assert isinstance(manifest, DatasetManifest)
    path = catalog_dir("loaders") / f"{manifest.name}.yaml"
    assert load_manifest(path) == manifest
    protocol = default_protocol(name)
    assert protocol.dataset == manifest.name and protocol.split in manifest.splits
    for metric in protocol.metrics:
        from depthbench.metrics import METRICS, discover_metrics

        discover_metrics()
        assert metric in METRICS
    for split in manifest.splits.values():
        if split.list_file:
            assert (catalog_dir("loaders") / "splits" / split.list_file).is_file()


def test_manifest_rejects_unknown_field(tmp_path):
    path = tmp_path / "x.yaml"
    text = (catalog_dir("loaders") / "synthetic-rooms.yaml").read_text().replace("name: synthetic-rooms", "name: x")
    path.write_text(text + "\nsurprise: 1\n")
    with pytest.raises(ConfigError, match="surprise"):
        load_manifest(path)


def test_unknown_dataset_suggests():
    with pytest.raises(UnknownNameError, match="did you mean 'synthetic-rooms'"):
        get_manifest("synthetic-room")


def test_protocol_hash_is_stable_and_sensitive():
    a = EvalProtocol(dataset="nyu", crop="nyu-eigen", max_depth=10.0)
    b = EvalProtocol.model_validate_json(a.model_dump_json())
    assert a.hash == b.hash
    # Pinned: changing this value means every stored result's protocol hash changes.
    assert a.hash == EvalProtocol(max_depth=10, crop="nyu-eigen", dataset="nyu").hash
    assert a.with_overrides({"max_depth": 80.0}).hash != a.hash
    assert a.with_overrides({"averaging": "per_image"}).hash != a.hash
    with pytest.raises(UsageError, match="unknown field"):
        a.with_overrides({"maxdepth": 1})
    with pytest.raises(UsageError):
        a.with_overrides({"crop": "nope"})


@pytest.mark.parametrize("name", list_benchmarks())
def test_every_benchmark_resolves(name):
    bench = get_benchmark(name)
    protocols = bench.protocols()
    assert protocols and len({p.hash for p in protocols}) == len(protocols)
