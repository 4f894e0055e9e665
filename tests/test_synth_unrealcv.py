"""UnrealCV backend against a fake UnrealCV server on loopback: a real socket and real framed
messages, answered by the built-in ray caster (so depth can be checked exactly)."""

from __future__ import annotations

import io
import math
import socket
import struct
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from depthbench.errors import DataError
from depthbench.prep.synthetic import render
from depthbench.prep.synthetic.backends import BuiltinBackend
from depthbench.prep.synthetic.generator import GeneratorConfig, generate_unreal1k
from depthbench.prep.synthetic.unrealcv import (
    UnrealCVBackend,
    UnrealCVClient,
    pose_from_unreal,
    pose_to_unreal,
)
from depthbench.types import Intrinsics

MAGIC = 0x9E2B83C1


def frame(payload: bytes) -> bytes:
    return struct.pack("<II", MAGIC, len(payload)) + payload


def read_exactly(conn: socket.socket, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def unreal_axes(pitch: float, yaw: float, roll: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unreal's FRotationMatrix axes (forward X, right Y, up Z) for (pitch, yaw, roll) in degrees."""
    p, y, r = np.radians([pitch, yaw, roll])
    forward = np.array([np.cos(p) * np.cos(y), np.cos(p) * np.sin(y), np.sin(p)])
    right = np.array([np.sin(r) * np.sin(p) * np.cos(y) - np.cos(r) * np.sin(y),
                      np.sin(r) * np.sin(p) * np.sin(y) + np.cos(r) * np.cos(y), -np.sin(r) * np.cos(p)])
    up = np.cross(forward, right)  # as numbers, Unreal axes satisfy Z = X × Y (identity rotation)
    return forward, right, up


class FakeUnrealCVServer(threading.Thread):
    """Serves one client: greeting, then up to ``max_requests`` framed requests; stops on its own
    (client gone, timeout, request budget) or when ``stop()`` is called."""

    def __init__(self, scenes: dict, greet: bool = True, bad_magic: bool = False, max_requests: int = 5000) -> None:
        super().__init__(daemon=True)
        self.scenes, self.greet, self.bad_magic, self.max_requests = scenes, greet, bad_magic, max_requests
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.listener.settimeout(5.0)
        self.port = self.listener.getsockname()[1]
        self.commands: list[str] = []
        self.scene = next(iter(scenes.values()))
        self.size = (640, 480)
        self.fov = 90.0
        self.pose = (0.0, 0.0, 150.0, 0.0, 0.0, 0.0)
        self._stop_flag = threading.Event()

    def stop(self) -> None:
        self._stop_flag.set()

    def camera(self) -> tuple[np.ndarray, Intrinsics]:
        x, y, z, pitch, yaw, roll = self.pose
        forward, right, up = unreal_axes(pitch, yaw, roll)
        flip = np.array([1.0, -1.0, 1.0])
        pose = np.eye(4)
        pose[:3, 0], pose[:3, 1], pose[:3, 2] = right * flip, -up * flip, forward * flip
        pose[:3, 3] = np.array([x, y, z]) * flip / 100.0
        w, h = self.size
        f = w / 2 / math.tan(math.radians(self.fov) / 2)
        return pose, Intrinsics(f, f, w / 2 - 0.5, h / 2 - 0.5)

    def handle(self, cmd: str) -> bytes:
        parts = cmd.split()
        if cmd == "vget /unrealcv/status":
            return b"Is Listening\nClient Connected\n9000"
        if cmd == "vget /objects":
            return " ".join(["SkyLight_1", *(o.name for o in self.scene.objects)]).encode()
        if len(parts) == 2 and parts[1].startswith("/object/") and parts[1].endswith("/bounds"):
            name = parts[1][len("/object/"):-len("/bounds")]
            if name == "SkyLight_1":  # a point actor: zero-size bounds
                return b"120.0 -35.5 260.0 120.0 -35.5 260.0"
            for o in self.scene.objects:
                if o.name == name:
                    lo, hi = np.array(o.bbox_min), np.array(o.bbox_max)
                    # Unreal y = −y: the Unreal min corner has −max_y.
                    vals = [lo[0], -hi[1], lo[2], hi[0], -lo[1], hi[2]]
                    return " ".join(f"{100 * v:.9f}" for v in vals).encode()
            return b"error Can not find object " + name.encode()
        if parts[:2] == ["vset", "/action/game/level"] and len(parts) == 3 and parts[2] in self.scenes:
            self.scene = self.scenes[parts[2]]
            return b"ok"
        if parts[:2] == ["vrun", "r.setres"]:
            w, h = parts[2].rstrip("wf").split("x")
            self.size = (int(w), int(h))
            return b"ok"
        if parts[:2] == ["vset", "/camera/0/fov"]:
            self.fov = float(parts[2])
            return b"ok"
        if parts[:2] == ["vset", "/camera/0/pose"] and len(parts) == 8:
            self.pose = tuple(float(v) for v in parts[2:])
            return b"ok"
        if cmd in ("vget /camera/0/lit png", "vget /camera/0/depth npy"):
            pose, k = self.camera()
            rgb, depth = render(self.scene, pose, k, self.size[1], self.size[0])
            if cmd.endswith("png"):
                buf = io.BytesIO()
                Image.fromarray(rgb).save(buf, format="PNG")
                return buf.getvalue()
            v, u = np.mgrid[0 : depth.shape[0], 0 : depth.shape[1]]
            dist = depth * np.sqrt(((u - k.cx) / k.fx) ** 2 + ((v - k.cy) / k.fy) ** 2 + 1)
            buf = io.BytesIO()
            np.save(buf, (dist * 100.0).astype(np.float32))
            return buf.getvalue()
        return b"error Can not find a handler for this command"

    def run(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            self.listener.close()
            return
        conn.settimeout(5.0)
        try:
            if self.bad_magic:
                conn.sendall(struct.pack("<II", 0x12345678, 9) + b"connected")
            elif self.greet:
                conn.sendall(frame(b"connected to FakeUnrealCV"))
            else:
                self._stop_flag.wait(5.0)
                return
            for _ in range(self.max_requests):
                if self._stop_flag.is_set():
                    break
                header = read_exactly(conn, 8)
                if header is None:
                    break
                magic, size = struct.unpack("<II", header)
                assert magic == MAGIC
                payload = read_exactly(conn, size)
                if payload is None:
                    break
                rid, _, cmd = payload.partition(b":")
                self.commands.append(cmd.decode())
                conn.sendall(frame(rid + b":" + self.handle(cmd.decode())))
        except OSError:
            pass
        finally:
            conn.close()
            self.listener.close()


@pytest.fixture(scope="module")
def builtin_scenes() -> dict:
    backend = BuiltinBackend(3, seed=5)
    scenes = {}
    for name in backend.list_scenes():
        backend.load_scene(name)
        scenes[name] = backend.scene
    return scenes


def start(server: FakeUnrealCVServer) -> FakeUnrealCVServer:
    server.start()
    return server


def test_object_listing_skips_point_actors(builtin_scenes):
    server = start(FakeUnrealCVServer(builtin_scenes))
    backend = UnrealCVBackend("127.0.0.1", server.port, timeout=5.0, levels=list(builtin_scenes))
    try:
        assert backend.list_scenes() == list(builtin_scenes)
        name = list(builtin_scenes)[1]
        backend.load_scene(name)
        objects = backend.list_objects()
        assert [o.name for o in objects] == [o.name for o in builtin_scenes[name].objects]
        assert "vget /object/SkyLight_1/bounds" in server.commands
    finally:
        backend.close()
        server.join(10)


def test_objects_pose_rgb_and_depth_round_trip(builtin_scenes):
    server = start(FakeUnrealCVServer(builtin_scenes))
    names = list(builtin_scenes)
    backend = UnrealCVBackend("127.0.0.1", server.port, timeout=5.0, levels=names, object_pattern=("_", "sofa", "counter", "fridge"))
    try:
        backend.load_scene(names[2])
        scene = builtin_scenes[names[2]]
        objects = {o.name: o for o in backend.list_objects()}
        wanted = [o for o in scene.objects if "_" in o.name or o.name in ("sofa", "counter", "fridge")]
        assert sorted(objects) == sorted(o.name for o in wanted) and len(wanted) < len(scene.objects)
        for o in wanted:
            np.testing.assert_allclose(objects[o.name].bbox_min, o.bbox_min, atol=1e-9)
            np.testing.assert_allclose(objects[o.name].bbox_max, o.bbox_max, atol=1e-9)
        from depthbench.prep.synthetic.scenes import sample_camera_poses

        k = Intrinsics(80.0, 80.0, 49.5, 37.5)  # centred for 76×100
        for pose in sample_camera_poses(scene, 2, seed=1):
            backend.set_camera(pose, k, 76, 100)
            rgb, depth = backend.render()
            rgb_ref, depth_ref = render(scene, pose, k, 76, 100)
            rel = np.abs(depth.astype(np.float64) - depth_ref) / depth_ref
            assert rel.max() < 1e-5
            # Pose text carries 6–9 decimals: a pixel may flip only where a ray grazes an edge.
            assert np.mean(np.all(rgb == rgb_ref, axis=-1)) > 0.99
        assert "vget /camera/0/lit png" in server.commands and "vget /camera/0/depth npy" in server.commands
        assert any(c.startswith("vset /camera/0/pose ") for c in server.commands)
        assert f"vset /action/game/level {names[2]}" in server.commands
    finally:
        backend.close()
        server.join(10)


def test_error_reply_raises_clear_error(builtin_scenes):
    server = start(FakeUnrealCVServer(builtin_scenes))
    client = UnrealCVClient("127.0.0.1", server.port, timeout=5.0)
    try:
        assert client.connect().startswith("connected")
        with pytest.raises(DataError, match="vget /nonsense.*Can not find a handler"):
            client.request("vget /nonsense")
        assert client.request_text("vget /unrealcv/status").startswith("Is Listening")
    finally:
        client.close()
        server.join(10)


def test_no_server_gives_clear_error():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens on this port now
    with pytest.raises(DataError, match=f"no server answers at 127.0.0.1:{port}"):
        UnrealCVBackend("127.0.0.1", port, timeout=1.0)


def test_silent_server_times_out(builtin_scenes):
    server = start(FakeUnrealCVServer(builtin_scenes, greet=False))
    try:
        with pytest.raises(DataError, match="no greeting within 0.3 s"):
            UnrealCVClient("127.0.0.1", server.port, timeout=0.3).connect()
    finally:
        server.stop()
        server.join(10)


def test_bad_magic_is_rejected(builtin_scenes):
    server = start(FakeUnrealCVServer(builtin_scenes, bad_magic=True))
    try:
        with pytest.raises(DataError, match="bad message magic 0x12345678"):
            UnrealCVClient("127.0.0.1", server.port, timeout=2.0).connect()
    finally:
        server.stop()
        server.join(10)


@settings(max_examples=50, deadline=None)
@given(pitch=st.floats(-85, 85), yaw=st.floats(-179, 179), roll=st.floats(-179, 179),
       x=st.floats(-1e3, 1e3), y=st.floats(-1e3, 1e3), z=st.floats(-1e3, 1e3))
def test_unreal_pose_conversion_round_trips(pitch, yaw, roll, x, y, z):
    pose = pose_from_unreal(x, y, z, pitch, yaw, roll)
    np.testing.assert_allclose(pose[:3, :3].T @ pose[:3, :3], np.eye(3), atol=1e-12)
    assert np.linalg.det(pose[:3, :3]) == pytest.approx(1.0)
    back = pose_to_unreal(pose)
    np.testing.assert_allclose(back[:3], (x, y, z), atol=1e-9)
    np.testing.assert_allclose(back[3:], (pitch, yaw, roll), atol=1e-7)
    # Independent oracle: the camera looks along Unreal's forward axis, image-up is Unreal's up.
    forward, _, up = unreal_axes(pitch, yaw, roll)
    np.testing.assert_allclose(pose[:3, 2] * [1, -1, 1], forward, atol=1e-12)
    np.testing.assert_allclose(-pose[:3, 1] * [1, -1, 1], up, atol=1e-12)


def test_generator_runs_over_unrealcv(builtin_scenes, tmp_path):
    names = list(builtin_scenes)
    server = start(FakeUnrealCVServer(builtin_scenes))
    backend = UnrealCVBackend("127.0.0.1", server.port, timeout=5.0, levels=names[:2])
    got = []
    try:
        config = GeneratorConfig("unrealcv", scenes=2, objects_per_scene=2, frames_per_object=3, sample=5, height=48, width=64)
        assert generate_unreal1k(backend, tmp_path, config, got.append, progress=False) == 5
    finally:
        backend.close()
        server.join(10)
    for f in got:
        assert f.depth.min() >= 0.4 and f.depth.max() <= 10 and f.rgb.shape == (48, 64, 3)
        _, ref = render(builtin_scenes[f.scene_id], f.pose, f.intrinsics, 48, 64)
        assert (np.abs(f.depth - ref) / ref).max() < 1e-5


def test_generate_command_over_unrealcv(builtin_scenes, tmp_path):
    import typer
    from typer.testing import CliRunner

    from depthbench.cli.cmd_generate import register
    from depthbench.data.dataset import PreparedDataset

    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        """test root"""

    names = list(builtin_scenes)
    server = start(FakeUnrealCVServer(builtin_scenes))
    try:
        args = ["generate", "unreal1k", "--backend", "unrealcv", "--port", str(server.port), "--level", names[0],
                "--level", names[1], "--objects", "2", "--frames-per-object", "2", "--sample", "3",
                "--height", "48", "--width", "64", "--out", str(tmp_path), "--no-progress"]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, (result.output, result.exception)
    finally:
        server.join(10)
    data = PreparedDataset(tmp_path, "test")
    assert len(data) == 3 and {s.meta.scene_id for s in data} <= set(names[:2])
    assert all(s.meta.extra["backend"] == "unrealcv" and s.depth.min() >= 0.4 for s in data)
