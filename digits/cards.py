"""A model's card: what it is, how well it reads digits, what its files weigh.

A card is `card.json` in the model's folder. Fields:
  model, title, params            which network, and its size
  mnist_test_accuracy             top-1 on the 10,000 MNIST test images (Keras)
  variants                        per export variant (digits.export.VARIANTS),
                                  measured by running the file in its runtime:
                                  title, path, runtime, bytes, ratio_to_float32,
                                  n (test images), accuracy, keras_accuracy (on
                                  the same n), agreement (share whose top-1
                                  matches Keras), latency_ms (median single
                                  digit); a .tflite's input and output tensors
                                  too: dtype, shape, scale and zero_point (int8)
  measured                        when and on what host the variants were
                                  measured, and how latency was timed
  drawn_accuracy                  on real pen-drawn digits (bench/drawn.py;
                                  after an Admin or CLI training run, only the
                                  "centred" condition: digits.evaluation)
  confusion_matrix                after a training run: 10x10 counts on MNIST's
                                  test set, rows the true digit, columns read
  files                           {file name: bytes} for every shipped file
  not_committed                   where present: {paths, why, how_to_make} for
                                  the files the repository leaves out (too large)
  trained                         the TrainConfig, wall seconds, UTC date, host
  summary                         the Keras summary text
"""

import json
import os
import tempfile
from pathlib import Path

from digits import store


def describe_files(folder):
    """{relative path: size in bytes} for every file under `folder`, sorted."""
    folder = Path(folder)
    return {
        str(p.relative_to(folder)): p.stat().st_size
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != store.CARD_FILE
    }


def write_card(folder, card):
    """Write card.json into `folder` atomically (temp file, then rename)."""
    path = Path(folder) / store.CARD_FILE
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=".card-", suffix=".json", delete=False
    ) as handle:
        json.dump(card, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.chmod(handle.name, 0o644)  # served files are readable by all; temp files are 0600
    os.replace(handle.name, path)
    return path


def update_card(name, **fields):
    """Merge `fields` into the served model's card and rewrite it."""
    card = store.read_card(name)
    card.update(fields)
    return write_card(store.model_dir(name), card)


def summary_text(model):
    """The Keras summary of `model` as one string."""
    lines = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
    return "\n".join(lines)
