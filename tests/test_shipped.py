"""The models shipped in exports/: accuracy, and parity of every export variant
with Keras, as the card says and as the files do when run again.

Every .tflite variant runs in the LiteRT interpreter on all 10,000 MNIST test
images and must reproduce its card's figures exactly; every TF.js variant runs
in headless Chromium on a sample (the card's figures are from 1,000 images).
"""

import math

import numpy as np
import pytest

from digits import export, release, runtimes, store, train

# Least MNIST test accuracy per model shipped with its Keras file and every
# variant. ResNet50V2 ships only two small variants: see its tests below.
SHIPPED = {"mlp": 0.978, "mlp_functional": 0.978, "mlp_subclassed": 0.978,
           "cnn": 0.992, "transfer": 0.985}
TFJS_SAMPLE = 300  # test images each TF.js variant is run on again here
# Most MNIST accuracy a variant may lose against the float32 .tflite, points.
MOST_LOSS = {"tflite_dynamic": 0.1, "tflite_float16": 0.1, "tflite_int8": 0.2}


@pytest.fixture(scope="module", params=sorted(SHIPPED))
def shipped(request, mnist):
    """(name, Keras probabilities on the whole MNIST test set)."""
    name = request.param
    with runtimes.load(store.model_dir(name) / store.KERAS_FILE) as keras_runtime:
        return name, keras_runtime.predict(mnist.x_test)


def test_keras_model_reaches_its_mnist_accuracy(shipped, mnist):
    name, probabilities = shipped
    accuracy = np.mean(probabilities.argmax(axis=1) == mnist.y_test)
    assert accuracy >= SHIPPED[name]
    assert store.read_card(name)["mnist_test_accuracy"] == pytest.approx(accuracy)


def test_card_measures_every_variant(shipped):
    name, _ = shipped
    variants = store.read_card(name)["variants"]
    assert sorted(variants) == sorted(export.VARIANT_NAMES)
    for variant, figures in variants.items():
        path = store.model_dir(name) / export.VARIANTS[variant].path
        assert figures["bytes"] == export.measure_bytes(path), variant
        assert math.isfinite(figures["latency_ms"]) and figures["latency_ms"] > 0
        assert figures["n"] >= (10_000 if figures["runtime"] == "litert" else 1_000)


def test_every_variant_agrees_with_keras_as_required(shipped):
    name, _ = shipped
    for variant, figures in store.read_card(name)["variants"].items():
        least = 0.999 if variant in release.FLOAT32_VARIANTS else 0.995
        assert figures["agreement"] >= least, variant


@pytest.mark.parametrize("variant", sorted(MOST_LOSS))
def test_quantized_tflite_keeps_the_float32_accuracy(shipped, variant):
    name, _ = shipped
    variants = store.read_card(name)["variants"]
    loss = variants["tflite_float32"]["accuracy"] - variants[variant]["accuracy"]
    assert 100 * loss <= MOST_LOSS[variant] + 1e-9


def test_int8_tflite_is_under_30_percent_of_float32(shipped):
    name, _ = shipped
    assert store.read_card(name)["variants"]["tflite_int8"]["ratio_to_float32"] <= 0.30


@pytest.mark.parametrize("variant", export.TFLITE_VARIANTS)
def test_tflite_variant_reproduces_its_card_in_litert(shipped, mnist, variant):
    name, probabilities = shipped
    path = store.model_dir(name) / export.VARIANTS[variant].path
    with runtimes.load(path) as litert:
        predicted = litert.predict(mnist.x_test).argmax(axis=1)
    figures = store.read_card(name)["variants"][variant]
    assert figures["accuracy"] == np.mean(predicted == mnist.y_test)
    assert figures["agreement"] == np.mean(predicted == probabilities.argmax(axis=1))


@pytest.mark.browser
@pytest.mark.timeout(240)
@pytest.mark.parametrize("variant", export.TFJS_VARIANTS)
def test_tfjs_variant_agrees_with_keras_on_a_sample(shipped, mnist, variant):
    name, probabilities = shipped
    path = store.model_dir(name) / export.VARIANTS[variant].path
    with runtimes.load(path) as tfjs:
        predicted = tfjs.predict(mnist.x_test[:TFJS_SAMPLE]).argmax(axis=1)
    keras_top1 = probabilities[:TFJS_SAMPLE].argmax(axis=1)
    assert np.mean(predicted == keras_top1) >= 0.995


def test_card_lists_every_shipped_file_with_its_size(shipped):
    name, _ = shipped
    folder = store.model_dir(name)
    card = store.read_card(name)
    for relative, size in card["files"].items():
        assert (folder / relative).stat().st_size == size
    expected = {"model.keras", "labels.txt", "tfjs/model.json", "model_int8.tflite",
                "tfjs_uint8/model.json"}
    assert expected <= set(card["files"])


def test_labels_file_names_the_ten_digits(shipped):
    name, _ = shipped
    lines = (store.model_dir(name) / store.LABELS_FILE).read_text().splitlines()
    assert lines == [str(d) for d in range(10)]


def test_card_records_how_the_model_was_trained(shipped):
    name, _ = shipped
    trained = store.read_card(name)["trained"]
    config = dict(trained["config"])
    drawn = {key: config.pop(key) for key in ("drawn", "drawn_copies") if key in config}
    assert config == train.default_config(name).as_dict()  # the recipe, as written
    assert not drawn or drawn["drawn"].endswith(".json") and drawn["drawn_copies"] > 0
    assert trained["seconds"] > 0
