"""digits.strokes and the drawn-digit helpers in digits.data."""

import numpy as np
import pytest

from digits import data, sketch, strokes
from drawing import STROKES, pendigits

# tests/drawing.py's strokes as a drawn-digit set: unit box, y down.
SAMPLES = [
    {"label": digit, "writer": f"w{digit % 5:02d}",
     "strokes": [[[x, y] for x, y in stroke] for stroke in STROKES[digit]]}
    for digit in sorted(STROKES)
]


def test_drawing_fills_the_asked_share_of_the_canvas():
    image = strokes.draw_strokes(SAMPLES[1]["strokes"],
                                 strokes.Canvas(size=300, brush=10, fill=0.5),
                                 y_up=False)
    rows, cols = np.nonzero(image < 128)
    assert image.shape == (300, 300) and image.dtype == np.uint8
    assert 150 <= np.ptp(rows) + 1 <= 150 + 10 + 2  # the box plus the brush


def test_light_ink_canvas_is_the_negative_of_the_dark_one():
    pen = SAMPLES[7]["strokes"]
    dark = strokes.draw_strokes(pen, strokes.Canvas(), y_up=False)
    light = strokes.draw_strokes(pen, strokes.Canvas(dark_ink=False), y_up=False)
    assert np.abs(dark.astype(int) + light.astype(int) - 255).max() <= 1


def test_y_up_strokes_are_flipped():
    pen = SAMPLES[7]["strokes"]
    down = strokes.draw_strokes(pen, strokes.Canvas(), y_up=False)
    up = strokes.draw_strokes(pen, strokes.Canvas(), y_up=True)
    flipped = sketch.to_digit(np.ascontiguousarray(down[::-1]))
    assert np.abs(flipped - sketch.to_digit(up)).mean() < 0.02


def test_random_canvases_keep_the_drawing_on_the_canvas():
    rng = np.random.default_rng(0)
    for _ in range(50):
        canvas = strokes.random_canvas(rng)
        image = strokes.draw_strokes(SAMPLES[0]["strokes"], canvas, y_up=False)
        ink = image < 128 if canvas.dark_ink else image > 127
        assert 280 <= canvas.size <= 800
        assert not (ink[0].any() or ink[-1].any() or ink[:, 0].any() or ink[:, -1].any())


def test_writers_split_into_two_disjoint_sides():
    train, held_out = data.split_writers(SAMPLES, holdout=2)
    assert held_out == ["w03", "w04"] and train == ["w00", "w01", "w02"]


def test_rendered_drawn_digits_are_model_inputs_with_their_labels():
    images, labels = data.render_drawn(SAMPLES, copies=2, seed=1)
    assert images.shape == (20, 28, 28) and images.dtype == np.float32
    assert list(labels) == [d for d in sorted(STROKES) for _ in range(2)]
    assert np.allclose(images[0], sketch.to_digit(
        strokes.draw_strokes(SAMPLES[0]["strokes"],
                             strokes.random_canvas(np.random.default_rng(1_000_003)))),
        atol=1e-6)


def test_missing_drawn_file_is_named(tmp_path):
    with pytest.raises(data.DataError, match="No drawn-digit file at"):
        data.load_drawn_file(tmp_path / "none.json")


pen = pendigits()


@pytest.mark.skipif(pen is None, reason="set DIGITS_PENDIGITS and DIGITS_RENDER_TOOL")
def test_pendigits_split_holds_out_ten_of_thirty_writers():
    samples, _ = pen
    train, held_out = data.split_writers(samples)
    assert len(train) == 20 and len(held_out) == 10
    assert not set(train) & set(held_out)
