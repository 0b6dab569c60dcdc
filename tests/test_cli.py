"""python -m digits: the command line, run as a user runs it.

Commands that change a store run on a temporary one (DIGITS_STORE) seeded
with a copy of the shipped mlp; some are killed with SIGKILL in the middle of
training or publishing, and a fresh process (as after a restart) must then
serve exactly what was served before.
"""

import io
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import h5py
import pytest

from digits import store

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((REPO / "examples").glob("*.png"))
NUMBERS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
           "six": 6, "seven": 7, "eight": 8, "nine": 9}


SHIPPED = store.SHIPPED  # the repository's exports/: copied here, never written
QUICK_TRAINING = ("--model", "mlp", "--epochs", 1, "--train-images", 20_000,
                  "--batch-size", 32)  # ~3 s, and confident enough for int8
WAIT_SECONDS = 180  # longest wait for a process to reach the point it is killed at


def run_cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "digits", *map(str, args)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
        env=cli_env(env),
    )


def cli_env(extra):
    env = {**os.environ, **(extra or {})}
    env.pop("DIGITS_PENDIGITS", None)  # no drawn digits to render: quicker
    return env


def json_lines(stdout):
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("command", ["train", "evaluate", "predict", "export",
                                     "versions", "publish", "rollback"])
def test_every_command_has_help(command):
    result = run_cli(command, "--help")
    assert result.returncode == 0 and "--model" in result.stdout


def test_predict_reads_each_drawing_right():
    result = run_cli("predict", "--model", "cnn", *EXAMPLES)
    lines = json_lines(result.stdout)
    assert result.returncode == 0 and len(lines) == len(EXAMPLES) >= 5
    for path, line in zip(EXAMPLES, lines):
        assert line["digit"] == NUMBERS[path.stem], path.name
        assert len(line["probabilities"]) == 10
        assert line["confidence"] == pytest.approx(max(line["probabilities"]), abs=1e-6)
        assert line["doubt"] is None  # each example is plainly its digit


