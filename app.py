"""Draw a digit and see what each model reads; download the models to ship.

    python app.py    # then open http://127.0.0.1:7860

Runs unchanged on Hugging Face Spaces. Gradio reads GRADIO_SERVER_NAME and
GRADIO_SERVER_PORT; the models served are the store's (`exports/`, or the
folder DIGITS_STORE names). This file only wires the UI: a drawing goes
through `digits.sketch` to the served model in `digits.store`.

API endpoints (gradio_client), each also a plain function here:
    /classify         (drawing, model name) -> (label, 28x28 preview)
                      drawing: an image file (handle_file) or the Sketchpad's
                      {"background", "layers", "composite"}; a canvas with
                      no readable digit is an error with a sentence
    /classify_live    the same as the canvas changes; no digit clears the
                      answer and returns the sentence as a third output
    /describe_models  () -> Markdown table of every model's card
    /describe_variants (model name) -> Markdown table of its export variants:
                      bytes, ratio to float32, MNIST accuracy and agreement
                      with Keras in the variant's own runtime, median latency
    /downloads        (model name) -> one file per variant, in the order of
                      digits.export.VARIANT_NAMES: each .tflite, and a zip of
                      each TF.js folder (None for a variant not exported)
    /android_bundle   (model name, .tflite variant) -> zip for assets/:
                      digits.tflite, labels.txt, digits.json (the contract)
    /browser_bundle   (model name, TF.js variant) -> zip of a page that draws
                      and classifies offline: index.html, tf.min.js, the model
    /bundles          (model name, .tflite variant, TF.js variant) -> (menu,
                      Android zip, menu, browser zip): each of the variant
                      asked for if the model has it, else of a default (int8,
                      uint8) or its first; a menu is {"choices", "value"}
    /export_again     (model name) -> variant table, model table, downloads,
                      after exporting the served model.keras again in every
                      variant, verifying each and publishing (~2 minutes)
"""

import hashlib
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import gradio as gr
import numpy as np
from gradio.components.image_editor import EditorData
from gradio_client.utils import is_file_obj_with_meta
from PIL import Image, UnidentifiedImageError
from pydantic import PrivateAttr, ValidationError, model_validator

from digits import LABELS, export, sketch, store

EXAMPLES = Path(__file__).resolve().parent / "examples"  # <digit name>.png
DIGIT_NAMES = ("zero", "one", "two", "three", "four")
DIGIT_NAMES += ("five", "six", "seven", "eight", "nine")
DEFAULT_MODEL = "cnn"
CANVAS = 400  # side of the drawing canvas, pixels: room for a finger on a phone
BRUSH = 10  # pen radius on that canvas, pixels; sketch evens out any width
PREVIEW = 140  # side of the shown 28x28 model input, pixels: 5x5 per pixel
TOP_CLASSES = 3  # probabilities listed under the answer
DOWNLOADS = Path(tempfile.gettempdir()) / "digits-downloads"  # made on demand
STAMP_CHARS = 12  # hex digits naming one version of a model's downloads
ANDROID_DEFAULT = "tflite_int8"  # the bundles first offered: smallest, as accurate
BROWSER_DEFAULT = "tfjs_uint8"
BUNDLE_VARIANTS = {"android": export.TFLITE_VARIANTS, "browser": export.TFJS_VARIANTS}
# Drawn-digit accuracies in a card (measured by bench/), and the table's words.
DRAWN_PLACEMENTS = {"centred": "centred", "jitter": "anywhere"}

CSS = """
#digit-preview img { image-rendering: pixelated; }
"""


# the canvas


class CanvasData(EditorData):
    """A drawing: an image file, or the Sketchpad's background, layers, composite."""

    # Anything else validates to an empty payload that remembers why, so that
    # DrawingCanvas.preprocess can say so in a sentence: a validation error
    # here would reach an API user only as "Error".
    _problem: str | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _accept_image_file(cls, value, handler):
        if isinstance(value, EditorData):
            value = value.model_dump()
        if is_file_obj_with_meta(value):
            value = {"composite": value}
        if isinstance(value, dict) and value.keys() & EditorData.model_fields:
            try:
                return handler(value)
            except ValidationError:
                pass
        data = handler({})
        data._problem = (
            "The drawing must be an image file (PNG, JPEG, ...), "
            f"but this request sent {_describe_kind(value)}."
        )
        return data


