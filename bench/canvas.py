"""Real pen-drawn digits as the Draw tab's Sketchpad sends them, for the
speed benchmarks (latency.py, roundtrip.py, load.py).

Each drawing is a held-out pendigits writer's digit (digits.data.split_writers)
penned in black on a transparent 400 px canvas, the app's own canvas, at a
random size (35-85 % of the side) and place, with a 8-16 px brush: the RGBA
pixels the browser exports, or the PNG it uploads.
"""

import io
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from digits import data, strokes  # noqa: E402

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
CANVAS = 400  # side, pixels: app.CANVAS
BRUSHES = (8.0, 16.0)  # stroke widths, pixels
FILLS = (0.35, 0.85)  # the drawing's longer side, as a fraction of the canvas


def add_arguments(parser, count=None):
    """The options the speed benchmarks share: how many drawings (unless
    `count` is None), and from where."""
    if count is not None:
        parser.add_argument("--drawings", type=int, default=count,
                            help=f"how many drawings to send (default {count})")
    parser.add_argument("--pendigits", default=os.environ.get(
        "DIGITS_PENDIGITS", SHARED / "data/pendigits_train.json"),
        help="drawn-digit JSON (UCI pendigits layout); DIGITS_PENDIGITS")


def pen_drawings(path, count, seed=0):
    """(labels (count,), canvases: list of (400, 400, 4) uint8 RGBA arrays)."""
    samples = data.load_drawn_file(path)
    held_out = set(data.split_writers(samples)[1])
    samples = [s for s in samples if s["writer"] in held_out]
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(samples), count, replace=count > len(samples))
    labels, canvases = [], []
    for index in chosen:
        gray = strokes.draw_strokes(samples[index]["strokes"], _random_canvas(rng))
        canvases.append(_on_transparent(gray))
        labels.append(samples[index]["label"])
    return np.array(labels), canvases


def sketchpad_value(rgba):
    """What the Draw tab's handler receives for one drawing (type="numpy",
    image_mode="RGBA"): a transparent background, the strokes' layer, and
    their composite."""
    return {"background": np.zeros_like(rgba), "layers": [rgba], "composite": rgba}


def png_bytes(rgba):
    """The drawing as the PNG file the browser uploads."""
    buffer = io.BytesIO()
    Image.fromarray(rgba).save(buffer, "PNG")
    return buffer.getvalue()


def percentiles(milliseconds):
    """(median, p95) of a list of times."""
    return tuple(float(np.percentile(milliseconds, q)) for q in (50, 95))


def machine_speed():
    """A line saying how fast this machine runs plain Python right now: the
    best of 5 times of a loop of 1,000,000 additions. The virtual machine
    the README's figures come from has run at different speeds on different
    days (the notes' CNN recipe: 46 s one day, 200 s another): the line
    tells runs apart, so that figures are compared with those of a run
    made alongside."""
    best = float("inf")
    for _ in range(5):
        started, total = time.perf_counter(), 0
        for number in range(1_000_000):
            total += number
        best = min(best, time.perf_counter() - started)
    return f"this machine: 1,000,000 Python additions in {1000 * best:.0f} ms"


def _random_canvas(rng):
    brush = float(rng.uniform(*BRUSHES))
    fill = float(rng.uniform(*FILLS))
    room = max(0.0, (1 - fill) / 2 - brush / CANVAS)
    centre = tuple(0.5 + rng.uniform(-room, room, size=2))
    return strokes.Canvas(CANVAS, brush, fill, centre)


def _on_transparent(gray):
    """Black ink whose alpha is the darkness of `gray`, on a clear canvas."""
    rgba = np.zeros((*gray.shape, 4), np.uint8)
    rgba[..., 3] = 255 - gray
    return rgba
