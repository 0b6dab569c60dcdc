"""Turn a trained model into a version: save, export, verify, card, keep, publish.

This is the tail of the Admin flow, shared by the CLI and the app: a new
version is assembled in a staging folder inside the store, every export
variant the model is made in (all of digits.export.VARIANTS, or those in
VARIANTS_BY_MODEL) is run in its own runtime and compared with Keras, the
card records each variant's size, accuracy, agreement and latency, and only
then is the folder kept as a version (`store.save_version`) and, when asked,
served (`store.publish_version`), each in one step.

`release_model` does this for a freshly trained model; `reexport_model`
does it again for a served model.keras (new variants, a new converter),
keeping what the card knows about how the model was trained.
"""

import datetime
import logging
import os
import platform
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digits import LABELS, cards, export, models, runtimes, store, train

log = logging.getLogger(__name__)

# Least share of MNIST test images whose top-1 must match Keras, per variant:
# float32 files compute what Keras computes; quantized ones may differ on a
# few digits the model was unsure about.
MIN_AGREEMENT_FLOAT32 = 0.999
MIN_AGREEMENT_QUANTIZED = 0.995
FLOAT32_VARIANTS = ("tflite_float32", "tfjs_float32")
# Variants a model is exported to, where not every one of export.VARIANTS:
# none at present, every model is made in all seven. (ResNet50V2's int8 file
# from an earlier training run agreed with Keras on 99.4 % of test digits;
# the shipped weights' agrees on 99.86 %, calibrated like every other model.)
VARIANTS_BY_MODEL = {}
# Card fields a re-export keeps: facts about the Keras model, not its exports,
# and "not_committed" (files the repository leaves out, how to make them).
KEPT_FIELDS = ("title", "trained", "drawn_accuracy", "not_committed")


@dataclass(frozen=True)
class Verification:
    """How many MNIST test images each variant is checked on."""

    litert_images: int = 10_000  # LiteRT is fast: the whole test set
    tfjs_images: int = 1_000  # TF.js in Chromium runs ~9 ms per CNN digit
    latency_images: int = 100  # single-digit runs whose median is the latency


class VerificationError(RuntimeError):
    """An export disagrees with its Keras model; the version is not published."""


def release_model(model, config, mnist, seconds, verification=Verification(),
                  publish=True, facts=None):
    """Assemble, verify and keep a trained model as a new version, served at
    once when `publish`; return its card, plus "version": the version's id.

    facts: more card fields measured before (drawn_accuracy, confusion_matrix).
    """
    known = {
        "title": models.TITLES.get(config.model, config.model),
        "trained": describe_training(config, seconds),
        **(facts or {}),
    }

    def fill(folder):
        save_without_optimizer(model, folder / store.KERAS_FILE)
        store.pause_for_tests("staging")  # a half-written version, for kill tests
        return assemble_version(folder, config.model, mnist, known, verification)

    epochs = f"{config.epochs} epoch{'s' if config.epochs != 1 else ''}"
    note = f"trained: {epochs} on {config.train_images:,} MNIST images"
    return _keep_version(config.model, fill, note, publish)


def save_without_optimizer(model, path):
    """Save `model`'s architecture and weights to `path`, leaving out its
    optimizer's state: served models are exported and read, never trained
    further, and Adam's two moments per weight would triple the file
    (ResNet50V2: 283 MB instead of 94 MB, over GitHub's 100 MB limit)."""
    optimizer, model.optimizer = model.optimizer, None
    try:
        model.save(path)
    finally:
        model.optimizer = optimizer


def reexport_model(name, mnist, verification=Verification()):
    """Export the served model.keras of `name` again, in every variant, then
    verify it and publish it as a new version; return the new card."""
    served = store.model_dir(name)
    if not (served / store.KERAS_FILE).is_file():
        raise FileNotFoundError(
            f"No {store.KERAS_FILE} in {served}; train the model first with: "
            f"python -m digits train --model {name}"
        )
    runtimes.check_tfjs_runs()  # before the conversions, not after them
    previous = store.read_card(name)
    known = {key: previous[key] for key in KEPT_FIELDS if key in previous}

    def fill(folder):
        shutil.copyfile(served / store.KERAS_FILE, folder / store.KERAS_FILE)
        return assemble_version(folder, name, mnist, known, verification)

    note = f"re-exported from {store.served_version(name) or 'the shipped version'}"
    return _keep_version(name, fill, note, publish=True)


def _keep_version(name, fill, note, publish):
    staged = store.staging_dir(name)
    try:
        card = fill(staged)
        version = store.save_version(name, staged, note)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    if publish:
        store.publish_version(name, version)
    log.info("%s %s version %s (MNIST test accuracy %.4f)",
             "published" if publish else "kept, not served,", name, version,
             card["mnist_test_accuracy"])
    return {**card, "version": version}


