"""Every export variant, made by `python -m digits export` and run in its runtime.

A small MLP is trained on real MNIST and put in a fresh store as a served
model.keras with a card; `python -m digits export --model mlp` then exports
every TFLite and TF.js variant, runs each in LiteRT or in TF.js inside headless
Chromium, writes the figures into the card and publishes the folder. The tests
read what it published and run the files again. Browser tests are marked
`browser`; they run by default (deselect with -m "not browser").
MNIST comes from DIGITS_MNIST (a local mnist.npz) or Keras' download.
"""

import json
import math
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from digits import export, models, release, runtimes, store

TRAIN_IMAGES = 5000  # 250 steps of 20 images: a real, if weak, classifier
TRAINED = {"config": {"model": "mlp", "epochs": 1}, "seconds": 3.0}  # card seeds
DRAWN = {"centred": 0.5, "n": 10}
CHECK_IMAGES = 1000  # test digits run again here, per variant

browser = pytest.mark.browser


def run_cli(*args, store_dir):
    env = {**os.environ, store.STORE_ENV: str(store_dir)}
    return subprocess.run(
        [sys.executable, "-m", "digits", *map(str, args)],
        cwd=runtimes.REPO_ROOT, capture_output=True, text=True, timeout=600, env=env,
    )


@pytest.fixture(scope="module")
def trained_mlp(mnist):
    keras.utils.set_random_seed(0)
    model = models.build("mlp")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(mnist.x_train[:TRAIN_IMAGES], mnist.y_train[:TRAIN_IMAGES],
              batch_size=20, epochs=1, verbose=0)
    return model


@pytest.fixture(scope="module")
def published(trained_mlp, tmp_path_factory):
    """(store folder, the CLI's stdout) after `python -m digits export`."""
    root = tmp_path_factory.mktemp("store")
    served = root / "mlp"
    served.mkdir()
    trained_mlp.save(served / store.KERAS_FILE)
    card = {"model": "mlp", "trained": TRAINED, "drawn_accuracy": DRAWN}
    (served / store.CARD_FILE).write_text(json.dumps(card))
    result = run_cli("export", "--model", "mlp", store_dir=root)
    assert result.returncode == 0, result.stderr[-3000:]
    return root, result.stdout


@pytest.fixture(scope="module")
def folder(published):
    return published[0] / "mlp"


@pytest.fixture(scope="module")
def card(folder):
    return json.loads((folder / store.CARD_FILE).read_text())


@pytest.fixture(scope="module")
def keras_top1(trained_mlp, mnist):
    return keras.ops.convert_to_numpy(trained_mlp(mnist.x_test)).argmax(axis=1)


# what the export command publishes

def test_export_publishes_every_variant_beside_the_keras_file(published, folder):
    for variant in export.VARIANTS.values():
        assert (folder / variant.path).exists(), variant.name
    # no staging left; the folder served before is kept as a version
    assert sorted(p.name for p in published[0].iterdir()) == [store.VERSIONS_DIR, "mlp"]


def test_export_prints_each_variants_figures(published, card):
    (line,) = [json.loads(x) for x in published[1].splitlines() if x.startswith("{")]
    assert list(line["variants"]) == list(export.VARIANT_NAMES)
    assert line["variants"]["tflite_int8"]["accuracy"] == (
        card["variants"]["tflite_int8"]["accuracy"])


def test_export_keeps_what_the_card_knew_about_training(card):
    assert card["trained"] == TRAINED and card["drawn_accuracy"] == DRAWN
    assert card["params"] == 101_770 and card["title"] == models.TITLES["mlp"]


def test_export_without_a_keras_model_says_how_to_make_one(tmp_path):
    (tmp_path / "cnn").mkdir()  # the store's own folder, else the shipped one serves
    result = run_cli("export", "--model", "cnn", store_dir=tmp_path)
    assert result.returncode == 1
    assert "train the model first with: python -m digits train --model cnn" in (
        result.stderr)


# the files

def test_tflite_int8_takes_and_gives_int8_with_scale_and_zero_point(folder):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(folder / "model_int8.tflite"))
    (digit,) = interpreter.get_input_details()
    (probabilities,) = interpreter.get_output_details()
    assert digit["dtype"] == np.int8 and probabilities["dtype"] == np.int8
    assert list(digit["shape_signature"]) == [-1, 28, 28]
    scale, zero_point = digit["quantization"]
    assert scale == pytest.approx(1 / 255, rel=0.01) and zero_point == -128


