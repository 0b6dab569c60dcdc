"""Draw a digit and see what each model reads; download the models to ship.

    python app.py    # then open http://127.0.0.1:7860

Runs unchanged on Hugging Face Spaces. Gradio reads GRADIO_SERVER_NAME and
GRADIO_SERVER_PORT; the models served are the store's (`exports/`, or the
folder DIGITS_STORE names). This file only wires the UI: a drawing goes
through `digits.sketch` to the served model in `digits.store`.

API endpoints (gradio_client), each also a plain function here:
    /classify         (drawing, model name) -> (label, 28x28 preview, note)
                      drawing: an image file (handle_file; at most 20 MB, as
                      any upload: MAX_UPLOAD) or the Sketchpad's
                      {"background", "layers", "composite"}; a canvas with
                      no readable digit is an error with a sentence; the
                      preview's "url" is the PNG itself, data:image/png;base64;
                      the note says why to doubt the answer (digits.doubt),
                      else is ""
    /classify_live    the same as the canvas changes, but a canvas with no
                      readable digit clears the answer and the note says why
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
    /export_again     (model name, admin secret) -> variant table, model
                      table, downloads, after exporting the served model.keras
                      again in every variant, verifying each and publishing
                      (~2 minutes)

Admin endpoints: each takes the secret in DIGITS_ADMIN_SECRET first and is
refused without it (see digits.admin):
    /start_training   (secret, model, epochs, batch size, learning rate,
                      augment, MNIST training images) -> sentence; the run
                      trains in its own process, one at a time
    /training_status  (secret) -> (progress HTML, loss curve, accuracy curve,
                      sentence, evaluation Markdown, confusion matrix image,
                      misclassified digits gallery, version kept or "")
    /cancel_training  (secret) -> sentence
    /publish_version  (secret, model, version) -> (sentence, versions table):
                      the Draw tab serves that version from then on
    /rollback         (secret, model) -> (sentence, versions table)
    /versions         (secret, model) -> (versions table, version menu)
"""

import base64
import contextlib
import hashlib
import io
import os
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd
from gradio.components.image_editor import EditorData
from gradio.data_classes import ImageData
from gradio_client.utils import is_file_obj_with_meta
from PIL import Image, UnidentifiedImageError
from pydantic import PrivateAttr, ValidationError, model_validator

from digits import LABELS, admin, doubt, export, models, sketch, store

# Gradio's queue sums up its last 10,000 events with pandas after every event,
# for a /monitoring page this app never links: ~3 ms of CPU per drawing in a
# fresh app (bench/load.py: 15 ms a drawing instead of 12), growing to ~7 ms
# as events pile up. Summing up the last 1,000 events once every 1,000 keeps
# that page working. (Gradio reads both when the Blocks below make the queue.)
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")

EXAMPLES = Path(__file__).resolve().parent / "examples"  # <digit name>.png
DIGIT_NAMES = ("zero", "one", "two", "three", "four")
DIGIT_NAMES += ("five", "six", "seven", "eight", "nine")
DEFAULT_MODEL = "cnn"
CANVAS = 400  # side of the drawing canvas, pixels: room for a finger on a phone
BRUSH = 10  # pen radius on that canvas, pixels; sketch evens out any width
PREVIEW = 140  # side of the shown 28x28 model input, pixels: 5x5 per pixel
TOP_CLASSES = 3  # probabilities listed under the answer
CLASSIFY_AT_ONCE = 4  # drawings classified in parallel (each ~1 ms of CPU)
QUEUE_STATUS_SECONDS = 1.0  # how often waiting requests hear their place
# Every drawing leaves its upload in Gradio's cache: files older than an
# hour go, checked every 10 minutes, so the disk does not fill.
CACHE_CLEANUP = (600, 3600)  # (every, older than), seconds
# Larger uploads are refused before they reach the disk: a phone's photo of a
# digit is a few MB, and a file anyone can send stays in that cache an hour.
MAX_UPLOAD = 20 * 1024**2  # bytes
DOWNLOADS = Path(tempfile.gettempdir()) / "digits-downloads"  # made on demand
STAMP_CHARS = 12  # hex digits naming one version of a model's downloads
ANDROID_DEFAULT = "tflite_int8"  # the bundles first offered: smallest, as accurate
BROWSER_DEFAULT = "tfjs_uint8"
BUNDLE_VARIANTS = {"android": export.TFLITE_VARIANTS, "browser": export.TFJS_VARIANTS}
# Drawn-digit accuracies in a card (measured by bench/), and the table's words.
DRAWN_PLACEMENTS = {"centred": "centred", "jitter": "anywhere"}

