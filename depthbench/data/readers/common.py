"""Helpers shared by the preparers of real datasets: checksums, reading source images without
re-encoding them, fetching pinned split lists, skipping finished splits."""

from __future__ import annotations

import hashlib
import io
import os
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

from depthbench.data.prepared import prepared_splits
from depthbench.errors import DataError

RGB_SUFFIXES = (".png", ".jpg", ".jpeg")


def sha256_bytes(*chunks: bytes) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def read_bytes(path: Path, what: str = "file") -> bytes:
    """File contents, or a one-line DataError naming the missing file."""
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise DataError(f"{path}: {what} not found") from exc
    except IsADirectoryError as exc:
        raise DataError(f"{path}: expected a {what}, found a folder") from exc


def read_rgb(path: Path) -> tuple[bytes, tuple[int, int]]:
    """Encoded RGB bytes of ``path`` (stored as they are, never re-encoded) and (H, W).

    The image is fully decoded once so that a truncated or corrupt file fails here, naming the file,
    instead of at evaluation time."""
    data = read_bytes(path, "image")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            if image.mode not in ("RGB", "L", "P", "RGBA", "CMYK", "YCbCr"):
                raise DataError(f"{path}: image mode {image.mode} is not a colour image")
            width, height = image.size
    except (OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"{path}: corrupt or unreadable image ({exc})") from exc
    return data, (height, width)


def read_png_array(path: Path, what: str = "depth PNG") -> np.ndarray:
    """Decode a (typically 16-bit) single-channel PNG to a numpy array, naming the file on error."""
    data = read_bytes(path, what)
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            if image.mode in ("I;16", "I;16B", "I;16L", "I"):
                return np.array(image).astype(np.uint16)
            if image.mode == "L":
                return np.array(image, dtype=np.uint8)
            if image.mode == "RGB":
                return np.array(image, dtype=np.uint8)
            raise DataError(f"{path}: {what} has unexpected mode {image.mode}")
    except (OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"{path}: corrupt or unreadable {what} ({exc})") from exc


def split_is_done(out: Path, split: str, overwrite: bool) -> bool:
    """True when ``split`` is already prepared in ``out`` and ``overwrite`` is off (resume)."""
    return not overwrite and split in prepared_splits(out)


def fetch_split_list(url: str, sha256: str | None, dest: Path, timeout: float = 60.0) -> Path:
    """Download a pinned split list to ``dest`` once (atomically) and verify its sha256.

    Offline or unreachable → DataError telling the user to pass ``--option split_file=PATH``.
    A cached file is re-verified on every use."""
    if not dest.is_file():
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                data = response.read()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise DataError(
                f"{url}: cannot fetch split list ({exc}); download it yourself and pass --option split_file=PATH"
            ) from exc
        temp = dest.with_name(f".{dest.name}.tmp")
        temp.write_bytes(data)
        os.replace(temp, dest)
    if sha256 is not None:
        actual = sha256_bytes(dest.read_bytes())
        if actual != sha256.lower():
            raise DataError(
                f"{dest}: sha256 {actual} does not match the pinned {sha256} (from {url}); delete it and retry"
            )
    return dest
