"""``depthbench download`` through the real ``huggingface_hub.snapshot_download`` code path, against a
file-backed Hub stand-in on 127.0.0.1 (never the network): it serves the three Hub endpoints that
snapshot_download uses (repo info, recursive tree listing, file resolve) from a local folder."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
from PIL import Image

from depthbench.data.dataset import load_dataset
from depthbench.errors import DataError
from depthbench.prepare import prepare_dataset

REPO = "depthbench-test/diw"
SHA = "0123456789abcdef0123456789abcdef01234567"


def _handler(repo_dir: Path) -> type[BaseHTTPRequestHandler]:
    files = sorted(p for p in repo_dir.rglob("*") if p.is_file())

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _route(self) -> None:
            path = unquote(urlparse(self.path).path)
            if path in (f"/api/datasets/{REPO}/revision/main", f"/api/datasets/{REPO}/revision/{SHA}"):
                body = {
                    "id": REPO,
                    "sha": SHA,
                    "siblings": [{"rfilename": p.relative_to(repo_dir).as_posix()} for p in files],
                }
                return self._send(200, json.dumps(body).encode(), {"Content-Type": "application/json"})
            if path.startswith(f"/api/datasets/{REPO}/tree/{SHA}"):
                entries = [
                    {
                        "type": "file",
                        "path": p.relative_to(repo_dir).as_posix(),
                        "size": p.stat().st_size,
                        "oid": hashlib.sha1(p.read_bytes()).hexdigest(),
                    }
                    for p in files
                ]
                return self._send(200, json.dumps(entries).encode(), {"Content-Type": "application/json"})
            prefix = f"/datasets/{REPO}/resolve/"
            if path.startswith(prefix):
                _, _, name = path[len(prefix) :].partition("/")
                target = repo_dir / name
                if target.is_file():
                    data = target.read_bytes()
                    etag = hashlib.sha1(data).hexdigest()
                    return self._send(200, data, {"X-Repo-Commit": SHA, "ETag": f'"{etag}"'})
                return self._send(404, b"{}", {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": SHA})
            return self._send(404, b'{"error": "Repository not found"}', {"X-Error-Code": "RepoNotFound"})

        do_GET = _route
        do_HEAD = _route

    return Handler


@pytest.fixture
def hub_standin(tmp_path, rng, monkeypatch):
    src = tmp_path / "diw"
    (src / "DIW_test").mkdir(parents=True)
    Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).save(src / "DIW_test" / "a.jpg")
    (src / "DIW_test.csv").write_text("./DIW_test/a.jpg\n1,1,2,2,<,12,16\n")
    repo_dir = tmp_path / "hub_repo"
    prepare_dataset("diw", src, repo_dir)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(repo_dir))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf_cache"))
    yield f"http://127.0.0.1:{server.server_address[1]}", repo_dir
    server.shutdown()
    server.server_close()


def test_download_via_snapshot_download_then_load_both_ways(hub_standin, tmp_path):
    from depthbench.data.hub import download_dataset

    endpoint, repo_dir = hub_standin
    local = tmp_path / "cache" / "diw"
    path = download_dataset("diw", repo=REPO, local_dir=local, endpoint=endpoint)
    assert path.resolve() == local.resolve()
    for p in repo_dir.rglob("*"):
        if p.is_file() and ".cache" not in p.parts:
            assert (local / p.relative_to(repo_dir)).read_bytes() == p.read_bytes()
    ds = load_dataset("diw", "test", local)
    assert len(ds) == 1 and ds[0].ordinal_pairs.tolist() == [[0, 0, 1, 1, -1]]
    import datasets

    hf = datasets.load_dataset(
        "parquet", data_files={"test": str(local / "data" / "test-*.parquet")}, split="test"
    )
    assert hf[0]["sample_id"] == "a.jpg"


def test_download_unknown_repo_is_a_data_error(hub_standin, tmp_path):
    from depthbench.data.hub import download_dataset

    endpoint, _ = hub_standin
    with pytest.raises(DataError, match="nobody/missing"):
        download_dataset("diw", repo="nobody/missing", local_dir=tmp_path / "x", endpoint=endpoint)
