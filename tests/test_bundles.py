"""The bundles an app developer drops in, used the way they would use them.

Android: the zip's digits.json contract is followed in plain Python (NumPy and
Pillow, as a Kotlin port would do it) on drawn digits; the tensor must be the
app's own input, and the int8 .tflite fed through the contract's scale and
zero point must read the digit. Browser: the zip is unpacked, served over
HTTP on 127.0.0.1 and opened in headless Chromium; digits are drawn on its
canvas with the mouse and the page's answer is read back.

Both use the shipped cnn in exports/ (or DIGITS_STORE), skipping without it.
Browser tests are marked `browser`; they run by default.
"""

import base64
import functools
import http.server
import io
import json
import math
import threading
import zipfile

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from digits import export, runtimes, sketch, store
from drawing import STROKES, draw

MODEL = "cnn"
NO_STROKE_STEP_BRUSH = 33  # px on a 400 px canvas: already MNIST's pen at 80 px
CANVAS = 400  # the browser page's canvas side, pixels (its CSS size too)

pytestmark = pytest.mark.skipif(
    not (store.model_dir(MODEL) / "model_int8.tflite").is_file()
    or not (store.model_dir(MODEL) / "tfjs_uint8" / "model.json").is_file(),
    reason=f"no exported {MODEL!r} in {store.store_dir()}; run "
           f"python -m digits export --model {MODEL}",
)


def drawn_canvas(digit, brush=NO_STROKE_STEP_BRUSH, box=0.6):
    """RGBA of `digit` penned in black on a transparent 400 px canvas."""
    gray = draw(digit, brush=brush, box=box)
    return np.dstack([np.zeros_like(gray)] * 3 + [255 - gray])


# android

@pytest.fixture(scope="module")
def android(tmp_path_factory):
    """{name in the zip: bytes} of the int8 Android bundle."""
    path = tmp_path_factory.mktemp("android") / "bundle.zip"
    export.write_android_bundle(store.model_dir(MODEL), "tflite_int8", path)
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.fixture(scope="module")
def contract(android):
    return json.loads(android["digits.json"])


@pytest.fixture(scope="module")
def int8_interpreter(android, tmp_path_factory):
    """The bundle's digits.tflite in a bare LiteRT interpreter, as on a phone."""
    from ai_edge_litert.interpreter import Interpreter

    path = tmp_path_factory.mktemp("assets") / "digits.tflite"
    path.write_bytes(android["digits.tflite"])
    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    return interpreter


def follow_contract(rgba, steps):
    """The contract's preprocessing, step by step, without its optional step."""
    ink = None
    for step in steps:
        kind = step["step"]
        if kind == "ink_map":  # a transparent canvas: the ink is the alpha
            ink = rgba[..., 3].astype(np.float32) / 255
        elif kind == "crop":
            rows = np.nonzero((ink > step["threshold"]).any(axis=1))[0]
            cols = np.nonzero((ink > step["threshold"]).any(axis=0))[0]
            ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        elif kind == "resize":
            ink = resize_longer_side(ink, step["longer_side"])
        elif kind == "centre_of_mass":
            ink = centre_in_frame(ink, step["frame"])
        elif kind == "normalise":
            ink = np.clip(ink / ink.max(), 0, 1)
        else:
            assert step.get("optional"), f"a required step this port lacks: {kind}"
    return ink


def resize_longer_side(ink, side):
    scale = side / max(ink.shape)
    size = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
    method = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(ink, mode="F").resize(size, method))


def centre_in_frame(digit, side):
    frame = np.zeros((side, side), np.float32)
    top, left = (side - digit.shape[0]) // 2, (side - digit.shape[1]) // 2
    frame[top : top + digit.shape[0], left : left + digit.shape[1]] = digit
    rows, cols = np.indices(frame.shape)
    mass = frame.sum(dtype=np.float64)
    centre = ((rows * frame).sum() / mass, (cols * frame).sum() / mass)
    shift = (side / 2 - 0.5 - centre[0], side / 2 - 0.5 - centre[1])
    return ndimage.shift(frame, shift, order=1, mode="constant")


def quantize_by_contract(x, quantization):
    q = np.floor(x / quantization["scale"] + 0.5) + quantization["zero_point"]
    return np.clip(q, -128, 127).astype(np.int8)


def read_int8(interpreter, q, quantization):
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], q[None])
    interpreter.invoke()
    out = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0]
    return (out.astype(np.float32) - quantization["zero_point"]) * quantization["scale"]


def test_android_bundle_holds_model_labels_and_contract_at_its_root(android):
    assert sorted(android) == ["digits.json", "digits.tflite", "labels.txt"]
    assert android["labels.txt"].decode().split() == [str(d) for d in range(10)]
    shipped = store.model_dir(MODEL) / "model_int8.tflite"
    assert android["digits.tflite"] == shipped.read_bytes()


