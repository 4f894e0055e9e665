"""UnrealCV backend: drive a running Unreal Engine game with the UnrealCV plugin over its socket.

Wire protocol (UnrealCV ≥ 0.3, the framing of Unreal's FNFSMessageHeader without CRC): every
message, in both directions, is ``uint32 magic 0x9E2B83C1`` + ``uint32 payload length`` (both
little-endian) + payload. On connect the server sends one message starting with ``connected``. A
request payload is ``b"<id>:<command>"``; the reply is ``b"<id>:<body>"`` with the same id, where
body is text, binary PNG/NPY data, or text starting with ``error``.

Commands used (UnrealCV 0.4 command reference): ``vget /unrealcv/status``, ``vget /objects``,
``vget /object/<name>/bounds`` (``minx miny minz maxx maxy maxz``, cm), ``vset /action/game/level
<level>``, ``vrun r.setres <W>x<H>w``, ``vset /camera/<id>/fov <deg>``, ``vset /camera/<id>/pose
x y z pitch yaw roll``, ``vget /camera/<id>/lit png``, ``vget /camera/<id>/depth npy``.

Coordinates. Unreal is left-handed, z up, centimetres; a camera looks along its local +x with +y to
the right and +z up; rotations are (pitch, yaw, roll) in degrees. depthbench's world is right-handed
with the same x and z axes: ``p_unreal = 100 · (x, −y, z)``. The camera's forward f, right r and
up −d (d = image down) map by the same flip M = diag(1, −1, 1); from Unreal's rotation matrix
(X = (cp·cy, cp·sy, sp), Y = (sr·sp·cy − cr·sy, sr·sp·sy + cr·cy, −sr·cp), Z = (−(cr·sp·cy + sr·sy),
cy·sr − cr·sp·sy, cr·cp)): pitch = asin(X_z), yaw = atan2(X_y, X_x), roll = atan2(−Y_z, Z_z).

Depth. ``depth`` returns the distance from the camera centre to the surface (point depth, cm) by
default; it is converted to camera-z with ``z = dist / ‖((u − cx)/fx, (v − cy)/fy, 1)‖``. Set
``depth_mode="plane"`` with ``depth_command="plane_depth"`` for servers whose depth is already
camera-z. Intrinsics: square pixels and a centred principal point (cx = W/2 − 0.5); the horizontal
field of view sent is 2·atan(W / (2·fx)).
"""

from __future__ import annotations

import io
import math
import socket
import struct

import numpy as np
from PIL import Image

from depthbench.errors import DataError, UsageError
from depthbench.prep.synthetic.backends import ObjectOfInterest
from depthbench.types import Intrinsics

MAGIC = 0x9E2B83C1
_HEADER = struct.Struct("<II")
MAX_PAYLOAD = 1 << 30  # a 4K float32 depth map is 33 MB; anything near 1 GB is a corrupt header
CM_PER_M = 100.0
_FLIP = np.diag([1.0, -1.0, 1.0])


def send_message(sock: socket.socket, payload: bytes) -> None:
    """Send one framed message (magic, length, payload)."""
    sock.sendall(_HEADER.pack(MAGIC, len(payload)) + payload)


def _recv_exact(sock: socket.socket, n: int, what: str) -> bytes:
    chunks = bytearray()
    while len(chunks) < n:
        chunk = sock.recv(min(n - len(chunks), 1 << 20))
        if not chunk:
            raise DataError(f"UnrealCV: connection closed while reading {what} ({len(chunks)} of {n} bytes)")
        chunks += chunk
    return bytes(chunks)


def recv_message(sock: socket.socket) -> bytes:
    """Receive one framed message; DataError on a bad magic number, oversize length or closed socket."""
    magic, size = _HEADER.unpack(_recv_exact(sock, _HEADER.size, "message header"))
    if magic != MAGIC:
        raise DataError(f"UnrealCV: bad message magic 0x{magic:08X}, expected 0x{MAGIC:08X}")
    if size > MAX_PAYLOAD:
        raise DataError(f"UnrealCV: message length {size} exceeds the {MAX_PAYLOAD}-byte limit")
    return _recv_exact(sock, size, "message payload")


