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

Speed: a 400 px canvas takes ~1.0 ms on one core of the 2-core machine
the README's figures come from, on a day when it ran slowly (bench/latency.py
prints the machine's speed beside its figures), ~0.8 ms when the canvas is
still in the processor's cache. The full-size canvas is only read as 8-bit
levels (the alpha, or the luminance rounded to 8 bits as Pillow computes it)
with a table of the ink each level holds, and OpenCV finds the box of its
ink; only the crop around the ink becomes float. Shrinking is Pillow's BOX
filter computed from an integral image, and centring the digit mixes rows
and columns by hand, as ndimage.shift would. At the working size, OpenCV
computes the distance transform and the grey dilation or erosion (SciPy's
take 3-6x longer). The results equal a per-pixel float computation with
Pillow and SciPy to 1e-5 (tests/sketch_reference.py is that computation).
"""

import functools
import io
import math
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

FRAME = 28  # side of the model input, pixels
BOX = 20  # the digit's longer side inside the frame, as in MNIST
WORK = 80  # longer side of the working image for stroke normalisation, pixels
PEN = 9.0  # target stroke width at WORK scale: MNIST's median pen (~2.25 px at 20)
INK_LEVEL = 0.5  # ink map value above which a pixel counts as ink
MAX_PIXELS = 40_000_000  # refuse larger images before decoding them whole
MAX_SIDE = 1024  # larger drawings are shrunk to this first, pixels
MIN_SHRUNK_SIDE = 8  # a shrunk drawing narrower than this has lost its strokes
MAX_COVER = 0.6  # a drawing with more of its canvas inked is not a digit
MAX_EDGE_INK = 0.1  # nor one whose ink covers more of the canvas edge
DOT_FILL = 0.6  # a blob whose widest inscribed disc spans this much of its box
LEVELS = np.arange(256, dtype=np.float32) / np.float32(255)  # 8-bit level -> 0..1
RIDGE_WINDOW = np.ones((3, 3), np.uint8)  # a ridge pixel is the largest in it


class SketchError(ValueError):
    """A drawing that holds no readable digit; str() is the user's sentence."""


def to_digit(value):
    """Return the (28, 28) float32 model input for a drawing; see module doc."""
    work = _work_ink_map(value)
    squared = _squared_distance_to_background(work)
    if _is_dot(squared, work.shape):
        raise SketchError("That is only a dot: draw the whole digit, larger.")
    work = _normalize_stroke(work, squared)
    work = _crop_to_ink(work)
    return _center_of_mass_frame(_resize(work, BOX / max(work.shape)))


def ink_map(value):
    """Float32 (H, W) map in 0..1: how much ink each pixel of the drawing holds."""
    levels, table = _ink_levels(value)
    _check_ink(levels, table)
    return table.take(levels)


def normalize_stroke(work):
    """Thicken or thin the strokes of a WORK-sized ink map to the PEN width."""
    return _normalize_stroke(work, _squared_distance_to_background(work))


def stroke_width(ink):
    """Typical stroke width in pixels: twice the distance-to-edge along the ridges."""
    return _stroke_width(_squared_distance_to_background(ink))


def _work_ink_map(value):
    """The ink map of the drawing after the refusal checks, cropped to its
    ink and resized to WORK px on its longer side."""
    levels, table = _ink_levels(value)
    top, bottom, left, right = _check_ink(levels, table)
    crop = levels[top:bottom, left:right]
    scale = WORK / max(crop.shape)
    if table is LEVELS:  # ink = level / 255: resize the levels, then divide
        return _resize(crop, scale) / 255
    return _resize(table.take(crop), scale)


