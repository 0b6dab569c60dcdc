"""The architectures from the original notes, built by name.

All take (batch, 28, 28) float32, white ink on black in 0..1, and end in a
10-way softmax, so the app, the exporters and the runtimes treat them alike.
Models that need a channel axis add it inside the network, which keeps the
reshape inside every export too.
"""

INPUT_SHAPE = (28, 28)


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


def build_cnn():
    """CNN from the notes: conv 32-64-64 (3x3) with two max-pools, dense 64."""
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
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ],
        name="cnn",
    )


BUILDERS = {
    "mlp": build_mlp,
    "cnn": build_cnn,
}
MODEL_NAMES = tuple(BUILDERS)

# What a person sees in the model dropdown, keyed by model name.
TITLES = {
    "mlp": "MLP (Sequential)",
    "cnn": "CNN (conv 32-64-64)",
}


def build(name):
    """Return a fresh, uncompiled Keras model for one of MODEL_NAMES."""
    if name not in BUILDERS:
        raise ValueError(
            f"unknown model {name!r}; choose one of: {', '.join(MODEL_NAMES)}"
        )
    return BUILDERS[name]()
