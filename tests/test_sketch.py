"""digits.sketch: every drawing Gradio can send becomes MNIST-like input."""

import io
import re

import cv2
import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

import sketch_reference
from digits import sketch
from drawing import STROKES, draw, pendigits

TOLERANCE = 0.08  # mean absolute pixel difference allowed between two inputs
# (a 30 px brush on a 400 px canvas rounds the ends and narrows the loops of a
# digit drawn 240 px tall; that shape change alone costs up to ~0.07)


def close(a, b):
    return float(np.abs(a - b).mean()) < TOLERANCE


def rgba_on_transparent(gray):
    """Black strokes on a transparent canvas, as the Sketchpad layers hold them."""
    alpha = 255 - gray
    return np.dstack([np.zeros_like(gray)] * 3 + [alpha])


def test_output_is_28x28_float32_white_on_black():
    digit = sketch.to_digit(draw(7))
    assert digit.shape == (28, 28) and digit.dtype == np.float32
    assert digit.min() == 0.0 and digit.max() == pytest.approx(1.0)
    assert digit[0].max() == 0.0 and digit[:, 0].max() == 0.0  # black border


def test_longer_side_fits_20_pixels():
    rows, cols = np.nonzero(sketch.to_digit(draw(1)) > 0.05)
    assert 19 <= np.ptp(rows) + 1 <= 21
    assert np.ptp(cols) + 1 < 14  # aspect ratio kept: a "1" stays narrow


def test_centre_of_mass_is_the_frame_centre():
    digit = sketch.to_digit(draw(4, centre=(0.3, 0.7), box=0.35))
    assert np.allclose(ndimage.center_of_mass(digit), (13.5, 13.5), atol=0.5)


@pytest.mark.parametrize("digit", sorted(STROKES))
@pytest.mark.parametrize(
    "change",
    [dict(canvas=280), dict(canvas=800), dict(brush=6), dict(brush=30),
     dict(canvas=800, brush=30), dict(centre=(0.3, 0.7), box=0.35),
     dict(size=(600, 300))],
    ids=["canvas280", "canvas800", "brush6", "brush30", "canvas800-brush30",
         "small-off-centre", "non-square"],
)
def test_canvas_brush_and_position_barely_change_the_input(digit, change):
    assert close(sketch.to_digit(draw(digit, **change)), sketch.to_digit(draw(digit)))


def test_light_ink_on_dark_equals_dark_ink_on_light():
    dark_on_light = sketch.to_digit(draw(7))
    light_on_dark = sketch.to_digit(draw(7, ink=255, paper=0))
    assert np.allclose(dark_on_light, light_on_dark, atol=1e-6)


def test_every_gradio_value_shape_gives_the_same_digit():
    gray = draw(4)
    reference = sketch.to_digit(gray)
    rgba = rgba_on_transparent(gray)
    white = np.full_like(rgba, 255)
    values = {
        "L": gray,
        "L with channel axis": gray[..., None],
        "RGB": np.dstack([gray] * 3),
        "RGBA transparent": rgba,
        "LA transparent": np.dstack([np.zeros_like(gray), 255 - gray]),
        "float 0..1": gray.astype(np.float32) / 255,
        "PIL": Image.fromarray(gray),
        "PIL RGBA": Image.fromarray(rgba),
        "editor composite": {"background": white, "layers": [rgba], "composite": rgba},
        "editor layers only": {"background": white, "layers": [rgba], "composite": None},
    }
    for name, value in values.items():
        assert close(sketch.to_digit(value), reference), name


def test_image_file_path_is_read(tmp_path):
    path = tmp_path / "seven.png"
    Image.fromarray(draw(7)).save(path)
    assert close(sketch.to_digit(str(path)), sketch.to_digit(draw(7)))


def test_huge_upload_is_shrunk_not_refused():
    huge = draw(7, canvas=4000, brush=120)
    assert close(sketch.to_digit(huge), sketch.to_digit(draw(7)))


def test_a_long_thin_image_is_refused_not_read_as_empty():
    strip = np.full((10, 100_000), 255, np.uint8)
    strip[4:7, 1_000:99_000] = 0  # a 3 px line, which a shrink to 1,024 px fades
    with pytest.raises(sketch.SketchError, match="100000 x 10 px image is too long "
                                                 "and thin to read"):
        sketch.to_digit(strip)
    tall_one = np.full((2_000, 40), 255, np.uint8)  # shrunk, still 20 px wide
    tall_one[100:1_900, 15:25] = 0
    assert sketch.to_digit(tall_one).max() > 0.5


