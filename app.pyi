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
    /downloads        (model name) -> (.tflite file, zip of the TF.js model)
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

from digits import LABELS, models, sketch, store

EXAMPLES = Path(__file__).resolve().parent / "examples"  # <digit name>.png
DIGIT_NAMES = ("zero", "one", "two", "three", "four")
DIGIT_NAMES += ("five", "six", "seven", "eight", "nine")
DEFAULT_MODEL = "cnn"
CANVAS = 400  # side of the drawing canvas, pixels: room for a finger on a phone
BRUSH = 20  # pen width on that canvas, pixels; sketch evens out any width
PREVIEW = 140  # side of the shown 28x28 model input, pixels: 5x5 per pixel
TOP_CLASSES = 3  # probabilities listed under the answer
DOWNLOADS = Path(tempfile.gettempdir()) / "digits-downloads"  # made on demand
STAMP_CHARS = 12  # hex digits naming one version of a model's downloads

CSS = """
#digit-preview img { image-rendering: pixelated; }
"""


# the canvas


class CanvasData(EditorData):
    """The Sketchpad's payload; a bare image file is taken as the drawing.

    Anything else that is not a drawing validates to an empty payload that
    remembers why, so `DrawingCanvas.preprocess` can say so in a sentence
    (a validation error here would reach the user only as "Error").
    """

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

from gradio.events import Dependency

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
            return super().preprocess(self._composite_only(payload))
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError):
            raise gr.Error(
                "The drawing could not be read as an image (PNG, JPEG, ...).",
                print_exception=False,
            ) from None

    def _composite_only(self, payload):
        """The payload less its background and layers when it has a composite,
        the canvas as shown, which is all sketch.to_digit reads: the other
        images are then not decoded (~1-2 ms each). The browser sends all
        three beforehand, kept under the payload's id."""
        blobs = self.blob_storage.get(payload.id) if payload else None
        if blobs is not None and blobs.composite is not None:
            blobs.background, blobs.layers = None, []
        elif payload is not None and payload.composite is not None:
            payload.background, payload.layers = None, []
        return payload
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component


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


def list_examples():
    """The example drawings, in digit order; each file is named after its digit."""
    paths = [EXAMPLES / f"{name}.png" for name in DIGIT_NAMES]
    return [str(path) for path in paths if path.is_file()]


# export


def describe_models():
    """A Markdown table of every served model: size, accuracy, download sizes."""
    rows = [
        "| Model | Parameters | MNIST test accuracy | Drawn-digit accuracy "
        "| .tflite | TF.js |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for name in store.available_models():
        card, folder = store.read_card(name), store.model_dir(name)
        title = card.get("title") or models.TITLES.get(name, name)
        params = card.get("params")
        rows.append(
            f"| {title} | {f'{params:,}' if params else '?'} "
            f"| {_percent(card.get('mnist_test_accuracy'))} "
            f"| {_percent(card.get('drawn_accuracy'))} "
            f"| {_size(folder / store.TFLITE_FILE)} "
            f"| {_size(folder / store.TFJS_DIR)} |"
        )
    if len(rows) == 2:
        return "No model has been exported yet."
    return "\n".join(rows)


def prepare_downloads(model_name):
    """(.tflite file, zip of the TF.js graph model) of a model, to download.

    Both are copies in a temp folder named after the export files' sizes and
    times, so repeated requests reuse them and a download never sees an
    export half-replaced by a new version.
    """
    if model_name is None:  # no model chosen (none exported yet): nothing to offer
        return None, None
    check_model_name(model_name)
    folder = store.model_dir(model_name)
    tflite, tfjs = folder / store.TFLITE_FILE, folder / store.TFJS_DIR
    if not (tfjs / "model.json").is_file():
        raise gr.Error(
            f"Model {model_name!r} has no TF.js export yet; export it first.",
            print_exception=False,
        )
    target = DOWNLOADS / f"{model_name}-{_stamp(tflite, tfjs)}"
    if not target.is_dir():
        _write_downloads(model_name, tflite, tfjs, target)
    return (
        str(target / f"digits-{model_name}.tflite"),
        str(target / f"digits-{model_name}-tfjs.zip"),
    )


def _write_downloads(name, tflite, tfjs, target):
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=DOWNLOADS))
    shutil.copyfile(tflite, staging / f"digits-{name}.tflite")
    bundle = staging / f"digits-{name}-tfjs.zip"
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(tfjs.rglob("*")):
            if path.is_file():
                archive.write(path, f"digits-{name}-tfjs/{path.relative_to(tfjs)}")
    for stale in DOWNLOADS.glob(f"{name}-" + "?" * STAMP_CHARS):
        shutil.rmtree(stale, ignore_errors=True)
    try:
        os.replace(staging, target)
    except OSError:  # another request wrote the same files first
        shutil.rmtree(staging, ignore_errors=True)


def _stamp(*paths):
    files = [p for path in paths for p in sorted([path, *path.rglob("*")])]
    facts = [(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    return hashlib.sha1(repr(facts).encode()).hexdigest()[:STAMP_CHARS]


def _percent(fraction):
    if not isinstance(fraction, (int, float)):
        return "not measured"
    return f"{fraction:.2%}"


def _size(path):
    if path.is_dir():
        size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    elif path.is_file():
        size = path.stat().st_size
    else:
        return "missing"
    return f"{size / 1024:,.0f} KB" if size < 1024**2 else f"{size / 1024**2:.1f} MB"


# the page

model_names = store.available_models()
model_choices = [(models.TITLES.get(name, name), name) for name in model_names]
first_model = DEFAULT_MODEL if DEFAULT_MODEL in model_names else None
first_model = first_model or (model_names[0] if model_names else None)

with gr.Blocks(title="Digits") as demo:
    gr.Markdown(
        "# Draw a digit\n"
        "Draw one digit, 0 to 9, large and in the middle of the canvas. "
        "The answer follows your pen; clear the canvas (bin icon) to start over."
    )

    with gr.Tab("Draw"):
        with gr.Row():
            with gr.Column(scale=3, min_width=320):
                canvas = DrawingCanvas(
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
                    eraser=gr.Eraser(default_size=2 * BRUSH),
                    height=CANVAS + 120,
                )
                with gr.Row():
                    model = gr.Dropdown(
                        model_choices, value=first_model, label="Model", scale=3
                    )
                    classify = gr.Button("Classify", variant="primary", scale=1)
            with gr.Column(scale=2, min_width=240):
                label = gr.Label(num_top_classes=TOP_CLASSES, label="The model reads")
                hint = gr.Markdown()
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
            "Each model reads a float32 batch of shape (n, 28, 28), white ink "
            "on black in 0..1, and returns (n, 10) probabilities for the digits "
            "0-9. **.tflite** runs on Android with LiteRT; the **TF.js** zip "
            "holds a graph model (model.json + weight files) for browsers: "
            "`tf.loadGraphModel('model.json')`."
        )
        cards = gr.Markdown(describe_models())
        with gr.Row():
            export_model = gr.Dropdown(
                model_choices, value=first_model, label="Model", scale=2
            )
            tflite_file = gr.DownloadButton("Download .tflite (Android)", scale=1)
            tfjs_file = gr.DownloadButton("Download TF.js zip (browsers)", scale=1)

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
        [canvas.change, model.change],
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
    demo.load(describe_models, None, cards, api_name="describe_models")
    gr.on(
        [demo.load, export_model.change],
        prepare_downloads,
        [export_model],
        [tflite_file, tfjs_file],
        api_name="downloads",
    )


if __name__ == "__main__":
    demo.launch(css=CSS)