# The bin empties the canvas, yet for a second or so after it the editor can
# still send the drawing it cleared: a picture of it begun before the bin
# arrives as a late change. Until the next press anywhere but the bin the
# canvas is empty, so the live reading sends nothing meanwhile (BINNED_JS),
# and the last answer stays "Nothing was drawn" instead of the old digit.
PAGE_JS = """() => {
  document.addEventListener("pointerdown", (event) => {
    if (!event.target.closest('[aria-label="Clear canvas"]')) window.digitsBinned = false;
  }, true);
}"""
BINNED_JS = """(canvas, model) => [window.digitsBinned ? null : canvas, model]"""
PICK_PEN_JS = """() => {
  window.digitsBinned = true;  // see PAGE_JS
  // The editor drops its pen a frame or more after the bin: watch ~20 frames
  // and pick it once it is dropped (a click on the pen still chosen would
  // open its size menu instead).
  let frames = 0;
  const watch = () => {
    const pen = document.querySelector('#drawing-canvas button[aria-label="Brush"]');
    if (pen && !pen.classList.contains("highlight")) pen.click();
    else if (++frames < 20) requestAnimationFrame(watch);
  };
  requestAnimationFrame(watch);
}"""
CSS = """
#digit-preview img {
  image-rendering: pixelated; object-fit: contain !important;
  width: 140px !important; height: 140px !important;  /* PREVIEW */
}
/* On a phone the square canvas is as wide as the screen: a block no taller
   than that brings the answer up where the person drawing can see it. */
@media (max-width: 640px) {
  #drawing-canvas { height: calc(100vw - 70px) !important; }
  #digit-preview { height: auto !important; }
  #digit-note { order: -1; }  /* a doubt above the answer, not under its bars */
}
.training-progress label { display: block; }
.training-progress progress { width: 60%; }
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


class BuiltInFrontEnd:
    """For a subclass of a Gradio component: the page draws it with the
    built-in front end named `front_end`, not one named after the subclass
    (which Gradio would look for, and not find)."""

    front_end = None

    def get_block_name(self):
        return self.front_end

    def get_block_class(self):
        return self.front_end


class DrawingCanvas(BuiltInFrontEnd, gr.Sketchpad):
    """The Sketchpad, whose API also takes a plain image file and answers
    anything that is not an image with a sentence."""

    data_model = CanvasData
    front_end = "imageeditor"

    def preprocess(self, payload):
        if payload is not None and payload._problem:
            raise gr.Error(payload._problem, print_exception=False)
        payload = self._composite_only(payload)
        try:
            for source in self._image_files(payload):
                sketch.check_image_size(source)
        except sketch.SketchError as error:  # before Gradio decodes it whole
            raise gr.Error(str(error), print_exception=False) from None
        try:
            return super().preprocess(payload)
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError):
            raise gr.Error(
                "The drawing could not be read as an image (PNG, JPEG, ...).",
                print_exception=False,
            ) from None

    def _image_files(self, payload):
        """The paths, or the bytes the browser sent, of the images Gradio will
        decode for this payload."""
        if payload is None:
            return []
        blobs = self.blob_storage.get(payload.id)
        if blobs is not None:
            parts = [blobs.background, *blobs.layers, blobs.composite]
            return [part for part in parts if isinstance(part, bytes)]
        parts = [payload.background, *payload.layers, payload.composite]
        return [part.path for part in parts if part is not None and part.path]

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


class Menu(BuiltInFrontEnd, gr.Dropdown):
    """A dropdown of values (not indices) that answers a value it does not
    accept, which only an API call can send, with a sentence naming those it
    does, and no traceback in the server's log: Gradio's own check prints one
    for every such call."""

    front_end = "dropdown"

    def accepted(self):
        """The values this menu passes on: its choices as last shown."""
        return [value for _, value in self.choices]

    def preprocess(self, payload):
        accepted = self.accepted()
        if payload is not None and payload not in accepted:
            raise gr.Error(
                f"{payload!r} is not on the {self.label} menu; choose one of: "
                f"{', '.join(map(str, accepted)) or 'none yet'}.",
                print_exception=False,
            )
        return payload


class VariantMenu(Menu):
    """A menu of export variants. It lists the shown model's own, but its API
    endpoints take any model with any variant: the bundle's handler, not the
    choices the last model shown left behind, says which that model lacks."""

    def accepted(self):
        return list(export.VARIANT_NAMES)


class AsSent(BuiltInFrontEnd):
    """For a form field: its value reaches the handler as sent, for the
    handler to check and to name in its sentence (digits.admin.check_request):
    Gradio's own check names no field, and a value of the wrong type, which
    only an API call can send, leaves a traceback in the server's log."""

    def preprocess(self, payload):
        return payload