@pytest.mark.parametrize(
    "value, sentence",
    [
        (None, "Nothing was drawn"),
        (np.full((400, 400), 255, np.uint8), "The canvas is empty"),
        (np.zeros((400, 400, 4), np.uint8), "The canvas is empty"),
        ({"background": None, "layers": [], "composite": None}, "Nothing was drawn"),
        ("no-such-file.png", "There is no image file at no-such-file.png"),
        (42, "Expected a drawing (an image), but got int"),
        (np.zeros((5, 5, 7)), "An image has 1 to 4 channels"),
    ],
    ids=["none", "blank", "blank-transparent", "empty-editor", "missing-file",
         "number", "seven-channels"],
)
def test_unreadable_input_gets_a_sentence(value, sentence):
    with pytest.raises(sketch.SketchError, match=re.escape(sentence)):
        sketch.to_digit(value)


def test_canvas_full_of_ink_is_refused():
    canvas = rgba_on_transparent(np.full((400, 400), 255, np.uint8))
    canvas[..., 3] = 255
    canvas[:40, :40, 3] = 0  # a corner left blank
    with pytest.raises(sketch.SketchError, match="almost all ink"):
        sketch.to_digit(canvas)


def test_single_dot_is_refused():
    dot = np.full((400, 400), 255, np.uint8)
    dot[190:210, 190:210] = 0
    with pytest.raises(sketch.SketchError, match="only a dot"):
        sketch.to_digit(dot)


