"""digits.sketch's preprocessing written the plain way, as an oracle for tests.

Every step is computed per pixel in float32 on the whole canvas, as the
contract in digits.export.preprocessing_steps states it, with SciPy's own
grey dilation and erosion by a disc: slow (~5-20 ms a drawing) and obviously
right. digits.sketch must give the same 28x28 input (tests/test_sketch.py).
Takes uint8 arrays of shape (H, W) or (H, W, 1..4) no larger than
sketch.MAX_SIDE; returns the 28x28 input, or the refusal's sentence.
"""

import numpy as np
from PIL import Image
from scipy import ndimage

from digits.sketch import (BOX, DOT_FILL, FRAME, INK_LEVEL, MAX_COVER, MAX_EDGE_INK,
                           PEN, WORK)

LUMINANCE = np.array([0.299, 0.587, 0.114], np.float32)


def to_digit(image):
    """The (28, 28) float32 input for a uint8 drawing, or a refusal sentence."""
    ink = ink_map(image)
    refusal = refuse(ink)
    if refusal:
        return refusal
    work = resize(crop(ink), WORK)
    if 2 * distance_to_background(work).max() >= DOT_FILL * max(work.shape):
        return "That is only a dot: draw the whole digit, larger."
    digit = resize(crop(normalize_stroke(work)), BOX)
    return centre_of_mass_frame(digit)


def ink_map(image):
    """Float32 ink per pixel: the alpha on a transparent canvas, else the
    distance of the luminance from the background's (the median)."""
    x = image.astype(np.float32) / 255
    x = x[..., None] if x.ndim == 2 else x
    channels = x.shape[2]
    if channels in (2, 4) and x[..., -1].min() < 0.5:
        return x[..., -1]
    rgb = x[..., :3] if channels >= 3 else np.repeat(x[..., :1], 3, axis=2)
    luminance = rgb @ LUMINANCE
    background = float(np.median(luminance))
    if background >= 0.5:
        ink = (background - luminance) / background
    else:
        ink = (luminance - background) / (1 - background)
    return np.clip(ink, 0.0, 1.0).astype(np.float32)


def refuse(ink):
    inked = ink > INK_LEVEL
    if not inked.any():
        return "The canvas is empty: draw a digit on it."
    edge = np.concatenate([inked[0], inked[-1], inked[:, 0], inked[:, -1]])
    if inked.mean() > MAX_COVER or edge.mean() > MAX_EDGE_INK:
        return "The canvas is almost all ink: clear it and draw a single digit."
    rows, cols = np.nonzero(inked)
    if max(np.ptp(rows), np.ptp(cols)) + 1 < 4:
        return "That is only a dot: draw the whole digit, larger."
    return None


def crop(ink):
    rows = np.nonzero((ink > INK_LEVEL / 4).any(axis=1))[0]
    cols = np.nonzero((ink > INK_LEVEL / 4).any(axis=0))[0]
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def resize(ink, longer_side):
    scale = longer_side / max(ink.shape)
    size = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
    method = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(ink, mode="F").resize(size, method))


def distance_to_background(work):
    return ndimage.distance_transform_edt(np.pad(work > INK_LEVEL, 1))


def normalize_stroke(work):
    distance = distance_to_background(work)
    on_ink = distance > 0
    ridge = on_ink & (distance >= ndimage.maximum_filter(distance, size=3))
    width = 2 * np.median(distance[ridge]) - 1
    radius = (PEN - width) / 2
    if abs(radius) < 0.75:
        return work
    disc = disc_footprint(abs(radius))
    if radius > 0:
        return ndimage.grey_dilation(work, footprint=disc)
    thinned = ndimage.grey_erosion(work, footprint=disc)
    kept = (thinned > INK_LEVEL).sum() > 0.3 * (work > INK_LEVEL).sum()
    return thinned if kept else work


def disc_footprint(radius):
    """The pixels within `radius` (+ half a pixel squared) of the centre."""
    reach = int(np.ceil(radius))
    y, x = np.ogrid[-reach : reach + 1, -reach : reach + 1]
    return x * x + y * y <= radius * radius + 0.5


def centre_of_mass_frame(digit):
    frame = np.zeros((FRAME, FRAME), np.float32)
    top, left = (FRAME - digit.shape[0]) // 2, (FRAME - digit.shape[1]) // 2
    frame[top : top + digit.shape[0], left : left + digit.shape[1]] = digit
    centre = ndimage.center_of_mass(frame)
    shift = (FRAME / 2 - 0.5 - centre[0], FRAME / 2 - 0.5 - centre[1])
    frame = ndimage.shift(frame, shift, order=1, mode="constant")
    return np.clip(frame / frame.max(), 0.0, 1.0)