class UnrealCVClient:
    """Blocking request/response client with connect and per-request timeouts."""

    def __init__(self, host: str = "127.0.0.1", port: int = 9000, timeout: float = 10.0) -> None:
        self.host, self.port, self.timeout = host, int(port), float(timeout)
        self._sock: socket.socket | None = None
        self._next_id = 0

    def connect(self) -> str:
        """Connect and return the server's greeting (``connected to …``)."""
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as exc:
            raise DataError(f"UnrealCV: no server answers at {self.host}:{self.port} ({exc}); start the game with the UnrealCV plugin or pass --host/--port") from exc
        sock.settimeout(self.timeout)
        try:
            greeting = recv_message(sock)
        except (OSError, DataError) as exc:
            sock.close()
            raise DataError(f"UnrealCV: server at {self.host}:{self.port} sent no greeting within {self.timeout:g} s ({exc})") from exc
        if not greeting.startswith(b"connected"):
            sock.close()
            raise DataError(f"UnrealCV: unexpected greeting from {self.host}:{self.port}: {greeting[:60]!r}")
        self._sock = sock
        return greeting.decode("utf-8", "replace")

    def request(self, command: str) -> bytes:
        """Send ``command`` and return the raw reply body; DataError on timeout, id mismatch or an
        ``error`` reply."""
        if self._sock is None:
            self.connect()
        assert self._sock is not None
        request_id = self._next_id
        self._next_id += 1
        try:
            send_message(self._sock, f"{request_id}:{command}".encode())
            reply = recv_message(self._sock)
        except TimeoutError as exc:
            raise DataError(f"UnrealCV: no reply to {command!r} within {self.timeout:g} s from {self.host}:{self.port}") from exc
        except OSError as exc:
            raise DataError(f"UnrealCV: connection to {self.host}:{self.port} failed during {command!r} ({exc})") from exc
        head, sep, body = reply.partition(b":")
        if not sep or not head.isdigit() or int(head) != request_id:
            raise DataError(f"UnrealCV: reply to {command!r} has id {head[:12]!r}, expected {request_id}")
        if body[:5].lower() == b"error":
            raise DataError(f"UnrealCV: {command!r} failed: {body.decode('utf-8', 'replace').strip()}")
        return body

    def request_text(self, command: str) -> str:
        return self.request(command).decode("utf-8", "replace").strip()

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None


def pose_to_unreal(pose_c2w: np.ndarray) -> tuple[float, float, float, float, float, float]:
    """depthbench camera-to-world (m, right-handed) → Unreal (x, y, z cm, pitch, yaw, roll degrees)."""
    rot = pose_c2w[:3, :3]
    forward = _FLIP @ rot[:, 2]
    right = _FLIP @ rot[:, 0]
    up = -(_FLIP @ rot[:, 1])
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, forward[2]))))
    yaw = math.degrees(math.atan2(forward[1], forward[0]))
    roll = math.degrees(math.atan2(-right[2], up[2]))
    x, y, z = CM_PER_M * (_FLIP @ pose_c2w[:3, 3])
    return float(x), float(y), float(z), pitch, yaw, roll


def pose_from_unreal(x: float, y: float, z: float, pitch: float, yaw: float, roll: float) -> np.ndarray:
    """Inverse of :func:`pose_to_unreal` (Unreal's FRotationMatrix axes, then the handedness flip)."""
    p, w, r = math.radians(pitch), math.radians(yaw), math.radians(roll)
    cp, sp, cy, sy, cr, sr = math.cos(p), math.sin(p), math.cos(w), math.sin(w), math.cos(r), math.sin(r)
    axis_x = np.array([cp * cy, cp * sy, sp])
    axis_y = np.array([sr * sp * cy - cr * sy, sr * sp * sy + cr * cy, -sr * cp])
    axis_z = np.array([-(cr * sp * cy + sr * sy), cy * sr - cr * sp * sy, cr * cp])
    pose = np.eye(4)
    pose[:3, 0] = _FLIP @ axis_y
    pose[:3, 1] = -(_FLIP @ axis_z)
    pose[:3, 2] = _FLIP @ axis_x
    pose[:3, 3] = _FLIP @ np.array([x, y, z]) / CM_PER_M
    return pose


def ray_norms(intrinsics: Intrinsics, height: int, width: int) -> np.ndarray:
    """‖((u − cx)/fx, (v − cy)/fy, 1)‖ per pixel: point depth / camera-z."""
    v, u = np.mgrid[0:height, 0:width].astype(np.float64)
    return np.sqrt(((u - intrinsics.cx) / intrinsics.fx) ** 2 + ((v - intrinsics.cy) / intrinsics.fy) ** 2 + 1.0)


