"""Turn whatever the Sketchpad sends into the 28x28 digit a model expects.

Contract of `to_digit`: any drawing (a Gradio Sketchpad/ImageEditor dict,
a numpy array, a PIL image, or an image file path; L, LA, RGB or RGBA; dark
ink on light or light ink on dark; any size) becomes a (28, 28) float32
array, white ink on black in 0..1, prepared the way MNIST's digits were:

1. ink map: how much ink each pixel holds, whatever the polarity or alpha;
2. crop to the ink and scale it to a working size;
3. stroke width normalised to MNIST's typical pen, so the brush size and
   canvas size do not change the answer;
4. the longer side fitted into 20x20, aspect ratio kept;
5. the centre of mass placed at the centre of a 28x28 frame.

Drawings that cannot hold a digit (empty, a dot, all ink) raise SketchError,
whose message is a sentence meant for the person drawing.
"""

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from scipy import ndimage

FRAME = 28  # side of the model input, pixels
BOX = 20  # the digit's longer side inside the frame, as in MNIST
WORK = 80  # longer side of the working image for stroke normalisation, pixels
PEN = 9.0  # target stroke width at WORK scale: MNIST's median pen (~2.25 px at 20)
INK_LEVEL = 0.5  # ink map value above which a pixel counts as ink
MAX_PIXELS = 40_000_000  # refuse larger images before decoding them whole
MAX_SIDE = 1024  # larger drawings are shrunk to this first, pixels
MAX_COVER = 0.6  # a drawing with more of its canvas inked is not a digit
MAX_EDGE_INK = 0.1  # nor one whose ink covers more of the canvas edge
DOT_FILL = 0.6  # a blob whose widest inscribed disc spans this much of its box


class SketchError(ValueError):
    """A drawing that holds no readable digit; str() is the user's sentence."""


def to_digit(value):
    """Return the (28, 28) float32 model input for a drawing; see module doc."""
    crop = _crop_to_ink(ink_map(value))
    work = _resize(crop, WORK / max(crop.shape))
    if _is_dot(work):
        raise SketchError("That is only a dot: draw the whole digit, larger.")
    work = normalize_stroke(work)
    work = _crop_to_ink(work)
    return _center_of_mass_frame(_resize(work, BOX / max(work.shape)))


def ink_map(value):
    """Float32 (H, W) map in 0..1: how much ink each pixel of the drawing holds."""
    rgba = _to_rgba(value)
    alpha = rgba[..., 3]
    if alpha.min() < 0.5:  # transparent background: the strokes are the opaque part
        ink = alpha
    else:
        luminance = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)
        ink = _ink_from_luminance(luminance)
    _check_ink(ink)
    return ink


def normalize_stroke(work):
    """Thicken or thin the strokes of a WORK-sized ink map to the PEN width."""
    width = stroke_width(work)
    radius = (PEN - width) / 2
    if abs(radius) < 0.75:
        return work
    footprint = _disk(abs(radius))
    if radius > 0:
        return ndimage.grey_dilation(work, footprint=footprint)
    thinned = ndimage.grey_erosion(work, footprint=footprint)
    return thinned if (thinned > INK_LEVEL).sum() > 0.3 * (work > INK_LEVEL).sum() else work


def stroke_width(ink):
    """Typical stroke width in pixels: twice the distance-to-edge along the ridges."""
    mask = np.pad(ink > INK_LEVEL, 1)
    if not mask.any():
        return 0.0
    distance = ndimage.distance_transform_edt(mask)
    ridge = mask & (distance >= ndimage.maximum_filter(distance, size=3))
    return float(2 * np.median(distance[ridge]) - 1)


def _to_rgba(value):
    """Any accepted drawing as a float32 (H, W, 4) array in 0..1."""
    if value is None:
        raise SketchError("Nothing was drawn: draw a digit on the canvas.")
    if isinstance(value, dict):
        value = _flatten_editor_value(value)
    if isinstance(value, (str, Path)):
        value = _open_image(value)
    if isinstance(value, Image.Image):
        value = np.asarray(value.convert("RGBA"))
    if not isinstance(value, np.ndarray):
        raise SketchError(
            f"Expected a drawing (an image), but got {type(value).__name__}."
        )
    return _array_to_rgba(value)


def _flatten_editor_value(value):
    """The composite of an ImageEditor value, or its layers over the background."""
    if value.get("composite") is not None:
        return value["composite"]
    parts = [value.get("background")] + list(value.get("layers") or [])
    parts = [p for p in parts if p is not None]
    if not parts:
        raise SketchError("Nothing was drawn: draw a digit on the canvas.")
    images = [_to_rgba(p) for p in parts]
    if any(im.shape != images[0].shape for im in images):
        raise SketchError("The canvas layers have different sizes; clear and redraw.")
    out = images[0]
    for layer in images[1:]:
        a = layer[..., 3:]
        out = np.concatenate(
            [layer[..., :3] * a + out[..., :3] * (1 - a), np.maximum(out[..., 3:], a)],
            axis=-1,
        )
    return out


