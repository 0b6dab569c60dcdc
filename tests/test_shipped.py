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
# variant. ResNet50V2 ships only its three small variants: see its tests below.
SHIPPED = {"mlp": 0.978, "mlp_functional": 0.978, "mlp_subclassed": 0.978,
           "cnn": 0.993, "transfer": 0.985}
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


# ResNet50V2 ships its Keras file (95 MB: weights, no optimizer state) but not
# its float32 and float16 exports (47-94 MB each; .gitignore keeps them out,
# `python -m digits export` makes them from model.keras): its dynamic-range
# and int8 .tflite files and uint8 TF.js model are what is served and
# downloaded, and its card holds the figures measured when they were made.

RESNET = "resnet50v2"
RESNET_LEAST_ACCURACY = 0.98  # MNIST test, Keras and the served .tflite alike
RESNET_FILES = ("labels.txt", "model.keras", "model_dynamic.tflite",
                "model_int8.tflite", "tfjs_uint8/model.json")
RESNET_TFJS_SAMPLE = 100  # ~0.3 s per ResNet digit in TF.js on the CPU


@pytest.fixture(scope="module")
def resnet_served(mnist):
    """Top-1 digits of the shipped dynamic-range .tflite on all test images
    (served where the float32 file is absent, as in a fresh clone)."""
    path = store.model_dir(RESNET) / export.VARIANTS["tflite_dynamic"].path
    with runtimes.load(path) as litert:
        return litert.predict(mnist.x_test).argmax(axis=1)


def test_resnet_ships_small_servable_files():
    folder = store.model_dir(RESNET)
    for relative in RESNET_FILES:
        assert (folder / relative).is_file(), relative
    assert export.measure_bytes(folder / "model_dynamic.tflite") < 30_000_000
    assert export.measure_bytes(folder / "tfjs_uint8") < 30_000_000
    assert RESNET in store.available_models()


def test_resnet_keras_file_reaches_its_cards_accuracy(resnet_served, mnist):
    card = store.read_card(RESNET)
    with runtimes.load(store.model_dir(RESNET) / store.KERAS_FILE) as keras_runtime:
        predicted = keras_runtime.predict(mnist.x_test).argmax(axis=1)
    accuracy = np.mean(predicted == mnist.y_test)
    assert card["mnist_test_accuracy"] == pytest.approx(accuracy)
    assert accuracy >= RESNET_LEAST_ACCURACY and card["params"] == 23_579_018
    # the model the served variants were made from
    agreement = np.mean(predicted == resnet_served)
    assert agreement == pytest.approx(card["variants"]["tflite_dynamic"]["agreement"])


def test_resnet_served_tflite_reproduces_its_card_in_litert(resnet_served, mnist):
    figures = store.read_card(RESNET)["variants"]["tflite_dynamic"]
    accuracy = np.mean(resnet_served == mnist.y_test)
    assert figures["accuracy"] == accuracy >= RESNET_LEAST_ACCURACY
    assert figures["agreement"] >= 0.995 and figures["n"] == 10_000


def test_resnet_int8_tflite_reproduces_its_card_in_litert(resnet_served, mnist):
    path = store.model_dir(RESNET) / export.VARIANTS["tflite_int8"].path
    with runtimes.load(path) as litert:
        predicted = litert.predict(mnist.x_test).argmax(axis=1)
    figures = store.read_card(RESNET)["variants"]["tflite_int8"]
    assert figures["accuracy"] == np.mean(predicted == mnist.y_test) >= RESNET_LEAST_ACCURACY
    assert figures["agreement"] >= 0.995 and figures["n"] == 10_000
    # the two quantized .tflite files read the same digit almost always
    assert np.mean(predicted == resnet_served) >= 0.995


@pytest.mark.browser
@pytest.mark.timeout(240)
def test_resnet_uint8_tfjs_reads_digits_as_the_served_tflite(resnet_served, mnist):
    path = store.model_dir(RESNET) / export.VARIANTS["tfjs_uint8"].path
    with runtimes.load(path) as tfjs:
        predicted = tfjs.predict(mnist.x_test[:RESNET_TFJS_SAMPLE]).argmax(axis=1)
    assert np.mean(predicted == resnet_served[:RESNET_TFJS_SAMPLE]) >= 0.98
    figures = store.read_card(RESNET)["variants"]["tfjs_uint8"]
    assert figures["agreement"] >= 0.995 and figures["n"] >= 1_000


def test_resnet_card_gives_the_size_of_each_file_it_ships():
    folder = store.model_dir(RESNET)
    listed = store.read_card(RESNET)["files"]
    assert set(RESNET_FILES) <= set(listed)
    for relative, size in listed.items():
        if (folder / relative).exists():
            assert (folder / relative).stat().st_size == size


def test_resnet_card_records_its_cpu_training_budget():
    trained = store.read_card(RESNET)["trained"]
    assert trained["config"] == train.default_config(RESNET).as_dict()
    assert trained["config"]["train_images"] < 60_000  # a subset, on 2 CPU cores
    assert trained["seconds"] > 0
