"""Draw digits as a person would on a canvas, for the tests.

Strokes are polylines in a unit box (x right, y down); `draw` scales them
onto a canvas of any size, at any position, with a round brush of any width.
Pen-drawn digits from the pendigits set are used too when the shared data is
present (DIGITS_PENDIGITS and DIGITS_RENDER_TOOL, set by .ci/run).
"""

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

def arc(cx, cy, rx, ry, start, end, n=24):
    """Points along an ellipse; angles in turns, 0 at the top, clockwise."""
    turns = np.linspace(start, end, n) * 2 * np.pi
    return [(cx + rx * np.sin(t), cy - ry * np.cos(t)) for t in turns]


# Hand-placed strokes of each digit, in a unit box, as a person pens them.
STROKES = {
    0: [arc(0.5, 0.5, 0.35, 0.5, 0, 1, 40)],
    1: [[(0.35, 0.2), (0.55, 0.0), (0.55, 1.0)]],
    2: [arc(0.5, 0.28, 0.3, 0.28, -0.2, 0.3) + [(0.15, 1.0), (0.85, 1.0)]],
    3: [arc(0.45, 0.25, 0.3, 0.25, -0.2, 0.5) + arc(0.45, 0.74, 0.33, 0.26, 0.0, 0.7)],
    4: [[(0.6, 0.0), (0.0, 0.65), (0.85, 0.65)], [(0.62, 0.3), (0.62, 1.0)]],
    5: [[(0.8, 0.0), (0.25, 0.0), (0.2, 0.42)]
        + arc(0.45, 0.68, 0.33, 0.32, -0.2, 0.62)],
    6: [[(0.7, 0.0), (0.3, 0.4)] + arc(0.48, 0.7, 0.3, 0.3, -0.2, 0.85, 32)],
    7: [[(0.0, 0.0), (0.8, 0.0), (0.3, 1.0)], [(0.2, 0.5), (0.7, 0.5)]],
    8: [arc(0.5, 0.24, 0.25, 0.24, 0.5, 1.5, 32), arc(0.5, 0.74, 0.3, 0.26, 0, 1, 32)],
    9: [arc(0.45, 0.3, 0.3, 0.3, 0.25, 1.25, 32) + [(0.75, 0.3), (0.7, 1.0)]],
}


def draw(digit, canvas=400, brush=14, box=0.6, centre=(0.5, 0.5),
         ink=0, paper=255, size=None):
    """An (H, W) uint8 drawing of one of STROKES' digits."""
    width, height = size or (canvas, canvas)
    image = Image.new("L", (width, height), paper)
    pen = ImageDraw.Draw(image)
    scale = box * min(width, height)
    x0, y0 = centre[0] * width - scale / 2, centre[1] * height - scale / 2
    for stroke in STROKES[digit]:
        points = [(x0 + x * scale, y0 + y * scale) for x, y in stroke]
        pen.line(points, fill=ink, width=brush, joint="curve")
        for x, y in points:
            r = brush / 2
            pen.ellipse((x - r, y - r, x + r, y + r), fill=ink)
    return np.asarray(image)


def pendigits():
    """(samples, render_strokes module) when the shared data is at hand, else None."""
    data = os.environ.get("DIGITS_PENDIGITS")
    tool = os.environ.get("DIGITS_RENDER_TOOL")
    if not (data and tool and Path(data).is_file() and Path(tool).is_file()):
        return None
    spec = importlib.util.spec_from_file_location("render_strokes", tool)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return json.loads(Path(data).read_text()), module


NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def write_examples(folder):
    """Write examples/<name>.png: each digit penned on a 400 px canvas, 18 px brush."""
    folder = Path(folder)
    for digit, name in enumerate(NAMES):
        Image.fromarray(draw(digit, brush=18)).save(folder / f"{name}.png")


if __name__ == "__main__":
    import sys

    write_examples(sys.argv[1] if len(sys.argv) > 1 else "examples")
