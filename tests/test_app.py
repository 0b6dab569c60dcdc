"""app.py end to end: real pen-drawn digits through the handlers and through a
running `python app.py`, reached with gradio_client as any API user would.

The drawings are examples/*.png, digits penned on a 400 px canvas (strokes
in tests/drawing.py), each named after its digit, and, where the shared data
is at hand, real pen-drawn digits by 30 writers (pendigits). The served models are the store's
(exports/, or DIGITS_STORE); without a "cnn" there the tests skip.
"""

import base64
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import gradio as gr
import httpx
import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

import app
from digits import admin, export, runtimes, sketch, store
from drawing import pendigits

REPO = Path(app.__file__).resolve().parent
MODEL = "cnn"
STARTUP_SECONDS = 90  # longest wait for `python app.py` to answer
EXAMPLES = {app.DIGIT_NAMES.index(Path(p).stem): p for p in app.list_examples()}

pytestmark = pytest.mark.skipif(
    MODEL not in store.available_models(),
    reason=f"no {MODEL!r} model with a .tflite in {store.store_dir()}; train one",
)


def load_example(digit):
    """The example drawing of `digit` as an (H, W) uint8 array, black on white."""
    return np.asarray(Image.open(EXAMPLES[digit]).convert("L"))


def as_canvas_value(gray):
    """What the Draw tab's Sketchpad hands the handler for these strokes:
    black ink on a transparent layer over a transparent background, RGBA."""
    layer = np.zeros((*gray.shape, 4), np.uint8)
    layer[..., 3] = 255 - gray
    return {"background": np.zeros_like(layer), "layers": [layer], "composite": layer}


def top_digit(label):
    """The most probable digit of a handler's {label: probability} dict."""
    return int(max(label, key=label.get))


def save_png(image, folder, name):
    path = Path(folder) / name
    Image.fromarray(image).save(path)
    return str(path)


# the handlers, called directly


def test_examples_cover_at_least_five_different_digits():
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("digit", sorted(EXAMPLES))
def test_every_example_drawing_reads_as_its_digit(digit):
    label, _, _ = app.classify_drawing(EXAMPLES[digit], MODEL)
    assert top_digit(label) == digit


def test_drawing_on_the_canvas_reads_as_its_digit():
    label, _, _ = app.classify_drawing(as_canvas_value(load_example(7)), MODEL)
    assert top_digit(label) == 7
    assert sorted(label) == [str(d) for d in range(10)]
    assert sum(label.values()) == pytest.approx(1.0, abs=1e-4)


def test_preview_shows_the_28x28_input_pixel_for_pixel():
    drawing = as_canvas_value(load_example(4))
    _, preview, _ = app.classify_drawing(drawing, MODEL)
    sent = app.DigitPreview().postprocess(preview).model_dump()
    pixels = np.asarray(data_url_image(sent["url"]))
    assert pixels.shape == (28, 28) and pixels.dtype == np.uint8
    seen = pixels.astype(np.float32) / 255
    assert np.abs(seen - sketch.to_digit(drawing)).max() <= 0.5 / 255
    assert sent["path"] is None  # inside the answer: no file to write or fetch


def data_url_image(url):
    """The image a data:image/png;base64 URL holds."""
    prefix = "data:image/png;base64,"
    assert url.startswith(prefix)
    return Image.open(io.BytesIO(base64.b64decode(url[len(prefix):])))


def test_blank_canvas_is_an_error_with_a_sentence():
    blank = as_canvas_value(np.full((400, 400), 255, np.uint8))
    with pytest.raises(gr.Error, match="The canvas is empty"):
        app.classify_drawing(blank, MODEL)


def test_nothing_sent_is_an_error_with_a_sentence():
    with pytest.raises(gr.Error, match="Nothing was drawn"):
        app.classify_drawing(None, MODEL)


def test_canvas_full_of_ink_is_an_error_with_a_sentence():
    scribble = np.zeros((400, 400), np.uint8)  # black everywhere ...
    scribble[380:, :] = 255  # ... but a thin strip along the bottom
    with pytest.raises(gr.Error, match="almost all ink"):
        app.classify_drawing(as_canvas_value(scribble), MODEL)