def _open_image(path):
    path = Path(path)
    if not path.is_file():
        raise SketchError(f"There is no image file at {path}.")
    try:
        with Image.open(path) as image:
            _check_pixel_count(image.width, image.height)
            return image.convert("RGBA")
    except Image.DecompressionBombError as error:  # PIL refuses before we look
        raise SketchError(_too_large(path.name)) from error
    except (UnidentifiedImageError, OSError) as error:
        raise SketchError(
            f"Could not read {path.name} as an image (PNG, JPEG, ...)."
        ) from error


def _check_pixel_count(width, height):
    if width * height > MAX_PIXELS:
        raise SketchError(_too_large(f"The {width}x{height} image"))


def _too_large(what):
    return f"{what} is too large to read: use one under 40 megapixels."


def _array_to_rgba(array):
    if array.dtype == object or array.size == 0 or array.ndim not in (2, 3):
        raise SketchError(
            f"Expected an image array of shape (H, W) or (H, W, C), got {array.shape}."
        )
    if array.ndim == 3 and array.shape[2] not in (1, 2, 3, 4):
        raise SketchError(f"An image has 1 to 4 channels; this one has {array.shape[2]}.")
    if max(array.shape[:2]) > MAX_SIDE:
        array = _shrink(array)
    x = array.astype(np.float32)
    if array.dtype == np.uint8 or x.max() > 1.0:
        x /= 255.0
    x = np.clip(np.nan_to_num(x), 0.0, 1.0)
    if x.ndim == 2:
        x = x[..., None]
    channels = x.shape[2]
    gray_or_rgb = x[..., :3] if channels >= 3 else np.repeat(x[..., :1], 3, axis=2)
    alpha = x[..., -1:] if channels in (2, 4) else np.ones_like(x[..., :1])
    return np.concatenate([gray_or_rgb, alpha], axis=2)


def _shrink(array):
    """A large image array as uint8, shrunk so its longer side is MAX_SIDE."""
    if array.dtype != np.uint8:
        peak = 255.0 if np.nanmax(array) > 1.0 else 1.0
        array = np.clip(np.nan_to_num(array) * (255.0 / peak), 0, 255).astype(np.uint8)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    image = Image.fromarray(array)
    scale = MAX_SIDE / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return np.asarray(image.resize(size, Image.Resampling.BOX))


def _ink_from_luminance(luminance):
    """Ink as distance from the background level; the background is the majority."""
    background = float(np.median(luminance))
    ink = background - luminance if background >= 0.5 else luminance - background
    span = max(background, 1 - background)
    return np.clip(ink / span, 0.0, 1.0).astype(np.float32)


def _check_ink(ink):
    inked = ink > INK_LEVEL
    if not inked.any():
        raise SketchError(
            "The canvas is empty: draw a digit on it."
        )
    edge = np.concatenate([inked[0], inked[-1], inked[:, 0], inked[:, -1]])
    if inked.mean() > MAX_COVER or edge.mean() > MAX_EDGE_INK:
        raise SketchError(
            "The canvas is almost all ink: clear it and draw a single digit."
        )
    rows, cols = np.nonzero(inked)
    if max(np.ptp(rows), np.ptp(cols)) + 1 < 4:
        raise SketchError("That is only a dot: draw the whole digit, larger.")


def _is_dot(work):
    """True when one blob of ink nearly fills its box: a tap, not a digit."""
    distance = ndimage.distance_transform_edt(np.pad(work > INK_LEVEL, 1))
    return 2 * distance.max() >= DOT_FILL * max(work.shape)


def _crop_to_ink(ink):
    rows = np.nonzero((ink > INK_LEVEL / 4).any(axis=1))[0]
    cols = np.nonzero((ink > INK_LEVEL / 4).any(axis=0))[0]
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _resize(ink, scale):
    """Resize a float ink map by `scale` (area-averaging when shrinking)."""
    height, width = ink.shape
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    method = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    resized = Image.fromarray(ink.astype(np.float32), mode="F").resize(size, method)
    return np.asarray(resized, np.float32)


def _center_of_mass_frame(digit):
    """Place `digit` in a FRAME x FRAME canvas with its centre of mass centred."""
    frame = np.zeros((FRAME, FRAME), np.float32)
    height, width = digit.shape
    top, left = (FRAME - height) // 2, (FRAME - width) // 2
    frame[top : top + height, left : left + width] = digit
    cy, cx = ndimage.center_of_mass(frame)
    shift = (FRAME / 2 - 0.5 - cy, FRAME / 2 - 0.5 - cx)
    frame = ndimage.shift(frame, shift, order=1, mode="constant")
    peak = frame.max()
    return np.clip(frame / peak, 0.0, 1.0) if peak > 0 else frame


def _disk(radius):
    r = int(np.ceil(radius))
    y, x = np.ogrid[-r : r + 1, -r : r + 1]
    return x * x + y * y <= radius * radius + 0.5