def _ink_levels(value):
    """(levels, table): a uint8 (H, W) array, and the float32 ink each level
    holds, non-decreasing: the ink map is table.take(levels), and a pixel
    holds more than some ink where its level is at least a whole number."""
    image = _to_image_array(value)
    channels = 1 if image.ndim == 2 else image.shape[2]
    if channels in (2, 4):
        alpha = cv2.extractChannel(image, channels - 1)  # a contiguous copy
        # transparent background: the strokes are the opaque part (a canvas's
        # corner is, mostly, and then the whole alpha need not be read)
        if alpha[0, 0] < 128 or alpha.min() < 128:
            return alpha, LEVELS
    if channels >= 3:  # luminance 0.299 R + 0.587 G + 0.114 B, to 8 bits (Pillow)
        gray = np.asarray(Image.fromarray(image).convert("L"))  # alpha ignored
    else:
        gray = np.ascontiguousarray(image if image.ndim == 2 else image[..., 0])
    return _ink_from_luminance(gray)


def _ink_from_luminance(gray):
    """Ink as distance from the background level; the background is the majority.

    Returns (levels, table) with the levels ordered by ink: 255 - gray for dark
    ink on light paper, gray itself for light ink on dark paper.
    """
    background = float(np.mean(LEVELS[_middle_values(gray)]))  # the median
    if background >= 0.5:
        levels, luminance = 255 - gray, LEVELS[::-1]
        ink = background - luminance
    else:
        levels, luminance = gray, LEVELS
        ink = luminance - background
    span = max(background, 1 - background)
    return levels, np.clip(ink / span, 0.0, 1.0).astype(np.float32)


