"""Pen strokes replayed onto a canvas, the way a person draws in the app.

Drawn-digit sets (such as UCI's pendigits: a JSON list of {"label",
"writer", "strokes": [[[x, y], ...], ...]}, tablet units, y growing upward)
record where the pen went, not pixels. `draw_strokes` puts such a sample on a
square canvas at a chosen size, brush width, position and polarity, so
training and benchmarks see what the Sketchpad would send.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SUPERSAMPLE = 2  # strokes are drawn this much larger, then shrunk: soft edges


@dataclass(frozen=True)
class Canvas:
    size: int = 400  # side, pixels
    brush: float = 12.0  # stroke width, pixels
    fill: float = 0.7  # the drawing's longer side, as a fraction of the side
    centre: tuple = (0.5, 0.5)  # where the drawing's box centre lands, 0..1
    dark_ink: bool = True  # black on white; False draws white on black


def load_drawn(path):
    """The samples of a drawn-digit JSON file (see the module docstring)."""
    samples = json.loads(Path(path).read_text())
    return samples["samples"] if isinstance(samples, dict) else samples


def draw_strokes(strokes, canvas=Canvas(), y_up=True):
    """An (size, size) uint8 image of `strokes` drawn on `canvas`."""
    k = SUPERSAMPLE
    paper, ink = (255, 0) if canvas.dark_ink else (0, 255)
    image = Image.new("L", (canvas.size * k, canvas.size * k), paper)
    pen = ImageDraw.Draw(image)
    radius = canvas.brush * k / 2
    for path in _place(strokes, canvas, y_up):
        points = [(x * k, y * k) for x, y in path]
        if len(points) > 1:
            pen.line(points, fill=ink, width=round(2 * radius), joint="curve")
        for x, y in points:  # round caps and joins
            pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=ink)
    return np.asarray(image.resize((canvas.size, canvas.size), Image.Resampling.BOX))


def random_canvas(rng, sizes=(280, 800), brushes=(6, 30), fills=(0.35, 0.85)):
    """A Canvas with size, brush, fill, position and polarity drawn from `rng`."""
    size = int(rng.integers(sizes[0], sizes[1] + 1))
    brush = float(rng.uniform(*brushes)) * size / 400
    fill = float(rng.uniform(*fills))
    room = max(0.0, (1 - fill) / 2 - brush / size)
    centre = tuple(0.5 + rng.uniform(-room, room, size=2))
    return Canvas(size, brush, fill, centre, bool(rng.random() < 0.8))


def _place(strokes, canvas, y_up):
    """Scale and move strokes so the drawing's box sits where `canvas` says."""
    points = np.concatenate([np.asarray(s, np.float32) for s in strokes if s])
    low, high = points.min(axis=0), points.max(axis=0)
    scale = canvas.fill * canvas.size / max(float((high - low).max()), 1e-6)
    middle = (low + high) / 2
    target = np.asarray(canvas.centre, np.float32) * canvas.size
    flip = np.array([1, -1 if y_up else 1], np.float32)
    return [
        (np.asarray(s, np.float32) - middle) * flip * scale + target
        for s in strokes
        if s
    ]