def test_predict_reports_a_corrupt_file_and_goes_on(tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\nthis is not an image")
    result = run_cli("predict", "--model", "mlp", broken, EXAMPLES[0])
    first, second = json_lines(result.stdout)
    assert result.returncode == 1
    assert first == {"file": str(broken),
                     "error": "Could not read broken.png as an image (PNG, JPEG, ...)."}
    assert second["digit"] == NUMBERS[EXAMPLES[0].stem]


def test_predict_serves_a_model_shipped_without_float32(tmp_path):
    shipped = store.model_dir("resnet50v2") / "model_dynamic.tflite"
    (tmp_path / "resnet50v2").mkdir()
    (tmp_path / "resnet50v2" / shipped.name).write_bytes(shipped.read_bytes())
    seven = next(path for path in EXAMPLES if path.stem == "seven")
    result = run_cli("predict", "--model", "resnet50v2", seven,
                     env={store.STORE_ENV: str(tmp_path)})
    (line,) = json_lines(result.stdout)
    assert result.returncode == 0 and line["digit"] == 7


def test_evaluate_names_the_variants_a_model_shipped_without_float32_has(tmp_path):
    shipped = store.model_dir("resnet50v2") / "model_dynamic.tflite"
    (tmp_path / "resnet50v2").mkdir()
    (tmp_path / "resnet50v2" / shipped.name).write_bytes(shipped.read_bytes())
    result = run_cli("evaluate", "--model", "resnet50v2", "--runtime", "litert",
                     env={store.STORE_ENV: str(tmp_path)})
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert ("model.tflite is not in this copy of the model; it has tflite_dynamic: "
            "add --variant tflite_dynamic") in result.stderr


def test_evaluate_in_litert_prints_accuracy_and_count():
    result = run_cli("evaluate", "--model", "cnn", "--runtime", "litert")
    (line,) = json_lines(result.stdout)
    assert line["n"] == 10_000 and line["runtime"] == "litert"
    assert line["accuracy"] == pytest.approx(
        store.read_card("cnn")["mnist_test_accuracy"], abs=0.001)


@pytest.mark.browser
def test_evaluate_in_tfjs_matches_litert():
    results = [json_lines(run_cli("evaluate", "--model", "mlp", "--runtime", runtime,
                                  "--limit", 300).stdout)[0]
               for runtime in ("tfjs", "litert")]
    assert results[0]["accuracy"] == pytest.approx(results[1]["accuracy"], abs=0.004)


def test_train_without_data_says_how_to_provide_it(tmp_path):
    result = run_cli("train", "--model", "mlp", "--data", tmp_path / "missing.npz")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(
        f"error: No MNIST file at {tmp_path / 'missing.npz'}; pass --data or set"
    )


@pytest.mark.parametrize("command, first_work", [
    (("train", *QUICK_TRAINING), "epoch 1/1"),  # not a run thrown away at its end
    (("export", "--model", "mlp"), "exported tflite_float32"),
])
def test_without_a_browser_train_and_export_stop_before_any_work(
        seeded, tmp_path, command, first_work):
    missing = tmp_path / "no-chromium"
    result = run_cli(*command, env={**seeded.env, "DIGITS_CHROMIUM": str(missing)})
    assert result.returncode == 2
    assert f"error: Could not start Chromium ({missing})" in result.stderr
    assert first_work not in result.stderr
    assert list_versions(seeded) == [] and not leftovers(seeded)


@pytest.mark.browser
def test_train_keeps_a_verified_version_that_publish_then_serves(seeded):
    result = run_cli("train", *QUICK_TRAINING, env=seeded.env)
    assert result.returncode == 0, result.stderr[-2000:]
    (printed,) = json_lines(result.stdout)
    shipped, trained = list_versions(seeded)
    assert trained["version"] == printed["version"] and not trained["served"]
    assert shipped["served"]
    assert shipped["note"].startswith("served before versions were kept, trained 20")
    kept = seeded.root / ".versions" / "mlp" / trained["version"]
    card = json.loads((kept / store.CARD_FILE).read_text())
    with zipfile.ZipFile(kept / store.KERAS_FILE) as keras_file:
        weights = io.BytesIO(keras_file.read("model.weights.h5"))
    with h5py.File(weights, "r") as groups:
        assert sorted(groups) == ["layers", "vars"]  # no "optimizer": served, not resumed
    assert card["params"] == 101_770 and card["mnist_test_accuracy"] > 0.8
    assert card["variants"]["tflite_float32"]["agreement"] >= 0.999
    assert card["variants"]["tfjs_float32"]["n"] == 1000
    assert card["variants"]["tflite_int8"]["input"]["dtype"] == "int8"
    assert sum(map(sum, card["confusion_matrix"])) == 10_000
    assert predictions(seeded) == seeded.shipped  # kept, not served

    published = run_cli("publish", "--model", "mlp", "--version", trained["version"],
                        env=seeded.env)

    assert json_lines(published.stdout)[0]["served"] == trained["version"]
    assert json.loads((seeded.root / "mlp" / store.CARD_FILE).read_text()) == card
    assert predictions(seeded) != seeded.shipped
    assert sorted(p.name for p in seeded.root.iterdir()) == [".versions", "mlp"]


# a store with versions, and kills


class Seeded:
    """A temporary store serving a copy of the shipped mlp."""

    def __init__(self, root):
        self.root = root
        shutil.copytree(SHIPPED / "mlp", root / "mlp")
        self.env = {store.STORE_ENV: str(root)}
        self.shipped = predictions(self)


@pytest.fixture
def seeded(tmp_path):
    return Seeded(tmp_path / "store")


def predictions(seeded):
    """What a fresh process serves for the example drawings: probabilities."""
    result = run_cli("predict", "--model", "mlp", *EXAMPLES, env=seeded.env)
    assert result.returncode == 0, result.stderr[-2000:]
    return [line["probabilities"] for line in json_lines(result.stdout)]


def list_versions(seeded):
    result = run_cli("versions", "--model", "mlp", env=seeded.env)
    assert result.returncode == 0, result.stderr[-2000:]
    return [line for line in json_lines(result.stdout) if line["version"]]


def leftovers(seeded):
    """Hidden half-built folders in the store."""
    root = seeded.root
    return [*root.glob(".staging-*"), *root.glob(".retired-*"),
            *root.glob(".versions/*/.partial-*")]


def keep_version_of(seeded, model):
    """Keep the shipped `model`'s served files as a new, unserved version of
    the store's mlp (the store knows files, not networks); return its id."""
    env = {**os.environ, **seeded.env}
    code = ("import shutil, sys; from digits import store\n"
            "staged = store.staging_dir('mlp')\n"
            f"for name in ('model.tflite', 'card.json', 'labels.txt'):\n"
            f"    shutil.copyfile('{SHIPPED / model}/' + name, staged / name)\n"
            "print(store.save_version('mlp', staged))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env,
                            capture_output=True, text=True, check=True)
    return result.stdout.strip()


def start_cli(*args, env):
    """`python -m digits ARGS` running, with a queue of its stderr lines."""
    process = subprocess.Popen(
        [sys.executable, "-m", "digits", *map(str, args)], cwd=REPO,
        env=cli_env(env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True,
    )
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stderr],
                     daemon=True).start()
    return process, lines


