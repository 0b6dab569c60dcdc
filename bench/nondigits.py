"""Drawings that are not one digit, on the Draw tab's 400 px transparent canvas:
letters and signs, numbers of several digits, shapes and random scribbles,
in black strokes about as wide as a pen's (bench/doubt.py, tests/test_doubt.py).

Letters and numbers are glyphs of Pillow's own scalable font, outlined with
the pen, so nothing depends on the fonts a machine has. Letters that people
also write for a digit (O, I, l, S, Z, B, b, G, g, q) are left out.
"""

import math
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFont

CANVAS = 400  # side, pixels: app.CANVAS
PEN = 12  # stroke width, pixels
INK = (0, 0, 0, 255)
LETTERS = "ACDEFHKMNPRTUVWXYaefhkmnprtuvwxy"
SIGNS = "#@%&?!"
NUMBERS = ("12", "45", "78", "30", "96")
SHAPES = ("square", "triangle", "star", "plus", "cross", "grid", "spiral",
          "smiley", "wave", "heart")


def non_digits(scribbles=10, seed=0):
    """{name: (400, 400, 4) uint8 RGBA drawing}, names such as "letter A",
    "number 12", "shape star", "scribble 3"; the category is the first word."""
    drawings = {f"letter {c}": _glyphs(c) for c in LETTERS}
    drawings |= {f"sign {c}": _glyphs(c) for c in SIGNS}
    drawings |= {f"number {n}": _glyphs(n) for n in NUMBERS}
    drawings |= {f"shape {shape}": _shape(shape) for shape in SHAPES}
    rng = random.Random(seed)
    for index in range(scribbles):
        points = [(rng.uniform(60, 340), rng.uniform(60, 340))
                  for _ in range(rng.randint(5, 12))]
        drawings[f"scribble {index}"] = _drawn(lambda pen: pen.line(points, INK, PEN))
    return drawings


def _glyphs(text):
    size = 260 if len(text) == 1 else 520 // len(text)
    font = ImageFont.load_default(size=size)
    return _drawn(lambda pen: pen.text(
        (CANVAS / 2, CANVAS / 2), text, INK, font, anchor="mm",
        stroke_width=PEN // 2, stroke_fill=INK))


def _shape(kind):
    def draw(pen):
        line = dict(fill=INK, width=PEN)
        if kind == "square":
            pen.rectangle((100, 100, 300, 300), outline=INK, width=PEN)
        elif kind == "triangle":
            pen.line([(200, 80), (320, 320), (80, 320), (200, 80)], **line)
        elif kind == "star":
            pen.line([_on_circle(130, 90 + 144 * i) for i in range(6)], **line)
        elif kind == "plus":
            pen.line([(200, 80), (200, 320)], **line)
            pen.line([(80, 200), (320, 200)], **line)
        elif kind == "cross":
            pen.line([(100, 100), (300, 300)], **line)
            pen.line([(300, 100), (100, 300)], **line)
        elif kind == "grid":
            for at in (150, 250):
                pen.line([(at, 80), (at, 320)], **line)
                pen.line([(80, at), (320, at)], **line)
        elif kind == "spiral":
            turns = np.linspace(0, 16, 200)
            pen.line([(200 + 8 * t * math.cos(t), 200 + 8 * t * math.sin(t))
                      for t in turns], **line)
        elif kind == "smiley":
            pen.ellipse((80, 80, 320, 320), outline=INK, width=PEN)
            pen.ellipse((150, 150, 170, 170), fill=INK)
            pen.ellipse((230, 150, 250, 170), fill=INK)
            pen.arc((140, 180, 260, 280), 20, 160, fill=INK, width=PEN)
        elif kind == "wave":
            pen.line([(x, 200 + 60 * math.sin(x / 25)) for x in range(60, 341, 4)],
                     **line)
        elif kind == "heart":
            pen.line([_heart(t) for t in np.linspace(0, 2 * math.pi, 100)], **line)
    return _drawn(draw)


def _on_circle(radius, degrees):
    angle = math.radians(degrees)
    return (200 + radius * math.cos(angle), 200 - radius * math.sin(angle))


def _heart(t):
    x = 16 * math.sin(t) ** 3
    y = 13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)
    return (200 + 9 * x, 200 - 9 * y)


def _drawn(draw):
    image = Image.new("RGBA", (CANVAS, CANVAS), (0, 0, 0, 0))
    draw(ImageDraw.Draw(image))
    return np.asarray(image)
