"""Colorization inpainting of depth maps (NYU Depth v2 toolbox ``fill_depth_colorization``).

Source: A. Levin, D. Lischinski, Y. Weiss, "Colorization using Optimization", SIGGRAPH 2004, as used by
N. Silberman et al. (NYU Depth v2, ECCV 2012) to fill the labelled set's depth maps. The linear
system below is the one the toolbox (and its widely used Python port) builds; this implementation is
written from that definition, not from their code.

System (one unknown per pixel, depth normalised by its maximum):

- gray = 0.2125 R + 0.7154 G + 0.0721 B, with RGB in [0, 1];
- for pixel c with neighbours n in its 3×3 window clipped at the image border:
  var = mean over the window including c of (g − mean g)²; mgv = min_n (g_n − g_c)²;
  csig = max(0.6·var, −mgv / ln 0.01, 2e-6); w_n = exp(−(g_n − g_c)² / csig) / Σ_n exp(...);
- A = I − W + alpha·diag(known); b = alpha·known·depth / max(depth).

Missing pixels: 0, NaN and ±inf (NaN/inf are treated exactly like the toolbox's 0 holes; the
maximum is taken over known pixels). Known pixels are copied back exactly from the input; only
holes take solved values. Output is float32.

Solving it fast: ordering pixels as (K = known, U = holes), ``A_KK`` has diagonal 1 + alpha and
off-diagonal row sums ≤ 1, so it is strongly diagonally dominant; ``A_UU`` holds the ill-conditioned
part (harmonic interpolation inside holes, nearly decoupled across strong image edges) but only
covers the holes. BiCGSTAB (van der Vorst 1992) on the full system is right-preconditioned with the
block lower-triangular approximation ``M = [[A_KK, 0], [A_UK, A_UU]]``: ``A_KK`` applied by one
Gauss–Seidel sweep, ``A_UU`` by an exact SuperLU factorisation without pivoting (A is an M-matrix)
ordered by minimum degree on AᵀA+A, or by a geometric nested dissection of the pixel grid when the
holes hold more than ``ND_MIN_HOLE_PIXELS`` pixels. The iteration is warm-started with M⁻¹b and stops
at relative residual ‖b − A x‖ / ‖b‖ ≤ ``rtol`` (default 1e-7): on the real 480×640 NYU raw frame
this deviates from a direct ``spsolve`` by 2.5e-8 m mean / 1.2e-5 m max (float32 rounding level),
in ~5 iterations; see benchmarks/results/prep_benchmarks.md. Assembly and the Krylov vector
operations are numba loops (BLAS threads stall on a busy 2-core machine).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as sla
from numba import njit

from depthbench.errors import DataError, UsageError

GRAY_WEIGHTS = (0.2125, 0.7154, 0.0721)  # ITU-R BT.709 luma, as skimage.color.rgb2gray


@njit(cache=True)
def _assemble_csr(
    gray: np.ndarray, known: np.ndarray, alpha: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of A in raster order (pixel index i·W + j), columns sorted within each row."""
    height, width = gray.shape
    n = height * width
    indptr = np.empty(n + 1, np.int64)
    indices = np.empty(n * 9, np.int32)
    data = np.empty(n * 9, np.float64)
    gvals = np.empty(8)
    cols = np.empty(8, np.int64)
    neg_log_001 = -np.log(0.01)
    k = 0
    indptr[0] = 0
    for i in range(height):
        for j in range(width):
            c = i * width + j
            gc = gray[i, j]
            nwin = 0
            for ii in range(max(0, i - 1), min(i + 2, height)):
                for jj in range(max(0, j - 1), min(j + 2, width)):
                    if ii == i and jj == j:
                        continue
                    gvals[nwin] = gray[ii, jj]
                    cols[nwin] = ii * width + jj
                    nwin += 1
            total = gc
            for t in range(nwin):
                total += gvals[t]
            mean = total / (nwin + 1)
            var = (gc - mean) ** 2
            for t in range(nwin):
                var += (gvals[t] - mean) ** 2
            var /= nwin + 1
            mgv = np.inf
            for t in range(nwin):
                d2 = (gvals[t] - gc) ** 2
                mgv = min(mgv, d2)
            csig = max(0.6 * var, mgv / neg_log_001, 2e-6)
            wsum = 0.0
            for t in range(nwin):
                gvals[t] = np.exp(-((gvals[t] - gc) ** 2) / csig)
                wsum += gvals[t]
            diag = 1.0 + (alpha if known[i, j] else 0.0)
            placed = False
            for t in range(nwin):
                if not placed and cols[t] > c:
                    indices[k] = c
                    data[k] = diag
                    k += 1
                    placed = True
                indices[k] = cols[t]
                data[k] = -gvals[t] / wsum
                k += 1
            if not placed:
                indices[k] = c
                data[k] = diag
                k += 1
            indptr[c + 1] = k
    return indptr, indices[:k], data[:k]