def wait_for_line(process, lines, text):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        try:
            if text in lines.get(timeout=1):
                return
        except queue.Empty:
            assert process.poll() is None, f"exited ({process.returncode}) first"
    pytest.fail(f"no {text!r} within {WAIT_SECONDS} s")


def kill(process):
    process.send_signal(signal.SIGKILL)
    process.wait()


def test_killed_while_training_leaves_the_served_model_serving(seeded, tmp_path):
    report = tmp_path / "report"
    process, _ = start_cli("train", "--model", "mlp", "--epochs", 30, "--publish",
                           "--report", report, env=seeded.env)
    deadline = time.monotonic() + WAIT_SECONDS
    while '"event": "batch"' not in read_text(report / "progress.jsonl"):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.2)

    kill(process)

    assert predictions(seeded) == seeded.shipped
    assert list_versions(seeded) == []  # nothing was kept
    assert leftovers(seeded) == []


def read_text(path):
    return path.read_text() if path.is_file() else ""


def test_killed_while_writing_a_version_leaves_no_version_and_no_leftovers(seeded):
    process, lines = start_cli("train", *QUICK_TRAINING, "--publish",
                               env={**seeded.env, store.PAUSE_ENV: "staging"})
    wait_for_line(process, lines, f"{store.PAUSE_ENV}: paused at staging")
    (half_written,) = leftovers(seeded)
    assert (half_written / store.KERAS_FILE).is_file()
    assert not (half_written / store.TFLITE_FILE).exists()

    kill(process)

    assert predictions(seeded) == seeded.shipped  # a fresh process: a restart
    assert list_versions(seeded) == []
    assert leftovers(seeded) == []  # removed when the next command started


def test_killed_while_swapping_in_a_version_serves_the_previous_one_whole(seeded):
    version = keep_version_of(seeded, "cnn")
    process, lines = start_cli("publish", "--model", "mlp", "--version", version,
                               env={**seeded.env, store.PAUSE_ENV: "swap"})
    wait_for_line(process, lines, f"{store.PAUSE_ENV}: paused at swap")
    assert len(leftovers(seeded)) == 1  # the new served folder, ready

    kill(process)

    assert predictions(seeded) == seeded.shipped
    shipped, kept = list_versions(seeded)
    assert shipped["served"] and kept["version"] == version and not kept["served"]
    assert not kept["published"]
    assert leftovers(seeded) == []


def test_rollback_restores_the_previous_predictions_exactly(seeded):
    version = keep_version_of(seeded, "cnn")
    run_cli("publish", "--model", "mlp", "--version", version, env=seeded.env)
    assert predictions(seeded) != seeded.shipped

    result = run_cli("rollback", "--model", "mlp", env=seeded.env)

    line = json_lines(result.stdout)[0]
    assert result.returncode == 0 and line["previous"] == version
    assert predictions(seeded) == seeded.shipped
    again = run_cli("rollback", "--model", "mlp", env=seeded.env)
    assert again.returncode == 2
    assert "no older published version to roll back to" in again.stderr


def test_publishing_an_unknown_version_lists_the_kept_ones(seeded):
    version = keep_version_of(seeded, "cnn")

    result = run_cli("publish", "--model", "mlp", "--version", "0042", env=seeded.env)

    assert result.returncode == 2
    assert result.stderr.strip().endswith(
        f"has no version '0042'; kept versions: {list_versions(seeded)[0]['version']}"
        f", {version}.")
