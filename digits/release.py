"""Turn a trained model into a served version: save, export, verify, card, publish.

This is the tail of the Admin flow, shared by the CLI and the app:
a new version is assembled in a staging folder inside the store, every
export is run in its own runtime and compared with Keras, the card records
the figures, and only then does `store.publish` swap it in whole.
"""

import datetime
import logging
import platform
import shutil
from pathlib import Path

import numpy as np

from digits import LABELS, cards, export, models, runtimes, store, train

log = logging.getLogger(__name__)

# Least share of MNIST test images whose top-1 must match Keras in each runtime.
MIN_AGREEMENT = {"litert": 0.999, "tfjs": 0.998}
BROWSER_SAMPLE = 500  # test images checked in TF.js (the browser is slow)


class VerificationError(RuntimeError):
    """An export disagrees with its Keras model; the version is not published."""


def release_model(model, config, mnist, seconds):
    """Assemble, verify and publish a trained model; return its card."""
    staged = store.staging_dir(config.model)
    try:
        card = assemble_version(model, config, mnist, seconds, staged)
        store.publish(config.model, staged)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    log.info("published %s (MNIST test accuracy %.4f)", config.model,
             card["mnist_test_accuracy"])
    return card


def assemble_version(model, config, mnist, seconds, folder):
    """Write model, exports, labels and a verified card into `folder`."""
    folder = Path(folder)
    model.save(folder / store.KERAS_FILE)
    (folder / store.LABELS_FILE).write_text("\n".join(LABELS) + "\n")
    export.export_model(folder)
    keras_probabilities = train.predict_batches(model, mnist.x_test)
    card = {
        "model": config.model,
        "title": models.TITLES[config.model],
        "params": int(model.count_params()),
        "mnist_test_accuracy": _accuracy(keras_probabilities, mnist.y_test),
        "runtime_agreement": verify_exports(folder, mnist, keras_probabilities),
        "trained": {
            "config": config.as_dict(),
            "seconds": round(seconds, 1),
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "host": f"{platform.machine()}, {platform.system()}, CPU",
        },
        "summary": cards.summary_text(model),
    }
    card["files"] = cards.describe_files(folder)
    cards.write_card(folder, card)
    return card


def verify_exports(folder, mnist, keras_probabilities):
    """Run each export in its runtime; {runtime: {agreement, accuracy, n}}."""
    folder = Path(folder)
    checks = {
        "litert": (folder / store.TFLITE_FILE, len(mnist.x_test)),
        "tfjs": (folder / store.TFJS_DIR, BROWSER_SAMPLE),
    }
    results = {}
    for name, (path, n) in checks.items():
        with runtimes.load(path) as runtime:
            predicted = runtime.predict(mnist.x_test[:n]).argmax(axis=1)
        agreement = float(np.mean(predicted == keras_probabilities[:n].argmax(axis=1)))
        results[name] = {
            "agreement": agreement,
            "accuracy": float(np.mean(predicted == mnist.y_test[:n])),
            "n": n,
        }
        log.info("%s agrees with Keras on %.2f%% of %d test images",
                 name, 100 * agreement, n)
        if agreement < MIN_AGREEMENT[name]:
            raise VerificationError(
                f"{path.name} in {name} agrees with Keras on only "
                f"{agreement:.2%} of {n} test images (need {MIN_AGREEMENT[name]:.1%})."
            )
    return results


def _accuracy(probabilities, labels):
    return float(np.mean(probabilities.argmax(axis=1) == labels))