def _describe_kind(value):
    if isinstance(value, dict):
        return "a dict that holds no image"
    kinds = {str: "text", bool: "true/false", int: "a number", float: "a number"}
    return kinds.get(type(value), f"a {type(value).__name__}")


class DrawingCanvas(gr.Sketchpad):
    """The Sketchpad, whose API also takes a plain image file and answers
    anything that is not an image with a sentence."""

    data_model = CanvasData

    def get_block_name(self):
        return "imageeditor"  # drawn by the built-in ImageEditor front end

    def get_block_class(self):
        return "imageeditor"

    def preprocess(self, payload):
        if payload is not None and payload._problem:
            raise gr.Error(payload._problem, print_exception=False)
        try:
            return super().preprocess(payload)
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError):
            raise gr.Error(
                "The drawing could not be read as an image (PNG, JPEG, ...).",
                print_exception=False,
            ) from None


# draw


def classify_drawing(drawing, model_name):
    """The model's probabilities and the 28x28 input it saw, for one drawing.

    `drawing` is anything sketch.to_digit takes. A drawing without a readable
    digit, or an unknown model, raises gr.Error with a sentence for the user.
    Returns ({"0".."9": probability}, (PREVIEW, PREVIEW) uint8 image).
    """
    runtime = load_model(model_name)
    try:
        digit = sketch.to_digit(drawing)
    except sketch.SketchError as error:
        raise gr.Error(str(error), print_exception=False) from None
    probabilities = runtime.predict(digit[None])[0]
    return dict(zip(LABELS, probabilities.tolist())), enlarge_digit(digit)


def classify_while_drawing(drawing, model_name):
    """classify_drawing for the live canvas: while there is no digit yet, clear
    the answer and return the reason, instead of an error popup per stroke."""
    try:
        label, preview = classify_drawing(drawing, model_name)
    except gr.Error as error:
        return None, None, error.message
    return label, preview, ""


def load_model(model_name):
    """The served runtime of a model; gr.Error listing the choices if unknown."""
    check_model_name(model_name)
    return store.served_runtime(model_name)


def check_model_name(model_name):
    names = store.available_models()
    if model_name not in names:
        choices = ", ".join(names) or "none yet (train and export one first)"
        raise gr.Error(
            f"There is no model {model_name!r}; choose one of: {choices}.",
            print_exception=False,
        )


def enlarge_digit(digit):
    """The 28x28 model input as a uint8 image, each pixel a PREVIEW/28 square."""
    scale = PREVIEW // sketch.FRAME
    pixels = np.round(np.clip(digit, 0.0, 1.0) * 255).astype(np.uint8)
    return pixels.repeat(scale, axis=0).repeat(scale, axis=1)


def model_title(name):
    """What a person sees for a model: its card's title, else models.TITLES."""
    title = store.read_card(name).get("title")
    if title:
        return title
    from digits import models  # imports Keras (seconds, ~700 MB): only if needed

    return models.TITLES.get(name, name)


def blank_canvas():
    """A transparent CANVAS x CANVAS RGBA image: the canvas starts (and restarts,
    after the bin) with the pen selected, and strokes stay told apart from the
    background by their alpha, however much of the canvas they cover."""
    return np.zeros((CANVAS, CANVAS, 4), np.uint8)


def list_examples():
    """The example drawings, in digit order; each file is named after its digit."""
    paths = [EXAMPLES / f"{name}.png" for name in DIGIT_NAMES]
    return [str(path) for path in paths if path.is_file()]


# export


def describe_models():
    """A Markdown table of every served model: size, accuracy, training, files."""
    names = store.available_models()
    if not names:
        return "No model has been exported yet."
    rows = [
        "| Model | Params | MNIST test | Drawn digits | Trained | .tflite | TF.js |",
        "|---|--:|--:|--:|---|--:|--:|",
    ]
    drawn_sets = set()  # how each card's drawn-digit accuracy was measured
    for name in names:
        card, folder = store.read_card(name), store.model_dir(name)
        params = card.get("params")
        rows.append(
            f"| {card.get('title') or model_title(name)} "
            f"| {f'{params:,}' if isinstance(params, int) else '?'} "
            f"| {_percent(card.get('mnist_test_accuracy'))} "
            f"| {_describe_drawn_accuracy(card.get('drawn_accuracy'))} "
            f"| {_describe_training(card.get('trained'))} "
            f"| {_size(folder / store.TFLITE_FILE)} "
            f"| {_size(folder / store.TFJS_DIR)} |"
        )
        drawn_sets.add(_describe_drawn_set(card.get("drawn_accuracy")))
    notes = ["MNIST test: top-1 accuracy on its 10,000 test images."]
    notes += sorted(drawn_sets - {None})
    return "\n".join(rows + ["", " ".join(notes)])


