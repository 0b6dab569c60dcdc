"""The package's own Keras classes: the subclassed MLP and a TF-Hub feature layer.

Both are registered with Keras (package "digits"), so a .keras file holding
them loads once this module is imported; every loader in the package
(digits.export, digits.runtimes) imports it first. Importing it imports Keras.

HubFeatures wraps a TF-Hub feature-vector module, a TF2 SavedModel loaded
with `tensorflow_hub.load`, because `hub.KerasLayer` is a tf-keras (Keras 2)
layer that cannot sit in a Keras 3 model. The module is frozen: its
variables are TensorFlow's, not Keras', so they are neither trained nor
counted by `count_params()`, but every export captures them.
"""

from pathlib import Path

import keras

from digits.models import HUB_HANDLE_ENV, HubModuleError

REPO_ROOT = Path(__file__).resolve().parent.parent
NUM_CLASSES = 10  # digits 0-9


@keras.saving.register_keras_serializable(package="digits")
class SubclassedMLP(keras.Model):
    """The notes' MLP written as a keras.Model subclass with its own call().

    784 -> hidden_units relu -> 10 softmax; 101,770 params with 128 units.
    Called once on a symbolic (batch, 28, 28) input in __init__, so it has
    weights, a summary and an input signature for `model.export` before it
    sees any data (and again when Keras rebuilds it from a .keras file),
    like the Sequential and functional models.
    """

    def __init__(self, hidden_units=128, **kwargs):
        kwargs.setdefault("name", "mlp_subclassed")
        super().__init__(**kwargs)
        self.hidden_units = hidden_units
        self.flatten = keras.layers.Flatten()
        self.hidden = keras.layers.Dense(hidden_units, activation="relu")
        self.probabilities = keras.layers.Dense(NUM_CLASSES, activation="softmax")
        self(keras.Input((28, 28), name="digit"))

    def build(self, input_shape):
        self.flatten.build(input_shape)
        flat_shape = self.flatten.compute_output_shape(input_shape)
        self.hidden.build(flat_shape)
        self.probabilities.build((flat_shape[0], self.hidden_units))
        super().build(input_shape)

    def call(self, digits):
        return self.probabilities(self.hidden(self.flatten(digits)))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], NUM_CLASSES)

    def get_config(self):
        return {**super().get_config(), "hidden_units": self.hidden_units}


def load_hub_module(handle):
    """`tensorflow_hub.load(handle)`, with one sentence when it fails.

    handle: a tfhub.dev / Kaggle URL, or a local module folder; a relative
    folder is taken from the repository root, where exports/hub/ lives.
    """
    import tensorflow_hub as hub

    try:
        return hub.load(resolve_hub_handle(handle))
    except Exception as error:  # offline, no such module, not a SavedModel
        raise HubModuleError(
            f"Could not load the TF-Hub module {handle!r} ({type(error).__name__}); "
            "download it once and pass its folder with --hub-handle or the "
            f"{HUB_HANDLE_ENV} environment variable."
        ) from error


def resolve_hub_handle(handle):
    """A local relative folder as an absolute path from the repository root;
    URLs and absolute paths unchanged."""
    if "://" in handle or Path(handle).is_absolute():
        return handle
    return str(REPO_ROOT / handle)


def module_image_size(module):
    """The side of the RGB images a feature module takes, or None when it
    takes digits as they are, (batch, 28, 28)."""
    call = getattr(module, "__call__", None)
    functions = getattr(call, "concrete_functions", None) or []
    for function in functions:
        args = function.structured_input_signature[0]
        spec = args[0] if args else None
        shape = getattr(spec, "shape", None)
        if shape is None or shape.rank is None:
            continue
        if shape.rank == 4 and shape[-1] == 3:
            return shape[1] or 224  # e.g. MobileNetV2's [batch, 224, 224, 3]
        if shape.rank in (3, 4):
            return None
    return None


@keras.saving.register_keras_serializable(package="digits")
class HubFeatures(keras.layers.Layer):
    """A frozen TF-Hub feature-vector module: (batch, 28, 28) -> (batch, features).

    A module that takes digits (batch, 28, 28) gets them as they are; one
    that takes RGB images (MobileNetV2: 224 x 224 x 3 in 0..1) gets each digit
    resized to its side and repeated over the three channels, inside the
    model, so every export keeps the (batch, 28, 28) input.
    """

    def __init__(self, handle, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        self.handle = handle
        self.module = load_hub_module(handle)
        self.image_size = module_image_size(self.module)
        probe = self.module(self._module_input(keras.ops.zeros((1, 28, 28))))
        self.features = int(probe.shape[-1])

    def call(self, digits):
        return self.module(self._module_input(digits))

    def _module_input(self, digits):
        if self.image_size is None:
            return digits
        images = keras.ops.expand_dims(digits, -1)
        images = keras.ops.image.resize(images, (self.image_size, self.image_size))
        return keras.ops.repeat(images, 3, axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.features)

    def get_config(self):
        return {**super().get_config(), "handle": self.handle}