def test_single_dot_is_an_error_with_a_sentence():
    dot = np.full((400, 400), 255, np.uint8)
    rows, cols = np.ogrid[:400, :400]
    dot[(rows - 200) ** 2 + (cols - 200) ** 2 <= app.BRUSH**2] = 0  # one dab
    with pytest.raises(gr.Error, match="only a dot"):
        app.classify_drawing(as_canvas_value(dot), MODEL)


def test_huge_upload_still_reads_as_its_digit(tmp_path):
    big = Image.fromarray(load_example(9)).resize((4000, 4000), Image.BICUBIC)
    path = save_png(np.asarray(big), tmp_path, "big.png")
    label, _, _ = app.classify_drawing(path, MODEL)
    assert top_digit(label) == 9


def test_digit_on_a_wide_canvas_reads_as_its_digit():
    wide = np.full((300, 600), 255, np.uint8)
    wide[:, 150:450] = np.asarray(Image.fromarray(load_example(3)).resize((300, 300)))
    label, _, _ = app.classify_drawing(wide, MODEL)
    assert top_digit(label) == 3


def test_greyscale_with_alpha_drawing_reads_as_its_digit():
    gray = load_example(2)
    strokes = np.dstack([np.zeros_like(gray), 255 - gray])  # black ink, clear paper
    label, _, _ = app.classify_drawing(Image.fromarray(strokes, "LA"), MODEL)
    assert top_digit(label) == 2


def test_light_ink_on_dark_paper_reads_as_its_digit():
    chalk = np.dstack([255 - load_example(5)] * 3)  # white on black, RGB
    label, _, _ = app.classify_drawing(chalk, MODEL)
    assert top_digit(label) == 5


def test_unknown_model_is_an_error_listing_the_choices():
    with pytest.raises(gr.Error, match="choose one of: .*cnn") as error:
        app.classify_drawing(EXAMPLES[7], "resnet")
    assert isinstance(error.value, ValueError)


def test_live_classification_clears_the_answer_while_there_is_no_digit():
    blank = as_canvas_value(np.full((400, 400), 255, np.uint8))
    label, preview, message = app.classify_while_drawing(blank, MODEL)
    assert label is None and preview is None
    assert message.startswith("The canvas is empty")


def test_live_classification_reads_a_drawing():
    label, preview, message = app.classify_while_drawing(EXAMPLES[7], MODEL)
    assert top_digit(label) == 7 and preview is not None and message == ""


def test_model_table_shows_each_cards_accuracy():
    table = app.describe_models()
    for name in store.available_models():
        card = store.read_card(name)
        assert card["title"] in table
        assert f"{card['mnist_test_accuracy']:.2%}" in table


def test_downloads_are_every_variants_file():
    files = dict(zip(export.VARIANT_NAMES, app.prepare_downloads(MODEL)))
    check_variant_files(files)
    assert app.prepare_downloads(MODEL) == tuple(files.values())  # made once, reused


def check_variant_files(files):
    """Each .tflite is the served one, byte for byte; each TF.js file a zip."""
    folder = store.model_dir(MODEL)
    for name, path in files.items():
        variant = export.VARIANTS[name]
        if variant.format == "tflite":
            assert Path(path).read_bytes() == (folder / variant.path).read_bytes()
        else:
            check_tfjs_zip(path)


def test_variant_table_shows_each_variants_measured_figures():
    table = app.describe_variants(MODEL)
    for figures in store.read_card(MODEL)["variants"].values():
        assert f"| {figures['title']} |" in table
        assert f"{figures['bytes']:,}" in table
        assert f"{figures['accuracy']:.2%} of {figures['n']:,}" in table


def test_android_bundle_holds_the_chosen_tflite_and_its_contract():
    bundle = app.prepare_android_bundle(MODEL, "tflite_int8")
    with zipfile.ZipFile(bundle) as archive:
        contract = json.loads(archive.read("digits.json"))
        model = archive.read("digits.tflite")
    assert model == (store.model_dir(MODEL) / "model_int8.tflite").read_bytes()
    assert contract["input"]["quantization"]["zero_point"] == -128


