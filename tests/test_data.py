"""digits.data: MNIST from a local file in Keras' layout."""

import numpy as np
import pytest

from digits import data


def test_local_file_loads_as_unit_floats(mnist):
    assert mnist.x_train.shape == (60000, 28, 28)
    assert mnist.x_test.shape == (10000, 28, 28)
    assert mnist.x_train.dtype == np.float32
    assert 0.0 == mnist.x_test.min() and mnist.x_test.max() == 1.0
    assert sorted(np.unique(mnist.y_test)) == list(range(10))


def test_missing_file_says_how_to_provide_one(tmp_path):
    with pytest.raises(data.DataError, match="pass --data or set DIGITS_MNIST"):
        data.load_mnist(tmp_path / "nowhere.npz")


def test_file_without_mnist_arrays_is_named(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, x_train=np.zeros((1, 28, 28)))
    with pytest.raises(data.DataError, match="lacks y_train, x_test, y_test"):
        data.load_mnist(path)


def test_environment_variable_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv(data.MNIST_ENV, str(tmp_path / "from-env.npz"))
    with pytest.raises(data.DataError, match="from-env.npz"):
        data.load_mnist()
