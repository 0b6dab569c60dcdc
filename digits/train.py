"""Fit a model on MNIST and measure it, with progress reported as it goes.

Order of work, as in every run: data -> model -> fit -> evaluate. The
recipe follows the notes (Adam, sparse categorical cross-entropy) with two
additions that pay off on drawn digits: small random shifts, rotations and
zooms of the training images, and a learning rate that falls along a cosine
from its initial value to almost nothing by the last epoch. RECIPES names
another, "fast": the CNN past 99 % on MNIST in a quarter of the notes' time.
"""

import logging
import math
import time
from dataclasses import asdict, dataclass

import numpy as np

from digits import models

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    model: str = "cnn"
    epochs: int = 8
    batch_size: int = 64
    learning_rate: float = 1e-3  # Adam's first step; cosine decay per epoch
    augment: bool = True  # random shift/rotate/zoom of training images
    train_images: int = 60_000  # how many MNIST training images to use
    drawn: str | None = None  # drawn-digit JSON whose training writers join in
    drawn_copies: int = 3  # random canvases each drawn training sample is put on
    seed: int = 0
    hub_handle: str | None = None  # transfer only: the feature module it builds on
    # "cosine": per epoch, from learning_rate; "one-cycle": per batch, a
    # warm-up to learning_rate over the first WARMUP of the batches, then a
    # cosine down to nothing by the last one (the fast recipe's)
    schedule: str = "cosine"

    def as_dict(self):
        """The fields as a dict, less those the run did not use: a card made
        before a field existed reads the same as one made after."""
        settings = asdict(self)
        if settings["hub_handle"] is None:  # models without a feature module
            del settings["hub_handle"]
        if settings["drawn"] is None:  # MNIST alone: no drawn digits to copy
            del settings["drawn"], settings["drawn_copies"]
        if settings["schedule"] == "cosine":  # every recipe before "fast"
            del settings["schedule"]
        return settings


# Whether each model trains on jittered images by default. The CNN gains on
# drawn digits from it; the MLPs, which cannot share weights across positions,
# lose about a point of MNIST accuracy and gain nothing on drawn digits.
# ResNet50V2 gets only a few epochs on 2 CPU cores, too few to learn jitter.
AUGMENT_BY_DEFAULT = {"mlp": False, "mlp_functional": False,
                      "mlp_subclassed": False, "resnet50v2": False}
EPOCHS_BY_DEFAULT = {"mlp": 12, "mlp_functional": 12, "mlp_subclassed": 12,
                     "cnn": 16, "resnet50v2": 4, "transfer": 6}
# ResNet50V2 costs 20-70 ms per image forward and backward on 2 CPU cores
# (more when other work shares them), so a full epoch takes 20-70 minutes
# there: by default it sees a subset of 20,000 images 4 times (~30-40 min).
# 12,000 images 4 times reached 97.6 % on MNIST's test set. On a GPU pass
# --train-images 60000.
TRAIN_IMAGES_BY_DEFAULT = {"resnet50v2": 20_000}

# The fast recipe: the CNN past 99 % on MNIST's test set (99.2 % in trials) in
# about a quarter of the wall time of the notes' recipe, 5 epochs of batch 32
# fitted on the arrays (bench/train_speed.py runs both side by side). On a
# CPU a batch of 128 costs less per image than one of 32; the one-cycle
# schedule takes large steps early and tiny ones at the end, so 2 epochs get
# where 5 at a fixed step do; no jitter, which slows the first epochs. The
# shipped recipe (jitter, drawn digits, 16 epochs) still reads drawn digits
# better: this one is for trying things out.
RECIPES = {
    "shipped": {},
    "fast": {"epochs": 2, "batch_size": 128, "learning_rate": 4e-3,
             "augment": False, "schedule": "one-cycle"},
}
WARMUP = 0.1  # share of the batches the one-cycle schedule warms up over


def default_config(model, recipe="shipped", **overrides):
    """The recipe the shipped `model` was trained with, or another of
    RECIPES by name, changed by `overrides`."""
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}; choose one of: "
                         f"{', '.join(RECIPES)}")
    settings = {"model": model, "augment": AUGMENT_BY_DEFAULT.get(model, True),
                "epochs": EPOCHS_BY_DEFAULT.get(model, 8),
                "train_images": TRAIN_IMAGES_BY_DEFAULT.get(model, 60_000),
                **RECIPES[recipe]}
    if model == "transfer":
        settings["hub_handle"] = models.choose_hub_handle(overrides.get("hub_handle"))
    settings.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig(**settings)


