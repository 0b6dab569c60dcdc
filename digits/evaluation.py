"""How well a freshly trained model reads digits: the Admin tab's evaluation.

    result = evaluate(model, mnist, held_out_drawn(path))

MNIST test accuracy with its confusion matrix and the misclassified test
digits, and the accuracy on real pen-drawn digits by the writers no model
trains on (digits.data.split_writers): each drawn once, centred on a 400 px
canvas with a 12 px brush (digits.strokes.Canvas), like the "centred"
condition of bench/drawn.py, and prepared as the app prepares a drawing.
Drawing the 2,498 held-out digits takes ~30 s on 2 cores, so the prepared
set is cached in the temp folder, keyed by the file's path, size and time.
"""

import hashlib
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from digits import LABELS, data

log = logging.getLogger(__name__)

CLASSES = len(LABELS)
DRAWN_CANVAS_PX = 400  # digits.strokes.Canvas(): the app's canvas size


def evaluate(model, mnist, drawn=None):
    """Measure a Keras model on MNIST's test set and, when given, on drawn
    digits (images, labels). Returns {"mnist_test_accuracy",
    "confusion_matrix" (10x10 lists, rows true digit, columns read),
    "misclassified" {"index", "true", "predicted"} (lists over the test
    images read wrong, in test-set order), "drawn_accuracy" (a card's
    drawn_accuracy dict, or None)}.
    """
    from digits import train

    predicted = train.predict_batches(model, mnist.x_test).argmax(axis=1)
    wrong = np.flatnonzero(predicted != mnist.y_test)
    result = {
        "mnist_test_accuracy": float(np.mean(predicted == mnist.y_test)),
        "confusion_matrix": confusion_matrix(mnist.y_test, predicted).tolist(),
        "misclassified": {"index": wrong.tolist(),
                          "true": mnist.y_test[wrong].tolist(),
                          "predicted": predicted[wrong].tolist()},
        "drawn_accuracy": None,
    }
    if drawn is not None:
        images, labels = drawn
        read = train.predict_batches(model, images).argmax(axis=1)
        result["drawn_accuracy"] = describe_drawn(float(np.mean(read == labels)),
                                                  len(labels))
    log.info("MNIST test accuracy %.4f, %d test digits read wrong%s",
             result["mnist_test_accuracy"], len(wrong),
             f", drawn digits {result['drawn_accuracy']['centred']:.4f}"
             if drawn is not None else "")
    return result


def confusion_matrix(true, predicted):
    """(10, 10) counts: row = true digit, column = the digit read."""
    pairs = np.asarray(true, np.int64) * CLASSES + np.asarray(predicted, np.int64)
    return np.bincount(pairs, minlength=CLASSES * CLASSES).reshape(CLASSES, CLASSES)


def describe_drawn(accuracy, count):
    """A card's drawn_accuracy for the held-out writers' digits, centred."""
    return {"centred": accuracy, "n": count, "canvas_px": DRAWN_CANVAS_PX,
            "data": "UCI pendigits, real pen strokes", "writers": "held-out",
            "how": "digits.strokes, centred, 12 px brush"}


def held_out_drawn(path, limit=None):
    """(images (n, 28, 28) float32, labels (n,)) of the held-out writers'
    digits in the drawn-digit file `path`, prepared as the app prepares a
    drawing; the first `limit` of them when given. Cached (see above)."""
    samples = data.load_drawn_file(path)
    held_out = set(data.split_writers(samples)[1])
    chosen = [s for s in samples if s["writer"] in held_out][:limit]
    cache = _cache_path(path, len(chosen))
    if cache.is_file():
        with np.load(cache) as saved:
            return saved["images"], saved["labels"]
    log.info("drawing %d digits by %d held-out writers", len(chosen), len(held_out))
    images, labels = data.render_drawn(chosen, random_canvas=False)
    _save_atomically(cache, images=images, labels=labels)
    return images, labels


def _cache_path(path, count):
    facts = Path(path).resolve().stat()
    key = f"{Path(path).resolve()}:{facts.st_size}:{facts.st_mtime_ns}:{count}"
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"digits-held-out-{digest}.npz"


def _save_atomically(path, **arrays):
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez_compressed(stream, **arrays)
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)
