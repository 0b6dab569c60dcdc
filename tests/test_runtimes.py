"""digits.runtimes: each exported file, run in its runtime, agrees with Keras.

Both architectures are trained briefly on real MNIST, saved, exported with
digits.export, and then run by LiteRT and by TF.js in headless Chromium on
real test digits. Tests marked `browser` need Chromium and `npm install`;
they run by default (deselect with -m "not browser").
MNIST comes from DIGITS_MNIST (a local mnist.npz) or Keras' download.
"""

import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pytest

from digits import data, export, models, runtimes

MODEL_NAMES = ("mlp", "cnn")
TRAIN_IMAGES = 5000  # 250 steps of 20 images per model
LITERT_IMAGES = 2000  # test digits compared between Keras and LiteRT
TFJS_IMAGES = 500  # test digits compared between Keras and TF.js
LITERT_AGREEMENT = 0.999  # least share of equal top-1 digits
TFJS_AGREEMENT = 0.998
PROBABILITY_ATOL = 1e-4  # float32 kernels differ in summation order only

browser = pytest.mark.browser


@dataclass(frozen=True)
class Exported:
    model: keras.Model  # the trained model, in memory
    folder: Path  # model.keras, model.tflite, tfjs/


def train_digit_model(name, mnist, images=TRAIN_IMAGES):
    """A model from digits.models fitted for one epoch on the first images."""
    keras.utils.set_random_seed(0)
    model = models.build(name)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(
        mnist.x_train[:images], mnist.y_train[:images],
        batch_size=20, epochs=1, verbose=0,
    )
    return model


@pytest.fixture(scope="module")
def mnist():
    return data.load_mnist()


@pytest.fixture(scope="module")
def exported(mnist, tmp_path_factory):
    """Function name -> Exported; trains and exports each model once."""
    done = {}

    def export_trained(name):
        if name not in done:
            model = train_digit_model(name, mnist)
            folder = tmp_path_factory.mktemp(name)
            model.save(folder / export.KERAS_FILE)
            export.export_model(folder, variants=("tflite_float32", "tfjs_float32"))
            done[name] = Exported(model, folder)
        return done[name]

    return export_trained


@pytest.fixture(scope="module")
def keras_probabilities(exported, mnist):
    """Function name -> Keras probabilities for the first LITERT_IMAGES digits."""
    done = {}

    def predict_with_keras(name):
        if name not in done:
            path = exported(name).folder / "model.keras"
            with runtimes.load(path) as keras_runtime:
                done[name] = keras_runtime.predict(mnist.x_test[:LITERT_IMAGES])
        return done[name]

    return predict_with_keras


@pytest.fixture(scope="module")
def tfjs_runtime(exported):
    """Function name -> an open TF.js runtime; all are closed at the end."""
    opened = {}

    def open_tfjs(name):
        if name not in opened:
            opened[name] = runtimes.load(exported(name).folder / "tfjs")
        return opened[name]

    yield open_tfjs
    for runtime in opened.values():
        runtime.close()


def top1_agreement(probabilities, reference):
    return float(np.mean(probabilities.argmax(1) == reference.argmax(1)))


# choosing a runtime

def test_load_picks_runtime_from_file_type(exported):
    folder = exported("mlp").folder

    with runtimes.load(folder / "model.keras") as keras_runtime:
        assert keras_runtime.name == "keras"
    with runtimes.load(folder / "model.tflite") as litert:
        assert litert.name == "litert"
    assert runtimes.detect_runtime(folder / "tfjs") == "tfjs"


def test_load_finds_runtime_file_in_export_folder(exported):
    folder = exported("mlp").folder

    with runtimes.load(folder, runtime="litert") as litert:
        assert litert.name == "litert"
        assert litert.path == folder / "model.tflite"


def test_load_raises_on_missing_file(tmp_path):
    missing = tmp_path / "model.tflite"

    with pytest.raises(FileNotFoundError, match=f"No model at {missing}"):
        runtimes.load(missing)


def test_load_raises_on_unknown_file_type(tmp_path):
    weights = tmp_path / "model.onnx"
    weights.write_bytes(b"\x08\x07")

    with pytest.raises(ValueError, match="cannot tell which runtime runs"):
        runtimes.load(weights)


def test_load_raises_on_unknown_runtime_name(exported):
    with pytest.raises(ValueError, match="unknown runtime 'onnx'.*litert"):
        runtimes.load(exported("mlp").folder, runtime="onnx")


def test_load_raises_when_runtime_does_not_fit_file(exported):
    path = exported("mlp").folder / "model.tflite"

    with pytest.raises(ValueError, match="runs in 'litert', not 'keras'"):
        runtimes.load(path, runtime="keras")


# input contract

@pytest.mark.parametrize("file_name", ["model.keras", "model.tflite"])
@pytest.mark.parametrize("shape", [(28, 28), (2, 28, 28, 1), (2, 27, 28), (784,)])
def test_predict_rejects_wrong_shape(exported, file_name, shape):
    with runtimes.load(exported("mlp").folder / file_name) as runtime:
        message = re.escape(f"(n, 28, 28), got {shape}")
        with pytest.raises(ValueError, match=message):
            runtime.predict(np.zeros(shape, np.float32))