class FormSlider(AsSent, gr.Slider):
    front_end = "slider"


class FormNumber(AsSent, gr.Number):
    front_end = "number"


class DigitPreview(BuiltInFrontEnd, gr.Image):
    """An output image sent inside the answer, as a data: URL of its PNG,
    instead of being written to Gradio's cache for the page to download.

    For the 28x28 preview, a PNG of a few hundred bytes, the file costs more
    than the image: each drawing's preview was a file written, checked and
    served by a request of its own, ~4 ms of the server's CPU and ~3 ms of
    a gradio_client's (bench/load.py), and one more file on the disk until
    the cache cleanup. Takes what gr.Image takes as pixels (numpy, PIL)."""

    front_end = "image"

    def postprocess(self, value):
        if value is None:
            return None
        image = Image.fromarray(value) if isinstance(value, np.ndarray) else value
        encoded = io.BytesIO()
        image.save(encoded, format="PNG")
        return ImageData(
            url="data:image/png;base64," + base64.b64encode(encoded.getvalue()).decode(),
            size=encoded.tell(), orig_name="digit.png", mime_type="image/png",
        )


# draw


def classify_drawing(drawing, model_name):
    """The model's probabilities, the 28x28 input it saw and whether to doubt
    the reading, for one drawing.

    `drawing` is anything sketch.to_digit takes. A drawing without a readable
    digit, or an unknown model, raises gr.Error with a sentence for the user.
    Returns ({"0".."9": probability}, (28, 28) uint8 image, note): the image
    is shown PREVIEW px wide by the page (a DigitPreview); the note is a
    sentence saying why not to trust the reading (digits.doubt), else "".
    """
    digit, probabilities = read_drawing(drawing, model_name)
    label = dict(zip(LABELS, probabilities.tolist()))
    return label, digit_image(digit), describe_doubt(model_name, digit, probabilities)


# The two below run on the server's event loop instead of being handed to a
# worker thread and back, as Gradio does with plain functions: a drawing takes
# ~1 ms, less than the handoff costs the server's one Python thread under load
# (bench/load.py: ~15 % more drawings a second, p95 ~60 ms lower).


async def classify_drawing_on_the_loop(drawing, model_name):
    return classify_drawing(drawing, model_name)


async def classify_while_drawing_on_the_loop(drawing, model_name):
    return classify_while_drawing(drawing, model_name)


def classify_while_drawing(drawing, model_name):
    """classify_drawing for the live canvas: while there is no digit yet, the
    answer is cleared and the note says why, instead of an error popup per
    stroke."""
    try:
        return classify_drawing(drawing, model_name)
    except gr.Error as error:
        return None, None, error.message


def read_drawing(drawing, model_name):
    """(the (28, 28) model input, the served model's 10 probabilities)."""
    runtime = load_model(model_name)
    try:
        digit = sketch.to_digit(drawing)
    except sketch.SketchError as error:
        raise gr.Error(str(error), print_exception=False) from None
    return digit, runtime.predict(digit[None])[0]


def describe_doubt(model_name, digit, probabilities):
    found = doubt.doubt(model_name, digit, probabilities)
    return found.sentence if found else ""


def load_model(model_name):
    """The served runtime of a model; gr.Error listing the choices if unknown.

    A plain folder name goes straight to the store (a few stat calls); only
    a name the store does not serve pays for listing every model."""
    if _is_plain_name(model_name):
        with contextlib.suppress(FileNotFoundError):
            return store.served_runtime(model_name)
    check_model_name(model_name)
    return store.served_runtime(model_name)


def _is_plain_name(name):
    """A visible folder name: no path in it, no leading dot."""
    return isinstance(name, str) and name == Path(name).name and name[:1] not in ("", ".")


def check_model_name(model_name):
    names = store.available_models()
    if model_name not in names:
        choices = ", ".join(names) or "none yet (train and export one first)"
        raise gr.Error(
            f"There is no model {model_name!r}; choose one of: {choices}.",
            print_exception=False,
        )


def digit_image(digit):
    """The 28x28 model input as pixels, 0 (black) to 255 (white ink): what
    the DigitPreview shows."""
    return np.round(np.clip(digit, 0.0, 1.0) * 255).astype(np.uint8)


