"""Export a trained digit model for phones (TFLite) and browsers (TF.js), in variants.

Every variant is made from the SavedModel that Keras' `model.export` writes,
whose serving signature keeps the package's contract: one input "digit" of
shape (batch, 28, 28), white ink on black in 0..1, and one (batch, 10)
softmax output. A TF.js *graph* model is used because the layers format that
tensorflowjs writes for Keras 3 models does not load in TF.js.

Variants (VARIANTS), each a file or folder beside model.keras:

    tflite_float32  model.tflite          float32 weights and input
    tflite_dynamic  model_dynamic.tflite  int8 weights, float32 input (dynamic range)
    tflite_float16  model_float16.tflite  float16 weights, float32 input
    tflite_int8     model_int8.tflite     int8 weights, activations, input and
                                          output, calibrated on MNIST training
                                          images; the input scale and zero point
                                          are in the file, the card and the
                                          Android bundle's contract
    tfjs_float32    tfjs/                 graph model, float32 weights
    tfjs_float16    tfjs_float16/         weights stored as float16
    tfjs_uint8      tfjs_uint8/           weights stored as uint8 (affine)

Quantized TF.js weights are expanded back to float32 when the model loads, so
they shrink the download, not the arithmetic. Bundles that an app developer
drops in (an Android assets/ zip with a JSON contract, a browser zip with a
drawing page and tf.min.js) are made from these files by `write_android_bundle`
and `write_browser_bundle`.

Every export is written beside its final place and moved in with a rename,
so a reader (the app, a download) sees the old export or the new one, never
half of one. TensorFlow is imported inside the functions: importing this
module stays cheap.

    python -c "import digits.export as e; e.export_model('exports/mlp')"
"""

import contextlib
import json
import logging
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digits import LABELS
# the model folder's file names are the store's: one definition for both
from digits.store import KERAS_FILE, TFJS_DIR, TFLITE_FILE

log = logging.getLogger(__name__)

LABELS_FILE = "labels.txt"  # one digit per line, in output order
TFJS_SHARD_BYTES = 4 * 1024 * 1024  # largest weight file TF.js fetches at once
CALIBRATION_IMAGES = 1000  # MNIST training images the int8 ranges are fitted on
CALIBRATION_SEED = 0  # which ones: a fixed random draw, all digits represented

WEB_DIR = Path(__file__).resolve().parent / "web"  # the browser bundle's page
PAGE_FILE = WEB_DIR / "index.html"
# tf.min.js copied from node_modules/@tensorflow/tfjs/dist (the version in
# package.json), so the bundle can be built where npm never ran (a Space).
PAGE_LIBRARY = WEB_DIR / "tf.min.js"


@dataclass(frozen=True)
class Variant:
    """One exported form of a model: where it lives and what runs it."""

    name: str  # key in VARIANTS and in the card's "variants"
    title: str  # what a person reads in the Export tab
    path: str  # file or folder inside the model folder
    runtime: str  # digits.runtimes name that runs it: "litert" or "tfjs"
    reference: str  # the float32 variant its size is compared with

    @property
    def format(self):
        return "tflite" if self.runtime == "litert" else "tfjs"


VARIANTS = {
    v.name: v
    for v in (
        Variant("tflite_float32", "TFLite float32", TFLITE_FILE, "litert",
                "tflite_float32"),
        Variant("tflite_dynamic", "TFLite dynamic range (int8 weights)",
                "model_dynamic.tflite", "litert", "tflite_float32"),
        Variant("tflite_float16", "TFLite float16", "model_float16.tflite",
                "litert", "tflite_float32"),
        Variant("tflite_int8", "TFLite full integer (int8 in and out)",
                "model_int8.tflite", "litert", "tflite_float32"),
        Variant("tfjs_float32", "TF.js float32", TFJS_DIR, "tfjs", "tfjs_float32"),
        Variant("tfjs_float16", "TF.js float16 weights", "tfjs_float16", "tfjs",
                "tfjs_float32"),
        Variant("tfjs_uint8", "TF.js uint8 weights", "tfjs_uint8", "tfjs",
                "tfjs_float32"),
    )
}
VARIANT_NAMES = tuple(VARIANTS)
TFLITE_VARIANTS = tuple(n for n, v in VARIANTS.items() if v.format == "tflite")
TFJS_VARIANTS = tuple(n for n, v in VARIANTS.items() if v.format == "tfjs")


# tflite

def export_tflite(model, path):
    """Write `model` as a float32 .tflite at `path` and return the path.

    `model` is a Keras model or the folder of its SavedModel. The flatbuffer
    has one input of shape [-1, 28, 28] float32 (resizable to any batch) and
    one [-1, 10] output. The file is replaced atomically.
    """
    return _convert_to_tflite(model, path, lambda converter: None)


