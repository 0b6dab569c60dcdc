"""Command line for digits: train, evaluate, predict, export; keep and serve versions.

    python -m digits train --model cnn --epochs 8 --data mnist.npz --publish
    python -m digits evaluate --model cnn --runtime litert
    python -m digits evaluate --model cnn --variant tflite_int8
    python -m digits predict --model cnn drawing.png another.png
    python -m digits export --model cnn --data mnist.npz
    python -m digits versions --model cnn
    python -m digits publish --model cnn --version 0003-20250101T120000Z
    python -m digits rollback --model cnn [--to 0001-20240101T120000Z]

`train` and `export` both end the same way (digits.release): every export
variant is written to a staging folder, run in its own runtime against
Keras, measured into the card, and kept as a new version in one step.
`export` and `train --publish` then serve it, in one step too; `train`
alone keeps it unserved until `publish`. `rollback` serves the newest
published version older than the served one.

MNIST comes from --data, else the DIGITS_MNIST environment variable, else
Keras' download; drawn digits to evaluate on from --held-out, else
DIGITS_PENDIGITS. Models are read from and published to the store
(`exports/`, or the directory in DIGITS_STORE; see digits.store).
"""

import argparse
import json
import logging
import os
import signal
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ logs quiet

import numpy as np

from digits import data, doubt, export, models, sketch, store

RUNTIME_FILES = {"keras": store.KERAS_FILE, "litert": store.TFLITE_FILE,
                 "tfjs": store.TFJS_DIR}
PENDIGITS_ENV = "DIGITS_PENDIGITS"  # drawn digits (pendigits layout) to evaluate on
BACKGROUND_NICENESS = 19  # --background: the lowest CPU priority


def train_command(args):
    from digits import admin, train

    report = admin.TrainingReport(args.report)
    # Ctrl-C or the Admin tab's Cancel (SIGINT) stops after the current batch,
    # also when this process was started with SIGINT ignored (a shell's `&`).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if args.background:
        _run_in_background()
    config = train.default_config(
        args.model, recipe=args.recipe, epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate, augment=args.augment,
        train_images=args.train_images, hub_handle=args.hub_handle,
        drawn=args.drawn,
    )
    held_out = args.held_out or args.drawn or os.environ.get(PENDIGITS_ENV)
    report.event("start", model=config.model, config=config.as_dict())
    try:
        card = _train_and_keep(args, config, held_out, report)
    except KeyboardInterrupt:  # Ctrl-C, or Cancel in the Admin tab (SIGINT)
        report.event("cancelled")
        print("cancelled: no version was kept", file=sys.stderr)
        return 130
    except (data.DataError, FileNotFoundError, RuntimeError) as error:
        report.event("failed", message=str(error))
        raise
    _print_card(card)
    if not args.publish:
        print(f"kept as version {card['version']}, not served; serve it with: "
              f"python -m digits publish --model {args.model} --version "
              f"{card['version']}", file=sys.stderr)
    return 0


def _train_and_keep(args, config, held_out, report):
    from digits import evaluation, release, runtimes, train

    # data, and the runtimes each export is checked in, then model and fit
    mnist = data.load_mnist(args.data)
    runtimes.check_tfjs_runs()
    started = time.perf_counter()
    model, _ = train.train_model(config, mnist,
                                 callbacks=[train.ProgressReport(report)])
    seconds = time.perf_counter() - started

    # evaluate
    report.event("stage", stage="evaluating")
    drawn = evaluation.held_out_drawn(held_out) if held_out else None
    result = evaluation.evaluate(model, mnist, drawn)
    report.save_misclassified(mnist.x_test, result)
    report.event("evaluated", misclassified=len(result["misclassified"]["index"]),
                 **{key: result[key] for key in
                    ("mnist_test_accuracy", "confusion_matrix", "drawn_accuracy")})

    # export, verify, keep (and serve)
    report.event("stage", stage="exporting")
    verification = release.Verification(litert_images=args.litert_images,
                                        tfjs_images=args.tfjs_images)
    facts = {"confusion_matrix": result["confusion_matrix"]}
    if result["drawn_accuracy"]:
        facts["drawn_accuracy"] = result["drawn_accuracy"]
    card = release.release_model(model, config, mnist, seconds, verification,
                                 publish=args.publish, facts=facts)
    report.event("saved", version=card["version"], published=args.publish)
    return card


def _run_in_background():
    """Lowest CPU priority and one TensorFlow thread, so that a server on the
    same machine keeps answering while this process trains.

    On Linux the process and every child (Chromium, for the TF.js checks) is
    scheduled SCHED_IDLE: it runs only on CPU time nothing else wants, and
    unlike a nice value, Chromium does not set it back for its renderers.
    """
    os.nice(BACKGROUND_NICENESS)
    if hasattr(os, "SCHED_IDLE"):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def evaluate_command(args):
    from digits import runtimes

    path = _served_file(args.model, _file_to_evaluate(args))
    mnist = data.load_mnist(args.data)
    images, labels = mnist.x_test[: args.limit], mnist.y_test[: args.limit]
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
            digit = sketch.to_digit(path)
        except sketch.SketchError as error:
            failed += 1
            _print_json({"file": path, "error": str(error)})
            continue
        probabilities = runtime.predict(digit[None])[0]
        found = doubt.doubt(args.model, digit, probabilities)
        _print_json({"file": path, "digit": int(probabilities.argmax()),
                     "confidence": float(probabilities.max()),
                     "probabilities": [round(float(p), 6) for p in probabilities],
                     "doubt": found.sentence if found else None})
    return 1 if failed else 0


def export_command(args):
    from digits import release

    _check_served(args.model, "keras")
    card = release.reexport_model(args.model, data.load_mnist(args.data))
    _print_card(card)