def test_contract_gives_the_int8_files_own_scale_and_zero_point(contract,
                                                                int8_interpreter):
    (digit,) = int8_interpreter.get_input_details()
    scale, zero_point = digit["quantization"]
    assert contract["input"]["dtype"] == "int8"
    assert contract["input"]["quantization"]["scale"] == pytest.approx(scale)
    assert contract["input"]["quantization"]["zero_point"] == zero_point
    assert contract["input"]["shape"] == [1, 28, 28]
    assert contract["input"]["value_range"] == [0.0, 1.0]


def test_card_writes_down_the_same_int8_scale_and_zero_point(contract):
    recorded = store.read_card(MODEL)["variants"]["tflite_int8"]["input"]
    assert recorded["scale"] == contract["input"]["quantization"]["scale"]
    assert recorded["zero_point"] == contract["input"]["quantization"]["zero_point"]


def test_float32_contract_has_no_quantization(tmp_path):
    path = export.write_android_bundle(
        store.model_dir(MODEL), "tflite_float32", tmp_path / "float32.zip"
    )
    with zipfile.ZipFile(path) as archive:
        contract = json.loads(archive.read("digits.json"))
    assert contract["input"]["dtype"] == "float32"
    assert "quantization" not in contract["input"]


@pytest.mark.parametrize("digit", sorted(STROKES))
def test_contract_preprocessing_gives_the_apps_input(contract, digit):
    rgba = drawn_canvas(digit)
    followed = follow_contract(rgba, contract["preprocessing"])
    np.testing.assert_allclose(followed, sketch.to_digit(rgba), atol=1e-4)


@pytest.mark.parametrize("digit", sorted(STROKES))
def test_int8_fed_by_the_contract_reads_the_drawn_digit(contract, int8_interpreter,
                                                        digit):
    x = follow_contract(drawn_canvas(digit), contract["preprocessing"])
    q = quantize_by_contract(x, contract["input"]["quantization"])
    probabilities = read_int8(int8_interpreter, q, contract["output"]["quantization"])
    app_input = sketch.to_digit(drawn_canvas(digit))
    served = store.served_runtime(MODEL).predict(app_input[None])[0]
    assert probabilities.argmax() == digit == served.argmax()


def test_contract_without_its_stroke_step_still_reads_a_thin_pen(contract,
                                                                 int8_interpreter):
    right = 0
    for digit in sorted(STROKES):
        x = follow_contract(drawn_canvas(digit, brush=10), contract["preprocessing"])
        q = quantize_by_contract(x, contract["input"]["quantization"])
        quantization = contract["output"]["quantization"]
        right += read_int8(int8_interpreter, q, quantization).argmax() == digit
    assert right >= 9


def readme_kotlin_input(rgba):
    """The README's Kotlin toModelInput, step for step in NumPy: ink map, crop,
    area-average the longer side to 20 px, whole-pixel centre of mass, peak 1."""
    alpha = rgba[..., 3].astype(np.float32)
    if (alpha < 128).any():
        ink = alpha / 255
    else:
        red, green, blue = np.moveaxis(rgba[..., :3].astype(np.float32), -1, 0)
        ink = 1 - (0.299 * red + 0.587 * green + 0.114 * blue) / 255
    rows = np.nonzero((ink > 0.125).any(axis=1))[0]
    cols = np.nonzero((ink > 0.125).any(axis=0))[0]
    ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = np.float32(20) / max(ink.shape)
    fit = [max(1, int(np.floor(side * scale + 0.5))) for side in ink.shape]
    digit = np.zeros(fit, np.float32)
    for y, x in np.ndindex(*fit):
        y0, x0 = int(y / scale), int(x / scale)
        y1, x1 = max(y0 + 1, int((y + 1) / scale)), max(x0 + 1, int((x + 1) / scale))
        digit[y, x] = ink[y0:y1, x0:x1].mean()
    rows, cols = np.indices(digit.shape)
    mass = digit.sum()
    top = int(np.floor(13.5 - (rows * digit).sum() / mass + 0.5))
    left = int(np.floor(13.5 - (cols * digit).sum() / mass + 0.5))
    frame = np.zeros((28, 28), np.float32)
    for y, x in np.ndindex(*fit):
        if 0 <= top + y < 28 and 0 <= left + x < 28:
            frame[top + y, left + x] = digit[y, x]
    return frame / frame.max()


@pytest.mark.parametrize("brush", [10, 18, 33])
def test_readme_kotlin_preprocessing_reads_drawn_digits(contract, int8_interpreter,
                                                         brush):
    answers = []
    for digit in sorted(STROKES):
        x = readme_kotlin_input(drawn_canvas(digit, brush=brush))
        q = quantize_by_contract(x, contract["input"]["quantization"])
        quantization = contract["output"]["quantization"]
        answers.append(int(read_int8(int8_interpreter, q, quantization).argmax()))
    assert answers == sorted(STROKES)


# browser