def model_title(name):
    """What a person sees for a model: its card's title, else models.TITLES."""
    title = store.read_card(name).get("title")
    if title:
        return title
    from digits import models  # imports Keras (seconds, ~700 MB): only if needed

    return models.TITLES.get(name, name)


def blank_canvas():
    """A transparent CANVAS x CANVAS RGBA image: the canvas starts with the pen
    selected, and strokes stay told apart from the background by their alpha,
    however much of the canvas they cover (after the bin, the page picks the
    pen again: PICK_PEN_JS)."""
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
            f"| {_describe_first_file(folder, export.TFLITE_VARIANTS)} "
            f"| {_describe_first_file(folder, export.TFJS_VARIANTS)} |"
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
    absent = _describe_absent_variants(model_name, variants)
    withheld = describe_withheld(card)
    return "\n".join(rows + ["", notes] + [f"\n{s}" for s in (absent, withheld) if s])


def describe_withheld(card):
    """A sentence naming the variants left out of a version because they
    disagreed with its Keras model too often, and why; or ""."""
    reasons = [figures.get("withheld", name)
               for name, figures in (card.get("withheld") or {}).items()]
    if not reasons:
        return ""
    return (f"Left out of this version: {' '.join(reasons)} A model trained on "
            "more images or for more epochs is surer of its digits, and its "
            "quantized variants then agree with it.")


def _describe_absent_variants(model_name, variants):
    """A sentence naming the variants the card lists whose files this copy of
    the model folder lacks (too large for git), and how to make them; or ""."""
    folder = store.model_dir(model_name)
    absent = [variant.title for name, variant in export.VARIANTS.items()
              if name in variants and not _is_exported(folder / variant.path)]
    if not absent:
        return ""
    keras_too = ("" if (folder / store.KERAS_FILE).is_file() else
                 f" (it is missing too: `python -m digits train --model {model_name}`"
                 " makes it and every variant)")
    return (f"Not in this copy of the model, so not downloadable here: "
            f"{', '.join(absent)}; their figures above were measured when they "
            f"were made. `python -m digits export --model {model_name}` makes "
            f"them again from model.keras{keras_too}.")


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


def export_again(model_name, secret, progress=gr.Progress()):
    """Export the served model.keras of a model again, in every variant, verify
    each in its own runtime and publish the result (digits.release); returns
    the new variant table, the model table and the variant files. An admin
    action: refused without the admin secret.

    Needs MNIST (DIGITS_MNIST or Keras' download), and Chromium with
    Playwright for the TF.js checks; about 1 minute for the MLP and 2 for the
    CNN on 2 CPU cores. Nothing is published unless both float32 variants
    agree with Keras; a quantized one that does not is left out, and the
    variant table says so.
    """
    with _refusing_with_a_sentence():
        admin.check_secret(secret)
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


def describe_export(model_name):
    """The Export tab's variant table, model table and files, as served now."""
    return describe_variants(model_name), describe_models(), *prepare_downloads(model_name)


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


