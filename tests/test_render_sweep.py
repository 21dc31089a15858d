"""Tests of the k sweep: one frame per k plus the original, durations, looping, scaling."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from chromapal.render import save_animation, sweep_frames


def gradient(width: int = 60, height: int = 40) -> np.ndarray:
    """Make a colourful gradient: many distinct colours, so every k is reached."""
    y, x = np.mgrid[0:height, 0:width]
    return np.dstack(
        [x * 255 // width, y * 255 // height, (x + y) * 127 // (width + height)]
    ).astype(np.uint8)


def test_one_frame_per_k_then_the_original():
    """K = 2..5 give 5 frames, frame i in exactly k_i colours, the last the original."""
    frames = sweep_frames(gradient(), range(2, 6), labels=False)
    assert len(frames) == 5
    for k, frame in zip(range(2, 6), frames[:-1], strict=True):
        assert len(np.unique(np.asarray(frame.convert("RGB")).reshape(-1, 3), axis=0)) == k
    error = np.abs(np.asarray(frames[-1].convert("RGB")).astype(int) - gradient())
    assert error.mean() < 6 and error.max() <= 32  # the original, dithered to a GIF's 256 colours


def test_labels_are_drawn_in_a_corner_only():
    """The label changes the top-left corner and nothing else."""
    plain = sweep_frames(gradient(300, 200), [3], labels=False)
    labelled = sweep_frames(gradient(300, 200), [3])
    a, b = (np.asarray(f[0].convert("RGB")) for f in (plain, labelled))
    changed = np.argwhere((a != b).any(-1))
    assert len(changed) > 0
    assert changed[:, 0].max() < 60 and changed[:, 1].max() < 120


def test_gif_has_the_requested_durations_and_loop(tmp_path):
    """The GIF holds every frame with its duration, the last held longer; loops or plays once."""
    frames = sweep_frames(gradient(), [2, 3, 4])
    save_animation(frames, tmp_path / "a.gif", duration=250, hold=1500)
    save_animation(frames, tmp_path / "once.gif", duration=100, hold=None, loop=False)
    with Image.open(tmp_path / "a.gif") as gif:
        assert gif.n_frames == 4
        durations = []
        for i in range(gif.n_frames):
            gif.seek(i)
            durations.append(gif.info["duration"])
        assert durations == [250, 250, 250, 1500]
        assert gif.info["loop"] == 0
    with Image.open(tmp_path / "once.gif") as gif:
        assert gif.n_frames == 4 and "loop" not in gif.info


def test_large_images_are_scaled_to_the_maximum_side():
    """Frames keep the aspect ratio and are scaled to max_side; None keeps the full size."""
    assert {f.size for f in sweep_frames(gradient(300, 150), [2], max_side=100)} == {(100, 50)}
    assert {f.size for f in sweep_frames(gradient(300, 150), [2], max_side=None)} == {(300, 150)}


def test_bad_durations_are_refused(tmp_path):
    """Durations under 10 ms are a ValueError (browsers would ignore them)."""
    with pytest.raises(ValueError, match="at least 10 ms"):
        save_animation(sweep_frames(gradient(), [2]), tmp_path / "a.gif", duration=5)
