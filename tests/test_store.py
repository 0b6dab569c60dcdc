"""digits.store: which models are servable, the versions kept, publish and rollback.

Versions here are real shipped model folders (exports/mlp and exports/cnn,
copied into a temporary store), and what is served is checked by running the
served .tflite on MNIST test digits, as the Draw tab does.
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from digits import store

SHIPPED = store.SHIPPED  # the repository's exports/: read here, never written
SERVED_FILES = (store.TFLITE_FILE, store.CARD_FILE, store.LABELS_FILE)
CHECK_IMAGES = 500  # MNIST test digits each served version is run on


@pytest.fixture
def store_dir(tmp_path, monkeypatch):
    """An empty store, with no shipped models to fall back to."""
    monkeypatch.setenv(store.STORE_ENV, str(tmp_path / "store"))
    monkeypatch.setattr(store, "SHIPPED", tmp_path / "shipped")
    return tmp_path / "store"


def add_files(folder, *names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"flatbuffer")


def copy_shipped(model, target):
    """The served files of a shipped model, copied into folder `target`."""
    target.mkdir(parents=True)
    for name in SERVED_FILES:
        shutil.copyfile(SHIPPED / model / name, target / name)
    return target


def stage_copy_of(model, name="mlp"):
    """A staging folder of model `name` holding the shipped `model`'s files."""
    staged = store.staging_dir(name)
    for file in SERVED_FILES:
        shutil.copyfile(SHIPPED / model / file, staged / file)
    return staged


def served_predictions(images, name="mlp"):
    return store.served_runtime(name).predict(images)


@pytest.fixture
def seeded(tmp_path, monkeypatch, mnist):
    """A store serving a copy of the shipped mlp, before any version is kept;
    returns the MNIST digits to compare predictions on."""
    root = tmp_path / "store"
    copy_shipped("mlp", root / "mlp")
    monkeypatch.setenv(store.STORE_ENV, str(root))
    return mnist.x_test[:CHECK_IMAGES]


# the served folder


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


def test_an_empty_store_serves_the_shipped_models(tmp_path, monkeypatch):
    monkeypatch.setenv(store.STORE_ENV, str(tmp_path))

    assert {"cnn", "mlp", "resnet50v2"} <= set(store.available_models())
    assert store.model_dir("cnn") == store.SHIPPED / "cnn"
    assert store.read_card("cnn")["model"] == "cnn"


def test_half_built_folders_are_not_models(store_dir):
    staged = store.staging_dir("mlp")
    add_files(staged, "model.tflite")

    assert store.available_models() == []


# versions


def test_a_saved_version_is_kept_but_not_served(seeded):
    before = served_predictions(seeded)

    version = store.save_version("mlp", stage_copy_of("cnn"), note="trained")

    shipped, kept = store.list_versions("mlp")
    assert shipped.served and shipped.published  # kept first, to roll back to
    trained = json.loads((SHIPPED / "mlp" / store.CARD_FILE).read_text())["trained"]
    assert shipped.info()["note"] == (
        f"served before versions were kept, trained {trained['date'][:10]}")
    assert kept.id == version and not kept.served and not kept.published
    assert kept.info()["note"] == "trained"
    assert kept.card()["model"] == "cnn"  # the files copied in, whole
    assert np.array_equal(served_predictions(seeded), before)


def test_publishing_serves_the_version_and_keeps_the_one_served_before(seeded):
    shipped = served_predictions(seeded)
    version = store.save_version("mlp", stage_copy_of("cnn"))

    store.publish_version("mlp", version)

    first, second = store.list_versions("mlp")
    assert second.id == version and second.served
    assert store.served_version("mlp") == version
    assert first.published and not first.served
    assert first.info()["note"].startswith("served before versions were kept, trained ")
    served = store.served_tflite("mlp").read_bytes()
    assert served == (SHIPPED / "cnn" / store.TFLITE_FILE).read_bytes()
    assert not np.array_equal(served_predictions(seeded), shipped)