def test_browser_bundle_holds_page_library_and_model():
    bundle = app.prepare_browser_bundle(MODEL, "tfjs_uint8")
    check_tfjs_zip(bundle)
    with zipfile.ZipFile(bundle) as archive:
        names = {Path(name).name for name in archive.namelist()}
    assert {"index.html", "tf.min.js"} <= names


@pytest.mark.browser
@pytest.mark.timeout(600)
def test_export_again_publishes_every_variant_and_keeps_the_training_record(
    tmp_path, monkeypatch
):
    shipped = store.model_dir("mlp")
    (tmp_path / "mlp").mkdir()
    for name in (store.KERAS_FILE, store.TFLITE_FILE, store.CARD_FILE):
        shutil.copyfile(shipped / name, tmp_path / "mlp" / name)
    monkeypatch.setenv(store.STORE_ENV, str(tmp_path))
    monkeypatch.setenv(admin.SECRET_ENV, "host secret")

    table, _, *files = app.export_again("mlp", "host secret")

    card = store.read_card("mlp")
    assert sorted(card["variants"]) == sorted(export.VARIANT_NAMES)
    assert card["trained"] == json.loads((shipped / store.CARD_FILE).read_text())[
        "trained"]
    assert f"{card['variants']['tflite_int8']['bytes']:,}" in table
    assert len(files) == len(export.VARIANT_NAMES) and all(files)


def test_bundles_offer_only_the_variants_a_model_has(tmp_path, monkeypatch):
    shutil.copytree(store.model_dir(MODEL), tmp_path / MODEL)
    (tmp_path / MODEL / "model_int8.tflite").unlink()
    monkeypatch.setenv(store.STORE_ENV, str(tmp_path))

    android_menu, android, browser_menu, browser = app.prepare_bundles(
        MODEL, "tflite_int8", "tfjs_uint8"
    )

    offered = [name for _, name in android_menu["choices"]]
    assert offered == ["tflite_float32", "tflite_dynamic", "tflite_float16"]
    assert android_menu["value"] == "tflite_float32"
    assert android.endswith("-tflite-float32-android.zip")
    assert browser_menu["value"] == "tfjs_uint8" and browser.endswith("-browser.zip")


def test_bundle_of_the_wrong_format_is_an_error_listing_the_choices():
    with pytest.raises(gr.Error, match="no android bundle of .tfjs_uint8.*tflite_int8"):
        app.prepare_android_bundle(MODEL, "tfjs_uint8")


def check_tfjs_zip(path):
    """The zip holds model.json and every weight file its manifest names."""
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        (model_json,) = [n for n in names if Path(n).name == "model.json"]
        manifest = json.loads(archive.read(model_json))["weightsManifest"]
    shards = {str(Path(model_json).parent / p) for g in manifest for p in g["paths"]}
    assert shards and shards <= set(names)


# the running app, through gradio_client


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """A gradio_client.Client connected to `python app.py` in a subprocess."""
    port = free_port()
    env = dict(os.environ, GRADIO_SERVER_NAME="127.0.0.1")
    env.update(GRADIO_SERVER_PORT=str(port), GRADIO_ANALYTICS_ENABLED="False")
    log = tmp_path_factory.mktemp("app") / "app.log"
    with open(log, "w") as output:
        server = subprocess.Popen(
            [sys.executable, "app.py"], cwd=REPO, env=env, stdout=output, stderr=output
        )
    try:
        client = connect(f"http://127.0.0.1:{port}/", server, log)
        client.server_log = log  # what app.py printed, for the tests to read
        yield client
    finally:
        server.terminate()
        server.wait(timeout=30)


def connect(url, server, log):
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        if server.poll() is not None:
            pytest.fail(f"app.py exited ({server.returncode}):\n{log.read_text()}")
        try:
            return Client(url, verbose=False)
        except Exception:  # not listening yet
            if time.monotonic() > deadline:
                pytest.fail(f"app.py did not answer at {url}:\n{log.read_text()}")
            time.sleep(0.5)


@pytest.mark.parametrize("digit", sorted(EXAMPLES))
def test_client_reads_each_example_as_its_digit(client, digit):
    label, preview, note = client.predict(
        handle_file(EXAMPLES[digit]), MODEL, api_name="/classify"
    )
    assert label["label"] == str(digit) and note == ""
    # the page shows it PREVIEW px wide
    assert data_url_image(preview["url"]).size == (28, 28)