def versions_command(args):
    served = store.served_version(args.model)
    if served is None and store.served_tflite(args.model):
        _print_json({"model": args.model, "version": None, "served": True,
                     "note": "not kept as a version yet (the shipped one); "
                             "kept when the first new version is saved"})
    for version in store.list_versions(args.model):
        card, info = version.card(), version.info()
        drawn = card.get("drawn_accuracy")
        _print_json({"model": args.model, "version": version.id,
                     "served": version.served, "published": version.published,
                     "saved": info.get("saved"), "note": info.get("note"),
                     "mnist_test_accuracy": card.get("mnist_test_accuracy"),
                     "drawn_accuracy": drawn.get("centred")
                     if isinstance(drawn, dict) else drawn})


def publish_command(args):
    previous = store.served_version(args.model)
    served = store.publish_version(args.model, args.version)
    _print_json({"model": args.model, "served": served, "previous": previous})


def rollback_command(args):
    previous = store.served_version(args.model)
    served = store.rollback(args.model, args.to)
    _print_json({"model": args.model, "served": served, "previous": previous})


def _print_card(card):
    figures = ("bytes", "ratio_to_float32", "accuracy", "agreement", "latency_ms")
    variants = {name: {key: measured[key] for key in figures}
                for name, measured in card["variants"].items()}
    withheld = {name: measured["withheld"]
                for name, measured in (card.get("withheld") or {}).items()}
    _print_json({"model": card["model"], "version": card.get("version"),
                 "params": card["params"],
                 "mnist_test_accuracy": card["mnist_test_accuracy"],
                 "variants": variants, **({"withheld": withheld} if withheld else {})})


def _served_file(name, filename):
    folder = store.model_dir(name)
    path = folder / filename
    if path.exists():
        return path
    present = [variant for variant, v in export.VARIANTS.items()
               if (folder / v.path).exists()]
    if present:  # a model shipped without some files (ResNet50V2: no float32)
        make = ("train" if filename == store.KERAS_FILE
                or not (folder / store.KERAS_FILE).exists() else "export")
        raise SystemExit(
            f"error: {path} is not in this copy of the model; it has "
            f"{', '.join(present)}: add --variant {present[0]}, or make the rest "
            f"with: python -m digits {make} --model {name}")
    raise SystemExit(f"error: {path} does not exist; train the model first "
                     f"with: python -m digits train --model {name}")


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

    train_parser = commands.add_parser(
        "train", help="train, evaluate, export and verify a model; keep it as a "
                      "version (and serve it, with --publish)")
    train_parser.add_argument("--model", required=True, choices=models.MODEL_NAMES,
                              help=model_help)
    train_parser.add_argument("--recipe", choices=("shipped", "fast"),
                              default="shipped",
                              help="shipped: how the shipped model was trained; "
                                   "fast: the CNN past 99%% on MNIST in ~1/4 of "
                                   "the notes' time (2 epochs of 128, one-cycle "
                                   "rate, no jitter); the options below change "
                                   "either")
    train_parser.add_argument("--epochs", type=int,
                              help="passes over the data (default: per model, 4-16)")
    train_parser.add_argument("--batch-size", type=int, help="default 64")
    train_parser.add_argument("--learning-rate", type=float,
                              help="Adam's peak rate (default 0.001; fast: 0.004), "
                                   "decayed to almost 0 by the last epoch")
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
    train_parser.add_argument(
        "--held-out", metavar="JSON",
        help="measure accuracy on the held-out writers' drawn digits of this file "
             f"(pendigits layout; default: --drawn, else ${PENDIGITS_ENV}, else "
             "not measured)")
    train_parser.add_argument("--publish", action="store_true",
                              help="serve the new version at once (default: keep "
                                   "it unserved; see `publish`)")
    train_parser.add_argument("--litert-images", type=_positive, default=10_000,
                              help="MNIST test images each .tflite is checked on "
                                   "(default 10000)")
    train_parser.add_argument("--tfjs-images", type=_positive, default=1_000,
                              help="MNIST test images each TF.js model is checked "
                                   "on in Chromium (default 1000)")
    train_parser.add_argument("--report", metavar="FOLDER",
                              help="write progress (progress.jsonl) and the "
                                   "misclassified test digits into FOLDER, for "
                                   "the Admin tab")
    train_parser.add_argument("--background", action="store_true",
                              help="lowest CPU priority (SCHED_IDLE on Linux) and "
                                   "one TensorFlow thread, beside a server that "
                                   "must stay responsive")
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

    versions_parser = commands.add_parser(
        "versions", help="the kept versions of a model, one JSON line each, "
                         "oldest first; \"served\" marks the one served")
    versions_parser.add_argument("--model", required=True, choices=models.MODEL_NAMES)
    versions_parser.set_defaults(run=versions_command)

    publish_parser = commands.add_parser("publish", help="serve a kept version")
    publish_parser.add_argument("--model", required=True, choices=models.MODEL_NAMES)
    publish_parser.add_argument("--version", required=True,
                                help="its id, as `versions` lists it")
    publish_parser.set_defaults(run=publish_command)

    rollback_parser = commands.add_parser(
        "rollback", help="serve the newest published version older than the "
                         "served one, or the version --to names")
    rollback_parser.add_argument("--model", required=True, choices=models.MODEL_NAMES)
    rollback_parser.add_argument("--to", metavar="VERSION",
                                 help="the version to serve, as `versions` lists it")
    rollback_parser.set_defaults(run=rollback_command)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    store.discard_stale_staging()  # what killed runs left half-built
    try:
        return args.run(args) or 0
    except (data.DataError, FileNotFoundError, RuntimeError) as error:
        # missing data or tools, an unreachable hub module, a failed export
        # check: each carries a sentence for the person at the terminal
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
