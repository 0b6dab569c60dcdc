"""Fixtures shared by the tests: MNIST (from $DIGITS_MNIST, else Keras' download)."""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from digits import data  # noqa: E402


@pytest.fixture(scope="session")
def mnist():
    return data.load_mnist()
