"""When not to trust a reading: a weak top probability, or a second opinion.

A softmax shares belief among the ten digits only. It cannot answer "this is
no digit": a letter A, a star or two digits side by side often read as some
digit at over 99 %. Two checks that cost two small inferences catch most of
those answers, and most of the wrong answers on real digits too:

- the top probability must reach SURE;
- a model of another family must read the same digit. The MLPs see pixels,
  the convolutional models see strokes; where a drawing is unlike their
  training digits they tend to guess differently, where it is a clear digit
  they agree. The transfer model is built on the CNN's features, so it, like
  the CNN, is checked by the MLP; every other model by the CNN.

`python bench/doubt.py` measures both sides: how many non-digits (letters,
shapes, scribbles, numbers of several digits) are doubted, and how many real
pen-drawn digits of held-out writers are doubted for nothing.

What it cannot catch: a non-digit both families read as the same digit with
confidence (a letter D as 0, an H as 4). Catching those needs the models to
learn an eleventh class, "not a digit", from letters and shapes drawn as
people draw them (EMNIST letters online; glyphs stroked with digits.strokes
offline), which changes the output every export and bundle documents.
"""

from dataclasses import dataclass

import numpy as np

from digits import store

SURE = 0.9  # the least top probability taken at its word
CNN_FAMILY = ("cnn", "transfer")  # convolutions learnt on the CNN's features


@dataclass(frozen=True)
class Doubt:
    """Why one reading is not to be trusted: a sentence for the person."""

    reason: str  # "weak" or "disagreement"
    sentence: str


def second_opinion(model_name):
    """The model of another family that checks `model_name`'s readings."""
    return "mlp" if model_name in CNN_FAMILY else "cnn"


def doubt(model_name, digit, probabilities):
    """A Doubt about `model_name` reading `digit` (the (28, 28) input) as
    `probabilities`, or None when the reading is sure. The second opinion is
    skipped when the store serves no such model or it cannot be run."""
    order = np.argsort(probabilities)[::-1]
    top, runner_up = int(order[0]), int(order[1])
    if probabilities[top] < SURE:
        return Doubt("weak", (
            f"Not sure: {top} at only {probabilities[top]:.0%}, then "
            f"{runner_up} at {probabilities[runner_up]:.0%}. "
            "Draw one digit, 0 to 9, large and plain."
        ))
    other = second_opinion(model_name)
    if other == model_name:
        return None
    try:
        other_top = int(np.argmax(store.served_runtime(other).predict(digit[None])[0]))
    except (OSError, ValueError, RuntimeError):  # none served (FileNotFoundError),
        return None  # or one that cannot be run: no opinion
    if other_top != top:
        return Doubt("disagreement", (
            f"Not sure: this reads as {top}, but the {other.upper()}, which "
            f"learnt differently, reads {other_top}. Is it one digit, 0 to 9?"
        ))
    return None
