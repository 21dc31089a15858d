"""Weighted k-means with a deterministic start, then a polish toward the CIEDE2000 error.

This is the heart of chromapal and is written by hand: general-purpose k-means
libraries neither take a deterministic variance-minimising start (Wu / median
cut style) nor minimise a perceptual error such as the mean CIEDE2000, and they
are slow on a few thousand weighted points. Every loop here has a compiled twin
in ``_kernels.c``; the NumPy versions are the reference and the fallback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from ._types import FloatArray, IntArray
from .colorspace import ciede2000

try:  # the compiled twins of the loops below; None when the extension was not built
    from . import _kernels as KERNELS
except ImportError:  # pragma: no cover - depends on the build
    KERNELS = None  # type: ignore[assignment]

#: IRLS weights are pixel count / max(ΔE2000, this): bounds the pull of exact matches.
DE_FLOOR: Final = 0.5


@dataclass(frozen=True, eq=False)  # eq=False: `==` on arrays is elementwise
class Clusters:
    """Result of `kmeans`; row i of `centers` owns the points labelled i."""

    centers: FloatArray  # (k, d), same space as the input points
    weights: FloatArray  # (k,), total point weight per center
    labels: IntArray  # (n,), index into `centers`
    iterations: int


def kmeans(
    points: FloatArray,
    k: int,
    *,
    weights: FloatArray | None = None,
    init: FloatArray | None = None,
    max_iter: int = 60,
    tol: float = 1e-5,
) -> Clusters:
    """Group `points` into ``min(k, n)`` clusters minimising weighted squared error.

    The start is a variance-based median cut (deterministic) unless `init` is
    given; Lloyd steps follow until no centre moves more than `tol`. Clusters
    that empty are re-seeded at the point of largest weighted error, so none is
    returned empty.

    Parameters
    ----------
    points : ndarray of shape (n, d)
        Colours in a perceptual space such as Oklab. Not modified.
    k : int
        Clusters wanted.
    weights : ndarray of shape (n,), optional
        Pixel count behind each point; 1 by default.
    init : ndarray of shape (k, d), optional
        Starting centres (e.g. from `kmeans_plus_plus`).
    max_iter : int
        Upper bound on Lloyd steps.
    tol : float
        Stop when every centre moves less than this (Euclidean, in the points' units).

    Raises
    ------
    ValueError
        If `k` < 1 or `points` is not a non-empty (n, d) array.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1 (got {k})")
    if points.ndim != 2 or len(points) == 0:
        raise ValueError(f"points must have shape (n, d) with n > 0 (got {points.shape})")
    w = np.ones(len(points)) if weights is None else np.asarray(weights, dtype=np.float64)
    k = min(k, len(points))
    centers = median_cut(points, w, k) if init is None else np.array(init, dtype=np.float64)
    points = np.ascontiguousarray(points, dtype=np.float64)
    if KERNELS is not None and points.shape[1] == 3:
        centers = np.ascontiguousarray(centers)
        it = KERNELS.lloyd(points, w, centers, max_iter, tol)
    else:
        it = _lloyd(points, w, centers, max_iter, tol)
    labels, _ = nearest(points, centers)
    totals = np.bincount(labels, w, minlength=k).astype(np.float64)
    return Clusters(centers=centers, weights=totals, labels=labels, iterations=it)


def _lloyd(points: FloatArray, w: FloatArray, centers: FloatArray, max_iter: int, tol: float) -> int:
    """Lloyd steps on `centers` in place; returns the number of steps."""
    for it in range(1, max_iter + 1):
        labels, dist2 = _nearest_numpy(points, centers)
        previous = centers.copy()
        centers[:] = _weighted_means(points, w, labels, centers, dist2)
        if np.max(np.sum((centers - previous) ** 2, axis=1)) < tol * tol:
            return it
    return max_iter


def nearest(points: FloatArray, centers: FloatArray) -> tuple[IntArray, FloatArray]:
    """Index of the nearest centre for each point, and the squared distance to it."""
    if KERNELS is not None and points.ndim == 2 and points.shape[1] == 3:
        labels = np.empty(len(points), np.int64)
        d2 = np.empty(len(points))
        KERNELS.assign(
            np.ascontiguousarray(points, dtype=np.float64), np.ascontiguousarray(centers, dtype=np.float64), labels, d2
        )
        return labels, d2
    return _nearest_numpy(points, centers)


def _nearest_numpy(points: FloatArray, centers: FloatArray) -> tuple[IntArray, FloatArray]:
    d2 = (
        np.einsum("ij,ij->i", points, points)[:, None]
        - 2.0 * (points @ centers.T)
        + np.einsum("ij,ij->i", centers, centers)[None, :]
    )
    labels = np.argmin(d2, axis=1)
    return labels, np.maximum(d2[np.arange(len(points)), labels], 0.0)


def _weighted_means(
    points: FloatArray, w: FloatArray, labels: IntArray, centers: FloatArray, dist2: FloatArray
) -> FloatArray:
    k, d = centers.shape
    totals = np.bincount(labels, w, minlength=k)
    sums = np.stack([np.bincount(labels, w * points[:, j], minlength=k) for j in range(d)], axis=1)
    new = centers.copy()
    full = totals > 0
    new[full] = sums[full] / totals[full, None]
    for i in np.flatnonzero(~full):  # re-seed an empty cluster where the error is largest
        far = int(np.argmax(w * dist2))
        new[i] = points[far]
        dist2 = dist2.copy()
        dist2[far] = 0.0
    return new


def median_cut(points: FloatArray, weights: FloatArray, k: int) -> FloatArray:
    """Deterministic start: split the box of largest weighted SSE until there are `k` boxes.

    Each split is along the box's axis of largest variance, at the cut that
    minimises the two halves' total squared error (as in Wu's quantizer), and
    the boxes' weighted means are returned as centres, shape (k, d).
    """
    if KERNELS is not None and points.shape[1] == 3 and k <= len(points):
        centers = np.empty((k, 3))
        made = KERNELS.median_cut(_c(points), _c(weights), centers)
        return centers[:made]
    boxes = [np.arange(len(points))]
    sse = [_sse(points[boxes[0]], weights[boxes[0]])]
    while len(boxes) < k:
        # the first box of largest SSE that can be split (ties: the first, as the kernel does)
        j = _first_max(sse, [len(b) > 1 and e > 0 for b, e in zip(boxes, sse, strict=True)])
        if j is None:
            j = _first_max(sse, [len(b) > 1 for b in boxes])
        if j is None:
            break
        left, right = _split(points, weights, boxes[j])
        boxes[j:j + 1] = [left, right]
        sse[j:j + 1] = [_sse(points[left], weights[left]), _sse(points[right], weights[right])]
    return np.stack([np.average(points[b], axis=0, weights=weights[b]) for b in boxes])


def _first_max(values: list[float], allowed: list[bool]) -> int | None:
    best = None
    for i, (v, ok) in enumerate(zip(values, allowed, strict=True)):
        if ok and (best is None or v > values[best]):
            best = i
    return best


def _axis_sse(p: FloatArray, w: FloatArray) -> FloatArray:
    """Weighted squared error along each axis, as sum w x^2 - (sum w x)^2 / sum w (the kernel's formula)."""
    total = w.sum()
    s = w @ p
    return (w @ (p * p)) - s * s / total


def _sse(p: FloatArray, w: FloatArray) -> float:
    return float(_axis_sse(p, w).sum())


def _split(points: FloatArray, weights: FloatArray, idx: IntArray) -> tuple[IntArray, IntArray]:
    p, w = points[idx], weights[idx]
    axis = int(np.argmax(_axis_sse(p, w)))
    order = np.lexsort((idx, p[:, axis]))
    ps, ws = p[order], w[order]
    cw = np.cumsum(ws)[:-1]
    cs = np.cumsum(ws[:, None] * ps, axis=0)[:-1]
    total_w, total_s = ws.sum(), (ws[:, None] * ps).sum(axis=0)
    # SSE = sum w|x|^2 - |sum w x|^2 / W for each half; the first term is constant.
    score = np.sum(cs**2, axis=1) / cw + np.sum((total_s - cs) ** 2, axis=1) / (total_w - cw)
    # only cut between distinct coordinates, so equal colours stay together
    distinct = ps[1:, axis] != ps[:-1, axis]
    cut = int(np.argmax(np.where(distinct, score, -np.inf))) + 1 if distinct.any() else len(ps) // 2
    return idx[order[:cut]], idx[order[cut:]]


def kmeans_plus_plus(points: FloatArray, weights: FloatArray, k: int, rng: np.random.Generator) -> FloatArray:
    """Weighted k-means++ seeding (Arthur & Vassilvitskii 2007): a random, spread-out start."""
    k = min(k, len(points))
    first = rng.choice(len(points), p=weights / weights.sum())
    centers = [points[first]]
    d2 = np.sum((points - points[first]) ** 2, axis=1)
    for _ in range(1, k):
        p = weights * d2
        i = rng.choice(len(points), p=p / p.sum()) if p.sum() > 0 else int(np.argmax(weights))
        centers.append(points[i])
        d2 = np.minimum(d2, np.sum((points - points[i]) ** 2, axis=1))
    return np.stack(centers)


def mean_de2000(lab: FloatArray, weights: FloatArray, centers: FloatArray) -> float:
    """The palette score: mean ΔE2000 from each point to its nearest centre (nearest by ΔE76)."""
    if KERNELS is not None:
        return float(KERNELS.mean_de2000(_c(lab), _c(weights), _c(centers)))
    labels, _ = nearest(lab, centers)
    return float(np.sum(weights * ciede2000(lab, centers[labels])) / np.sum(weights))


def polish_de2000(
    lab: FloatArray,
    weights: FloatArray,
    centers: FloatArray,
    *,
    iters: int = 10,
    swaps: int = 5,
    tries: int = 3,
    swap_iters: int = 4,
    splits: int = 0,
    split_tries: int = 2,
) -> FloatArray:
    """Move CIELAB `centers` to lower the weighted mean ΔE2000 of `lab` points to their nearest centre.

    k-means minimises squared distances, while the error people see (and the
    benchmark scores) is the mean CIEDE2000. Two steps close that gap:

    1. iteratively re-weighted means (Weiszfeld's algorithm for the geometric
       median, with ΔE2000 as the distance): each point pulls its centre with
       weight ``count / ΔE2000``;
    2. a swap search to leave local minima: the centre whose removal costs
       least moves to the point contributing the largest error, kept only if
       the mean ΔE2000 drops (`swaps` rounds of up to `tries` centres, each
       followed by `swap_iters` re-weighted steps);
    3. split moves (`splits` rounds): the cluster with the largest total error
       is cut in two (`_try_split`) and one of the `split_tries` centres whose
       removal costs least makes room, kept only if the mean ΔE2000 drops. A
       swap moves one centre to one point; a split serves a whole badly served
       cluster with two centres, which the swaps rarely find at small k.

    Every candidate is scored and only improvements are kept, so the result
    never has a higher mean ΔE2000 than `centers`.
    """
    centers, score = _weiszfeld(lab, weights, centers, iters)
    if len(centers) < 2:
        return centers
    for _ in range(swaps):
        moved = _try_swaps(lab, weights, centers, score, tries=tries, iters=swap_iters)
        if moved is None:
            break
        centers, score = moved
    for _ in range(splits):
        moved = _try_split(lab, weights, centers, score, tries=split_tries, iters=swap_iters)
        if moved is None:
            break
        centers, score = moved
    return centers


def _c(a: FloatArray) -> FloatArray:
    return np.ascontiguousarray(a, dtype=np.float64)


def _weiszfeld(lab: FloatArray, weights: FloatArray, centers: FloatArray, iters: int) -> tuple[FloatArray, float]:
    """`iters` re-weighted mean steps; the best of the centre sets seen (the input included) and its score."""
    centers = centers.copy()
    if KERNELS is not None:
        score = KERNELS.weiszfeld(_c(lab), _c(weights), centers, iters, DE_FLOOR)
        return centers, float(score)
    k = len(centers)
    best, best_score = centers.copy(), np.inf
    for it in range(iters + 1):
        labels, _ = nearest(lab, centers)
        de = ciede2000(lab, centers[labels])
        score = float(np.sum(weights * de) / np.sum(weights))
        if score < best_score:
            best, best_score = centers.copy(), score
        if it == iters:
            break
        pull = weights / np.maximum(de, DE_FLOOR)
        totals = np.bincount(labels, pull, minlength=k)
        full = totals > 0
        sums = np.stack([np.bincount(labels, pull * lab[:, j], minlength=k) for j in range(3)], axis=1)
        centers[full] = sums[full] / totals[full, None]
    return best, best_score


def _try_swaps(
    lab: FloatArray, weights: FloatArray, centers: FloatArray, score: float, *, tries: int, iters: int
) -> tuple[FloatArray, float] | None:
    loss, worst = _swap_stats(lab, weights, centers)
    target = lab[worst]
    for j in np.argsort(loss, kind="stable")[:tries]:
        trial = centers.copy()
        trial[j] = target
        trial, trial_score = _weiszfeld(lab, weights, trial, iters)
        if trial_score < score - 1e-9:
            return trial, trial_score
    return None


def _try_split(
    lab: FloatArray, weights: FloatArray, centers: FloatArray, score: float, *, tries: int, iters: int
) -> tuple[FloatArray, float] | None:
    """Cut the cluster of largest total ΔE2000 in two; another centre (cheapest to remove) makes room.

    The two halves are the median cut (`median_cut`, k = 2) of the cluster's points;
    they replace its centre and, in turn, each of the `tries` centres whose removal
    adds least error (`_swap_stats`). The first trial whose re-weighted polish
    (`iters` steps) lowers `score` is returned, with its score; None if none does.
    """
    labels, _ = nearest(lab, centers)
    error = np.bincount(labels, weights * _de2000_pairs(lab, centers[labels]), minlength=len(centers))
    worst = int(np.argmax(error))
    mine = labels == worst
    if np.count_nonzero(mine) < 2:
        return None
    halves = median_cut(lab[mine], weights[mine], 2)
    if len(halves) < 2:
        return None
    loss, _ = _swap_stats(lab, weights, centers)
    for j in [j for j in np.argsort(loss, kind="stable") if j != worst][:tries]:
        trial = centers.copy()
        trial[worst], trial[j] = halves[0], halves[1]
        trial, trial_score = _weiszfeld(lab, weights, trial, iters)
        if trial_score < score - 1e-9:
            return trial, trial_score
    return None


def _de2000_pairs(lab1: FloatArray, lab2: FloatArray) -> FloatArray:
    """CIEDE2000 of each row pair (the compiled kernel when built)."""
    if KERNELS is None:
        return ciede2000(lab1, lab2)
    out = np.empty(len(lab1))
    KERNELS.ciede2000_pairs(_c(lab1), _c(lab2), out)
    return out


def _swap_stats(lab: FloatArray, weights: FloatArray, centers: FloatArray) -> tuple[FloatArray, int]:
    """Error added by removing each centre (its points go to their second nearest) and the worst point."""
    if KERNELS is not None:
        loss = np.empty(len(centers))
        worst = KERNELS.swap_stats(_c(lab), _c(weights), _c(centers), loss)
        return loss, int(worst)
    d2 = np.sum((lab[:, None, :] - centers[None]) ** 2, axis=2)
    order = np.argsort(d2, axis=1, kind="stable")
    first, second = order[:, 0], order[:, 1]
    de_first = ciede2000(lab, centers[first])
    added = np.bincount(first, weights * (ciede2000(lab, centers[second]) - de_first), minlength=len(centers))
    return added.astype(np.float64), int(np.argmax(weights * de_first))
