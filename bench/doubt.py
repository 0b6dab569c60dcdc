"""How often the Draw tab doubts a reading (digits.doubt), and whether rightly.

Two sets of drawings on the app's 400 px transparent canvas, through the
app's preprocessing (digits.sketch) and each model's served runtime:
- non-digits (bench/nondigits.py): letters, signs, numbers of several
  digits, shapes, scribbles. Every answer to them is wrong, so each should
  be doubted or refused; printed per kind.
- real pen-drawn digits of the held-out writers (bench/canvas.py): the
  share doubted, the share of the wrong answers doubted, and the accuracy
  of the answers given without a doubt.

    python bench/doubt.py [--drawings 1000] [--models cnn mlp] [--pendigits FILE]

About 20 seconds on 2 cores.
"""

import argparse
import os
import sys
from collections import Counter
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

import canvas
import nondigits
from digits import doubt, sketch, store


def main():
    args = parse_args()
    models = args.models or store.available_models()
    drawings = nondigits.non_digits()
    labels, digits = canvas.pen_drawings(args.pendigits, args.drawings)
    print(f"{len(drawings)} non-digits; {len(digits)} pen-drawn digits of "
          f"held-out writers; doubted: top probability under {doubt.SURE:.0%}, "
          "or the second opinion reads another digit")
    print()
    kinds = sorted({name.split()[0] for name in drawings})
    print(f"{'model':16}" + "".join(f"{kind + 's':>11}" for kind in kinds)
          + f"{'all':>9}  |  {'digits':>7} {'wrong':>7} {'right if sure':>14}")
    for model in models:
        caught, total = Counter(), Counter()
        for name, drawing in drawings.items():
            kind = name.split()[0]
            total[kind] += 1
            answer = read(model, drawing)
            caught[kind] += answer is None or answer[1]
        doubted, wrong = [], []
        for label, drawing in zip(labels, digits):
            answer = read(model, drawing)
            doubted.append(answer is None or answer[1])
            wrong.append(answer is None or answer[0] != label)
        doubted, wrong = np.array(doubted), np.array(wrong)
        shares = "".join(f"{caught[k] / total[k]:>11.0%}" for k in kinds)
        overall = sum(caught.values()) / sum(total.values())
        sure_right = (~wrong[~doubted]).mean() if (~doubted).any() else float("nan")
        print(f"{model:16}{shares}{overall:>9.0%}  |  {doubted.mean():>7.1%} "
              f"{doubted[wrong].mean() if wrong.any() else 0:>7.0%} {sure_right:>14.2%}")
    print()
    print("non-digit columns: share doubted or refused (higher is better); digits: "
          "share of real digits doubted (lower is better); wrong: share of the "
          "wrong answers doubted; right if sure: accuracy of the undoubted answers")


def read(model, drawing):
    """(digit read, whether doubted) or None when sketch refuses the drawing."""
    try:
        digit = sketch.to_digit(drawing)
    except sketch.SketchError:
        return None
    probabilities = store.served_runtime(model).predict(digit[None])[0]
    return int(np.argmax(probabilities)), doubt.doubt(model, digit, probabilities) is not None


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    canvas.add_arguments(parser, count=1000)
    parser.add_argument("--models", nargs="+", help="default: every served model")
    return parser.parse_args()


if __name__ == "__main__":
    main()
