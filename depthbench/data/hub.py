"""Prepared datasets on the Hugging Face Hub: ``download`` a dataset repo into the local cache and
``push`` a prepared folder (with a regenerated dataset card) to a dataset repo.

Offline mode is honoured: with ``HF_HUB_OFFLINE=1`` (read by huggingface_hub at import) only files
already in the cache folder are used, and a dataset that is not there is a one-line DataError.
"""

from __future__ import annotations

from pathlib import Path

from depthbench.catalog import default_data_root, get_manifest
from depthbench.data.card import write_dataset_card
from depthbench.data.prepared import prepared_splits
from depthbench.errors import DataError, UsageError


def hub_repo_of(name: str, repo: str | None) -> str:
    """``repo`` when given, else the manifest's ``hub_repo``."""
    manifest = get_manifest(name)
    chosen = repo or manifest.hub_repo
    if not chosen:
        raise UsageError(f"dataset {manifest.name!r} has no default Hub repo; pass --repo ORG/NAME")
    if chosen.count("/") != 1:
        raise UsageError(f"--repo {chosen!r}: expected ORG/NAME")
    return chosen


def download_dataset(
    name: str,
    *,
    repo: str | None = None,
    revision: str | None = None,
    local_dir: str | Path | None = None,
    endpoint: str | None = None,
) -> Path:
    """``huggingface_hub.snapshot_download`` of the prepared dataset repo into ``local_dir``
    (default: the dataset's cache folder, where ``load_dataset(name)`` looks)."""
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import (
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    repo_id = hub_repo_of(name, repo)
    folder = Path(local_dir) if local_dir is not None else default_data_root(name)
    offline = bool(constants.HF_HUB_OFFLINE)
    try:
        path = snapshot_download(
            repo_id,
            repo_type="dataset",
            revision=revision,
            local_dir=folder,
            endpoint=endpoint,
            local_files_only=offline,
        )
    except LocalEntryNotFoundError as exc:
        if offline and prepared_splits(folder):
            return folder
        raise DataError(
            f"dataset {name!r}: {repo_id} is not in the local cache {folder} and HF_HUB_OFFLINE=1 forbids downloading"
            if offline
            else f"dataset {name!r}: cannot reach the Hub for {repo_id} ({exc.__class__.__name__})"
        ) from exc
    except (RepositoryNotFoundError, RevisionNotFoundError) as exc:
        raise DataError(
            f"dataset {name!r}: Hub repo {repo_id} (revision {revision or 'main'}) not found"
        ) from exc
    except (HfHubHTTPError, OSError) as exc:
        raise DataError(
            f"dataset {name!r}: download of {repo_id} failed ({str(exc).splitlines()[0]})"
        ) from exc
    result = Path(path)
    if not (result / "data").is_dir():
        raise DataError(f"{repo_id}: downloaded repo has no data/ folder; not a depthbench prepared dataset")
    return result


def push_dataset(
    name: str,
    repo: str,
    *,
    root: str | Path | None = None,
    revision: str | None = None,
    private: bool = False,
    endpoint: str | None = None,
    token: str | None = None,
) -> str:
    """Regenerate the dataset card of the prepared folder ``root`` and upload the folder
    (``HfApi.upload_folder``) to dataset repo ``repo``; returns the commit URL."""
    from huggingface_hub import HfApi

    manifest = get_manifest(name)
    folder = Path(root) if root is not None else default_data_root(name)
    if not prepared_splits(folder):
        raise DataError(
            f"{folder}: no prepared split (meta/*.json) to push; run `depthbench prepare {manifest.name}`"
        )
    write_dataset_card(folder, manifest)
    api = HfApi(endpoint=endpoint, token=token)
    repo_id = hub_repo_of(name, repo)
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    commit = api.upload_folder(
        repo_id=repo_id,
        repo_type="dataset",
        folder_path=str(folder),
        revision=revision,
        commit_message=f"depthbench: prepared {manifest.name}",
        allow_patterns=["data/*.parquet", "meta/*.json", "README.md"],
    )
    return str(getattr(commit, "commit_url", commit))
