"""Fixtures shared by the tests: MNIST (from $DIGITS_MNIST, else Keras' download)."""

import os
import tempfile

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from digits import data  # noqa: E402


@pytest.fixture(scope="session")
def mnist():
    return data.load_mnist()


@pytest.fixture(scope="session", autouse=True)
def client_downloads_cleared(tmp_path_factory):
    """gradio_client downloads each output through a folder it makes in the
    temp directory and leaves there, empty: make those in one that pytest
    cleans up instead of in /tmp."""
    before = tempfile.tempdir
    tempfile.tempdir = str(tmp_path_factory.mktemp("client-downloads"))
    yield
    tempfile.tempdir = before