def lock_absent_downloads(model_name):
    """After prepare_downloads, in the page: the button of a variant this
    copy of the model lacks is greyed out rather than one that does nothing."""
    folder = store.model_dir(model_name) if model_name else None
    return tuple(
        gr.update(interactive=bool(folder) and _is_exported(folder / variant.path))
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
        exported = exported_variants(model_name, export.VARIANTS[variant].format)
        raise gr.Error(
            f"Model {model_name!r} has no {variant} export; choose one of: "
            f"{', '.join(exported)}." if exported else
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
    if not isinstance(seconds, (int, float)):
        took = ""
    else:
        took = f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.1f} min"
    parts = [
        f"{epochs} epoch{'s' if epochs != 1 else ''}" if epochs else "",
        took,
        str(trained.get("date") or "")[:10],
    ]
    return ", ".join(part for part in parts if part) or "?"


def _describe_first_file(folder, variants):
    """Size of the first of `variants` (float32 first) this copy of the model
    holds, naming the variant when it is not the float32 one."""
    for name in variants:
        path = folder / export.VARIANTS[name].path
        if _is_exported(path):
            plain = export.VARIANTS[name].reference == name  # the float32 one
            return _size(path) + ("" if plain else f" ({name.split('_', 1)[1]})")
    return "missing"


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


# admin


ADMIN_POLL_SECONDS = 1.0  # how often the Admin tab asks a training run how it goes
ADMIN_DEFAULT_MODEL = "mlp"  # the training form's first choice: trains in minutes
CURVE_POINTS = 400  # most points drawn per training curve
STAGES = {  # what a training run is doing, as the Admin tab says it
    "starting": "loading MNIST and starting TensorFlow",
    "training": "training",
    "evaluating": "measuring it on MNIST's test digits and drawn digits",
    "exporting": "exporting every variant and running each in its runtime",
    "saved": "saved",
}
ENDINGS = {  # what the progress line says once a run has ended, by its state
    "finished": "done",
    "failed": "stopped",
    "cancelling": "stopping",
    "cancelled": "cancelled",
}


@contextlib.contextmanager
def _refusing_with_a_sentence():
    """An admin.AdminError reaches the person as a gr.Error sentence."""
    try:
        yield
    except admin.AdminError as error:
        raise gr.Error(str(error), print_exception=False) from None


def start_training(secret, model_name, epochs, batch_size, learning_rate, augment,
                   train_images, request: gr.Request = None):
    """Start training a model in its own process (digits.admin); returns a
    sentence. Refused without the admin secret, with a form value out of its
    limits, or while another run trains."""
    with _refusing_with_a_sentence():
        admin.check_secret(secret)
        recipe = admin.check_request(model_name, epochs, batch_size, learning_rate,
                                     augment, train_images)
        admin.start_training(recipe, _requester(request))
    return (f"Training {model_name} on {recipe.train_images:,} MNIST images, "
            f"{recipe.epochs} epoch{'s' if recipe.epochs != 1 else ''}.")


def training_status(secret):
    """What the current (or last) training run has reported: (progress bars
    as HTML, loss curve, accuracy curve, status sentence, evaluation Markdown,
    confusion-matrix image, misclassified test digits [(image, "true 7, read
    2")], the version it kept or "")."""
    with _refusing_with_a_sentence():
        admin.check_secret(secret)
    job = admin.current_job()
    if job is None:
        return ("", _curve([], "loss"), _curve([], "accuracy"),
                "No training run since the app started.", "", None, [], "")
    status = job.status()
    confusion, gallery = job.pictures()
    return (
        _describe_progress(status, job.elapsed_seconds()),
        _curve([(x, loss) for x, loss, _ in status.curve], "loss"),
        _curve([(x, accuracy) for x, _, accuracy in status.curve], "accuracy"),
        _describe_run(status, job),
        _describe_evaluation(status),
        confusion,
        gallery,
        status.version or "",
    )


def cancel_training(secret):
    """Stop the training run: it ends at the next batch and keeps nothing."""
    with _refusing_with_a_sentence():
        admin.check_secret(secret)
    job = admin.current_job()
    if job is None or not job.running():
        return "No training run is in progress."
    job.cancel()
    return "Stopping the training run; nothing from it will be kept."


def publish_version(secret, model_name, version):
    """Serve a kept version of a model: the Draw tab reads with it from the
    next drawing on. Returns (sentence, versions table)."""
    with _refusing_with_a_sentence():
        admin.check_secret(secret)
        served = admin.publish(model_name, (version or "").strip())
    return f"Serving {model_name} version {served}.", describe_versions(
        secret, model_name)[0]


def rollback_version(secret, model_name):
    """Serve the newest published version older than the one served now.
    Returns (sentence, versions table)."""
    with _refusing_with_a_sentence():
        admin.check_secret(secret)
        served = admin.rollback(model_name)
    return f"Rolled {model_name} back to version {served}.", describe_versions(
        secret, model_name)[0]


def describe_versions(secret, model_name):
    """(Markdown table of a model's kept versions, version menu {"choices",
    "value": the one served})."""
    with _refusing_with_a_sentence():
        admin.check_secret(secret)
        admin.check_model(model_name)
    versions = store.list_versions(model_name)
    served = store.served_version(model_name)
    if not versions:
        table = (f"No version of {model_name} is kept yet: the shipped one is "
                 "served, and is kept as the first version when a new one is saved.")
        return table, gr.update(choices=[], value=None)
    rows = ["| Version | Served | Saved | How | MNIST test | Drawn digits |",
            "|---|---|---|---|--:|--:|"]
    for version in reversed(versions):
        card, info = version.card(), version.info()
        rows.append(
            f"| {version.id} | {'**served**' if version.served else ''} "
            f"| {str(info.get('saved', ''))[:16].replace('T', ' ')} "
            f"| {info.get('note', '')} "
            f"| {_percent(card.get('mnist_test_accuracy'))} "
            f"| {_describe_drawn_accuracy(card.get('drawn_accuracy'))} |")
    return "\n".join(rows), gr.update(choices=[v.id for v in reversed(versions)],
                                      value=served)


def training_form_defaults(model_name):
    """The training form set to the recipe `model_name` shipped with."""
    recipe = admin.recipe_defaults(model_name)
    return (recipe["epochs"], recipe["batch_size"], recipe["learning_rate"],
            recipe["augment"], recipe["train_images"])


def _model_of_the_run():
    """The Admin model menu set to the latest run's model, so that Publish,
    Show versions and Roll back act on it after the page was reloaded."""
    job = admin.current_job()
    return gr.update(value=job.request.model) if job is not None else gr.update()


def _keep_polling():
    """The progress timer: on while this server's training run is running."""
    job = admin.current_job()
    return gr.Timer(active=job is not None and job.running())


def _requester(request):
    client = getattr(request, "client", None)
    return getattr(client, "host", None) or "an API call"


def _describe_progress(status, elapsed):
    if status.stage == "starting":
        bars = ""
    else:
        epochs_done = status.done_fraction() * status.epochs
        bars = (
            f"<label>Epoch {max(status.epoch, 1)} of {status.epochs} "
            f"<progress max='{status.epochs}' value='{epochs_done:.3f}'>"
            f"</progress></label>"
            f"<label>Batch {status.batch} of {status.steps} "
            f"<progress max='{status.steps}' value='{status.batch}'></progress>"
            f"</label>")
    figures = [ENDINGS.get(status.state) or STAGES.get(status.stage, status.stage)]
    if status.loss is not None:
        figures.append(f"loss {status.loss:.4f}, accuracy {status.accuracy:.2%}")
    figures.append(f"{_minutes(elapsed)} elapsed")
    remaining = status.remaining_seconds() if status.state == "running" else None
    if remaining is not None:
        figures.append(f"about {_minutes(remaining)} of training left")
    return f"<div class='training-progress'>{bars}{' · '.join(figures)}</div>"


def _minutes(seconds):
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def _curve(points, metric):
    """A training curve for gr.LinePlot: at most CURVE_POINTS (epochs, value),
    the last one always."""
    chosen = points[:: -(-len(points) // CURVE_POINTS) or 1]
    if points and chosen[-1] != points[-1]:
        chosen.append(points[-1])
    return pd.DataFrame(chosen, columns=["epoch", metric], dtype=float)


def _describe_run(status, job):
    model = job.request.model
    if status.state == "finished":
        kept = (f"Kept {model} version {status.version}, not served yet: compare "
                "it below, then *Publish* it to serve it in the Draw tab.")
        with contextlib.suppress(store.VersionError, OSError, ValueError):
            withheld = describe_withheld(store.find_version(model, status.version).card())
            kept += f" {withheld}" if withheld else ""
        return kept
    if status.state == "failed":
        return (f"The run stopped: {status.message} Nothing was kept; the served "
                "model is unchanged.")
    if status.state == "cancelled":
        return "Cancelled: nothing was kept; the served model is unchanged."
    if status.state == "cancelling":
        return "Stopping the training run..."
    began = time.strftime("%H:%M:%S", time.gmtime(job.started))
    return (f"Training {model}, started by {job.started_by} at {began} UTC: "
            f"{STAGES.get(status.stage, status.stage)}.")


def _describe_evaluation(status):
    """The run's accuracies beside the served version's (its card)."""
    result = status.evaluation
    if not result:
        return ""
    model = status.model
    served_card = store.read_card(model)
    served = store.served_version(model) or "the shipped version"
    drawn = result.get("drawn_accuracy")
    rows = [
        f"| | this run{f' ({status.version})' if status.version else ''} "
        f"| served ({served}) |",
        "|---|--:|--:|",
        f"| MNIST test, 10,000 digits | {_percent(result['mnist_test_accuracy'])} "
        f"| {_percent(served_card.get('mnist_test_accuracy'))} |",
        f"| Drawn digits, held-out writers, centred | "
        f"{_describe_drawn_accuracy(drawn) if drawn else 'not measured'} "
        f"| {_describe_drawn_accuracy(served_card.get('drawn_accuracy'))} |",
        f"| Misclassified test digits | {result['misclassified']:,} | |",
    ]
    note = "" if drawn else (
        "\n\nDrawn digits were not measured: set DIGITS_PENDIGITS to a drawn-digit "
        "file in UCI pendigits' layout and the trainer draws the held-out writers' "
        "digits and reads them.")
    return "\n".join(rows) + note


def describe_admin_access():
    """Who may act in the Admin tab, and how the host turns it on."""
    if admin.is_enabled():
        return (f"Only the host can act here: enter the secret set in the "
                f"`{admin.SECRET_ENV}` environment variable.")
    return (f"**Admin is off.** The host turns it on by setting the "
            f"`{admin.SECRET_ENV}` environment variable to a secret (on a Hugging "
            "Face Space: Settings, Variables and secrets, New secret) and "
            "restarting the app; until then every admin action is refused.")


def admin_tab():
    """The Admin tab's components and wiring; returns the secret's textbox."""
    gr.Markdown(
        "## Retrain and publish a model\n" + describe_admin_access() + " A run "
        "trains in its own process at low priority, so drawings keep being read "
        "meanwhile; what it makes is kept as a new version and served only once "
        "you publish it."
    )
    secret = gr.Textbox(label="Admin secret", type="password", max_lines=1)
    defaults = admin.recipe_defaults(ADMIN_DEFAULT_MODEL)
    with gr.Row():
        model = Menu([(models.TITLES[name], name) for name in models.MODEL_NAMES],
                     value=ADMIN_DEFAULT_MODEL, label="Model")
        epochs = FormSlider(*admin.EPOCHS, value=defaults["epochs"], step=1,
                            label="Epochs")
        train_images = FormSlider(*admin.TRAIN_IMAGES, value=defaults["train_images"],
                                  step=1000, label="MNIST training images")
    with gr.Row():
        batch_size = FormNumber(defaults["batch_size"], precision=0,
                                minimum=admin.BATCH_SIZES[0],
                                maximum=admin.BATCH_SIZES[1], label="Batch size")
        learning_rate = FormNumber(defaults["learning_rate"],
                                   minimum=admin.LEARNING_RATES[0],
                                   maximum=admin.LEARNING_RATES[1],
                                   label="Learning rate (Adam)")
        augment = gr.Checkbox(defaults["augment"],
                              label="Augment: small random shifts, turns, zooms")
    with gr.Row():
        train = gr.Button("Train", variant="primary")
        cancel = gr.Button("Cancel", variant="stop")
    run_status = gr.Markdown()
    progress = gr.HTML()
    with gr.Row():
        loss_curve = gr.LinePlot(_curve([], "loss"), x="epoch", y="loss",
                                 label="Loss", x_title="epochs")
        accuracy_curve = gr.LinePlot(_curve([], "accuracy"), x="epoch", y="accuracy",
                                     y_lim=[0, 1], label="Accuracy",
                                     x_title="epochs")
    gr.Markdown("### Evaluation")
    evaluation = gr.Markdown()
    with gr.Row():
        confusion = gr.Image(label="Confusion matrix, MNIST test", interactive=False,
                             buttons=[])
        misclassified = gr.Gallery(label="Misclassified test digits", columns=5,
                                   height=420)
    with gr.Row():
        trained_version = gr.Textbox(label="Version trained", interactive=False)
        publish = gr.Button("Publish this version", variant="primary")
    gr.Markdown("### Versions")
    with gr.Row():
        show_versions = gr.Button("Show versions")
        version_menu = Menu([], label="Version")
        serve_chosen = gr.Button("Serve this version")
        rollback = gr.Button("Roll back to the previous version")
    versions_said = gr.Markdown()
    versions_table = gr.Markdown()
    timer = gr.Timer(ADMIN_POLL_SECONDS, active=False)

    # wiring
    status_outputs = [progress, loss_curve, accuracy_curve, run_status, evaluation,
                      confusion, misclassified, trained_version]
    form = [model, epochs, batch_size, learning_rate, augment, train_images]
    model.change(training_form_defaults, [model], form[1:], api_visibility="private")
    train.click(start_training, [secret, *form], [run_status],
                api_name="start_training", concurrency_id="admin").success(
        lambda: gr.Timer(active=True), None, timer, api_visibility="private")
    restored = secret.submit(training_status, [secret], status_outputs,
                             api_name="latest_run", api_visibility="private")
    restored.success(_keep_polling, None, timer, api_visibility="private")
    restored.success(_model_of_the_run, None, model, api_visibility="private")
    polled = timer.tick(training_status, [secret], status_outputs,
                        api_name="training_status", show_progress="hidden",
                        concurrency_id="admin")
    polled.success(_keep_polling, None, timer, api_visibility="private")
    polled.failure(lambda: gr.Timer(active=False), None, timer,
                   api_visibility="private")  # a wrong secret: stop asking
    cancel.click(cancel_training, [secret], [run_status], api_name="cancel_training",
                 concurrency_id="admin")
    served_changed = [
        publish.click(publish_version, [secret, model, trained_version],
                      [versions_said, versions_table], api_name="publish_version",
                      concurrency_id="admin"),
        serve_chosen.click(publish_version, [secret, model, version_menu],
                           [versions_said, versions_table],
                           api_name="serve_version", api_visibility="undocumented",
                           concurrency_id="admin"),
        rollback.click(rollback_version, [secret, model],
                       [versions_said, versions_table],
                       api_name="rollback", concurrency_id="admin"),
    ]
    show_versions.click(describe_versions, [secret, model],
                        [versions_table, version_menu], api_name="versions",
                        concurrency_id="admin")
    return secret, served_changed


# the page

store.discard_stale_staging()  # what a killed training or publish left half-built
model_names = store.available_models()
model_choices = [(model_title(name), name) for name in model_names]
first_model = next((n for n in (DEFAULT_MODEL, *model_names) if n in model_names), None)

with gr.Blocks(title="Digits", delete_cache=CACHE_CLEANUP) as demo:
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
        # the model above the canvas: on a phone, where the columns stack,
        # the answer then comes right under the canvas
        with gr.Row(equal_height=False):
            model = Menu(model_choices, value=first_model, label="Model", scale=5)
            classify = gr.Button("Classify", variant="primary", scale=1, min_width=110)
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
                    elem_id="drawing-canvas",
                )
            with gr.Column(scale=2, min_width=240):
                label = gr.Label(
                    num_top_classes=TOP_CLASSES, label="The model reads",
                    elem_id="digit-answer",
                )
                # why there is no answer yet, or why to doubt the one there is
                hint = gr.Markdown(label="Note", elem_id="digit-note")
                preview = DigitPreview(
                    label="What the model saw: 28x28 pixels, white ink on black",
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
            export_model = Menu(
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
            android_variant = VariantMenu(
                _variant_choices("tflite"), value=ANDROID_DEFAULT, label="Android"
            )
            android_bundle = gr.DownloadButton("Android bundle (.zip)")
            browser_variant = VariantMenu(
                _variant_choices("tfjs"), value=BROWSER_DEFAULT, label="Browser"
            )
            browser_bundle = gr.DownloadButton("Browser bundle (.zip)")

    with gr.Tab("Admin"):
        admin_secret, served_changed = admin_tab()

    # wiring
    classify.click(
        classify_drawing_on_the_loop,
        [canvas, model],
        [label, preview, hint],
        api_name="classify",
        concurrency_id="classify",
        concurrency_limit=CLASSIFY_AT_ONCE,
    )
    gr.on(
        [canvas.input, canvas.change, model.change],
        classify_while_drawing_on_the_loop,
        [canvas, model],
        [label, preview, hint],
        js=BINNED_JS,
        api_name="classify_live",
        api_visibility="undocumented",
        trigger_mode="always_last",
        show_progress="hidden",
        concurrency_id="classify",
        concurrency_limit=CLASSIFY_AT_ONCE,
    )
    # After the bin the editor drops its pen ("select the draw tool"). Picking
    # it again in the page, not by sending a blank canvas from the server,
    # leaves no moment in which a blank canvas arriving late wipes a stroke.
    canvas.clear(None, None, None, js=PICK_PEN_JS)
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
    ).then(lock_absent_downloads, [export_model], variant_files,
           api_visibility="private", show_progress="hidden")
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
        [export_model, admin_secret],
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
    ).then(lock_absent_downloads, [export_model], variant_files,
           api_visibility="private", show_progress="hidden")
    # a version published or rolled back in the Admin tab: the Export tab
    # shows the files and figures now served
    for event in served_changed:
        event.success(
            describe_export, [export_model], [variant_table, cards, *variant_files],
            api_visibility="private", show_progress="hidden",
        ).then(
            prepare_bundles, bundle_inputs, bundle_outputs, api_visibility="private",
            show_progress="hidden",
        ).then(
            lock_absent_downloads, [export_model], variant_files,
            api_visibility="private", show_progress="hidden",
        )


if __name__ == "__main__":
    # Queue positions go out every QUEUE_STATUS_SECONDS instead of to every
    # waiting request each time one starts: under load that is many messages
    # per drawing for nothing (bench/load.py).
    demo.queue(status_update_rate=QUEUE_STATUS_SECONDS)
    demo.launch(css=CSS, js=PAGE_JS, max_file_size=MAX_UPLOAD)
