"""digits.store: which models are servable, and the .tflite each is served from."""

import pytest

from digits import store


@pytest.fixture
def store_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(store.STORE_ENV, str(tmp_path))
    return tmp_path


def add_files(folder, *names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"flatbuffer")


def test_float32_tflite_is_served_first(store_dir):
    add_files(store_dir / "cnn", "model.tflite", "model_dynamic.tflite")

    assert store.served_tflite("cnn") == store_dir / "cnn" / "model.tflite"


def test_a_model_shipped_without_float32_is_served_its_dynamic_range_file(store_dir):
    add_files(store_dir / "resnet50v2", "model_dynamic.tflite", "labels.txt")

    assert store.served_tflite("resnet50v2").name == "model_dynamic.tflite"
    assert store.available_models() == ["resnet50v2"]


def test_folders_without_a_servable_tflite_are_not_models(store_dir):
    add_files(store_dir / "hub" / "cnn_features", "saved_model.pb")
    add_files(store_dir / "cnn", "model_int8.tflite")  # int8 in and out: not served
    add_files(store_dir / "mlp", "model.tflite")

    assert store.available_models() == ["mlp"]
    with pytest.raises(FileNotFoundError, match="'cnn' has no model.tflite"):
        store.served_runtime("cnn")
