"""The architectures from the original notes, built by name.

All take (batch, 28, 28) float32, white ink on black in 0..1, and end in a
10-way softmax, so the app, the exporters and the runtimes treat them alike.
Models that need a channel axis add it inside the network, which keeps the
reshape inside every export too.
"""

import os

INPUT_SHAPE = (28, 28)

# The feature module the transfer model is built on. By default the module
# exported from the shipped CNN's convolutional base (digits.hub), which is
# in the repository; online, the notes' MobileNetV2 works too. A relative
# folder is taken from the repository root.
HUB_HANDLE_ENV = "DIGITS_HUB_HANDLE"
DEFAULT_HUB_HANDLE = "exports/hub/cnn_features"
MOBILENET_V2_HANDLE = (
    "https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/5"
)


class HubModuleError(RuntimeError):
    """A TF-Hub handle could not be loaded; the message says what to do."""


def build_mlp():
    """Sequential MLP from the notes: 784 -> 128 relu -> 10 (101,770 params)."""
    import keras

    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE, name="digit"),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ],
        name="mlp",
    )


def build_mlp_functional():
    """The same MLP written with the functional API (keras.Input, keras.Model).

    The notes' version passes a unit count to a second Flatten and misspells
    keras; what it means is Flatten, Dense 128 relu, Dense 10 softmax.
    """
    import keras

    digit = keras.Input(INPUT_SHAPE, name="digit")
    pixels = keras.layers.Flatten()(digit)
    hidden = keras.layers.Dense(128, activation="relu")(pixels)
    probabilities = keras.layers.Dense(10, activation="softmax")(hidden)
    return keras.Model(digit, probabilities, name="mlp_functional")


def build_mlp_subclassed():
    """The same MLP as a keras.Model subclass (digits.networks.SubclassedMLP),
    already built on (batch, 28, 28)."""
    from digits.networks import SubclassedMLP

    return SubclassedMLP(hidden_units=128)


def build_cnn():
    """CNN from the notes: conv 32-64-64 (3x3) with two max-pools, dense 64.

    A quarter of the 576 features are dropped at random while training (no
    weights, so the same 93,322 params): it lifted MNIST test accuracy from
    99.25 % to 99.37 % with the same jitter and drawn digits."""
    import keras

    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE, name="digit"),
            keras.layers.Reshape((28, 28, 1)),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(64, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(64, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.25),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ],
        name="cnn",
    )


def build_resnet50v2():
    """ResNet50V2 from keras.applications, untrained, for 32x32 one-channel
    digits: the 28x28 digit is zero-padded by 2 px on each side inside the
    model (exact, unlike resizing), so its input stays (batch, 28, 28)."""
    import keras

    digit = keras.Input(INPUT_SHAPE, name="digit")
    image = keras.layers.Reshape((28, 28, 1))(digit)
    image = keras.layers.ZeroPadding2D(2)(image)
    resnet = keras.applications.ResNet50V2(
        weights=None, classes=10, input_shape=(32, 32, 1)
    )
    return keras.Model(digit, resnet(image), name="resnet50v2")


def build_transfer(hub_handle=None):
    """A new softmax head on a frozen TF-Hub feature-vector module.

    hub_handle: a module URL or folder; None means $DIGITS_HUB_HANDLE, else
    DEFAULT_HUB_HANDLE (576 features from the CNN's convolutional base).
    Only the head's weights train and count as params.
    """
    import keras

    from digits.networks import HubFeatures

    digit = keras.Input(INPUT_SHAPE, name="digit")
    features = HubFeatures(choose_hub_handle(hub_handle), name="hub_features")(digit)
    probabilities = keras.layers.Dense(10, activation="softmax")(features)
    return keras.Model(digit, probabilities, name="transfer")


def choose_hub_handle(hub_handle=None):
    """The handle given, else $DIGITS_HUB_HANDLE, else DEFAULT_HUB_HANDLE."""
    return hub_handle or os.environ.get(HUB_HANDLE_ENV) or DEFAULT_HUB_HANDLE


BUILDERS = {
    "mlp": build_mlp,
    "mlp_functional": build_mlp_functional,
    "mlp_subclassed": build_mlp_subclassed,
    "cnn": build_cnn,
    "resnet50v2": build_resnet50v2,
    "transfer": build_transfer,
}
MODEL_NAMES = tuple(BUILDERS)

# What a person sees in the model dropdown, keyed by model name.
TITLES = {
    "mlp": "MLP (Sequential)",
    "mlp_functional": "MLP (functional API)",
    "mlp_subclassed": "MLP (subclassed keras.Model)",
    "cnn": "CNN (conv 32-64-64)",
    "resnet50v2": "ResNet50V2 (keras.applications, 23.6 M params)",
    "transfer": "Transfer (new head on a frozen TF-Hub feature module)",
}


def build(name, hub_handle=None):
    """Return a fresh, uncompiled Keras model for one of MODEL_NAMES.

    hub_handle: the feature module of the "transfer" model (see
    build_transfer); the other models take none.
    """
    if name not in BUILDERS:
        raise ValueError(
            f"unknown model {name!r}; choose one of: {', '.join(MODEL_NAMES)}"
        )
    if name == "transfer":
        return build_transfer(hub_handle)
    if hub_handle is not None:
        raise ValueError(f"model {name!r} takes no hub_handle; only 'transfer' does")
    return BUILDERS[name]()