def test_client_reads_a_sketchpad_shaped_drawing(client):
    drawing = {"background": None, "layers": [], "composite": handle_file(EXAMPLES[7])}
    label, _, _ = client.predict(drawing, MODEL, api_name="/classify")
    assert label["label"] == "7"


@pytest.mark.parametrize("endpoint", ["/classify", "/classify_live"])
def test_client_hears_why_to_doubt_a_drawing_that_is_no_digit(client, tmp_path,
                                                              endpoint):
    sys.path.insert(0, str(REPO / "bench"))
    import nondigits

    path = save_png(nondigits.non_digits()["number 45"], tmp_path, "45.png")
    label, preview, note = client.predict(handle_file(path), MODEL, api_name=endpoint)
    assert label["label"] in "0123456789" and preview is not None
    assert note.startswith("Not sure") and "one digit" in note
    _, _, note = client.predict(handle_file(EXAMPLES[7]), MODEL, api_name=endpoint)
    assert note == ""


@pytest.mark.parametrize("mode, side", [("L", 9000), ("1", 14000)],
                         ids=["over-our-limit", "over-pillows-bomb-limit"])
def test_client_is_refused_a_gigantic_upload_before_it_is_decoded(client, tmp_path,
                                                                  mode, side):
    path = tmp_path / "gigantic.png"
    Image.new(mode, (side, side), 1).save(path)
    for drawing in (handle_file(str(path)),
                    {"background": None, "layers": [], "composite": handle_file(str(path))}):
        with pytest.raises(AppError, match="too large to read: use one under 40"):
            client.predict(drawing, MODEL, api_name="/classify")


def test_client_reads_a_huge_upload(client, tmp_path):
    big = Image.fromarray(load_example(4)).resize((4000, 4000), Image.BICUBIC)
    path = save_png(np.asarray(big), tmp_path, "big.png")
    label, _, _ = client.predict(handle_file(path), MODEL, api_name="/classify")
    assert label["label"] == "4"


@pytest.mark.parametrize(
    "wrong, kind",
    [("seven", "text"), (7, "a number"), ({"digit": 7}, "a dict that holds no image"),
     ([0, 1], "a list")],
)
def test_client_sending_no_image_gets_a_sentence(client, wrong, kind):
    sentence = "The drawing must be an image file (PNG, JPEG, ...), but this request "
    with pytest.raises(AppError) as error:
        client.predict(wrong, MODEL, api_name="/classify")
    assert str(error.value) == sentence + f"sent {kind}."


def test_client_sending_a_file_that_is_no_image_gets_a_sentence(client, tmp_path):
    text = tmp_path / "digit.png"
    text.write_text("not a picture")
    with pytest.raises(AppError, match="could not be read as an image"):
        client.predict(handle_file(str(text)), MODEL, api_name="/classify")


def test_an_upload_over_the_limit_is_refused_before_it_is_kept(client, tmp_path):
    limit = app.MAX_UPLOAD
    big = tmp_path / "big.png"
    big.write_bytes(os.urandom(limit + 1))
    with pytest.raises(ValueError, match=f"exceeds the maximum file size of {limit}"):
        client.predict(handle_file(big), MODEL, api_name="/classify")  # the client's check
    with open(big, "rb") as file:  # and the server's, for any other caller
        refused = httpx.post(client.src.rstrip("/") + "/gradio_api/upload",
                             files={"files": ("big.png", file, "image/png")}, timeout=60)
    assert refused.status_code == 413 and f"maximum allowed size of {limit}" in refused.text


def test_client_sending_a_blank_canvas_gets_a_sentence(client, tmp_path):
    blank = save_png(np.full((400, 400), 255, np.uint8), tmp_path, "blank.png")
    with pytest.raises(AppError, match="The canvas is empty"):
        client.predict(handle_file(blank), MODEL, api_name="/classify")


