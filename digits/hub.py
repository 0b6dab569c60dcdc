"""Export the shipped CNN's convolutional base as a TF-Hub feature-vector module.

The transfer model needs a feature module that loads without a network, so
the repository carries one: the three convolutions and two max-pools of the
CNN in exports/cnn/, up to its Flatten (576 features per digit), saved as a
TF2 SavedModel in the form `tensorflow_hub.load` expects: a callable object
with `variables` and `trainable_variables`, whose __call__ maps float32
digits (batch, 28, 28) or (batch, 28, 28, 1), white on black in 0..1, to
(batch, 576) float32 features.

    python -m digits.hub [--cnn exports/cnn/model.keras] [--out exports/hub/cnn_features]

The module is written in plain TensorFlow ops with its own tf.Variables
copied from the Keras weights, so it depends on neither Keras version.
"""

import argparse
import logging
import os
import shutil
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
CNN_FILE = REPO_ROOT / "exports" / "cnn" / "model.keras"
MODULE_DIR = REPO_ROOT / "exports" / "hub" / "cnn_features"


def export_cnn_features(cnn_path=CNN_FILE, module_dir=MODULE_DIR):
    """Write the CNN's convolutional base as a feature module; return its folder.

    The folder is built beside `module_dir` and renamed into place.
    """
    import keras
    import tensorflow as tf

    cnn = keras.saving.load_model(cnn_path, compile=False)
    kernels = [layer.get_weights() for layer in cnn.layers
               if isinstance(layer, keras.layers.Conv2D)]
    module = conv_features_module(kernels)

    module_dir = Path(module_dir)
    module_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{module_dir.name}.new-",
                                    dir=module_dir.parent))
    try:
        tf.saved_model.save(module, str(staging))
        for path in [staging, *staging.rglob("*")]:  # mkdtemp made it private
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        if module_dir.exists():
            shutil.rmtree(module_dir)
        os.rename(staging, module_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("exported the convolutional base of %s to %s (%d features)",
             cnn_path, module_dir, module.features)
    return module_dir


def conv_features_module(kernels):
    """A reusable SavedModel object in TF-Hub's form: conv (3x3, valid, relu)
    layers with 2x2 max-pools between them, then flatten.

    kernels: [(weights, bias), ...] from Keras Conv2D layers. The object has
    __call__ (traced for (batch, 28, 28) and (batch, 28, 28, 1) float32),
    variables, trainable_variables and regularization_losses, and `features`,
    the length of its output vectors.
    """
    import tensorflow as tf

    module = tf.train.Checkpoint()
    module.kernels = [tf.Variable(w, name=f"conv{i}/kernel")
                      for i, (w, _) in enumerate(kernels)]
    module.biases = [tf.Variable(b, name=f"conv{i}/bias")
                     for i, (_, b) in enumerate(kernels)]
    module.variables = [*module.kernels, *module.biases]
    module.trainable_variables = list(module.variables)  # for fine-tuning
    module.regularization_losses = []

    @tf.function
    def call(digits):
        x = digits[..., None] if digits.shape.rank == 3 else digits
        for i, (kernel, bias) in enumerate(zip(module.kernels, module.biases)):
            if i > 0:
                x = tf.nn.max_pool2d(x, 2, 2, "VALID")
            x = tf.nn.relu(tf.nn.conv2d(x, kernel, 1, "VALID") + bias)
        return tf.reshape(x, (-1, x.shape[1] * x.shape[2] * x.shape[3]))

    for shape in ([None, 28, 28], [None, 28, 28, 1]):
        call.get_concrete_function(tf.TensorSpec(shape, tf.float32, name="digits"))
    module.__call__ = call
    module.features = int(call(tf.zeros((1, 28, 28))).shape[-1])
    return module


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cnn", default=str(CNN_FILE), help="a trained CNN .keras")
    parser.add_argument("--out", default=str(MODULE_DIR), help="module folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    export_cnn_features(args.cnn, args.out)


if __name__ == "__main__":
    main()