def test_rollback_restores_the_previous_versions_predictions_exactly(seeded):
    shipped = served_predictions(seeded)
    store.publish_version("mlp", store.save_version("mlp", stage_copy_of("cnn")))
    newer = served_predictions(seeded)

    restored = store.rollback("mlp")

    assert restored == store.list_versions("mlp")[0].id
    assert np.array_equal(served_predictions(seeded), shipped)
    store.rollback("mlp", to=store.list_versions("mlp")[1].id)  # and forward again
    assert np.array_equal(served_predictions(seeded), newer)


def test_rollback_skips_versions_never_published(seeded):
    first = store.save_version("mlp", stage_copy_of("cnn"))
    store.publish_version("mlp", first)
    store.save_version("mlp", stage_copy_of("mlp"))  # a candidate, never served
    third = store.save_version("mlp", stage_copy_of("cnn"))
    store.publish_version("mlp", third)

    assert store.rollback("mlp") == first


def test_rollback_without_an_older_version_says_so(seeded):
    with pytest.raises(store.VersionError, match="no older published version"):
        store.rollback("mlp")


def test_publishing_an_unknown_version_lists_the_kept_ones(seeded):
    version = store.save_version("mlp", stage_copy_of("cnn"))

    with pytest.raises(store.VersionError, match=f"no version '0009'.*{version}"):
        store.publish_version("mlp", "0009")


def test_versions_share_the_served_files_instead_of_copying_them(seeded):
    version = store.save_version("mlp", stage_copy_of("cnn"))
    store.publish_version("mlp", version)

    kept = store.find_version("mlp", version).folder / store.TFLITE_FILE
    assert kept.stat().st_ino == store.served_tflite("mlp").stat().st_ino


def test_a_store_on_a_space_keeps_the_shipped_version_when_publishing(
    tmp_path, monkeypatch, mnist
):
    monkeypatch.setattr(store, "SHIPPED", tmp_path / "exports")
    copy_shipped("mlp", store.SHIPPED / "mlp")
    monkeypatch.setenv(store.STORE_ENV, str(tmp_path / "data"))  # empty at first
    images = mnist.x_test[:CHECK_IMAGES]
    shipped = served_predictions(images)
    assert store.model_dir("mlp") == store.SHIPPED / "mlp"

    store.publish_version("mlp", store.save_version("mlp", stage_copy_of("cnn")))

    assert store.model_dir("mlp") == tmp_path / "data" / "mlp"
    assert sorted(p.name for p in (store.SHIPPED / "mlp").iterdir()) == sorted(
        SERVED_FILES)  # the shipped folder is read, never changed
    store.rollback("mlp")
    assert np.array_equal(served_predictions(images), shipped)


# leftovers of killed processes


def test_leftovers_of_a_killed_process_are_removed_and_never_listed(seeded):
    version = store.save_version("mlp", stage_copy_of("cnn"))
    leftovers = run_and_kill(
        "from digits import store\n"
        "s = store.staging_dir('mlp'); (s / 'model.tflite').write_bytes(b'half')\n"
        "p = store._make_owned_dir(store._versions_root('mlp'), '.partial')\n"
        "print(s, p, flush=True)\n"
        "import time; time.sleep(60)\n"
    )
    mine = stage_copy_of("mlp")  # this process is alive: its staging stays

    assert [v.id for v in store.list_versions("mlp")][1:] == [version]
    assert not any(name.startswith(".") for name in store.available_models())
    store.discard_stale_staging()
    assert not any(path.exists() for path in leftovers)
    assert mine.is_dir()


def run_and_kill(code):
    """Run `code` in a new Python, read the paths it prints, then SIGKILL it."""
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                               text=True, env=dict(os.environ))
    paths = process.stdout.readline().split()
    process.kill()
    process.wait()
    return [store.store_dir() / path for path in paths]


def test_history_records_each_publish(seeded):
    version = store.save_version("mlp", stage_copy_of("cnn"))
    store.publish_version("mlp", version)

    history = store.store_dir() / store.VERSIONS_DIR / "mlp" / store.HISTORY_FILE
    lines = [json.loads(line) for line in history.read_text().splitlines()]
    assert [line["version"] for line in lines] == [
        store.list_versions("mlp")[0].id, version]
