"""Each of the six architectures: build, fit a few steps, save, reload, export, run.

For every model in digits.models the test fits it briefly on an MNIST slice,
saves it as .keras, loads it back the way the exporters do, exports that to
TFLite and TF.js (ResNet50V2 to TFLite only), and runs each file in its own
runtime (LiteRT; TF.js in headless Chromium) on the same test digits as the
Keras model.
ResNet50V2 (23.6 M params, ~30 ms per image per training step on 2 cores)
gets 64 images and is compared on 16. MNIST comes from DIGITS_MNIST or Keras.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from digits import export, models, networks, runtimes

PARAMS = {
    "mlp": 101_770,
    "mlp_functional": 101_770,
    "mlp_subclassed": 101_770,
    "cnn": 93_322,
    "resnet50v2": 23_579_018,
    "transfer": 5_770,  # the head; the frozen module's weights are not Keras'
}
CNN_FEATURE_PARAMS = 320 + 18_496 + 36_928  # the three convolutions in the module
FIT_IMAGES = {"resnet50v2": 64}  # images fitted on, per model (else 512)
CHECK_IMAGES = {"resnet50v2": 16}  # test digits each file runs on (else 200)
# Largest difference in a probability between an export and Keras.
TOLERANCE = {"resnet50v2": 1e-3}  # (else 1e-4) 50 layers of float32 rounding
# ResNet50V2 goes to TFLite only here: its TF.js conversion and page take ~1
# minute, and tests/test_shipped.py runs its shipped TF.js model in Chromium.
TFJS_MODELS = [name for name in models.MODEL_NAMES if name != "resnet50v2"]


def fit_briefly(model, mnist, images):
    """Compile like digits.train and fit one epoch of `images` in batches of 32."""
    keras.utils.set_random_seed(0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(mnist.x_train[:images], mnist.y_train[:images], batch_size=32,
              epochs=1, verbose=0)
    return model


def predict(model, images):
    return keras.ops.convert_to_numpy(model(images, training=False))


@pytest.fixture(scope="module", params=models.MODEL_NAMES)
def exported(request, mnist, tmp_path_factory):
    """A briefly trained model saved, reloaded and exported to both formats.

    Returns (name, images, Keras probabilities on them, model folder).
    """
    name = request.param
    model = fit_briefly(models.build(name), mnist, FIT_IMAGES.get(name, 512))
    images = mnist.x_test[: CHECK_IMAGES.get(name, 200)]
    folder = tmp_path_factory.mktemp(name)
    model.save(folder / export.KERAS_FILE)

    reloaded = export.load_keras_model(folder / export.KERAS_FILE)
    np.testing.assert_allclose(predict(reloaded, images), predict(model, images),
                               atol=1e-6)
    export.export_tflite(reloaded, folder / export.TFLITE_FILE)
    if name in TFJS_MODELS:
        export.export_tfjs(reloaded, folder / export.TFJS_DIR)
    return name, images, predict(model, images), folder


# build

@pytest.mark.parametrize("name", models.MODEL_NAMES)
def test_model_builds_with_its_param_count(name):
    model = models.build(name)

    assert model.count_params() == PARAMS[name]
    probabilities = predict(model, np.full((2, 28, 28), 0.5, np.float32))
    assert probabilities.shape == (2, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_the_three_mlps_are_the_same_network():
    shapes = {name: [w.shape for w in models.build(name).get_weights()]
              for name in ("mlp", "mlp_functional", "mlp_subclassed")}

    assert shapes["mlp"] == shapes["mlp_functional"] == shapes["mlp_subclassed"]
    assert shapes["mlp"] == [(784, 128), (128,), (128, 10), (10,)]


def test_subclassed_mlp_rebuilds_from_its_config():
    model = models.build("mlp_subclassed")
    config = model.get_config()

    rebuilt = networks.SubclassedMLP.from_config(config)

    assert config["hidden_units"] == 128
    assert rebuilt.count_params() == PARAMS["mlp_subclassed"]


# save, reload, export, run

def test_reloaded_keras_file_predicts_like_the_trained_model(exported):
    name, images, expected, folder = exported
    with runtimes.load(folder / export.KERAS_FILE) as keras_runtime:
        np.testing.assert_allclose(keras_runtime.predict(images), expected, atol=1e-6)


def test_tflite_in_litert_predicts_like_keras(exported):
    name, images, expected, folder = exported
    with runtimes.load(folder / export.TFLITE_FILE) as litert:
        predicted = litert.predict(images)

    np.testing.assert_allclose(predicted, expected, atol=TOLERANCE.get(name, 1e-4))


@pytest.mark.browser
@pytest.mark.parametrize("exported", TFJS_MODELS, indirect=True)
def test_tfjs_in_chromium_predicts_like_keras(exported):
    name, images, expected, folder = exported
    with runtimes.load(folder / export.TFJS_DIR) as tfjs:
        predicted = tfjs.predict(images)

    np.testing.assert_allclose(predicted, expected, atol=TOLERANCE.get(name, 1e-4))


# transfer

def test_transfer_trains_its_head_and_leaves_the_module_frozen(mnist):
    model = models.build("transfer")
    module = model.get_layer("hub_features").module
    before = [v.numpy() for v in module.variables]
    head = model.layers[-1].get_weights()[0].copy()

    fit_briefly(model, mnist, 256)

    assert sum(v.numpy().size for v in module.variables) == CNN_FEATURE_PARAMS
    for variable, value in zip(module.variables, before):
        np.testing.assert_array_equal(variable.numpy(), value)
    assert not np.allclose(model.layers[-1].get_weights()[0], head)


def test_transfer_feeds_an_rgb_module_resized_colour_digits(mnist, tmp_path):
    module = rgb_feature_module(side=48)
    tf.saved_model.save(module, str(tmp_path / "rgb"))
    model = models.build("transfer", hub_handle=str(tmp_path / "rgb"))
    images = mnist.x_test[:8]

    features = model.get_layer("hub_features")(images)

    assert model.get_layer("hub_features").image_size == 48
    means = tf.reduce_mean(tf.image.resize(images[..., None], (48, 48)), [1, 2])
    np.testing.assert_allclose(features, np.repeat(means, 3, axis=1), atol=1e-5)
    export.export_tflite(model, tmp_path / "model.tflite")
    with runtimes.load(tmp_path / "model.tflite") as litert:
        np.testing.assert_allclose(litert.predict(images), predict(model, images),
                                   atol=1e-5)


def rgb_feature_module(side):
    """A stand-in for MobileNetV2's feature vector: (batch, side, side, 3) ->
    the per-channel means plus one weight, so it has a variable to capture."""

    class RgbMeans(tf.Module):
        def __init__(self):
            self.scale = tf.Variable(1.0)

        @tf.function(input_signature=[tf.TensorSpec([None, side, side, 3])])
        def __call__(self, images):
            return self.scale * tf.reduce_mean(images, axis=[1, 2])

    return RgbMeans()


def test_unreachable_hub_handle_says_how_to_use_a_local_copy(tmp_path):
    handle = str(tmp_path / "no-such-module")

    with pytest.raises(models.HubModuleError) as raised:
        models.build("transfer", hub_handle=handle)

    message = str(raised.value)
    assert handle in message and "--hub-handle" in message
    assert models.HUB_HANDLE_ENV in message


def test_hub_handle_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(models.HUB_HANDLE_ENV, "/somewhere/features")

    assert models.choose_hub_handle() == "/somewhere/features"
    assert models.choose_hub_handle("given") == "given"
    monkeypatch.delenv(models.HUB_HANDLE_ENV)
    assert models.choose_hub_handle() == models.DEFAULT_HUB_HANDLE


def test_only_transfer_takes_a_hub_handle():
    with pytest.raises(ValueError, match="'cnn' takes no hub_handle"):
        models.build("cnn", hub_handle="anything")