def describe_variants(model_name):
    """A Markdown table of a model's export variants, measured when exported:
    file size, ratio to float32, MNIST test accuracy and agreement with the
    Keras model when run in its own runtime, and median single-digit latency."""
    if model_name is None:
        return "No model has been exported yet."
    check_model_name(model_name)
    card = store.read_card(model_name)
    variants = card.get("variants")
    if not isinstance(variants, dict):
        return (f"Model {model_name!r} has no measured variants yet: run "
                f"`python -m digits export --model {model_name}`.")
    rows = [
        "| Variant | Bytes | vs float32 | MNIST test | Agrees with Keras | Latency "
        "| Input |",
        "|---|--:|--:|--:|--:|--:|---|",
    ]
    chosen = [variants[name] for name in export.VARIANT_NAMES if name in variants]
    rows += [_describe_variant(figures) for figures in chosen]
    notes = _describe_measurement(card.get("measured"), chosen)
    return "\n".join(rows + ["", notes])


def _describe_variant(figures):
    n = figures.get("n")
    return (
        f"| {figures.get('title', '?')} "
        f"| {figures.get('bytes', 0):,} "
        f"| {_percent(figures.get('ratio_to_float32'), digits=0)} "
        f"| {_percent(figures.get('accuracy'))}"
        f"{f' of {n:,}' if isinstance(n, int) else ''} "
        f"| {_percent(figures.get('agreement'))} "
        f"| {_milliseconds(figures.get('latency_ms'))} "
        f"| {_describe_input(figures.get('input'))} |"
    )


def _describe_input(tensor):
    if not isinstance(tensor, dict):
        return "float32, 0..1"
    if tensor.get("scale") is None:
        return f"{tensor.get('dtype', '?')}, 0..1"
    return (f"{tensor['dtype']}, scale {tensor['scale']:.6g}, "
            f"zero point {tensor['zero_point']}")


def _describe_measurement(measured, variants):
    if not isinstance(measured, dict):
        return ""
    keras = {f["n"]: f["keras_accuracy"] for f in variants
             if isinstance(f.get("n"), int) and "keras_accuracy" in f}
    keras_words = ", ".join(f"{a:.2%} of {n:,}" for n, a in sorted(keras.items()))
    return (
        "MNIST test: top-1 accuracy on the first n test images, each variant run "
        "by LiteRT (TFLite) or by TF.js in headless Chromium"
        f"{f'; the Keras model scores {keras_words}' if keras_words else ''}. "
        "Agrees with Keras: the share of those images whose top-1 matches the "
        f"Keras model's. Latency: {measured.get('latency', '?')}; measured "
        f"{str(measured.get('date', ''))[:10]} on {measured.get('host', '?')}."
    )


def _milliseconds(value):
    if not isinstance(value, (int, float)):
        return "not measured"
    return f"{value:.3f} ms" if value < 1 else f"{value:.1f} ms"


def export_again(model_name, progress=gr.Progress()):
    """Export the served model.keras of a model again, in every variant, verify
    each in its own runtime and publish the result (digits.release); returns
    the new variant table, the model table and the variant files.

    Needs MNIST (DIGITS_MNIST or Keras' download), and Chromium with
    Playwright for the TF.js checks; about 1 minute for the MLP and 2 for the
    CNN on 2 CPU cores. Nothing is published unless every variant passes.
    """
    check_model_name(model_name)
    progress(0, desc="Exporting every variant and running each in its runtime")
    from digits import data, release  # imports TensorFlow: only when asked

    try:
        release.reexport_model(model_name, data.load_mnist())
    except (data.DataError, FileNotFoundError, RuntimeError) as error:
        raise gr.Error(
            f"The export of {model_name!r} was not published: {error}",
            print_exception=False,
        ) from None
    tables = describe_variants(model_name), describe_models()
    return *tables, *prepare_downloads(model_name)


