"""Safe extraction of the zip/tar archives users give as ``depthbench prepare --source``.

Every member is checked before anything is written: absolute paths, ``..`` components, links and
device files are refused (a crafted archive could otherwise write outside the target folder, the
"zip slip" / tar path-traversal problem, CVE-2007-4559). Extraction goes to a temporary sibling
folder that is renamed into place when complete, so an interrupted extraction is never mistaken for
a finished one.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from depthbench.errors import DataError

ARCHIVE_SUFFIXES: tuple[str, ...] = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")


def is_archive(path: Path) -> bool:
    """True when ``path`` is a file whose name ends in a supported archive suffix."""
    return path.is_file() and path.name.lower().endswith(ARCHIVE_SUFFIXES)


def _archive_stem(path: Path) -> str:
    name = path.name
    for suffix in sorted(ARCHIVE_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _check_member(archive: Path, name: str) -> None:
    """Refuse a member name that is absolute or climbs out of the target folder."""
    posix = PurePosixPath(name.replace("\\", "/"))
    if posix.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise DataError(f"{archive}: member {name!r} has an absolute path; refusing to extract")
    if ".." in posix.parts:
        raise DataError(
            f"{archive}: member {name!r} points outside the extraction folder; refusing to extract"
        )


def _extract_zip(archive: Path, target: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        members = zf.infolist()
        for info in members:
            _check_member(archive, info.filename)
            mode = (info.external_attr >> 16) & 0o170000
            if mode == 0o120000:
                raise DataError(
                    f"{archive}: member {info.filename!r} is a symbolic link; refusing to extract"
                )
        for info in members:
            zf.extract(info, target)


def _extract_tar(archive: Path, target: Path) -> None:
    with tarfile.open(archive) as tf:
        members = tf.getmembers()
        for member in members:
            _check_member(archive, member.name)
            if not (member.isfile() or member.isdir()):
                raise DataError(
                    f"{archive}: member {member.name!r} is not a regular file or folder; refusing to extract"
                )
        for member in members:
            tf.extract(member, target, set_attrs=False, filter="data")


def extract_archive(archive: str | os.PathLike[str], target: str | os.PathLike[str]) -> Path:
    """Extract ``archive`` into the folder ``target`` (created; reused when already complete)."""
    archive, target = Path(archive), Path(target)
    if not archive.is_file():
        raise DataError(f"{archive}: archive not found")
    if target.is_dir():
        return target
    temp = target.with_name(f".{target.name}.partial")
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir(parents=True)
    try:
        if archive.name.lower().endswith(".zip"):
            _extract_zip(archive, temp)
        elif archive.name.lower().endswith(ARCHIVE_SUFFIXES):
            _extract_tar(archive, temp)
        else:
            raise DataError(f"{archive}: not a supported archive (expected {', '.join(ARCHIVE_SUFFIXES)})")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        shutil.rmtree(temp, ignore_errors=True)
        raise DataError(f"{archive}: corrupt archive ({exc})") from exc
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    os.replace(temp, target)
    return target


def resolve_source(source: Path | None, out: Path) -> Path | None:
    """``--source`` as a folder: archives are extracted (safely) to ``out/.source/STEM`` first."""
    if source is None or not is_archive(source):
        return source
    return extract_archive(source, out / ".source" / _archive_stem(source))