def assemble_version(folder, name, mnist, known, verification=Verification()):
    """Write labels, every export variant and a verified card into `folder`,
    which already holds model.keras; `known` seeds the card (title, trained)."""
    folder = Path(folder)
    variants = variants_of(name)
    (folder / store.LABELS_FILE).write_text("\n".join(LABELS) + "\n")
    calibration = export.calibration_sample(mnist.x_train)
    export.export_model(folder, variants, calibration_images=calibration)
    model = export.load_keras_model(folder / store.KERAS_FILE)
    keras_probabilities = train.predict_batches(model, mnist.x_test)
    figures = verify_variants(folder, mnist, keras_probabilities, verification,
                              variants)
    withheld = {variant: f for variant, f in figures.items() if "withheld" in f}
    for variant in withheld:
        export.remove_variant(folder, variant)
    card = {
        "title": models.TITLES.get(name, name),
        **known,
        "model": name,
        "params": int(model.count_params()),
        "mnist_test_accuracy": _accuracy(keras_probabilities, mnist.y_test),
        "variants": {v: f for v, f in figures.items() if v not in withheld},
        "measured": describe_measurement(verification),
        "summary": cards.summary_text(model),
    }
    if withheld:
        card["withheld"] = withheld
    card["files"] = cards.describe_files(folder)
    cards.write_card(folder, card)
    return card


def variants_of(name):
    """The export variants model `name` is made in: VARIANTS_BY_MODEL, else all."""
    return VARIANTS_BY_MODEL.get(name, export.VARIANT_NAMES)


def verify_variants(folder, mnist, keras_probabilities, verification=Verification(),
                    variants=export.VARIANT_NAMES):
    """Run each of `variants` in its runtime; {variant: figures}, see
    measure_variant. Each variant's float32 reference must be among them.

    A quantized variant whose top-1 agrees with Keras on fewer test images
    than MIN_AGREEMENT_QUANTIZED gets "withheld": the sentence saying so (a
    briefly trained model can be too unsure of many digits to survive int8);
    the caller leaves it out of the version. A float32 variant that falls
    short is a broken conversion: VerificationError, at once.
    """
    figures = {}
    for name in variants:
        figures[name] = measure_variant(
            Path(folder), export.VARIANTS[name], mnist, keras_probabilities,
            verification
        )
        try:
            check_agreement(name, figures[name])
        except VerificationError as error:
            if name in FLOAT32_VARIANTS:
                raise
            log.warning("withheld %s: %s", name, error)
            figures[name]["withheld"] = str(error)
    for name in variants:
        variant = export.VARIANTS[name]
        reference = figures[variant.reference]["bytes"]
        figures[name]["ratio_to_float32"] = round(figures[name]["bytes"] / reference, 4)
    return figures


def measure_variant(folder, variant, mnist, keras_probabilities, verification):
    """Size, accuracy, agreement with Keras and latency of one exported variant.

    Returns {title, path, runtime, bytes, n, accuracy, keras_accuracy (on the
    same n images), agreement, latency_ms}, plus for a .tflite its input and
    output tensors (dtype, scale, zero point).
    """
    path = folder / variant.path
    n = (verification.litert_images if variant.runtime == "litert"
         else verification.tfjs_images)
    images, labels = mnist.x_test[:n], mnist.y_test[:n]
    keras_top1 = keras_probabilities[:n].argmax(axis=1)
    with runtimes.load(path) as runtime:
        predicted = runtime.predict(images).argmax(axis=1)
        latency = runtime.median_latency_ms(mnist.x_test[: verification.latency_images])
        tensors = runtime.describe_tensors() if variant.runtime == "litert" else {}
    figures = {
        "title": variant.title,
        "path": variant.path,
        "runtime": variant.runtime,
        "bytes": export.measure_bytes(path),
        "n": len(images),
        "accuracy": float(np.mean(predicted == labels)),
        "keras_accuracy": float(np.mean(keras_top1 == labels)),
        "agreement": float(np.mean(predicted == keras_top1)),
        "latency_ms": round(latency, 4),
        **tensors,
    }
    log.info("%s: %d bytes, accuracy %.4f, agrees with Keras on %.2f%% of %d test "
             "images, median %.3f ms per digit in %s", variant.name, figures["bytes"],
             figures["accuracy"], 100 * figures["agreement"], figures["n"],
             latency, variant.runtime)
    return figures


def check_agreement(name, figures):
    """Raise VerificationError when a variant disagrees with Keras too often."""
    least = (MIN_AGREEMENT_FLOAT32 if name in FLOAT32_VARIANTS
             else MIN_AGREEMENT_QUANTIZED)
    if figures["agreement"] < least:
        raise VerificationError(
            f"{figures['path']} ({name}) in {figures['runtime']} agrees with Keras "
            f"on only {figures['agreement']:.2%} of {figures['n']} test images "
            f"(need {least:.1%})."
        )


def describe_training(config, seconds):
    """The card's "trained" field: recipe, wall seconds, UTC date, host."""
    return {
        "config": config.as_dict(),
        "seconds": round(seconds, 1),
        "date": _now(),
        "host": f"{platform.machine()}, {platform.system()}, CPU",
    }


def describe_measurement(verification):
    """The card's "measured" field: when, where and how the variants were timed."""
    cores = f"{_cpu_cores()} CPU cores"
    return {
        "date": _now(),
        "host": f"{platform.machine()}, {platform.system()}, {cores}",
        "latency": (
            f"median of {verification.latency_images} single-digit inferences "
            f"after {runtimes.LATENCY_WARMUP} warm-up runs; LiteRT interpreter "
            "called from Python; TF.js (cpu backend) in headless Chromium, "
            "timed inside the page, whose clock ticks in 0.1 ms"
        ),
    }


def _now():
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def _cpu_cores():
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count()


def _accuracy(probabilities, labels):
    return float(np.mean(probabilities.argmax(axis=1) == labels))
