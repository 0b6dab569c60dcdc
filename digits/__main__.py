"""Command line for digits: train, evaluate, predict and export models.

    python -m digits train --model cnn --epochs 8 --data mnist.npz
    python -m digits evaluate --model cnn --runtime litert
    python -m digits evaluate --model cnn --variant tflite_int8
    python -m digits predict --model cnn drawing.png another.png
    python -m digits export --model cnn --data mnist.npz

`train` and `export` both end the same way (digits.release): every export
variant is written to a staging folder, run in its own runtime against
Keras, measured into the card, and published in one step.

MNIST comes from --data, else the DIGITS_MNIST environment variable, else
Keras' download. Models are read from and published to the store
(`exports/`, or the directory in DIGITS_STORE).
"""

import argparse
import json
import logging
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ logs quiet

import numpy as np

from digits import data, export, models, sketch, store

RUNTIME_FILES = {"keras": store.KERAS_FILE, "litert": store.TFLITE_FILE,
                 "tfjs": store.TFJS_DIR}


def train_command(args):
    from digits import release, train

    config = train.default_config(
        args.model, epochs=args.epochs, batch_size=args.batch_size,
        learning_rate=args.learning_rate, augment=args.augment,
        train_images=args.train_images, hub_handle=args.hub_handle,
        drawn=args.drawn,
    )
    mnist = data.load_mnist(args.data)
    started = time.perf_counter()
    model, _ = train.train_model(config, mnist)
    card = release.release_model(model, config, mnist, time.perf_counter() - started)
    _print_card(card)


def evaluate_command(args):
    from digits import runtimes

    mnist = data.load_mnist(args.data)
    images, labels = mnist.x_test[: args.limit], mnist.y_test[: args.limit]
    path = _served_file(args.model, _file_to_evaluate(args))
    with runtimes.load(path) as runtime:
        predicted = runtime.predict(images).argmax(axis=1)
    _print_json({"model": args.model, "runtime": runtimes.detect_runtime(path),
                 "file": path.name, "accuracy": float(np.mean(predicted == labels)),
                 "n": len(labels)})


def _file_to_evaluate(args):
    if args.variant:
        return export.VARIANTS[args.variant].path
    return RUNTIME_FILES[args.runtime]


def predict_command(args):
    if store.served_tflite(args.model) is None:  # none of the files it serves
        _served_file(args.model, store.TFLITE_FILE)
    runtime = store.served_runtime(args.model)
    failed = 0
    for path in args.images:
        try:
            probabilities = runtime.predict(sketch.to_digit(path)[None])[0]
        except sketch.SketchError as error:
            failed += 1
            _print_json({"file": path, "error": str(error)})
            continue
        _print_json({"file": path, "digit": int(probabilities.argmax()),
                     "confidence": float(probabilities.max()),
                     "probabilities": [round(float(p), 6) for p in probabilities]})
    return 1 if failed else 0


def export_command(args):
    from digits import release

    _check_served(args.model, "keras")
    card = release.reexport_model(args.model, data.load_mnist(args.data))
    _print_card(card)


def _print_card(card):
    figures = ("bytes", "ratio_to_float32", "accuracy", "agreement", "latency_ms")
    variants = {name: {key: measured[key] for key in figures}
                for name, measured in card["variants"].items()}
    _print_json({"model": card["model"], "params": card["params"],
                 "mnist_test_accuracy": card["mnist_test_accuracy"],
                 "variants": variants})


def _served_file(name, filename):
    path = store.model_dir(name) / filename
    if not path.exists():
        raise SystemExit(f"error: {path} does not exist; train the model first "
                         f"with: python -m digits train --model {name}")
    return path


def _check_served(name, runtime="litert"):
    _served_file(name, RUNTIME_FILES[runtime])
    return name


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _print_json(obj):
    print(json.dumps(obj), flush=True)


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m digits", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    model_help = f"one of: {', '.join(models.MODEL_NAMES)}"
    data_help = "MNIST .npz in Keras' layout (default: $DIGITS_MNIST, else download)"

    train_parser = commands.add_parser("train", help="train, verify and publish a model")
    train_parser.add_argument("--model", required=True, choices=models.MODEL_NAMES,
                              help=model_help)
    train_parser.add_argument("--epochs", type=int,
                              help="passes over the data (default: per model, 12)")
    train_parser.add_argument("--batch-size", type=int, help="default 64")
    train_parser.add_argument("--learning-rate", type=float,
                              help="Adam's initial rate, halved every 3 epochs "
                                   "(default 0.001)")
    train_parser.add_argument("--augment", action=argparse.BooleanOptionalAction,
                              help="jitter training images by small shifts, "
                                   "rotations and zooms (default: on for cnn "
                                   "and transfer, off for the MLPs and resnet50v2)")
    train_parser.add_argument("--train-images", type=int,
                              help="use only the first N MNIST training images "
                                   "(default: 12000 for resnet50v2, else 60000)")
    train_parser.add_argument("--hub-handle",
                              help="transfer only: the TF-Hub feature module, a "
                                   "URL or a local folder (default: "
                                   f"${models.HUB_HANDLE_ENV}, else "
                                   f"{models.DEFAULT_HUB_HANDLE})")
    train_parser.add_argument("--data", help=data_help)
    train_parser.add_argument(
        "--drawn", metavar="JSON",
        help="also train on these pen-drawn digits (pendigits layout), drawn on "
             "random canvases; the last 10 writers are held out for evaluation")
    train_parser.set_defaults(run=train_command)

    evaluate_parser = commands.add_parser(
        "evaluate", help="MNIST test accuracy of a served model in a runtime")
    evaluate_parser.add_argument("--model", required=True, choices=models.MODEL_NAMES)
    evaluate_parser.add_argument("--runtime", choices=tuple(RUNTIME_FILES),
                                 default="keras", help="default: keras")
    evaluate_parser.add_argument("--variant", choices=export.VARIANT_NAMES,
                                 help="run this export variant instead "
                                      "(overrides --runtime)")
    evaluate_parser.add_argument("--limit", type=_positive, default=None,
                                 help="use only the first N test images")
    evaluate_parser.add_argument("--data", help=data_help)
    evaluate_parser.set_defaults(run=evaluate_command)

    predict_parser = commands.add_parser(
        "predict", help="classify drawings (PNG, JPEG, ...), one JSON line each")
    predict_parser.add_argument("--model", required=True, choices=models.MODEL_NAMES)
    predict_parser.add_argument("images", nargs="+", metavar="IMAGE")
    predict_parser.set_defaults(run=predict_command)

    export_parser = commands.add_parser(
        "export", help="re-export a served model.keras to every TFLite and TF.js "
                       "variant; verify, measure and publish them")
    export_parser.add_argument("--model", required=True, choices=models.MODEL_NAMES)
    export_parser.add_argument("--data", help=data_help)
    export_parser.set_defaults(run=export_command)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        return args.run(args) or 0
    except (data.DataError, FileNotFoundError, RuntimeError) as error:
        # missing data or tools, an unreachable hub module, a failed export
        # check: each carries a sentence for the person at the terminal
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
