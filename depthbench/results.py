"""The result record of one evaluation (one model × one protocol), written as JSON.

A result carries what is needed to trust and compare it: model id and declared output kind,
dataset + split + content fingerprint, the full protocol and its hash, the metrics, alignment
status counts, software versions, device and runtime, and the name of its per-sample parquet.
``kind="reported"`` marks numbers copied from a paper (leaderboard), never mixed with measured ones.
"""

from __future__ import annotations

import json
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from depthbench import __version__
from depthbench.catalog import validation_message
from depthbench.data.prepared import write_json_atomic
from depthbench.errors import DataError
from depthbench.protocol import EvalProtocol

RESULT_SCHEMA_VERSION = 1


class ModelRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    output_kind: str
    revision: str = ""
    parameters: int | None = None
    info: dict[str, Any] = Field(default_factory=dict)


class DatasetRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    split: str
    fingerprint: str = ""
    count: int = 0
    split_size: int | None = Field(default=None, description="frames in the split; > count for a --limit run")

    @property
    def complete(self) -> bool:
        return self.split_size is None or self.count >= self.split_size


class ReportedSource(BaseModel):
    """Where a reported (not measured) number comes from."""

    model_config = ConfigDict(extra="forbid")

    paper: str
    table: str
    notes: str = ""


class Result(BaseModel):
    """One evaluation result (see module docstring)."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = RESULT_SCHEMA_VERSION
    kind: Literal["measured", "reported"] = "measured"
    model: ModelRecord
    dataset: DatasetRecord
    protocol: EvalProtocol
    protocol_hash: str
    metrics: dict[str, float]
    intervals: dict[str, tuple[float, float]] = Field(default_factory=dict)
    alignment: str = Field(default="", description="the alignment mode actually applied (auto resolved)")
    images_evaluated: int = 0
    images_skipped: int = 0
    alignment_status: dict[str, int] = Field(default_factory=dict)
    versions: dict[str, str] = Field(default_factory=dict)
    device: str = ""
    runtime_s: float = 0.0
    created: str = Field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    per_sample_file: str | None = None
    reported: ReportedSource | None = None

    @property
    def headline(self) -> tuple[str, float]:
        name = self.protocol.headline
        return name, self.metrics.get(name, float("nan"))

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        write_json_atomic(path, json.loads(self.to_json()))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Result:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise DataError(f"{path}: result file not found") from exc
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
        try:
            result = cls.model_validate(data)
        except ValidationError as exc:
            raise DataError(validation_message(path, exc)) from exc
        if result.protocol_hash != result.protocol.hash:
            raise DataError(f"{path}: protocol_hash does not match the protocol it records (edited by hand?)")
        return result


def software_versions() -> dict[str, str]:
    import numpy
    import torch

    return {
        "depthbench": __version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
    }
