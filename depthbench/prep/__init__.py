"""Preprocessors that turn raw sensor data into benchmark ground truth and training targets.

- ``fill_depth_colorization``: Levin et al. colorization inpainting (NYU toolbox), fast solver.
- ``kitti``: KITTI velodyne → depth-map projection (raw and object-benchmark calibration formats).
- ``uts``: absolute depth → UTS / UTSS targets and the mixture builder (seed 004).
- ``shards``: resumable shard executor (local process pool or Ray).

``depthbench.prep.quantize`` and ``depthbench.prep.synthetic`` are imported on demand only.
"""

from depthbench.prep.colorization import (
    colorization_system,
    fill_depth_colorization,
    fill_depth_colorization_direct,
)
from depthbench.prep.kitti import (
    VelodyneCalib,
    project_velodyne,
    read_calib,
    read_object_calib,
    read_raw_calib,
    read_velodyne_bin,
    velodyne_to_depth,
)
from depthbench.prep.shards import is_shard_done, run_one_shard, run_shards, shard_path
from depthbench.prep.uts import build_mixture, sample_to_uts, sample_to_utss, to_uts, to_utss

__all__ = [
    "VelodyneCalib",
    "build_mixture",
    "colorization_system",
    "fill_depth_colorization",
    "fill_depth_colorization_direct",
    "is_shard_done",
    "project_velodyne",
    "read_calib",
    "read_object_calib",
    "read_raw_calib",
    "read_velodyne_bin",
    "run_one_shard",
    "run_shards",
    "sample_to_uts",
    "sample_to_utss",
    "shard_path",
    "to_uts",
    "to_utss",
    "velodyne_to_depth",
]