class UnrealCVBackend:
    """SceneBackend over an UnrealCV server. ``levels``: level names to load with
    ``vset /action/game/level`` (None: only the level already running, named ``current``);
    ``object_pattern``: objects of interest are those whose name contains one of these substrings
    (None: every object UnrealCV lists); point actors (zero-size bounds: lights, cameras) are skipped."""

    name = "unrealcv"

    def __init__(self, host: str = "127.0.0.1", port: int = 9000, timeout: float = 10.0, camera_id: int = 0,
                 levels: list[str] | None = None, object_pattern: tuple[str, ...] | None = None,
                 depth_command: str = "depth", depth_mode: str = "point") -> None:
        if depth_mode not in ("point", "plane"):
            raise UsageError(f"depth_mode: expected 'point' or 'plane', got {depth_mode!r}")
        self.client = UnrealCVClient(host, port, timeout)
        self.camera_id = int(camera_id)
        self.levels = list(levels) if levels else None
        self.object_pattern = object_pattern
        self.depth_command, self.depth_mode = depth_command, depth_mode
        self._camera: tuple[Intrinsics, int, int] | None = None
        self._resolution: tuple[int, int] | None = None
        self.client.connect()
        self.client.request_text("vget /unrealcv/status")

    def list_scenes(self) -> list[str]:
        return list(self.levels) if self.levels else ["current"]

    def load_scene(self, scene: str) -> None:
        if scene not in self.list_scenes():
            raise UsageError(f"unrealcv backend: unknown scene {scene!r}; expected one of {self.list_scenes()}")
        if self.levels:
            self.client.request_text(f"vset /action/game/level {scene}")

    def list_objects(self) -> list[ObjectOfInterest]:
        names = self.client.request_text("vget /objects").split()
        if self.object_pattern:
            names = [n for n in names if any(p in n for p in self.object_pattern)]
        objects = []
        for name in names:
            text = self.client.request_text(f"vget /object/{name}/bounds")
            try:
                values = [float(v) for v in text.replace(",", " ").split()]
            except ValueError:
                values = []
            if len(values) != 6:
                raise DataError(f"UnrealCV: bounds of {name!r} should be 6 numbers (cm), got {text[:80]!r}")
            a = _FLIP @ np.array(values[:3]) / CM_PER_M
            b = _FLIP @ np.array(values[3:]) / CM_PER_M
            lo, hi = np.minimum(a, b), np.maximum(a, b)  # the y flip swaps min and max
            if np.all(hi - lo <= 0):
                continue  # a point actor (light, camera, target point): nothing to fly around
            objects.append(ObjectOfInterest(name, tuple(map(float, lo)), tuple(map(float, hi))))
        return objects

    def set_camera(self, pose_c2w: np.ndarray, intrinsics: Intrinsics, height: int, width: int) -> None:
        centred = abs(intrinsics.cx - (width / 2 - 0.5)) < 1e-6 and abs(intrinsics.cy - (height / 2 - 0.5)) < 1e-6
        if abs(intrinsics.fx - intrinsics.fy) > 1e-9 * intrinsics.fx or not centred:
            raise UsageError(f"unrealcv backend: needs fx == fy and a centred principal point, got {intrinsics}")
        if self._resolution != (height, width):
            self.client.request_text(f"vrun r.setres {width}x{height}w")
            self._resolution = (height, width)
        fov = math.degrees(2.0 * math.atan(width / (2.0 * intrinsics.fx)))
        c = self.camera_id
        self.client.request_text(f"vset /camera/{c}/fov {fov:.9f}")
        x, y, z, pitch, yaw, roll = pose_to_unreal(np.asarray(pose_c2w, dtype=np.float64))
        self.client.request_text(f"vset /camera/{c}/pose {x:.6f} {y:.6f} {z:.6f} {pitch:.9f} {yaw:.9f} {roll:.9f}")
        self._camera = (intrinsics, int(height), int(width))

    def render(self) -> tuple[np.ndarray, np.ndarray]:
        if self._camera is None:
            raise UsageError("unrealcv backend: call set_camera before render")
        intrinsics, height, width = self._camera
        c = self.camera_id
        png = self.client.request(f"vget /camera/{c}/lit png")
        try:
            rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
            depth = np.load(io.BytesIO(self.client.request(f"vget /camera/{c}/{self.depth_command} npy")), allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DataError(f"UnrealCV: could not decode the image or depth of camera {c} ({exc})") from exc
        depth = np.squeeze(np.asarray(depth, dtype=np.float64))
        if rgb.shape[:2] != (height, width) or depth.shape != (height, width):
            raise DataError(f"UnrealCV: got rgb {rgb.shape[:2]} and depth {depth.shape}, expected {(height, width)}")
        depth = depth / CM_PER_M
        if self.depth_mode == "point":
            depth = depth / ray_norms(intrinsics, height, width)
        return rgb, depth.astype(np.float32)

    def free_space(self, position: np.ndarray) -> bool | None:
        return None

    def close(self) -> None:
        self.client.close()