def train_model(config, mnist, callbacks=()):
    """Build and fit `config.model` on MNIST; return (model, history dict)."""
    import keras

    keras.utils.set_random_seed(config.seed)
    x, y = mnist.x_train[: config.train_images], mnist.y_train[: config.train_images]
    if config.drawn:
        drawn_x, drawn_y = drawn_training_set(config)
        x, y = np.concatenate([x, drawn_x]), np.concatenate([y, drawn_y])
    model = models.build(config.model, hub_handle=config.hub_handle)
    batches = math.ceil(len(x) / config.batch_size)  # per epoch
    rate, schedule = make_learning_rate(config, batches)
    model.compile(
        optimizer=keras.optimizers.Adam(rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    started = time.perf_counter()
    history = model.fit(
        _training_batches(x, y, config),
        epochs=config.epochs,
        shuffle=False,  # the dataset reshuffles itself each epoch (Keras would warn)
        callbacks=[*schedule, _EpochLog(config.epochs), *callbacks],
        verbose=0,
    )
    log.info("trained %s in %.0f s", config.model, time.perf_counter() - started)
    return model, history.history


def make_learning_rate(config, batches):
    """(Adam's learning rate, callbacks that change it) for config.schedule;
    `batches` per epoch."""
    import keras

    if config.schedule == "cosine":
        return config.learning_rate, [keras.callbacks.LearningRateScheduler(
            lambda epoch: cosine_rate(config.learning_rate, epoch, config.epochs))]
    if config.schedule != "one-cycle":
        raise ValueError(f"unknown schedule {config.schedule!r}; choose cosine "
                         "or one-cycle")
    steps = batches * config.epochs
    warmup = int(WARMUP * steps)
    return keras.optimizers.schedules.CosineDecay(
        config.learning_rate / 10, decay_steps=steps - warmup, alpha=0.0,
        warmup_target=config.learning_rate, warmup_steps=warmup), []


def cosine_rate(initial, epoch, epochs, floor=1e-5):
    """The learning rate of `epoch` (from 0): half a cosine from `initial`
    down to `floor`, so the last epochs take small steps near the minimum."""
    return floor + (initial - floor) * 0.5 * (1 + math.cos(math.pi * epoch / epochs))


def _EpochLog(epochs):
    """A Keras callback logging one line per epoch: loss, accuracy, seconds."""
    import keras

    class EpochLog(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            log.info("epoch %d/%d: loss %.4f, accuracy %.4f, %.0f s", epoch + 1,
                     epochs, logs["loss"], logs["accuracy"],
                     time.perf_counter() - self.started)

    return EpochLog()


def ProgressReport(report, every_seconds=0.5):
    """A Keras callback that passes training progress to report(event).

    Events are dicts with "event" set to "fit" (epochs, steps per epoch), then
    "batch" (the first batch, then at most one per `every_seconds`, and each
    epoch's last batch) and "epoch". Batch and epoch events hold epoch and
    batch (both counted from 1), steps, loss and accuracy (running means over
    the epoch so far) and elapsed (seconds since fit began).
    """
    import keras

    class Progress(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.started = time.perf_counter()
            self.reported = float("-inf")  # the first batch is always reported
            self.epoch = 1
            report({"event": "fit", "epochs": self.params["epochs"],
                    "steps": self.params["steps"]})

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch + 1

        def on_train_batch_end(self, batch, logs=None):
            now, steps = time.perf_counter(), self.params["steps"]
            if now - self.reported < every_seconds and batch + 1 != steps:
                return
            self.reported = now
            report(self._figures("batch", batch + 1, logs))

        def on_epoch_end(self, epoch, logs=None):
            report(self._figures("epoch", self.params["steps"], logs))

        def _figures(self, event, batch, logs):
            return {"event": event, "epoch": self.epoch, "batch": batch,
                    "steps": self.params["steps"], "loss": float(logs["loss"]),
                    "accuracy": float(logs["accuracy"]),
                    "elapsed": round(time.perf_counter() - self.started, 3)}

    return Progress()


def drawn_training_set(config):
    """The training writers' drawn digits, each on `drawn_copies` random canvases."""
    from digits import data

    samples = data.load_drawn_file(config.drawn)
    writers = set(data.split_writers(samples)[0])
    chosen = [s for s in samples if s["writer"] in writers]
    log.info("rendering %d drawn digits by %d writers, %d canvases each",
             len(chosen), len(writers), config.drawn_copies)
    return data.render_drawn(chosen, copies=config.drawn_copies, seed=config.seed)


def evaluate_model(model, images, labels, batch_size=1000):
    """Top-1 accuracy of a Keras model on (n, 28, 28) images."""
    predictions = predict_batches(model, images, batch_size)
    return float(np.mean(predictions.argmax(axis=1) == labels))


def predict_batches(model, images, batch_size=1000):
    """Probabilities (n, 10) from calling the model directly, batch by batch."""
    chunks = [
        np.asarray(model(images[i : i + batch_size], training=False))
        for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(chunks)


def _training_batches(x, y, config):
    import keras
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    dataset = dataset.shuffle(len(x), seed=config.seed).batch(config.batch_size)
    if config.augment:
        jitter = keras.Sequential(
            [
                keras.layers.RandomRotation(0.04, fill_mode="constant"),  # +-15 deg
                keras.layers.RandomZoom(0.12, fill_mode="constant"),
                keras.layers.RandomTranslation(0.1, 0.1, fill_mode="constant"),
            ]
        )
        dataset = dataset.map(
            lambda images, labels: (
                jitter(images[..., None], training=True)[..., 0],
                labels,
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return dataset.prefetch(tf.data.AUTOTUNE)
