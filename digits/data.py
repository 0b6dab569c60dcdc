"""MNIST, from a local .npz in Keras' layout or through Keras' own download.

The local file wins when given (argument, then the DIGITS_MNIST environment
variable); otherwise Keras downloads it once and caches it under ~/.keras.
Images come back as float32 in 0..1, white ink on black, shape (n, 28, 28).
"""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MNIST_ENV = "DIGITS_MNIST"
MNIST_KEYS = ("x_train", "y_train", "x_test", "y_test")


class DataError(RuntimeError):
    """MNIST could not be had; the message says how to provide it."""


@dataclass(frozen=True)
class Mnist:
    x_train: np.ndarray  # (60000, 28, 28) float32 in 0..1
    y_train: np.ndarray  # (60000,) uint8 digit labels
    x_test: np.ndarray  # (10000, 28, 28) float32 in 0..1
    y_test: np.ndarray  # (10000,) uint8


def mnist_path(path=None):
    """The local MNIST file to use, or None to fall back to Keras' download."""
    chosen = path or os.environ.get(MNIST_ENV)
    return Path(chosen) if chosen else None


def load_mnist(path=None):
    """Load MNIST as an Mnist of float32 images in 0..1.

    path: a .npz with x_train, y_train, x_test, y_test (the file Keras
    downloads); when None, DIGITS_MNIST is read, then Keras' cache or download.
    """
    local = mnist_path(path)
    arrays = _read_npz(local) if local else _download()
    x_train, y_train, x_test, y_test = arrays
    return Mnist(
        x_train=_to_unit(x_train),
        y_train=np.asarray(y_train, np.uint8),
        x_test=_to_unit(x_test),
        y_test=np.asarray(y_test, np.uint8),
    )


def _read_npz(path):
    if not path.is_file():
        raise DataError(
            f"No MNIST file at {path}; pass --data or set {MNIST_ENV} to the "
            "mnist.npz that keras.datasets.mnist downloads."
        )
    try:
        npz = np.load(path)
    except (ValueError, OSError) as error:
        raise DataError(f"{path} is not an .npz file; MNIST comes as mnist.npz.") from error
    with npz:
        missing = [k for k in MNIST_KEYS if k not in npz]
        if missing:
            raise DataError(
                f"{path} is not an MNIST .npz: it lacks {', '.join(missing)}."
            )
        return tuple(npz[k] for k in MNIST_KEYS)


def _download():
    import keras

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as error:  # Keras raises bare Exception on network failure
        raise DataError(
            "Could not download MNIST (offline?); pass --data or set "
            f"{MNIST_ENV} to a local mnist.npz in Keras' layout."
        ) from error
    return x_train, y_train, x_test, y_test


def _to_unit(images):
    return np.asarray(images, np.float32) / 255.0


# drawn digits

HOLDOUT_WRITERS = 10  # the last writers by name are never trained on


def load_drawn_file(path):
    """Samples of a drawn-digit JSON file (see digits.strokes)."""
    from digits import strokes

    if not Path(path).is_file():
        raise DataError(
            f"No drawn-digit file at {path}; give a JSON list of "
            "{label, writer, strokes} samples, such as UCI's pendigits."
        )
    return strokes.load_drawn(path)


def split_writers(samples, holdout=HOLDOUT_WRITERS):
    """(training writers, held-out writers), each a sorted list of names.

    A writer is on one side only, so accuracy on the held-out side measures
    how the model reads people it has never seen.
    """
    writers = sorted({sample["writer"] for sample in samples})
    return writers[: len(writers) - holdout], writers[len(writers) - holdout :]


def render_drawn(samples, copies=1, seed=0, random_canvas=True):
    """Draw each sample `copies` times and prepare it as the app would.

    Returns (images (n, 28, 28) float32, labels (n,) uint8); each copy is on
    its own random canvas (size, brush, position, polarity) when
    `random_canvas`, else on a plain 400 px canvas with a 12 px brush.
    Drawings that preprocessing refuses are left out.
    """
    from multiprocessing import get_context

    jobs = [(s["strokes"], s["label"], seed * 1_000_003 + i * copies + c,
             random_canvas) for i, s in enumerate(samples) for c in range(copies)]
    with get_context("spawn").Pool(os.cpu_count()) as pool:
        done = [r for r in pool.map(_render_one, jobs, chunksize=128) if r]
    images, labels = zip(*done)
    return np.stack(images), np.array(labels, np.uint8)


def _render_one(job):
    from digits import sketch, strokes

    pen, label, seed, random_canvas = job
    canvas = (strokes.random_canvas(np.random.default_rng(seed))
              if random_canvas else strokes.Canvas())
    try:
        return sketch.to_digit(strokes.draw_strokes(pen, canvas)), label
    except sketch.SketchError:
        return None
