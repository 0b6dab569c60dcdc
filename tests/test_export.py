"""digits.export on a freshly trained MLP: files, atomic replacement, logs.

Every export is also run (LiteRT here; TF.js in tests/test_runtimes.py),
because a file that exists is not yet a model that works.
MNIST comes from DIGITS_MNIST (a local mnist.npz) or Keras' download.
"""

import json
import logging
import subprocess
import sys

import keras
import numpy as np
import pytest

from digits import data, export, models, runtimes

TRAIN_IMAGES = 5000  # 250 steps of 20 images: enough to be a real classifier
CHECK_IMAGES = 200  # test images each exported file is run on


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
def trained_mlp(mnist):
    return train_digit_model("mlp", mnist)


@pytest.fixture
def model_dir(trained_mlp, tmp_path):
    """A folder holding only model.keras, as training leaves it."""
    folder = tmp_path / "mlp"
    folder.mkdir()
    trained_mlp.save(folder / export.KERAS_FILE)
    return folder


def predict_in_memory(model, images):
    return keras.ops.convert_to_numpy(model(images, training=False))


# tflite

def test_export_tflite_has_one_batched_float32_input(trained_mlp, tmp_path):
    path = export.export_tflite(trained_mlp, tmp_path / "model.tflite")

    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    (digit,) = interpreter.get_input_details()
    (probabilities,) = interpreter.get_output_details()
    assert digit["dtype"] == np.float32
    assert list(digit["shape_signature"]) == [-1, 28, 28]
    assert list(probabilities["shape_signature"]) == [-1, 10]


def test_export_tflite_replaces_file_and_leaves_no_temp(mnist, trained_mlp, tmp_path):
    path = tmp_path / "model.tflite"
    path.write_bytes(b"an older, broken export")

    export.export_tflite(trained_mlp, path)

    assert [item.name for item in tmp_path.iterdir()] == ["model.tflite"]
    images = mnist.x_test[:CHECK_IMAGES]
    with runtimes.load(path) as litert:
        np.testing.assert_allclose(
            litert.predict(images), predict_in_memory(trained_mlp, images), atol=1e-4
        )


def test_export_tflite_creates_missing_parent_folders(trained_mlp, tmp_path):
    path = export.export_tflite(trained_mlp, tmp_path / "a" / "b" / "model.tflite")

    assert path.is_file() and path.stat().st_size > 100_000


# tfjs

def test_export_tfjs_writes_graph_model_with_its_shards(trained_mlp, tmp_path):
    folder = export.export_tfjs(trained_mlp, tmp_path / "tfjs")

    manifest = json.loads((folder / "model.json").read_text())
    assert manifest["format"] == "graph-model"
    (digit,) = manifest["signature"]["inputs"].values()
    assert [int(d["size"]) for d in digit["tensorShape"]["dim"]] == [-1, 28, 28]
    shards = [p for group in manifest["weightsManifest"] for p in group["paths"]]
    assert shards and all((folder / shard).is_file() for shard in shards)


def test_export_tfjs_swaps_out_existing_folder(trained_mlp, tmp_path):
    folder = tmp_path / "tfjs"
    folder.mkdir()
    (folder / "model.json").write_text("{}")
    (folder / "stale-shard.bin").write_bytes(b"old weights")

    export.export_tfjs(trained_mlp, folder)

    assert [item.name for item in tmp_path.iterdir()] == ["tfjs"]
    assert not (folder / "stale-shard.bin").exists()
    assert json.loads((folder / "model.json").read_text())["format"] == "graph-model"


def test_export_tfjs_keeps_old_folder_when_export_fails(tmp_path):
    folder = tmp_path / "tfjs"
    folder.mkdir()
    (folder / "model.json").write_text('{"format": "graph-model"}')

    with pytest.raises(AttributeError):
        export.export_tfjs(object(), folder)  # not a Keras model: export fails

    assert [item.name for item in tmp_path.iterdir()] == ["tfjs"]
    assert (folder / "model.json").read_text() == '{"format": "graph-model"}'


# export_model

FLOAT32 = ("tflite_float32", "tfjs_float32")


def test_export_model_writes_every_variant_next_to_keras_file(model_dir, mnist):
    calibration = export.calibration_sample(mnist.x_train, count=100)
    written = export.export_model(model_dir, calibration_images=calibration)

    assert written == {name: model_dir / variant.path
                       for name, variant in export.VARIANTS.items()}
    assert (model_dir / "model.tflite").is_file()
    assert (model_dir / "tfjs" / "model.json").is_file()
    assert (model_dir / "tfjs_uint8" / "model.json").is_file()
    assert (model_dir / "model_int8.tflite").is_file()


def test_export_model_logs_path_and_size_of_each_export(model_dir, caplog):
    with caplog.at_level(logging.INFO, logger="digits.export"):
        written = export.export_model(model_dir, variants=FLOAT32)

    lines = [r.getMessage() for r in caplog.records if r.name == "digits.export"]
    assert len(lines) == 2
    for line, (name, path) in zip(lines, written.items()):
        size = export.measure_bytes(path)
        assert line == f"exported {name} to {path} ({size} bytes)"


def test_export_model_raises_without_keras_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="No Keras model at .*model.keras"):
        export.export_model(tmp_path)


def test_export_model_rejects_unknown_variant(model_dir):
    with pytest.raises(ValueError, match="unknown export variant.*'onnx'"):
        export.export_model(model_dir, variants=("tflite_float32", "onnx"))


# import cost

def test_import_export_does_not_import_tensorflow():
    script = "import sys, digits.export; print('tensorflow' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=runtimes.REPO_ROOT, capture_output=True, text=True, check=True,
    )
    assert result.stdout.strip() == "False"