@njit(cache=True)
def _gauss_seidel_forward(
    indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, x: np.ndarray, b: np.ndarray
) -> None:
    for i in range(x.shape[0]):
        s = b[i]
        d = 1.0
        for k in range(indptr[i], indptr[i + 1]):
            j = indices[k]
            if j == i:
                d = data[k]
            else:
                s -= data[k] * x[j]
        x[i] = s / d


def _check_inputs(rgb: np.ndarray, depth: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (gray float64 H×W, depth float64 H×W with 0 at missing, known bool H×W)."""
    rgb = np.asarray(rgb)
    depth = np.asarray(depth)
    if depth.ndim != 2:
        raise UsageError(f"depth: expected an H×W array, got shape {depth.shape}")
    if rgb.shape != depth.shape + (3,):
        raise UsageError(f"rgb: expected shape {depth.shape + (3,)} to match depth, got {rgb.shape}")
    if rgb.dtype == np.uint8:
        rgb01 = rgb.astype(np.float64) / 255.0
    elif np.issubdtype(rgb.dtype, np.floating):
        rgb01 = rgb.astype(np.float64)
        if rgb01.size and not (np.nanmin(rgb01) >= 0.0 and np.nanmax(rgb01) <= 1.0):
            raise UsageError("rgb: float images must lie in [0, 1]; pass uint8 for 0-255 values")
    else:
        raise UsageError(f"rgb: expected uint8 or float in [0, 1], got dtype {rgb.dtype}")
    gray = GRAY_WEIGHTS[0] * rgb01[..., 0] + GRAY_WEIGHTS[1] * rgb01[..., 1] + GRAY_WEIGHTS[2] * rgb01[..., 2]
    depth64 = depth.astype(np.float64)
    finite = np.isfinite(depth64)
    if np.any(depth64[finite] < 0):
        raise DataError("depth: negative values found; expected metres ≥ 0 with 0 or NaN for missing")
    known = finite & (depth64 > 0)
    return np.ascontiguousarray(gray), np.where(known, depth64, 0.0), known


def colorization_system(
    rgb: np.ndarray, depth: np.ndarray, alpha: float = 1.0
) -> tuple[sp.csr_matrix, np.ndarray, float, np.ndarray]:
    """Build the colorization linear system ``A x = b`` (see module docstring).

    Returns ``(A, b, depth_max, known)``: A is CSR (H·W)×(H·W) with pixels in raster order, the
    solution times ``depth_max`` is the filled depth, and ``known`` is the H×W mask of input pixels.
    """
    return _system(*_check_inputs(rgb, depth), alpha)


def _system(
    gray: np.ndarray, depth64: np.ndarray, known: np.ndarray, alpha: float
) -> tuple[sp.csr_matrix, np.ndarray, float, np.ndarray]:
    if not known.any():
        raise DataError("depth: all pixels are missing (0 or NaN); nothing to inpaint from")
    depth_max = float(depth64.max())
    indptr, indices, data = _assemble_csr(gray, np.ascontiguousarray(known), float(alpha))
    n = depth64.size
    matrix = sp.csr_matrix((data, indices, indptr), shape=(n, n))
    rhs = (alpha * known * (depth64 / depth_max)).ravel()
    return matrix, rhs, depth_max, known


@njit(cache=True)
def _dot(a: np.ndarray, b: np.ndarray) -> float:
    # An explicit loop: BLAS ddot spawns threads that stall badly on a busy 2-core machine.
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * b[i]
    return s


@njit(cache=True)
def _combine(out: np.ndarray, a: np.ndarray, ca: float, b: np.ndarray, cb: float) -> None:
    """out = a·ca + b·cb, elementwise."""
    for i in range(out.shape[0]):
        out[i] = a[i] * ca + b[i] * cb


@njit(cache=True)
def _csr_matvec(
    indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, x: np.ndarray, out: np.ndarray
) -> None:
    for i in range(out.shape[0]):
        s = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            s += data[k] * x[indices[k]]
        out[i] = s


ND_MIN_HOLE_PIXELS = 40_000


def _grid_nested_dissection(height: int, width: int, leaf: int = 4) -> np.ndarray:
    """Nested-dissection ordering of an H×W pixel grid with a 3×3 stencil (George 1973): split the
    longer side by a one-pixel line (a separator for 8-neighbourhoods), order both halves
    recursively, the separator last."""
    index = np.arange(height * width).reshape(height, width)
    parts: list[np.ndarray] = []
    stack: list[tuple[int, int, int, int, bool]] = [(0, height, 0, width, False)]
    while stack:  # explicit stack: (r0, r1, c0, c1, emit_as_separator)
        r0, r1, c0, c1, emit = stack.pop()
        if r1 <= r0 or c1 <= c0:
            continue
        if emit or (r1 - r0) * (c1 - c0) <= leaf * leaf:
            parts.append(index[r0:r1, c0:c1].ravel())
        elif r1 - r0 >= c1 - c0:
            mid = (r0 + r1) // 2  # popped in reverse: top half, bottom half, separator row
            stack += [(mid, mid + 1, c0, c1, True), (mid + 1, r1, c0, c1, False), (r0, mid, c0, c1, False)]
        else:
            mid = (c0 + c1) // 2
            stack += [(r0, r1, mid, mid + 1, True), (r0, r1, mid + 1, c1, False), (r0, r1, c0, mid, False)]
    return np.concatenate(parts)


@njit(cache=True)
def _split_blocks(
    indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, known_flat: np.ndarray
) -> tuple[np.ndarray, ...]:
    """CSR blocks A_KK, A_UK, A_UU of a raster-ordered CSR matrix (K/U numbered in raster order)."""
    n = known_flat.shape[0]
    position = np.empty(n, np.int64)
    n_k = 0
    n_u = 0
    for c in range(n):
        if known_flat[c]:
            position[c] = n_k
            n_k += 1
        else:
            position[c] = n_u
            n_u += 1
    kk_ptr = np.zeros(n_k + 1, np.int64)
    uk_ptr = np.zeros(n_u + 1, np.int64)
    uu_ptr = np.zeros(n_u + 1, np.int64)
    kk_ind = np.empty(indices.shape[0], np.int32)
    kk_val = np.empty(indices.shape[0])
    uk_ind = np.empty(9 * n_u, np.int32)
    uk_val = np.empty(9 * n_u)
    uu_ind = np.empty(9 * n_u, np.int32)
    uu_val = np.empty(9 * n_u)
    nkk = 0
    nuk = 0
    nuu = 0
    for r in range(n):
        row_known = known_flat[r]
        for k in range(indptr[r], indptr[r + 1]):
            col = indices[k]
            if row_known:
                if known_flat[col]:
                    kk_ind[nkk] = position[col]
                    kk_val[nkk] = data[k]
                    nkk += 1
            elif known_flat[col]:
                uk_ind[nuk] = position[col]
                uk_val[nuk] = data[k]
                nuk += 1
            else:
                uu_ind[nuu] = position[col]
                uu_val[nuu] = data[k]
                nuu += 1
        if row_known:
            kk_ptr[position[r] + 1] = nkk
        else:
            uk_ptr[position[r] + 1] = nuk
            uu_ptr[position[r] + 1] = nuu
    return (
        kk_ptr,
        kk_ind[:nkk],
        kk_val[:nkk],
        uk_ptr,
        uk_ind[:nuk],
        uk_val[:nuk],
        uu_ptr,
        uu_ind[:nuu],
        uu_val[:nuu],
    )


class _BlockPreconditioner:
    """z = M⁻¹ v for M = [[A_KK, 0], [A_UK, A_UU]]: one Gauss–Seidel sweep for the well-conditioned
    known block, exact SuperLU solve for the hole block."""

    def __init__(self, matrix: sp.csr_matrix, known: np.ndarray) -> None:
        height, width = known.shape
        known_flat = known.ravel()
        self.k_idx = np.flatnonzero(known_flat)
        self.u_idx = np.flatnonzero(~known_flat)
        n_k, n_u = self.k_idx.size, self.u_idx.size
        blocks = _split_blocks(matrix.indptr, matrix.indices, matrix.data, known_flat)
        self.a_kk = sp.csr_matrix((blocks[2], blocks[1], blocks[0]), shape=(n_k, n_k))
        self.a_uk = sp.csr_matrix((blocks[5], blocks[4], blocks[3]), shape=(n_u, n_k))
        a_uu = sp.csr_matrix((blocks[8], blocks[7], blocks[6]), shape=(n_u, n_u))
        # Fill-reducing ordering of the hole block: SuperLU's minimum degree suits many small holes;
        # for large holes a geometric nested dissection of the pixel grid halves the factor time.
        self.hole_order: np.ndarray | None = None
        permc = "MMD_AT_PLUS_A"
        if self.u_idx.size > ND_MIN_HOLE_PIXELS:
            position = np.full(known_flat.size, -1, dtype=np.int64)
            position[self.u_idx] = np.arange(self.u_idx.size)
            order = position[_grid_nested_dissection(height, width)]
            self.hole_order = order[order >= 0]
            a_uu = a_uu[self.hole_order][:, self.hole_order]
            permc = "NATURAL"
        try:
            self.lu_uu = sla.splu(
                a_uu.tocsc(), permc_spec=permc, diag_pivot_thresh=0.0, options={"SymmetricMode": True}
            )
        except RuntimeError as exc:  # a hole region with no coupling to any known pixel
            raise DataError(f"depth: colorization system is singular inside the holes ({exc})") from exc
        self._z_k = np.empty(self.k_idx.size)
        self._t_u = np.empty(self.u_idx.size)

    def apply(self, v: np.ndarray, out: np.ndarray) -> None:
        z_k = self._z_k
        z_k[:] = 0.0
        a_kk, a_uk = self.a_kk, self.a_uk
        _gauss_seidel_forward(a_kk.indptr, a_kk.indices, a_kk.data, z_k, v[self.k_idx])
        _csr_matvec(a_uk.indptr, a_uk.indices, a_uk.data, z_k, self._t_u)
        out[self.k_idx] = z_k
        rhs_u = v[self.u_idx] - self._t_u
        if self.hole_order is None:
            out[self.u_idx] = self.lu_uu.solve(rhs_u)
        else:
            out[self.u_idx[self.hole_order]] = self.lu_uu.solve(rhs_u[self.hole_order])


def _solve_block_preconditioned(
    matrix: sp.csr_matrix, rhs: np.ndarray, known: np.ndarray, rtol: float, maxiter: int
) -> np.ndarray:
    """Right-preconditioned BiCGSTAB (van der Vorst 1992), stopping at ‖b − A x‖ ≤ rtol·‖b‖."""
    precond = _BlockPreconditioner(matrix, known)
    ip, ind, dat = matrix.indptr, matrix.indices, matrix.data
    n = rhs.size
    x = np.empty(n)
    precond.apply(rhs, x)  # warm start: exact in the holes given a one-sweep estimate elsewhere
    r = np.empty(n)
    _csr_matvec(ip, ind, dat, x, r)
    _combine(r, rhs, 1.0, r, -1.0)
    r_hat = r.copy()
    p, v, y, s, z, t = (np.zeros(n) for _ in range(6))
    stop = rtol * np.sqrt(_dot(rhs, rhs))
    rho = alpha = omega = 1.0
    for _ in range(maxiter):
        if np.sqrt(_dot(r, r)) <= stop:
            return x
        rho_new = _dot(r_hat, r)
        beta = (rho_new / rho) * (alpha / omega)
        rho = rho_new
        _combine(p, p, 1.0, v, -omega)
        _combine(p, r, 1.0, p, beta)
        precond.apply(p, y)
        _csr_matvec(ip, ind, dat, y, v)
        alpha = rho / _dot(r_hat, v)
        _combine(x, x, 1.0, y, alpha)
        _combine(s, r, 1.0, v, -alpha)
        if np.sqrt(_dot(s, s)) <= stop:
            return x
        precond.apply(s, z)
        _csr_matvec(ip, ind, dat, z, t)
        omega = _dot(t, s) / _dot(t, t)
        _combine(x, x, 1.0, z, omega)
        _combine(r, s, 1.0, t, -omega)
    raise DataError(f"colorization: BiCGSTAB did not reach rtol={rtol} in {maxiter} iterations")


def fill_depth_colorization(
    rgb: np.ndarray,
    depth: np.ndarray,
    alpha: float = 1.0,
    *,
    rtol: float = 1e-7,
    maxiter: int = 200,
) -> np.ndarray:
    """Fill missing depth by Levin et al.'s colorization (NYU toolbox ``fill_depth_colorization``).

    Args:
        rgb: H×W×3, uint8 or float in [0, 1] (any memory layout).
        depth: H×W metres; 0, NaN and ±inf mean missing. Negative values raise DataError.
        alpha: weight of the data term on known pixels (toolbox default 1).
        rtol: BiCGSTAB stopping tolerance on the relative residual ‖b − A x‖ / ‖b‖.
    Returns:
        float32 H×W: known pixels copied exactly from ``depth``, holes = solution · max(depth).
    Raises:
        DataError when every pixel is missing.
    """
    if alpha <= 0:
        raise UsageError(f"alpha: expected > 0, got {alpha}")
    gray, depth64, known = _check_inputs(rgb, depth)
    depth32 = np.asarray(depth, dtype=np.float32)
    if known.all():
        return depth32.copy()
    matrix, rhs, depth_max, known = _system(gray, depth64, known, alpha)
    solution = _solve_block_preconditioned(matrix, rhs, known, rtol, maxiter)
    filled = (solution.reshape(known.shape) * depth_max).astype(np.float32)
    return np.where(known, depth32, filled)


def fill_depth_colorization_direct(rgb: np.ndarray, depth: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Reference: the same system solved by ``scipy.sparse.linalg.spsolve`` (SuperLU, COLAMD).

    Slow (seconds per 480×640 frame); used by tests and benchmarks to check the fast solver.
    """
    matrix, rhs, depth_max, known = colorization_system(rgb, depth, alpha)
    depth32 = np.asarray(depth, dtype=np.float32)
    if known.all():
        return depth32.copy()
    solution = sla.spsolve(matrix.tocsc(), rhs)
    filled = (solution.reshape(known.shape) * depth_max).astype(np.float32)
    return np.where(known, depth32, filled)