def _middle_values(values):
    """The one or two middle values of an array, whose mean is its median."""
    flat, n = values.ravel(), values.size
    middle = sorted({(n - 1) // 2, n // 2})
    return np.partition(flat, middle)[middle]


def _check_ink(levels, table):
    """Refuse a drawing without one digit; return the box of its crop, the
    pixels holding more than INK_LEVEL / 4 of ink: (top, bottom, left,
    right), bottom and right past its last row and column."""
    left, top, width, height = _box_at_or_above(
        levels, _first_level_above(table, INK_LEVEL / 4))
    crop = levels[top : top + height, left : left + width]
    inked = _first_level_above(table, INK_LEVEL)
    _, _, inked_width, inked_height = _box_at_or_above(crop, inked)  # inside the crop
    if inked_width == 0:
        raise SketchError("The canvas is empty: draw a digit on it.")
    edge = np.concatenate([levels[0], levels[-1], levels[:, 0], levels[:, -1]])
    most = MAX_COVER * levels.size
    inked_count = inked_height * inked_width  # the ink's box: no fewer
    if inked_count > most:  # only then can the count itself be too many
        inked_count = np.count_nonzero(crop >= inked)
    if inked_count > most or np.count_nonzero(edge >= inked) > MAX_EDGE_INK * edge.size:
        raise SketchError(
            "The canvas is almost all ink: clear it and draw a single digit."
        )
    if max(inked_height, inked_width) < 4:
        raise SketchError("That is only a dot: draw the whole digit, larger.")
    return top, top + height, left, left + width


def _box_at_or_above(levels, level):
    """(left, top, width, height) of the pixels at `level` or above, all
    zero when none is."""
    if level > 255 or levels.size == 0:
        return 0, 0, 0, 0
    # for 8-bit images OpenCV keeps the pixels above the threshold's floor
    mask = cv2.threshold(levels, level - 1, 255, cv2.THRESH_BINARY)[1]
    return cv2.boundingRect(mask)


def _first_level_above(table, ink):
    """The lowest level holding more than `ink` (256 if none does)."""
    if table is LEVELS:  # a transparent canvas's alpha: known in advance
        return _LEVELS_ABOVE[ink]
    return int(np.searchsorted(table, np.float32(ink), side="right"))


_LEVELS_ABOVE = {ink: int(np.searchsorted(LEVELS, np.float32(ink), side="right"))
                 for ink in (INK_LEVEL, INK_LEVEL / 4)}


def _to_image_array(value):
    """Any accepted drawing as a uint8 (H, W) or (H, W, 1..4) array."""
    if value is None:
        raise SketchError("Nothing was drawn: draw a digit on the canvas.")
    if isinstance(value, dict):
        value = _flatten_editor_value(value)
    if isinstance(value, (str, Path)):
        value = _open_image(value)
    if isinstance(value, Image.Image):
        value = _image_to_array(value)
    if not isinstance(value, np.ndarray):
        raise SketchError(
            f"Expected a drawing (an image), but got {type(value).__name__}."
        )
    _check_array(value)
    if max(value.shape[:2]) > MAX_SIDE:
        value = _shrink(value)
    return value if value.dtype == np.uint8 else _to_uint8(value)


def _image_to_array(image):
    """A PIL image as an array: L, LA, RGB and RGBA as they are, others as RGBA."""
    if image.mode not in ("L", "LA", "RGB", "RGBA"):
        image = image.convert("RGBA")
    return np.asarray(image)


def _to_uint8(array):
    """Any numeric image array as uint8: 0..1 if no value exceeds 1, else 0..255."""
    x = array.astype(np.float32)
    if x.max() > 1.0:
        x /= 255.0
    x = np.clip(np.nan_to_num(x), 0.0, 1.0)
    return np.round(x * 255).astype(np.uint8)


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


def _to_rgba(value):
    """One layer of an editor value as a float32 (H, W, 4) array in 0..1."""
    image = _to_image_array(value).astype(np.float32) / 255
    if image.ndim == 2:
        image = image[..., None]
    channels = image.shape[2]
    gray_or_rgb = image[..., :3] if channels >= 3 else np.repeat(image[..., :1], 3, 2)
    alpha = image[..., -1:] if channels in (2, 4) else np.ones_like(image[..., :1])
    return np.concatenate([gray_or_rgb, alpha], axis=2)


def _open_image(path):
    path = Path(path)
    if not path.is_file():
        raise SketchError(f"There is no image file at {path}.")
    try:
        with Image.open(path) as image:
            _check_pixel_count(image.width, image.height)
            return _image_to_array(image)
    except Image.DecompressionBombError as error:  # PIL refuses before we look
        raise SketchError(_too_large(path.name)) from error
    except (UnidentifiedImageError, OSError) as error:
        raise SketchError(
            f"Could not read {path.name} as an image (PNG, JPEG, ...)."
        ) from error


def check_image_size(source):
    """Refuse an image file (a path, or its bytes) over MAX_PIXELS from its
    header alone, before anything decodes it whole; SketchError when it is
    too large. Whether it is a readable image is left to whoever reads it."""
    opened = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with Image.open(opened) as image:
            _check_pixel_count(image.width, image.height)
    except Image.DecompressionBombError as error:
        raise SketchError(_too_large("The image")) from error
    except (UnidentifiedImageError, OSError):
        pass


def _check_pixel_count(width, height):
    if width * height > MAX_PIXELS:
        raise SketchError(_too_large(f"The {width}x{height} image"))


def _too_large(what):
    return f"{what} is too large to read: use one under 40 megapixels."


def _check_array(array):
    if array.dtype == object or array.size == 0 or array.ndim not in (2, 3):
        raise SketchError(
            f"Expected an image array of shape (H, W) or (H, W, C), got {array.shape}."
        )
    if array.ndim == 3 and array.shape[2] not in (1, 2, 3, 4):
        raise SketchError(f"An image has 1 to 4 channels; this one has {array.shape[2]}.")


def _shrink(array):
    """A large image array as uint8, shrunk so its longer side is MAX_SIDE."""
    if array.dtype != np.uint8:
        peak = 255.0 if np.nanmax(array) > 1.0 else 1.0
        array = np.clip(np.nan_to_num(array) * (255.0 / peak), 0, 255).astype(np.uint8)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    image = Image.fromarray(array)
    scale = MAX_SIDE / max(image.size)
    if min(image.size) * scale < MIN_SHRUNK_SIDE:  # its strokes would fade away
        raise SketchError(
            f"A {image.width} x {image.height} px image is too long and thin to "
            "read: crop it closer to the digit."
        )
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return np.asarray(image.resize(size, Image.Resampling.BOX))


def _distance_to_background(work):
    """Each pixel's Euclidean distance to the nearest non-ink one, with a
    one-pixel margin of background around the ink map: the float64 values
    ndimage.distance_transform_edt gives, 2-3x faster."""
    return np.sqrt(_squared_distance_to_background(work), dtype=np.float64)


def _squared_distance_to_background(work):
    """The squares of _distance_to_background, float32 whole numbers.

    OpenCV's exact transform returns float32 values that may differ by one
    unit in the last place for equal distances, which would move the ridges
    stroke_width looks for; a squared distance is a whole number of pixels,
    so rounding it makes equal ones equal again. Squares order and compare
    as the distances do, so the ridges and the widest disc are found on
    them, and only the few distances used are square-rooted.
    """
    mask = cv2.copyMakeBorder((work > INK_LEVEL).view(np.uint8), 1, 1, 1, 1,
                              cv2.BORDER_CONSTANT, value=0)
    squared = cv2.distanceTransform(mask, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    np.square(squared, out=squared)
    return np.rint(squared, out=squared)


def _is_dot(squared, shape):
    """True when one blob of ink nearly fills its box: a tap, not a digit."""
    return 2 * math.sqrt(squared.max()) >= DOT_FILL * max(shape)


def _stroke_width(squared):
    mask = squared > 0
    if not mask.any():
        return 0.0
    ridge = mask & (squared >= cv2.dilate(squared, RIDGE_WINDOW,
                                          borderType=cv2.BORDER_REFLECT))
    # np.median, without the generality that costs it ~0.1 ms a call
    middle = np.sqrt(_middle_values(squared[ridge]), dtype=np.float64)
    return float(2 * middle.mean() - 1)


def _normalize_stroke(work, squared):
    radius = (PEN - _stroke_width(squared)) / 2
    if abs(radius) < 0.75:
        return work
    if radius > 0:
        return _filter_by_disk(work, radius, cv2.dilate)
    thinned = _filter_by_disk(work, -radius, cv2.erode)
    kept = (thinned > INK_LEVEL).sum() > 0.3 * (work > INK_LEVEL).sum()
    return thinned if kept else work


def _filter_by_disk(image, radius, cv2_filter):
    """Grey dilation (cv2.dilate) or erosion (cv2.erode) of a float image by
    _disk(radius), borders reflected: what ndimage.grey_dilation and
    grey_erosion give with the disc as footprint, several times faster."""
    return cv2_filter(image, _disk(radius),
                      borderType=cv2.BORDER_REFLECT)


def _crop_to_ink(ink):
    """The box of the pixels holding more than INK_LEVEL / 4 of ink."""
    mask = cv2.threshold(ink, INK_LEVEL / 4, 255, cv2.THRESH_BINARY)[1]
    left, top, width, height = cv2.boundingRect(mask.astype(np.uint8))
    return ink[top : top + height, left : left + width]


def _resize(ink, scale):
    """Resize a 2-D ink map (float, or uint8 levels) by `scale`, float32 out,
    as Pillow's resize would: its BOX filter when shrinking, BILINEAR when
    enlarging."""
    height, width = ink.shape
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if scale < 1:
        return _box_shrink(ink, size)
    image = Image.fromarray(ink if ink.dtype == np.uint8 else ink.astype(np.float32))
    return np.asarray(image.convert("F").resize(size, Image.Resampling.BILINEAR))


def _box_shrink(ink, size):
    """Pillow's BOX resize to `size` (width, height), from sums over an
    integral image: each output pixel is the mean of the run of input pixels
    whose centres fall in its box, along each axis (to ~1e-7 of Pillow's
    float32 sums; in ~half the time for the canvas crop, a third for 80 px)."""
    rows_first, rows_last, rows_share = _box_runs(ink.shape[0], size[1])
    cols_first, cols_last, cols_share = _box_runs(ink.shape[1], size[0])
    # sums[y, x]: of ink[:y, :x]; exact whole numbers for uint8 levels
    sums = cv2.integral(ink, sdepth=cv2.CV_32S if ink.dtype == np.uint8 else cv2.CV_64F)
    band = sums.take(rows_last, axis=0) - sums.take(rows_first, axis=0)
    means = (band.take(cols_last, axis=1) - band.take(cols_first, axis=1)) * cols_share
    means *= rows_share[:, None]
    return means.astype(np.float32)


@functools.lru_cache(maxsize=4096)  # drawings of every size: a few thousand
def _box_runs(in_size, out_size):
    """(first, last, share): for each of out_size pixels, the run of
    in_size pixels [first, last) Pillow's BOX filter averages, and the
    weight of each pixel in it, 1 / its length.

    Pillow's precompute_coeffs in double precision, step by step: a window
    around each output pixel's centre, and in it the pixels whose box weight
    is 1, a run since the weight falls off on both sides.
    """
    scale = in_size / out_size
    filter_scale = max(scale, 1.0)
    support = 0.5 * filter_scale
    reciprocal = 1.0 / filter_scale
    centre = (np.arange(out_size) + 0.5) * scale
    start = np.maximum((centre - support + 0.5).astype(np.int64), 0)  # C's (int)
    stop = np.minimum((centre + support + 0.5).astype(np.int64), in_size)
    pixel = start[:, None] + np.arange(2 * math.ceil(support) + 1)
    weight = (pixel - centre[:, None] + 0.5) * reciprocal
    inside = (pixel < stop[:, None]) & (weight > -0.5) & (weight <= 0.5)
    count = inside.sum(axis=1)
    first = start + inside.argmax(axis=1)  # an empty run sums to 0 at start
    return first, first + count, 1.0 / np.maximum(count, 1)


def _center_of_mass_frame(digit):
    """Place `digit` in a FRAME x FRAME canvas with its centre of mass centred.

    What ndimage.shift(order=1) gives for the digit centred in the frame and
    moved by its centre of mass, to ~1e-7, in a fraction of its time: the
    digit lands at a fractional row and column, so each frame pixel mixes two
    neighbouring digit rows, then two columns, by the fractions' weights.
    """
    moments = cv2.moments(digit)  # sums of ink, and of ink times x and y
    mass = moments["m00"]
    if mass <= 0:
        return np.zeros((FRAME, FRAME), np.float32)
    height, width = digit.shape
    # where the digit's first row and column land: its centre of mass at the
    # frame's centre (the box centred first, then shifted, as MNIST did)
    y = FRAME / 2 - 0.5 - moments["m01"] / mass
    x = FRAME / 2 - 0.5 - moments["m10"] / mass
    top, left = math.floor(y), math.floor(x)
    fy, fx = y - top, x - left
    padded = cv2.copyMakeBorder(digit, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    mixed = cv2.addWeighted(padded[1:], 1 - fy, padded[:-1], fy, 0)
    mixed = cv2.addWeighted(mixed[:, 1:], 1 - fx, mixed[:, :-1], fx, 0)
    frame = np.zeros((FRAME, FRAME), np.float32)
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + height + 1, FRAME), min(left + width + 1, FRAME)
    if y0 < y1 and x0 < x1:
        frame[y0:y1, x0:x1] = mixed[y0 - top : y1 - top, x0 - left : x1 - left]
    peak = frame.max()
    if peak > 0:
        frame /= peak  # non-negative weights of non-negative ink: 0..1
    return frame


def _disk(radius):
    """The uint8 footprint of the pixels within `radius` (+ half a pixel
    squared) of the centre; read-only, shared between calls."""
    # a pixel's squared distance is whole: its reach and the largest whole
    # squared distance inside fix the disc, so nearby radii share one
    return _disk_of(math.ceil(radius), math.floor(radius * radius + 0.5))


@functools.lru_cache(maxsize=256)  # drawings need a few dozen discs at most
def _disk_of(reach, most):
    x = np.arange(-reach, reach + 1)
    disk = (x * x + (x * x)[:, None] <= most).view(np.uint8)
    disk.flags.writeable = False
    return disk