def prepare_downloads(model_name):
    """One file per export variant of a model, in export.VARIANT_NAMES order:
    the .tflite itself, or a zip of the TF.js folder; None where the model has
    no such variant.

    The files are copies in a temp folder named after the state of the model
    folder, so repeated requests reuse them and a download never sees an
    export half-replaced by a new version.
    """
    if model_name is None:  # no model chosen (none exported yet): nothing to offer
        return (None,) * len(export.VARIANT_NAMES)
    check_model_name(model_name)
    return tuple(_download_variant(model_name, variant)
                 for variant in export.VARIANTS.values())


def _download_variant(model_name, variant):
    source = store.model_dir(model_name) / variant.path
    stem = f"digits-{model_name}-{variant.name.replace('_', '-')}"
    if not _is_exported(source):
        return None
    if variant.format == "tflite":
        return _cached_download(model_name, f"{stem}.tflite",
                                lambda target: shutil.copyfile(source, target))
    return _cached_download(model_name, f"{stem}.zip",
                            lambda target: _zip_folder(source, target, stem))


def exported_variants(model_name, format_name):
    """Names of the model's variants of one format ("tflite" or "tfjs") whose
    files are in its folder, in export.VARIANT_NAMES order."""
    folder = store.model_dir(model_name)
    return [variant.name for variant in export.VARIANTS.values()
            if variant.format == format_name and _is_exported(folder / variant.path)]


def _is_exported(path):
    return path.is_file() or (path / "model.json").is_file()


def prepare_bundles(model_name, android_variant, browser_variant):
    """Both bundles of a model: each of the variant chosen if the model has it,
    else of the default one, else of the first it has; the two variant menus
    then list the model's own. Returns (Android menu, Android zip, browser
    menu, browser zip)."""
    if model_name is None:
        return gr.update(), None, gr.update(), None
    check_model_name(model_name)
    android = _choose_variant(model_name, "tflite", android_variant, ANDROID_DEFAULT)
    browser = _choose_variant(model_name, "tfjs", browser_variant, BROWSER_DEFAULT)
    return (
        _variant_menu(model_name, "tflite", android),
        prepare_android_bundle(model_name, android) if android else None,
        _variant_menu(model_name, "tfjs", browser),
        prepare_browser_bundle(model_name, browser) if browser else None,
    )


def _choose_variant(model_name, format_name, wanted, default):
    names = exported_variants(model_name, format_name)
    return next((name for name in (wanted, default, *names) if name in names), None)


def _variant_menu(model_name, format_name, chosen):
    names = exported_variants(model_name, format_name)
    return gr.update(choices=[(export.VARIANTS[n].title, n) for n in names],
                     value=chosen)


def prepare_android_bundle(model_name, variant):
    """A zip for an Android app's assets/: the .tflite `variant`, labels.txt and
    digits.json, the contract (input shape, dtype, range, quantization,
    preprocessing; what the output means)."""
    return _prepare_bundle(model_name, variant, "android", export.write_android_bundle)


def prepare_browser_bundle(model_name, variant):
    """A zip of a page that draws and classifies offline with the TF.js
    `variant`: index.html, tf.min.js, model.json and its weight shards."""
    return _prepare_bundle(model_name, variant, "browser", export.write_browser_bundle)


def _prepare_bundle(model_name, variant, kind, write):
    if model_name is None:
        return None
    check_model_name(model_name)
    if variant not in BUNDLE_VARIANTS[kind]:
        raise gr.Error(
            f"There is no {kind} bundle of {variant!r}; choose one of: "
            f"{', '.join(BUNDLE_VARIANTS[kind])}.",
            print_exception=False,
        )
    folder = store.model_dir(model_name)
    filename = f"digits-{model_name}-{variant.replace('_', '-')}-{kind}.zip"
    try:
        return _cached_download(model_name, filename,
                                lambda target: write(folder, variant, target))
    except FileNotFoundError:
        raise gr.Error(
            f"Model {model_name!r} has no {variant} export yet; export it with: "
            f"python -m digits export --model {model_name}",
            print_exception=False,
        ) from None


