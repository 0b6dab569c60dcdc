"""The models shipped in exports/: accuracy, and parity of every export with Keras.

Each export runs in its own runtime: the .tflite in the LiteRT interpreter on
all 10,000 MNIST test images, the TF.js bundle in headless Chromium on 500.
"""

import numpy as np
import pytest

from digits import runtimes, store, train

SHIPPED = {"mlp": 0.978, "cnn": 0.992}  # least MNIST test accuracy per model


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


def test_tflite_in_litert_agrees_on_all_test_images(shipped, mnist):
    name, probabilities = shipped
    with runtimes.load(store.model_dir(name) / store.TFLITE_FILE) as litert:
        predicted = litert.predict(mnist.x_test)
    agreement = np.mean(predicted.argmax(axis=1) == probabilities.argmax(axis=1))
    assert len(predicted) == 10_000 and agreement >= 0.999


@pytest.mark.browser
def test_tfjs_in_chromium_agrees_on_500_test_images(shipped, mnist):
    name, probabilities = shipped
    with runtimes.load(store.model_dir(name) / store.TFJS_DIR) as tfjs:
        predicted = tfjs.predict(mnist.x_test[:500])
    agreement = np.mean(predicted.argmax(axis=1) == probabilities[:500].argmax(axis=1))
    assert agreement >= 0.998


def test_card_lists_every_shipped_file_with_its_size(shipped):
    name, _ = shipped
    folder = store.model_dir(name)
    card = store.read_card(name)
    for relative, size in card["files"].items():
        assert (folder / relative).stat().st_size == size
    assert {"model.keras", "model.tflite", "labels.txt", "tfjs/model.json"} <= set(
        card["files"]
    )


def test_labels_file_names_the_ten_digits(shipped):
    name, _ = shipped
    lines = (store.model_dir(name) / store.LABELS_FILE).read_text().splitlines()
    assert lines == [str(d) for d in range(10)]


def test_card_records_how_the_model_was_trained(shipped):
    name, _ = shipped
    trained = store.read_card(name)["trained"]
    assert trained["config"] == train.default_config(name).as_dict()
    assert trained["seconds"] > 0
