"""Fixtures shared by the tests: MNIST (from $DIGITS_MNIST, else Keras' download)."""

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from digits import data  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import server  # noqa: E402  (bench/server.py)


@pytest.fixture(scope="session")
def mnist():
    return data.load_mnist()


@pytest.fixture(scope="session", autouse=True)
def client_downloads_cleared():
    """gradio_client's empty per-download folders in one removed afterwards,
    not in /tmp (bench/server.py)."""
    with server.client_downloads_cleared():
        yield
