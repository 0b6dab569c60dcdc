"""python -m digits: the command line, run as a user runs it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from digits import store

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((REPO / "examples").glob("*.png"))
NUMBERS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
           "six": 6, "seven": 7, "eight": 8, "nine": 9}


def run_cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "digits", *map(str, args)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
        env={**os.environ, **(env or {})},
    )


def json_lines(stdout):
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("command", ["train", "evaluate", "predict", "export"])
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


@pytest.mark.browser
def test_train_publishes_a_verified_version(tmp_path):
    result = run_cli("train", "--model", "mlp", "--epochs", 1, "--train-images", 3000,
                     env={store.STORE_ENV: str(tmp_path)})
    assert result.returncode == 0, result.stderr[-2000:]
    card = json.loads((tmp_path / "mlp" / store.CARD_FILE).read_text())
    assert card["params"] == 101_770 and card["mnist_test_accuracy"] > 0.8
    assert card["variants"]["tflite_float32"]["agreement"] >= 0.999
    assert card["variants"]["tfjs_float32"]["n"] == 1000
    assert card["variants"]["tflite_int8"]["input"]["dtype"] == "int8"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlp"]  # no staging left
