"""digits.evaluation on the shipped MLP: what a training run reports about it."""

import json
import os

import numpy as np
import pytest

from digits import evaluation, export, store

PENDIGITS = os.environ.get("DIGITS_PENDIGITS")
HELD_OUT = 60  # held-out writers' drawings rendered here (all 2,498 take ~30 s)


@pytest.fixture(scope="module")
def mlp():
    return export.load_keras_model(store.SHIPPED / "mlp" / store.KERAS_FILE)


@pytest.fixture(scope="module")
def result(mlp, mnist):
    return evaluation.evaluate(mlp, mnist)


def test_mnist_accuracy_is_the_cards(result):
    card = json.loads((store.SHIPPED / "mlp" / store.CARD_FILE).read_text())
    assert result["mnist_test_accuracy"] == pytest.approx(
        card["mnist_test_accuracy"], abs=1e-4)


def test_confusion_matrix_counts_every_test_digit_by_true_and_read_digit(
    result, mnist
):
    matrix = np.array(result["confusion_matrix"])
    assert matrix.shape == (10, 10) and matrix.sum() == len(mnist.y_test)
    assert list(matrix.sum(axis=1)) == list(np.bincount(mnist.y_test, minlength=10))
    assert np.trace(matrix) / matrix.sum() == result["mnist_test_accuracy"]


def test_misclassified_lists_exactly_the_off_diagonal_digits(result, mnist):
    wrong = result["misclassified"]
    matrix = np.array(result["confusion_matrix"])
    assert len(wrong["index"]) == matrix.sum() - np.trace(matrix)
    assert all(t != p for t, p in zip(wrong["true"], wrong["predicted"]))
    assert wrong["true"] == mnist.y_test[wrong["index"]].tolist()
    assert result["drawn_accuracy"] is None  # no drawn digits given


@pytest.mark.skipif(PENDIGITS is None, reason="set DIGITS_PENDIGITS")
def test_held_out_drawn_digits_are_read_as_the_card_says(mlp, mnist):
    drawn = evaluation.held_out_drawn(PENDIGITS, limit=HELD_OUT)

    measured = evaluation.evaluate(mlp, mnist, drawn)["drawn_accuracy"]

    images, labels = drawn
    assert images.shape == (HELD_OUT, 28, 28) and len(labels) == HELD_OUT
    assert measured["n"] == HELD_OUT and measured["writers"] == "held-out"
    assert measured["centred"] >= 0.9  # the card: 97.6 % on all 2,498
    again = evaluation.held_out_drawn(PENDIGITS, limit=HELD_OUT)  # from the cache
    assert np.array_equal(again[0], images)