@pytest.mark.parametrize("name", ["tflite_dynamic", "tflite_float16"])
def test_quantized_tflite_keeps_float32_input(folder, name):
    with runtimes.load(folder / export.VARIANTS[name].path) as litert:
        tensors = litert.describe_tensors()
    assert tensors["input"] == {"shape": [1, 28, 28], "dtype": "float32",
                                "scale": None, "zero_point": None}


@pytest.mark.parametrize("name, dtype", [("tfjs_float16", "float16"),
                                         ("tfjs_uint8", "uint8")])
def test_tfjs_weights_are_stored_quantized(folder, name, dtype):
    manifest = json.loads((folder / name / "model.json").read_text())
    weights = [w for group in manifest["weightsManifest"] for w in group["weights"]]
    kernels = [w for w in weights if w["dtype"] == "float32"]
    assert kernels and all(w["quantization"]["dtype"] == dtype for w in kernels)


@pytest.mark.parametrize(
    "name, most", [("tflite_dynamic", 0.3), ("tflite_float16", 0.55),
                   ("tflite_int8", 0.3), ("tfjs_float16", 0.55), ("tfjs_uint8", 0.3)]
)
def test_quantized_variants_are_smaller_than_float32(card, name, most):
    assert card["variants"][name]["ratio_to_float32"] <= most


# the card's figures

def test_card_has_every_variants_figures(card, folder):
    assert sorted(card["variants"]) == sorted(export.VARIANT_NAMES)
    for name, figures in card["variants"].items():
        variant = export.VARIANTS[name]
        assert figures["bytes"] == export.measure_bytes(folder / variant.path)
        assert figures["runtime"] == variant.runtime
        assert math.isfinite(figures["latency_ms"]) and figures["latency_ms"] > 0
    assert card["variants"]["tflite_float32"]["n"] == 10_000
    assert card["variants"]["tfjs_uint8"]["n"] == release.Verification().tfjs_images


def test_card_records_the_int8_input_scale_and_zero_point(card, folder):
    with runtimes.load(folder / "model_int8.tflite") as litert:
        tensors = litert.describe_tensors()
    recorded = card["variants"]["tflite_int8"]
    assert recorded["input"] == tensors["input"]
    assert recorded["input"]["dtype"] == "int8" and recorded["input"]["scale"] > 0


def test_every_variant_agrees_with_keras(card):
    for name, figures in card["variants"].items():
        least = 0.999 if name in release.FLOAT32_VARIANTS else 0.995
        assert figures["agreement"] >= least, name


@pytest.mark.parametrize("name", export.TFLITE_VARIANTS)
def test_card_accuracy_is_the_tflite_run_in_litert(card, folder, mnist, keras_top1,
                                                   name):
    with runtimes.load(folder / export.VARIANTS[name].path) as litert:
        predicted = litert.predict(mnist.x_test).argmax(axis=1)
    figures = card["variants"][name]
    assert figures["accuracy"] == np.mean(predicted == mnist.y_test)
    assert figures["agreement"] == np.mean(predicted == keras_top1)


@browser
@pytest.mark.timeout(240)
@pytest.mark.parametrize("name", export.TFJS_VARIANTS)
def test_card_accuracy_is_the_tfjs_run_in_chromium(card, folder, mnist, name):
    figures = card["variants"][name]
    n = figures["n"]
    with runtimes.load(folder / export.VARIANTS[name].path) as tfjs:
        predicted = tfjs.predict(mnist.x_test[:n]).argmax(axis=1)
    assert n >= 1000
    assert figures["accuracy"] == pytest.approx(np.mean(predicted == mnist.y_test[:n]),
                                                abs=1.5 / n)  # a near tie may flip


# the runtimes

def test_litert_feeds_int8_and_returns_probabilities(folder, trained_mlp, mnist):
    images = mnist.x_test[:CHECK_IMAGES]
    with runtimes.load(folder / "model_int8.tflite") as litert:
        probabilities = litert.predict(images)
    expected = keras.ops.convert_to_numpy(trained_mlp(images))
    assert probabilities.dtype == np.float32
    assert probabilities.shape == (CHECK_IMAGES, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=0.05)
    np.testing.assert_allclose(probabilities, expected, atol=0.06)