@pytest.fixture(scope="module")
def browser_bundle(tmp_path_factory):
    """The unpacked folder of the uint8 browser bundle."""
    folder = tmp_path_factory.mktemp("browser")
    path = export.write_browser_bundle(store.model_dir(MODEL), "tfjs_uint8",
                                       folder / "bundle.zip")
    with zipfile.ZipFile(path) as archive:
        archive.extractall(folder)
    return folder / f"digits-{MODEL}"


@pytest.fixture(scope="module")
def served_bundle(browser_bundle):
    """http://127.0.0.1:PORT/ serving the unpacked bundle, like http.server."""

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(QuietHandler, directory=str(browser_bundle))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def page(served_bundle):
    """The bundle's index.html in headless Chromium, its model loaded; the
    page's .requested lists every URL it asked for."""
    chromium = runtimes.SharedChromium.borrow()
    context = chromium.browser.new_context(viewport={"width": 1000, "height": 900})
    try:
        opened = context.new_page()
        opened.requested = []
        opened.on("request", lambda request: opened.requested.append(request.url))
        opened.goto(served_bundle + "index.html")
        opened.wait_for_function("document.body.dataset.state === 'ready'",
                                 timeout=60_000)
        yield opened
    finally:
        context.close()
        chromium.give_back()


def draw_with_mouse(page, digit, box=0.6):
    """Clear the page's canvas and pen `digit` (one of STROKES, or a list of
    strokes in 0..1 coordinates) on it with mouse strokes."""
    page.click("#clear")
    canvas = page.locator("#canvas").bounding_box()
    side = box * canvas["width"]
    left = canvas["x"] + (canvas["width"] - side) / 2
    top = canvas["y"] + (canvas["height"] - side) / 2
    for stroke in STROKES[digit] if isinstance(digit, int) else digit:
        points = [(left + x * side, top + y * side) for x, y in stroke]
        page.mouse.move(*points[0])
        page.mouse.down()
        for point in points[1:]:
            page.mouse.move(*point, steps=3)
        page.mouse.up()  # each stroke's end starts a classification
    page.wait_for_function("document.body.dataset.pending === '0'")


def canvas_rgba(page):
    """The page's canvas pixels, RGBA, through a lossless PNG."""
    url = page.evaluate("document.getElementById('canvas').toDataURL('image/png')")
    png = base64.b64decode(url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def test_browser_bundle_holds_page_library_and_model(browser_bundle):
    names = {p.name for p in browser_bundle.iterdir()}
    manifest = json.loads((browser_bundle / "model.json").read_text())
    shards = {path for group in manifest["weightsManifest"] for path in group["paths"]}
    assert {"index.html", "tf.min.js", "model.json"} | shards == names


def test_bundled_library_is_the_one_npm_installed():
    installed = runtimes.TFJS_LIB
    if not installed.is_file():
        pytest.skip(f"no {installed}; run npm ci")
    assert export.PAGE_LIBRARY.read_bytes() == installed.read_bytes()


@pytest.mark.browser
@pytest.mark.timeout(240)
def test_browser_page_reads_digits_drawn_with_the_mouse(page):
    answers = {}
    for digit in sorted(STROKES):
        draw_with_mouse(page, digit)
        answers[digit] = page.text_content("#answer")
    assert answers == {digit: str(digit) for digit in sorted(STROKES)}


@pytest.mark.browser
@pytest.mark.timeout(120)
@pytest.mark.parametrize("digit, box", [(2, 0.6), (5, 0.85), (8, 0.25)])
def test_browser_page_prepares_a_drawing_as_the_app_does(page, digit, box):
    draw_with_mouse(page, digit, box)
    result = page.evaluate("window.digits.classifyCanvas()")
    seen = np.asarray(result["input"], np.float32).reshape(28, 28)
    np.testing.assert_allclose(seen, sketch.to_digit(canvas_rgba(page)), atol=1e-4)


@pytest.mark.browser
@pytest.mark.timeout(120)
def test_browser_page_refuses_an_empty_canvas_with_a_sentence(page):
    page.click("#clear")
    page.evaluate("window.digits.classifyCanvas()")
    assert page.evaluate("document.body.dataset.state") == "refused"
    assert page.text_content("#status").startswith("The canvas is empty")


@pytest.mark.browser
@pytest.mark.timeout(120)
def test_browser_page_says_when_it_is_not_sure(page):
    wave = [[(x, 0.5 + 0.25 * math.sin(x * 4 * math.pi)) for x in np.linspace(0, 1, 40)]]
    draw_with_mouse(page, wave, box=0.8)
    assert page.evaluate("document.body.dataset.state") == "unsure"
    assert page.text_content("#status").startswith("Not sure: ")
    assert page.text_content("#answer") != ""  # the reading is still shown
    draw_with_mouse(page, 7)
    assert page.evaluate("document.body.dataset.state") == "answered"


@pytest.mark.browser
@pytest.mark.timeout(120)
def test_browser_page_asks_nothing_of_any_other_host(page, served_bundle):
    draw_with_mouse(page, 3)
    assert page.requested and all(url.startswith(served_bundle)
                                  for url in page.requested)