def test_corrupt_file_is_refused(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png")
    with pytest.raises(sketch.SketchError, match="Could not read broken.png"):
        sketch.to_digit(path)


def test_jpeg_with_grey_paper_reads_like_the_png():
    buffer = io.BytesIO()
    Image.fromarray(np.clip(draw(0).astype(int) - 40, 0, 255).astype(np.uint8)).save(
        buffer, "JPEG", quality=80
    )
    buffer.seek(0)
    assert close(sketch.to_digit(Image.open(buffer)), sketch.to_digit(draw(0)))


pen = pendigits()


@pytest.mark.skipif(pen is None, reason="set DIGITS_PENDIGITS and DIGITS_RENDER_TOOL")
@pytest.mark.parametrize("index", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
def test_pen_drawn_digit_reads_alike_on_any_canvas(index):
    samples, tool = pen
    sample = samples[index * 700]

    def render(size, width, **kw):
        image, _ = tool.render_sample(sample, size=size, width=width, y_up=True, **kw)
        return sketch.to_digit(np.asarray(image))

    reference = render(400, 12)
    for size, width in [(280, 6), (800, 30), (400, 24), (800, 8)]:
        assert close(render(size, width), reference), (size, width)


def test_opaque_scribble_over_the_whole_canvas_is_refused():
    scribble = np.zeros((400, 400), np.uint8)  # black ink everywhere ...
    scribble[:60, :60] = 255  # ... but a white corner
    scribble[-30:, 200:260] = 255  # and a gap at the bottom edge
    with pytest.raises(sketch.SketchError, match="almost all ink"):
        sketch.to_digit(scribble)


@pytest.mark.parametrize("mode, side", [("L", 9000), ("1", 14000)],
                         ids=["over-our-limit", "over-pillows-bomb-limit"])
def test_gigantic_image_file_is_refused_by_its_size(tmp_path, mode, side):
    path = tmp_path / "gigantic.png"
    Image.new(mode, (side, side), 1).save(path)
    with pytest.raises(sketch.SketchError, match="too large to read: use one under 40"):
        sketch.to_digit(path)


# the fast path gives what the plain per-pixel computation gives


def as_sent(gray, how):
    """A black-on-white (H, W) drawing as one of the ways an image reaches us."""
    if how == "sketchpad":  # strokes' alpha on a transparent canvas, RGBA
        return rgba_on_transparent(gray)
    if how == "light on dark":
        return 255 - gray
    if how == "opaque RGBA":
        return np.dstack([gray] * 3 + [np.full_like(gray, 255)])
    return gray


READ_AS = ["sketchpad", "dark on light", "light on dark", "opaque RGBA"]


@pytest.mark.skipif(pen is None, reason="set DIGITS_PENDIGITS and DIGITS_RENDER_TOOL")
@pytest.mark.parametrize("how", READ_AS)
@pytest.mark.parametrize("size, width, jitter", [(400, 12, True), (280, 6, False),
                                                 (800, 30, True), (600, 20, True)])
def test_pen_drawn_digits_read_as_the_plain_computation_reads_them(how, size, width,
                                                                   jitter):
    samples, tool = pen
    for index in range(0, len(samples), len(samples) // 12):  # across the writers
        rng = tool.sample_rng(0, index) if jitter else None
        image, _ = tool.render_sample(samples[index], size=size, width=width,
                                      y_up=True, rng=rng)
        value = as_sent(np.asarray(image.convert("L")), how)
        expected = sketch_reference.to_digit(value)
        assert not isinstance(expected, str), expected
        np.testing.assert_allclose(sketch.to_digit(value), expected, atol=1e-5)


def refusal_or_digit(function, value):
    try:
        return function(value)
    except sketch.SketchError as error:
        return str(error)


@pytest.mark.parametrize("seed", range(6))
def test_refusals_and_digits_are_those_of_the_plain_computation(seed):
    rng = np.random.default_rng(seed)
    drawings = [draw(int(rng.integers(10)), canvas=int(rng.integers(30, 300)),
                     brush=int(rng.integers(1, 50)), box=float(rng.uniform(0.02, 1)),
                     centre=tuple(rng.uniform(0.1, 0.9, 2)))
                for _ in range(20)]
    drawings += [(rng.random((120, 90)) < rng.random()).astype(np.uint8) * 255
                 for _ in range(10)]  # specks, scribbles, all ink
    drawings += [draw(int(rng.integers(10)), ink=int(rng.integers(90, 230)))
                 for _ in range(4)]  # too faint to count as ink, or just enough
    for gray in drawings:
        for how in READ_AS:
            value = as_sent(gray, how)
            expected = sketch_reference.to_digit(value)
            got = refusal_or_digit(sketch.to_digit, value)
            if isinstance(expected, str):
                assert got == expected
            else:
                np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("radius", [0.8, 1.2, 2.0, 2.7, 3.5, 4.6, 7.3])
def test_disc_filters_equal_scipys_grey_dilation_and_erosion(radius):
    image = np.random.default_rng(0).random((80, 57)).astype(np.float32)
    disc = sketch_reference.disc_footprint(radius)
    dilated = sketch._filter_by_disk(image, radius, cv2.dilate)
    eroded = sketch._filter_by_disk(image, radius, cv2.erode)
    assert np.array_equal(dilated, ndimage.grey_dilation(image, footprint=disc))
    assert np.array_equal(eroded, ndimage.grey_erosion(image, footprint=disc))


@pytest.mark.parametrize("ink_share", [0.3, 0.6, 0.9])
def test_distances_to_the_background_equal_scipys_exactly(ink_share):
    rng = np.random.default_rng(1)
    work = ndimage.uniform_filter(rng.random((80, 61)), 7).astype(np.float32)
    work = (work > np.quantile(work, 1 - ink_share)).astype(np.float32)  # blobs
    expected = ndimage.distance_transform_edt(np.pad(work > sketch.INK_LEVEL, 1))
    assert np.array_equal(sketch._distance_to_background(work), expected)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_shrinking_equals_pillows_box_resize(dtype):
    rng = np.random.default_rng(2)
    shapes = [(400, 400), (213, 77), (80, 80), (80, 20), (41, 3), (2, 2)]
    for height, width in shapes:
        ink = (rng.integers(0, 256, (height, width)) if dtype == np.uint8
               else rng.random((height, width))).astype(dtype)
        image = Image.fromarray(ink).convert("F")
        for scale in (0.999, 0.6, 0.5, 0.25, 0.2, 0.137, 0.05):
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            expected = np.asarray(image.resize(size, Image.Resampling.BOX))

            shrunk = sketch._resize(ink, scale)

            assert shrunk.dtype == np.float32
            np.testing.assert_allclose(shrunk, expected, rtol=1e-6, atol=1e-4)


def test_centring_equals_ndimage_shift():
    rng = np.random.default_rng(3)
    for height, width in [(20, 20), (20, 7), (11, 20), (20, 1), (3, 20)]:
        digit = rng.random((height, width)).astype(np.float32)
        digit[:, : width // 3] *= 5  # a centre of mass well off the middle
        np.testing.assert_allclose(sketch._center_of_mass_frame(digit),
                                   sketch_reference.centre_of_mass_frame(digit),
                                   atol=1e-6)
