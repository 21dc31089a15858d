"""Weighted k-means with a deterministic variance-based initialisation.

This is the heart of chromapal and is written by hand: the general-purpose
k-means libraries neither take a deterministic, variance-minimising start
(Wu / median cut style) nor run fast on a few thousand weighted points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._types import FloatArray, IntArray


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
    max_iter: int = 60,
    tol: float = 1e-7,
) -> Clusters:
    """Group `points` into ``min(k, n)`` clusters minimising weighted squared error.

    The start is a variance-based median cut (deterministic); Lloyd steps follow
    until no centre moves more than `tol`. Clusters that empty are re-seeded at
    the point contributing the largest weighted error, so none is returned empty.

    Parameters
    ----------
    points : ndarray of shape (n, d)
        Colours in a perceptual space such as Oklab. Not modified.
    k : int
        Clusters wanted.
    weights : ndarray of shape (n,), optional
        Pixel count behind each point; 1 by default.
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
    centers = median_cut(points, w, k)
    it = 0
    for it in range(1, max_iter + 1):
        labels, dist2 = nearest(points, centers)
        previous = centers
        centers = _weighted_means(points, w, labels, centers, dist2)
        if np.max(np.sum((centers - previous) ** 2, axis=1)) < tol * tol:
            break
    labels, _ = nearest(points, centers)
    totals = np.bincount(labels, w, minlength=k)
    return Clusters(centers=centers, weights=totals, labels=labels, iterations=it)


def nearest(points: FloatArray, centers: FloatArray) -> tuple[IntArray, FloatArray]:
    """Index of the nearest centre for each point, and the squared distance to it."""
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
    boxes = [np.arange(len(points))]
    sse = [_sse(points[boxes[0]], weights[boxes[0]])]
    while len(boxes) < k:
        order = np.argsort(sse)[::-1]
        j = next((int(i) for i in order if len(boxes[i]) > 1 and sse[i] > 0), None)
        if j is None:
            j = next(int(i) for i in order if len(boxes[i]) > 1)
        left, right = _split(points, weights, boxes[j])
        boxes[j:j + 1] = [left, right]
        sse[j:j + 1] = [_sse(points[left], weights[left]), _sse(points[right], weights[right])]
    return np.stack([np.average(points[b], axis=0, weights=weights[b]) for b in boxes])


def _sse(p: FloatArray, w: FloatArray) -> float:
    mean = np.average(p, axis=0, weights=w)
    return float(np.sum(w * np.sum((p - mean) ** 2, axis=1)))


def _split(points: FloatArray, weights: FloatArray, idx: IntArray) -> tuple[IntArray, IntArray]:
    p, w = points[idx], weights[idx]
    mean = np.average(p, axis=0, weights=w)
    axis = int(np.argmax(np.sum(w[:, None] * (p - mean) ** 2, axis=0)))
    order = np.argsort(p[:, axis], kind="stable")
    ps, ws = p[order], w[order]
    cw = np.cumsum(ws)[:-1]
    cs = np.cumsum(ws[:, None] * ps, axis=0)[:-1]
    total_w, total_s = ws.sum(), (ws[:, None] * ps).sum(axis=0)
    # SSE = sum w|x|^2 - |sum w x|^2 / W for each half; the first term is constant.
    score = np.sum(cs**2, axis=1) / cw + np.sum((total_s - cs) ** 2, axis=1) / (total_w - cw)
    # only cut between distinct coordinates, so equal colours stay together
    distinct = ps[1:, axis] != ps[:-1, axis]
    if distinct.any():
        score = np.where(distinct, score, -np.inf)
    cut = int(np.argmax(score)) + 1
    return idx[order[:cut]], idx[order[cut:]]