def _cached_download(model_name, filename, write):
    """Path of `filename` in this model version's download folder, calling
    write(temporary path) first when it is not there yet."""
    version = DOWNLOADS / f"{model_name}-{_stamp(store.model_dir(model_name))}"
    path = version / filename
    if path.is_file():
        return str(path)
    version.mkdir(parents=True, exist_ok=True)
    for stale in DOWNLOADS.glob(f"{model_name}-" + "?" * STAMP_CHARS):
        if stale != version:
            shutil.rmtree(stale, ignore_errors=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{filename}.", dir=version)
    os.close(handle)
    try:
        write(Path(temporary))
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return str(path)


def _zip_folder(folder, target, root):
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"{root}/{path.relative_to(folder)}")


def _stamp(folder):
    files = sorted([folder, *folder.rglob("*")])
    facts = [(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    return hashlib.sha1(repr(facts).encode()).hexdigest()[:STAMP_CHARS]


def _percent(fraction, digits=2):
    if not isinstance(fraction, (int, float)):
        return "not measured"
    return f"{fraction:.{digits}%}"


def _describe_drawn_accuracy(drawn):
    if not isinstance(drawn, dict):  # a single figure, or none yet
        return _percent(drawn)
    parts = [
        f"{drawn[key]:.1%} {words}"
        for key, words in DRAWN_PLACEMENTS.items()
        if isinstance(drawn.get(key), (int, float))
    ]
    return ", ".join(parts) or "not measured"


def _describe_drawn_set(drawn):
    if not isinstance(drawn, dict) or not drawn.get("data"):
        return None
    count = f"{drawn['n']:,} " if isinstance(drawn.get("n"), int) else ""
    canvas = f" on a {drawn['canvas_px']} px canvas" if drawn.get("canvas_px") else ""
    return (
        f"Drawn digits: {count}real pen-drawn digits ({drawn['data']})"
        f"{canvas}, centred, or anywhere at any size."
    )


def _describe_training(trained):
    if not isinstance(trained, dict):
        return "?"
    epochs = (trained.get("config") or {}).get("epochs")
    seconds = trained.get("seconds")
    parts = [
        f"{epochs} epochs" if epochs else "",
        f"{seconds / 60:.1f} min" if isinstance(seconds, (int, float)) else "",
        str(trained.get("date") or "")[:10],
    ]
    return ", ".join(part for part in parts if part) or "?"


def _size(path):
    if path.is_dir():
        size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    elif path.is_file():
        size = path.stat().st_size
    else:
        return "missing"
    return f"{size / 1024:,.0f} KB" if size < 1024**2 else f"{size / 1024**2:.1f} MB"


def _variant_choices(format_name):
    return [(variant.title, variant.name) for variant in export.VARIANTS.values()
            if variant.format == format_name]


# the page

model_names = store.available_models()
model_choices = [(model_title(name), name) for name in model_names]
first_model = next((n for n in (DEFAULT_MODEL, *model_names) if n in model_names), None)

with gr.Blocks(title="Digits") as demo:
    gr.Markdown(
        "# Digits\n"
        "Draw a digit and see what a small neural network reads; then take the "
        "model with you, for Android or the browser."
    )

    with gr.Tab("Draw"):
        gr.Markdown(
            "Draw one digit, 0 to 9, large and in the middle of the canvas. "
            "The answer follows your pen; the bin icon above the canvas clears it."
        )
        with gr.Row():
            with gr.Column(scale=3, min_width=320):
                canvas = DrawingCanvas(
                    blank_canvas(),
                    label="Canvas",
                    type="numpy",
                    image_mode="RGBA",
                    format="png",
                    canvas_size=(CANVAS, CANVAS),
                    fixed_canvas=True,
                    layers=False,
                    transforms=(),
                    brush=gr.Brush(
                        default_size=BRUSH, colors=["#000000"], color_mode="fixed"
                    ),
                    eraser=gr.Eraser(default_size=3 * BRUSH),
                    height=CANVAS + 100,  # room for the toolbar: the canvas at ~100%
                )
                with gr.Row():
                    model = gr.Dropdown(
                        model_choices, value=first_model, label="Model", scale=3
                    )
                    classify = gr.Button("Classify", variant="primary", scale=1)
            with gr.Column(scale=2, min_width=240):
                label = gr.Label(num_top_classes=TOP_CLASSES, label="The model reads")
                hint = gr.Markdown(label="Why no answer")  # while there is none
                preview = gr.Image(
                    label="What the model saw: 28x28 pixels, white ink on black",
                    format="png",
                    interactive=False,
                    height=PREVIEW + 60,
                    buttons=[],
                    elem_id="digit-preview",
                )
        gr.Examples(
            list_examples(), inputs=[canvas], label="Or click a drawn example"
        )

    with gr.Tab("Export"):
        gr.Markdown(
            "## Take a model with you\n"
            "Each model reads a batch of shape (n, 28, 28), white ink on black "
            "in 0..1, and returns (n, 10) probabilities for the digits 0-9. "
            "**.tflite** files run on Android with LiteRT; **TF.js** zips hold a "
            "graph model (model.json + weight files) for browsers: "
            "`tf.loadGraphModel('model.json')`. Every variant below was run in "
            "its own runtime when it was exported; the table is what it costs "
            "and what it gives."
        )
        cards = gr.Markdown(describe_models(), label="Models")
        with gr.Row():
            export_model = gr.Dropdown(
                model_choices, value=first_model, label="Model", scale=3
            )
            export_button = gr.Button("Export again and verify", scale=1)
        variant_table = gr.Markdown(label="Variants")
        gr.Markdown("### Download a variant")
        with gr.Row():
            variant_files = [
                gr.DownloadButton(variant.title, size="sm", min_width=120)
                for variant in export.VARIANTS.values()
                if variant.format == "tflite"
            ]
        with gr.Row():
            variant_files += [
                gr.DownloadButton(variant.title, size="sm", min_width=120)
                for variant in export.VARIANTS.values()
                if variant.format == "tfjs"
            ]
        gr.Markdown(
            "### Bundles to drop in\n"
            "**Android**: unzip into `app/src/main/assets/`; `digits.json` says "
            "what the model takes (shape, dtype, value range, the int8 scale and "
            "zero point) and how to prepare a drawing; the README has the Kotlin. "
            "**Browser**: unzip, serve the folder (`python3 -m http.server`) and "
            "open it: draw on the page, which classifies offline with the "
            "tf.min.js inside the zip."
        )
        with gr.Row():
            android_variant = gr.Dropdown(
                _variant_choices("tflite"), value=ANDROID_DEFAULT, label="Android"
            )
            android_bundle = gr.DownloadButton("Android bundle (.zip)")
            browser_variant = gr.Dropdown(
                _variant_choices("tfjs"), value=BROWSER_DEFAULT, label="Browser"
            )
            browser_bundle = gr.DownloadButton("Browser bundle (.zip)")

    # wiring
    classify.click(
        classify_drawing,
        [canvas, model],
        [label, preview],
        api_name="classify",
        concurrency_id="classify",
        concurrency_limit=4,
    )
    gr.on(
        [canvas.input, canvas.change, model.change],
        classify_while_drawing,
        [canvas, model],
        [label, preview, hint],
        api_name="classify_live",
        api_visibility="undocumented",
        trigger_mode="always_last",
        show_progress="hidden",
        concurrency_id="classify",
        concurrency_limit=4,
    )
    canvas.clear(
        blank_canvas, None, canvas, api_name="clear_canvas", api_visibility="private"
    )
    demo.load(describe_models, None, cards, api_name="describe_models")
    gr.on(
        [demo.load, export_model.change],
        describe_variants,
        [export_model],
        [variant_table],
        api_name="describe_variants",
    )
    gr.on(
        [demo.load, export_model.change],
        prepare_downloads,
        [export_model],
        variant_files,
        api_name="downloads",
    )
    bundle_inputs = [export_model, android_variant, browser_variant]
    bundle_outputs = [android_variant, android_bundle, browser_variant, browser_bundle]
    gr.on(
        [demo.load, export_model.change],
        prepare_bundles,
        bundle_inputs,
        bundle_outputs,
        api_name="bundles",
    )
    android_variant.input(
        prepare_android_bundle,
        [export_model, android_variant],
        [android_bundle],
        api_name="android_bundle",
    )
    browser_variant.input(
        prepare_browser_bundle,
        [export_model, browser_variant],
        [browser_bundle],
        api_name="browser_bundle",
    )
    export_button.click(
        export_again,
        [export_model],
        [variant_table, cards, *variant_files],
        api_name="export_again",
        concurrency_id="export",
        concurrency_limit=1,
    ).success(
        prepare_bundles,
        bundle_inputs,
        bundle_outputs,
        api_name="bundles_after_export",
        api_visibility="undocumented",
    )


if __name__ == "__main__":
    demo.launch(css=CSS)