def test_quantize_rounds_onto_the_int8_grid():
    tensor = {"dtype": np.int8, "quantization": (1 / 255, -128)}
    values = np.array([0.0, 1 / 255, 0.5, 1.0, 2.0, -1.0], np.float32)
    assert runtimes.quantize(values, tensor).tolist() == [-128, -127, 0, 127, 127, -128]


@pytest.mark.parametrize("runtime", ["keras", "litert"])
def test_median_latency_times_single_digits(folder, mnist, runtime):
    with runtimes.load(folder, runtime=runtime) as loaded:
        latency = loaded.median_latency_ms(mnist.x_test[:20])
    assert math.isfinite(latency) and latency > 0


@browser
@pytest.mark.timeout(120)
def test_median_latency_in_tfjs_is_timed_in_the_page(folder, mnist):
    with runtimes.load(folder / "tfjs_uint8") as tfjs:
        latency = tfjs.median_latency_ms(mnist.x_test[:20])
    assert math.isfinite(latency) and latency >= 0


def test_calibration_sample_is_a_fixed_draw_of_training_images(mnist):
    first = export.calibration_sample(mnist.x_train)
    again = export.calibration_sample(mnist.x_train)
    assert first.shape == (export.CALIBRATION_IMAGES, 28, 28)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, mnist.x_train[: export.CALIBRATION_IMAGES])


# verification

def test_verification_refuses_variants_that_disagree_with_keras(folder, mnist):
    wrong = np.roll(np.eye(10, dtype=np.float32)[mnist.y_test], 1, axis=1)
    small = release.Verification(litert_images=500, tfjs_images=100,
                                 latency_images=5)
    with pytest.raises(release.VerificationError, match="agrees with Keras on only"):
        release.verify_variants(folder, mnist, wrong, small)


def test_verification_measures_only_the_variants_asked_for(folder, mnist):
    with runtimes.load(folder / store.KERAS_FILE) as keras_runtime:
        probabilities = keras_runtime.predict(mnist.x_test[:300])
    small = release.Verification(litert_images=300, latency_images=5)

    figures = release.verify_variants(folder, mnist, probabilities, small,
                                      variants=("tflite_float32", "tflite_dynamic"))

    assert sorted(figures) == ["tflite_dynamic", "tflite_float32"]
    assert figures["tflite_dynamic"]["ratio_to_float32"] < 0.3


def test_a_quantized_variant_that_disagrees_is_left_out_and_said_why(
        trained_mlp, mnist, tmp_path, monkeypatch):
    import app

    # a bar no quantized file can pass: each is measured, then left out
    monkeypatch.setattr(release, "MIN_AGREEMENT_QUANTIZED", 1.01)
    trained_mlp.save(tmp_path / store.KERAS_FILE)
    small = release.Verification(litert_images=300, tfjs_images=100,
                                 latency_images=5)

    card = release.assemble_version(tmp_path, "mlp", mnist, {}, small)

    float32 = set(release.FLOAT32_VARIANTS)
    assert card["model"] == "mlp" and card["title"] == models.TITLES["mlp"]
    assert set(card["variants"]) == float32
    assert set(card["withheld"]) == set(export.VARIANT_NAMES) - float32
    for name in export.VARIANT_NAMES:
        assert (tmp_path / export.VARIANTS[name].path).exists() == (name in float32)
    int8 = card["withheld"]["tflite_int8"]
    assert 0.9 < int8["agreement"] <= 1 and int8["n"] == 300
    sentence = app.describe_withheld(card)
    assert sentence.startswith("Left out of this version: model_dynamic.tflite")
    assert "model_int8.tflite (tflite_int8) in litert agrees with Keras" in sentence
    assert "(need 101.0%)" in sentence and "more images or for more epochs" in sentence


def test_every_model_is_made_in_every_variant():
    for name in models.MODEL_NAMES:
        assert release.variants_of(name) == export.VARIANT_NAMES, name


def test_unknown_variant_is_refused_with_the_choices(folder):
    with pytest.raises(ValueError, match="unknown export variant.*'onnx'.*tflite_int8"):
        export.export_model(folder, variants=("tflite_float32", "onnx"))