@pytest.mark.parametrize("endpoint", ["/classify", "/downloads"])
def test_client_naming_an_unknown_model_gets_the_choices(client, endpoint):
    arguments = [handle_file(EXAMPLES[7])] if endpoint == "/classify" else []
    logged = len(client.server_log.read_text())
    with pytest.raises(AppError, match="'resnet' is not on the Model menu; "
                                       "choose one of: cnn, mlp, "):
        client.predict(*arguments, "resnet", api_name=endpoint)
    # a sentence for the caller, not a traceback in the server's log
    assert "Traceback" not in client.server_log.read_text()[logged:]


def test_client_downloads_every_variant(client):
    files = client.predict(MODEL, api_name="/downloads")
    check_variant_files(dict(zip(export.VARIANT_NAMES, files, strict=True)))


def test_client_downloads_both_bundles(client):
    android = client.predict(MODEL, "tflite_float16", api_name="/android_bundle")
    browser = client.predict(MODEL, "tfjs_float32", api_name="/browser_bundle")
    with zipfile.ZipFile(android) as archive:
        assert sorted(archive.namelist()) == ["digits.json", "digits.tflite",
                                              "labels.txt"]
    check_tfjs_zip(browser)


def test_client_gets_the_default_bundles_of_a_model(client):
    android_menu, android, browser_menu, browser = client.predict(
        MODEL, None, None, api_name="/bundles"
    )
    assert android_menu["value"] == app.ANDROID_DEFAULT
    assert browser_menu["value"] == app.BROWSER_DEFAULT
    assert Path(android).name.endswith("-android.zip")
    check_tfjs_zip(browser)


def test_client_gets_any_models_bundle_after_another_models_menus(client):
    # /bundles of ResNet50V2 leaves its variant menus listing its two exports
    android_menu, *_ = client.predict("resnet50v2", None, None, api_name="/bundles")
    assert [value for _, value in android_menu["choices"]] == ["tflite_dynamic",
                                                               "tflite_int8"]
    android = client.predict(MODEL, "tflite_float32", api_name="/android_bundle")
    with zipfile.ZipFile(android) as archive:
        assert "digits.tflite" in archive.namelist()
    with pytest.raises(AppError, match="'resnet50v2' has no tflite_float32 export; "
                                       "choose one of: tflite_dynamic, tflite_int8"):
        client.predict("resnet50v2", "tflite_float32", api_name="/android_bundle")
    with pytest.raises(AppError, match="There is no browser bundle of 'tflite_int8'"):
        client.predict(MODEL, "tflite_int8", api_name="/browser_bundle")


def test_client_reads_the_variant_table(client):
    table = client.predict(MODEL, api_name="/describe_variants")
    assert "TFLite full integer" in table and "TF.js uint8 weights" in table


PEN = pendigits()


@pytest.mark.skipif(PEN is None, reason="set DIGITS_PENDIGITS and DIGITS_RENDER_TOOL")
def test_client_reads_pen_drawn_digits_of_many_writers(client, tmp_path):
    samples, tool = PEN
    chosen = samples[::250]  # 30 drawings spread over the writers
    right = 0
    for index, sample in enumerate(chosen):
        rng = tool.sample_rng(0, index)
        image, _ = tool.render_sample(sample, size=400, width=12, y_up=True, rng=rng)
        path = tmp_path / f"pen-{index}.png"
        image.save(path)
        label, _, _ = client.predict(handle_file(path), MODEL, api_name="/classify")
        right += label["label"] == str(sample["label"])
    assert right >= 0.9 * len(chosen)


@pytest.mark.skipif(PEN is None, reason="set DIGITS_PENDIGITS and DIGITS_RENDER_TOOL")
def test_served_model_reads_pen_drawn_digits_as_its_keras_model_does():
    samples, tool = PEN
    drawings = []
    for index, sample in enumerate(samples[::40]):  # 188 drawings, every writer
        image, _ = tool.render_sample(sample, size=400, width=12, y_up=True,
                                      rng=tool.sample_rng(0, index))
        drawings.append(as_canvas_value(np.asarray(image.convert("L"))))
    served = [top_digit(app.classify_drawing(d, MODEL)[0]) for d in drawings]
    inputs = np.stack([sketch.to_digit(d) for d in drawings])
    with runtimes.load(store.model_dir(MODEL) / store.KERAS_FILE) as keras_model:
        keras_read = keras_model.predict(inputs).argmax(axis=1)
    assert served == keras_read.tolist()
