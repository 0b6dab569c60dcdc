"""Training speed: the notes' CNN recipe and the fast recipe, side by side.

The notes' recipe: build the CNN (digits.models.build("cnn")), compile with
Adam at its default step, then model.fit(x_train, y_train, epochs=5,
batch_size=32) on the MNIST arrays. The fast recipe: the same network
trained by digits.train.train_model with default_config("cnn",
recipe="fast"), what `python -m digits train --model cnn --recipe fast`
runs. Both start from the same seed, in this one process, one after the
other; each is timed from building the model to the end of fitting, then
scored on MNIST's 10,000 test images. Prints both times and accuracies, and
the ratio of the times.

    python bench/train_speed.py [--data mnist.npz] [--train-images 60000]

About 3-6 minutes on 2 CPU cores (the notes' recipe takes most of it).
Other work on the machine slows whichever recipe it overlaps, so run it on
a quiet machine, or twice.
"""

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from digits import data, models, train  # noqa: E402

NOTES_EPOCHS = 5
NOTES_BATCH = 32


def main():
    args = parse_args()
    mnist = data.load_mnist(args.data)
    x = mnist.x_train[: args.train_images]
    y = mnist.y_train[: args.train_images]
    print(f"training on {len(x):,} MNIST images, testing on {len(mnist.x_test):,}")

    notes_seconds, notes_model = timed(train_as_the_notes, x, y)
    notes_accuracy = train.evaluate_model(notes_model, mnist.x_test, mnist.y_test)
    report("notes (5 epochs, batch 32, fit on arrays)", notes_seconds, notes_accuracy)

    config = train.default_config("cnn", recipe="fast",
                                  train_images=args.train_images)
    fast_seconds, (fast_model, _) = timed(train.train_model, config, mnist)
    fast_accuracy = train.evaluate_model(fast_model, mnist.x_test, mnist.y_test)
    report(f"fast ({config.epochs} epochs, batch {config.batch_size}, "
           f"{config.schedule} from {config.learning_rate:g})",
           fast_seconds, fast_accuracy)

    print(f"ratio fast / notes: {fast_seconds / notes_seconds:.2f}")


def train_as_the_notes(x, y):
    import keras

    keras.utils.set_random_seed(0)
    model = models.build("cnn")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=NOTES_EPOCHS, batch_size=NOTES_BATCH, verbose=0)
    return model


def timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - started, result


def report(recipe, seconds, accuracy):
    print(f"{recipe:48} {seconds:7.1f} s   MNIST test {accuracy:.2%}", flush=True)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="MNIST .npz (default: DIGITS_MNIST, "
                                       "else Keras' download)")
    parser.add_argument("--train-images", type=int, default=60_000,
                        help="MNIST training images both recipes use")
    return parser.parse_args()


if __name__ == "__main__":
    main()