def export_tflite_dynamic(model, path):
    """Write a dynamic-range .tflite: int8 weights, float32 input and output."""
    import tensorflow as tf

    def quantize_weights(converter):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]

    return _convert_to_tflite(model, path, quantize_weights)


def export_tflite_float16(model, path):
    """Write a .tflite whose weights are float16; input and output stay float32."""
    import tensorflow as tf

    def halve_weights(converter):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]

    return _convert_to_tflite(model, path, halve_weights)


def export_tflite_int8(model, path, calibration_images):
    """Write a full-integer .tflite: int8 everywhere, input and output included.

    calibration_images: (n, 28, 28) float32 MNIST training digits whose
    activations fix each tensor's int8 range (see calibration_sample). The
    input keeps shape [-1, 28, 28]; feed q = round(x / scale) + zero_point
    with the input tensor's quantization, and read p = (q - zero_point) * scale.
    """
    import tensorflow as tf

    images = np.asarray(calibration_images, np.float32)

    def quantize_everything(converter):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([image[None]] for image in images)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8

    return _convert_to_tflite(model, path, quantize_everything)


def calibration_sample(train_images, count=CALIBRATION_IMAGES, seed=CALIBRATION_SEED):
    """A fixed random draw of `count` training images for int8 calibration."""
    chosen = np.random.default_rng(seed).choice(len(train_images), count, replace=False)
    return np.asarray(train_images[np.sort(chosen)], np.float32)


def _convert_to_tflite(model, path, configure):
    import tensorflow as tf

    path = Path(path)
    with _saved_model(model) as saved_model:
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
        configure(converter)
        flatbuffer = converter.convert()
    _replace_file(path, flatbuffer)
    return path


# tfjs

def export_tfjs(model, directory):
    """Write `model` as a TF.js graph model in `directory`; return the folder.

    `model` is a Keras model or the folder of its SavedModel. The folder
    holds model.json and its weight shards. It is built as a hidden sibling
    and renamed into place; an existing folder is swapped out and removed.
    """
    return _convert_to_tfjs(model, directory, quantization=None)


def export_tfjs_float16(model, directory):
    """A TF.js graph model whose weights are stored as float16 (half the bytes)."""
    return _convert_to_tfjs(model, directory, quantization="float16")


def export_tfjs_uint8(model, directory):
    """A TF.js graph model whose weights are stored as uint8 with a per-tensor
    scale and minimum (a quarter of the bytes)."""
    return _convert_to_tfjs(model, directory, quantization="uint8")


