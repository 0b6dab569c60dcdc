"""Export a trained digit model for phones (TFLite) and browsers (TF.js).

Both formats are made from the SavedModel that Keras' `model.export` writes,
whose serving signature keeps the package's contract: one float32 input
"digit" of shape (batch, 28, 28), white ink on black in 0..1, and one
(batch, 10) softmax output. A TF.js *graph* model is used because the layers
format that tensorflowjs writes for Keras 3 models does not load in TF.js.

Every export is written beside its final place and moved in with a rename,
so a reader (the app, a download) sees the old export or the new one, never
half of one. TensorFlow is imported inside the functions: importing this
module stays cheap.

    python -c "import digits.export as e; e.export_model('exports/mlp')"
"""

import contextlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

KERAS_FILE = "model.keras"  # the trained model an export folder starts from
TFLITE_FILE = "model.tflite"  # float32 TFLite flatbuffer, for Android / LiteRT
TFJS_DIR = "tfjs"  # TF.js graph model: model.json + group*-shard*.bin
TFJS_SHARD_BYTES = 4 * 1024 * 1024  # largest weight file TF.js fetches at once


def export_tflite(model, path):
    """Write `model` as a float32 .tflite at `path` and return the path.

    The flatbuffer has one input of shape [-1, 28, 28] float32 (resizable to
    any batch) and one [-1, 10] output. The file is replaced atomically.
    """
    import tensorflow as tf

    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="digits-savedmodel-") as scratch:
        saved_model = _write_saved_model(model, Path(scratch))
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
        flatbuffer = converter.convert()
    _replace_file(path, flatbuffer)
    return path


def export_tfjs(model, directory):
    """Write `model` as a TF.js graph model in `directory`; return the folder.

    The folder holds model.json and its weight shards. It is built as a
    hidden sibling and renamed into place; an existing folder is swapped out
    and removed afterwards.
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = _make_sibling_dir(directory, "new")
    try:
        with tempfile.TemporaryDirectory(prefix="digits-savedmodel-") as scratch:
            saved_model = _write_saved_model(model, Path(scratch))
            _convert_saved_model_to_tfjs(saved_model, staging)
        _swap_directory(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


# Umbrella: format name -> (exporter, file or folder name inside the model folder).
EXPORTERS = {
    "tflite": (export_tflite, TFLITE_FILE),
    "tfjs": (export_tfjs, TFJS_DIR),
}
FORMATS = tuple(EXPORTERS)


def export_model(model_dir, formats=FORMATS):
    """Export the model.keras in `model_dir` to every format, next to it.

    Writes model_dir/model.tflite and model_dir/tfjs/, logs one line per
    export with its path and size in bytes, and returns {format: path}.
    """
    model_dir = Path(model_dir)
    unknown = [name for name in formats if name not in EXPORTERS]
    if unknown:
        raise ValueError(
            f"unknown export format(s) {unknown}; choose from: {', '.join(FORMATS)}"
        )
    model = load_keras_model(model_dir / KERAS_FILE)

    written = {}
    for name in formats:
        exporter, target = EXPORTERS[name]
        written[name] = exporter(model, model_dir / target)
        size = measure_bytes(written[name])
        log.info("exported %s to %s (%d bytes)", name, written[name], size)
    return written


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


def _write_saved_model(model, scratch):
    saved_model = scratch / "saved_model"
    model.export(str(saved_model), format="tf_saved_model", verbose=False)
    return saved_model


def _convert_saved_model_to_tfjs(saved_model, output_dir):
    # tensorflowjs imports tensorflow_decision_forests, whose welcome message
    # needs IPython whenever stdout is not a terminal (pytest, a log file):
    # without this the import fails with ModuleNotFoundError: IPython.
    os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")
    from tensorflowjs.converters import tf_saved_model_conversion_v2

    tf_saved_model_conversion_v2.convert_tf_saved_model(
        str(saved_model),
        str(output_dir),
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