@pytest.mark.parametrize("file_name", ["model.keras", "model.tflite"])
def test_predict_returns_empty_for_empty_batch(exported, file_name):
    with runtimes.load(exported("mlp").folder / file_name) as runtime:
        probabilities = runtime.predict(np.zeros((0, 28, 28), np.float32))

    assert probabilities.shape == (0, 10) and probabilities.dtype == np.float32


# keras

@pytest.mark.parametrize("name", MODEL_NAMES)
def test_keras_runtime_matches_model_in_memory(
    exported, keras_probabilities, mnist, name
):
    images = mnist.x_test[:LITERT_IMAGES]
    in_memory = keras.ops.convert_to_numpy(exported(name).model(images))

    np.testing.assert_allclose(keras_probabilities(name), in_memory, atol=1e-6)


# litert

@pytest.mark.parametrize("name", MODEL_NAMES)
def test_litert_agrees_with_keras_on_mnist(exported, keras_probabilities, mnist, name):
    reference = keras_probabilities(name)
    with runtimes.load(exported(name).folder / "model.tflite") as litert:
        probabilities = litert.predict(mnist.x_test[:LITERT_IMAGES])

    assert probabilities.shape == (LITERT_IMAGES, 10)
    assert probabilities.dtype == np.float32
    assert top1_agreement(probabilities, reference) >= LITERT_AGREEMENT
    np.testing.assert_allclose(probabilities, reference, atol=PROBABILITY_ATOL)


def test_litert_follows_changing_batch_sizes(exported, keras_probabilities, mnist):
    reference = keras_probabilities("cnn")
    with runtimes.load(exported("cnn").folder / "model.tflite") as litert:
        for start, size in [(0, 1), (1, 7), (8, 300), (308, 1), (309, 256)]:
            probabilities = litert.predict(mnist.x_test[start : start + size])
            expected = reference[start : start + size]
            np.testing.assert_allclose(probabilities, expected, atol=PROBABILITY_ATOL)


def test_litert_reads_a_large_batch_on_every_core_as_one_drawing_at_a_time(
    exported, mnist
):
    images = mnist.x_test[: runtimes.LITERT_ALL_CORES_FROM + 36]
    with runtimes.load(exported("cnn").folder / "model.tflite") as litert:
        batched = litert.predict(images)
        one_by_one = np.concatenate([litert.predict(image[None]) for image in images])

    np.testing.assert_allclose(batched, one_by_one, atol=1e-6)


def test_litert_serves_single_digits_from_many_threads(
    exported, keras_probabilities, mnist
):
    reference = keras_probabilities("cnn")
    results = {}

    def classify_digits(first):
        for index in range(first, 200, 4):
            results[index] = litert.predict(mnist.x_test[index : index + 1])[0]

    with runtimes.load(exported("cnn").folder / "model.tflite") as litert:
        threads = [threading.Thread(target=classify_digits, args=(first,))
                   for first in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    in_order = np.stack([results[index] for index in range(200)])
    np.testing.assert_allclose(in_order, reference[:200], atol=PROBABILITY_ATOL)


def test_litert_runs_without_importing_tensorflow(exported):
    script = (
        "import sys, numpy, digits.runtimes as r; "
        f"r.load({str(exported('mlp').folder / 'model.tflite')!r})"
        ".predict(numpy.zeros((1, 28, 28))); "
        "print('tensorflow' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=runtimes.REPO_ROOT, capture_output=True, text=True, check=True,
    )
    assert result.stdout.strip().splitlines()[-1] == "False"


# tfjs

def test_tfjs_reports_missing_library(exported, tmp_path, monkeypatch):
    monkeypatch.setenv(runtimes.TFJS_LIB_ENV, str(tmp_path / "tf.min.js"))

    with pytest.raises(RuntimeError, match="TF.js library not found.*npm install"):
        runtimes.load(exported("mlp").folder / "tfjs")


@browser
@pytest.mark.timeout(240)
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_tfjs_agrees_with_keras_on_mnist(
    exported, keras_probabilities, tfjs_runtime, mnist, name
):
    reference = keras_probabilities(name)[:TFJS_IMAGES]
    probabilities = tfjs_runtime(name).predict(mnist.x_test[:TFJS_IMAGES])

    assert tfjs_runtime(name).name == "tfjs"
    assert probabilities.shape == (TFJS_IMAGES, 10)
    assert top1_agreement(probabilities, reference) >= TFJS_AGREEMENT
    np.testing.assert_allclose(probabilities, reference, atol=PROBABILITY_ATOL)


@browser
@pytest.mark.timeout(120)
def test_tfjs_rejects_wrong_shape(tfjs_runtime):
    with pytest.raises(ValueError, match=r"\(n, 28, 28\), got \(28, 28\)"):
        tfjs_runtime("mlp").predict(np.zeros((28, 28), np.float32))


@browser
@pytest.mark.timeout(120)
def test_tfjs_last_close_ends_shared_browser(exported):
    folder = exported("mlp").folder / "tfjs"
    connected = []

    def open_two_then_close():  # a fresh thread: no other runtime shares it
        first, second = runtimes.load(folder), runtimes.load(folder)
        browser_process = first._chromium.browser  # lent to both runtimes
        first.close()
        connected.append(browser_process.is_connected())
        second.close()
        second.close()  # a second close is harmless
        connected.append(browser_process.is_connected())

    thread = threading.Thread(target=open_two_then_close)
    thread.start()
    thread.join()

    assert connected == [True, False]