def _convert_to_tfjs(model, directory, quantization):
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = _make_sibling_dir(directory, "new")
    try:
        with _saved_model(model) as saved_model:
            _convert_saved_model_to_tfjs(saved_model, staging, quantization)
        _swap_directory(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


# Umbrella: variant name -> its exporter (int8 also takes calibration images).
EXPORTERS = {
    "tflite_float32": export_tflite,
    "tflite_dynamic": export_tflite_dynamic,
    "tflite_float16": export_tflite_float16,
    "tflite_int8": export_tflite_int8,
    "tfjs_float32": export_tfjs,
    "tfjs_float16": export_tfjs_float16,
    "tfjs_uint8": export_tfjs_uint8,
}


def export_model(model_dir, variants=VARIANT_NAMES, calibration_images=None):
    """Export the model.keras in `model_dir` to every variant, next to it.

    calibration_images: training digits for the int8 variant; when None, a
    calibration_sample of MNIST's training set (DIGITS_MNIST, else Keras'
    download). Logs one line per variant with its path and size in bytes and
    returns {variant name: path}.
    """
    model_dir = Path(model_dir)
    check_variant_names(variants)
    model = load_keras_model(model_dir / KERAS_FILE)
    if "tflite_int8" in variants and calibration_images is None:
        calibration_images = _default_calibration_images()

    written = {}
    with _saved_model(model) as saved_model:  # written once, read by every variant
        for name in variants:
            extra = (calibration_images,) if name == "tflite_int8" else ()
            target = model_dir / VARIANTS[name].path
            written[name] = EXPORTERS[name](saved_model, target, *extra)
            size = measure_bytes(written[name])
            log.info("exported %s to %s (%d bytes)", name, written[name], size)
    return written


def check_variant_names(names):
    """Raise ValueError naming any name that is not one of VARIANT_NAMES."""
    unknown = [name for name in names if name not in VARIANTS]
    if unknown:
        raise ValueError(
            f"unknown export variant(s) {unknown}; choose from: "
            f"{', '.join(VARIANT_NAMES)}"
        )


def _default_calibration_images():
    from digits import data

    return calibration_sample(data.load_mnist().x_train)


def load_keras_model(path):
    """Load a .keras file for export (uncompiled: only inference is needed)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"No Keras model at {path}; train one first or save it there "
            "with model.save()."
        )
    import keras

    import digits.networks  # noqa: F401  (registers the package's Keras classes)

    return keras.saving.load_model(path, compile=False)


def measure_bytes(path):
    """Size of a file, or the total size of the files in a folder, in bytes."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def remove_variant(model_dir, name):
    """Delete variant `name`'s file or folder from a model folder being assembled."""
    path = Path(model_dir) / VARIANTS[name].path
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


# bundles

ANDROID_MODEL = "digits.tflite"  # names inside the Android zip (assets/ root)
ANDROID_CONTRACT = "digits.json"
ZIP_DATE = (2024, 1, 1, 0, 0, 0)  # every zip entry's time: same files, same bytes


def write_android_bundle(model_dir, variant_name, zip_path):
    """Zip one .tflite variant for an Android app's assets/ folder.

    The zip holds digits.tflite, labels.txt and digits.json (the contract:
    see android_contract), all at its root. Returns the zip's path.
    """
    model_dir, variant = Path(model_dir), _variant_of_format(variant_name, "tflite")
    tflite = _existing(model_dir / variant.path)
    contract = android_contract(tflite, model_dir.name, variant)
    entries = {
        ANDROID_MODEL: tflite.read_bytes(),
        LABELS_FILE: ("\n".join(LABELS) + "\n").encode(),
        ANDROID_CONTRACT: (json.dumps(contract, indent=2) + "\n").encode(),
    }
    return _write_zip(zip_path, entries)


def android_contract(tflite_path, model_name, variant):
    """What an Android app must feed the .tflite and how to read its output."""
    from digits import runtimes

    with runtimes.load(tflite_path) as litert:
        tensors = litert.describe_tensors()
    return {
        "model": model_name,
        "variant": variant.name,
        "title": variant.title,
        "model_file": ANDROID_MODEL,
        "labels_file": LABELS_FILE,
        "input": _tensor_contract(INPUT_CONTRACT, tensors["input"], INPUT_FORMULA),
        "output": _tensor_contract(OUTPUT_CONTRACT, tensors["output"], OUTPUT_FORMULA),
        "preprocessing": preprocessing_steps(),
    }


def preprocessing_steps():
    """digits.sketch's steps, with its numbers, for a port to another language."""
    from digits import sketch

    threshold = sketch.INK_LEVEL / 4
    return [
        {"step": "ink_map", "how": INK_MAP_HOW},
        {"step": "crop", "threshold": threshold,
         "how": "keep the rows and columns that hold a pixel above threshold"},
        {"step": "resize", "longer_side": sketch.WORK, "how": RESIZE_HOW},
        {"step": "stroke_width", "target_px": sketch.PEN, "skip_within_px": 1.5,
         "optional": True, "how": STROKE_HOW},
        {"step": "crop", "threshold": threshold, "how": "as before"},
        {"step": "resize", "longer_side": sketch.BOX, "how": RESIZE_HOW},
        {"step": "centre_of_mass", "frame": sketch.FRAME, "how": CENTRE_HOW},
        {"step": "normalise", "how": "divide by the largest pixel (peak ink = 1.0)"
                                     ", then clip to 0..1"},
    ]


INPUT_CONTRACT = {
    "layout": "[batch, row, column]; row 0 is the top; batch 1 (resizable)",
    "value_range": [0.0, 1.0],
    "polarity": "ink is 1.0 (white) on a 0.0 (black) background, as in MNIST",
}
OUTPUT_CONTRACT = {
    "meaning": "softmax probability of each digit: index i is the digit on "
               "line i of labels.txt (0-9); the largest is the answer",
}
INPUT_FORMULA = "q = clamp(round(x / scale) + zero_point, -128, 127)"
OUTPUT_FORMULA = "p = (q - zero_point) * scale"
INK_MAP_HOW = (
    "per pixel, in 0..1: the alpha where the canvas has transparent pixels; "
    "otherwise luminance L = 0.299 R + 0.587 G + 0.114 B, background b = the "
    "median L, ink = clamp((b - L) / b, 0, 1) if b >= 0.5 else "
    "clamp((L - b) / (1 - b), 0, 1)"
)
RESIZE_HOW = (
    "scale both sides by longer_side / the longer side, each rounded to the "
    "nearest pixel; area averaging when shrinking, bilinear when enlarging"
)
STROKE_HOW = (
    "width = 2 * median distance-to-background along the strokes' ridge - 1; "
    "dilate (thinner pen) or erode (thicker) with a disc of radius "
    "|target - width| / 2; skipped when |target - width| < skip_within_px. "
    "Leaving it out only matters for very thin or very thick pens"
)
CENTRE_HOW = (
    "paste the digit at ((frame - h) // 2, (frame - w) // 2) in a black "
    "frame x frame image, then shift it (bilinear) so the ink's centre of mass "
    "is at (frame / 2 - 0.5, frame / 2 - 0.5)"
)


def _tensor_contract(meaning, tensor, formula):
    described = {"shape": tensor["shape"], "dtype": tensor["dtype"], **meaning}
    if tensor.get("scale") is not None:
        described["quantization"] = {"scale": tensor["scale"],
                                     "zero_point": tensor["zero_point"],
                                     "formula": formula}
    return described


def write_browser_bundle(model_dir, variant_name, zip_path):
    """Zip one TF.js variant with a page that draws and classifies offline.

    The zip holds one folder, digits-<model>/, with index.html (canvas,
    digits.sketch's preprocessing ported to JavaScript, the answer), the
    tf.min.js it loads, and model.json with its weight shards. Serve the
    folder over HTTP (`python -m http.server`) and open index.html.
    """
    model_dir, variant = Path(model_dir), _variant_of_format(variant_name, "tfjs")
    graph = _existing(model_dir / variant.path / "model.json").parent
    root = f"digits-{model_dir.name}"
    title = f"{model_dir.name}, {variant.title}"
    page = PAGE_FILE.read_text().replace("{{MODEL}}", title)
    entries = {f"{root}/index.html": page.encode(),
               f"{root}/tf.min.js": _existing(PAGE_LIBRARY).read_bytes()}
    for path in sorted(graph.iterdir()):
        entries[f"{root}/{path.name}"] = path.read_bytes()
    return _write_zip(zip_path, entries)


def _variant_of_format(name, format_name):
    check_variant_names([name])
    if VARIANTS[name].format != format_name:
        choices = [n for n, v in VARIANTS.items() if v.format == format_name]
        raise ValueError(
            f"{name!r} is not a {format_name} variant; "
            f"choose from: {', '.join(choices)}"
        )
    return VARIANTS[name]


def _existing(path):
    if not path.exists():
        raise FileNotFoundError(
            f"No {path.name} at {path.parent}; export the model first "
            "(python -m digits export --model NAME)."
        )
    return path


def _write_zip(zip_path, entries):
    """Write {name in zip: bytes} to `zip_path` atomically; return the path."""
    zip_path = Path(zip_path)
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{zip_path.name}.", dir=zip_path.parent
    )
    os.close(handle)
    try:
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, content in entries.items():
                info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
                info.external_attr = 0o644 << 16  # rw-r--r-- when unzipped
                archive.writestr(info, content, zipfile.ZIP_DEFLATED)
        os.replace(temporary, zip_path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    log.info("wrote %s (%d bytes)", zip_path, zip_path.stat().st_size)
    return zip_path


# helpers

@contextlib.contextmanager
def _saved_model(model):
    """The SavedModel folder of `model`: itself when it is a path, else written
    to a scratch folder that is removed afterwards."""
    if isinstance(model, (str, Path)):
        yield Path(model)
        return
    with tempfile.TemporaryDirectory(prefix="digits-savedmodel-") as scratch:
        saved_model = Path(scratch) / "saved_model"
        model.export(str(saved_model), format="tf_saved_model", verbose=False)
        yield saved_model


def _convert_saved_model_to_tfjs(saved_model, output_dir, quantization=None):
    # tensorflowjs imports tensorflow_decision_forests, whose welcome message
    # needs IPython whenever stdout is not a terminal (pytest, a log file):
    # without this the import fails with ModuleNotFoundError: IPython.
    os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")
    from tensorflowjs.converters import tf_saved_model_conversion_v2

    tf_saved_model_conversion_v2.convert_tf_saved_model(
        str(saved_model),
        str(output_dir),
        quantization_dtype_map={quantization: True} if quantization else None,
        weight_shard_size_bytes=TFJS_SHARD_BYTES,
    )


def _replace_file(path, content):
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _make_sibling_dir(directory, role):
    # Hidden, unique, and on the same file system, so renames stay atomic.
    prefix = f".{directory.name}.{role}-"
    return Path(tempfile.mkdtemp(prefix=prefix, dir=directory.parent))


def _swap_directory(staging, directory):
    # Two renames: readers see the complete old folder, then (for the instant
    # between the renames) no folder, then the complete new one.
    if not directory.exists():
        os.rename(staging, directory)
        return
    retired = _make_sibling_dir(directory, "old")
    os.rename(directory, retired / directory.name)
    os.rename(staging, directory)
    shutil.rmtree(retired, ignore_errors=True)
