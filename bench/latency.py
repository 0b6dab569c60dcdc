"""Server-side latency of a drawing: Sketchpad value -> 10 probabilities.

For each model and each runtime the app can serve it with (Keras: the
.keras model called directly; LiteRT: the interpreter on the model's served
.tflite, store.served_runtime), times digits.sketch.to_digit plus the
runtime's predict on each drawing, one at a time as the app gets them, and
prints the median and p95 over the drawings, the inference alone, the share
of drawings read right and the share whose top-1 equals Keras'. The last line
names, per model, the fastest runtime that answers as Keras does (top-1 on at
least 99.5 % of the drawings): the one to serve. `--handler` adds a row for
app.classify_drawing itself (model check, label dict and preview image too).

The drawings are held-out writers' pen-drawn digits on the app's 400 px
transparent canvas (bench/canvas.py). About 1 minute for the small models on
2 cores; Keras ResNet50V2 adds ~1-2 minutes per 1,000 drawings.

    python bench/latency.py [--drawings 1000] [--models cnn mlp]
        [--runtimes keras litert] [--handler] [--pendigits FILE]
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import canvas  # noqa: E402  (bench/canvas.py; puts the repository on sys.path)
from digits import runtimes, sketch, store  # noqa: E402

WARMUP = 20  # untimed drawings per runtime before timing starts
SAME_ANSWERS = 0.995  # share of top-1 answers equal to Keras' to count as the same


def main():
    args = parse_args()
    print(canvas.machine_speed())
    labels, drawings = canvas.pen_drawings(args.pendigits, args.drawings)
    values = [canvas.sketchpad_value(rgba) for rgba in drawings]

    # preprocessing alone, the same for every model
    digits, prepare_ms = zip(*(timed(sketch.to_digit, value) for value in values))
    digits = np.stack(digits)
    print(f"{len(values)} drawings: held-out writers' pen digits on a "
          f"{canvas.CANVAS} px transparent canvas, as the Sketchpad sends them")
    print("preprocessing alone (sketch.to_digit): median {:.3f} ms, p95 {:.3f} ms"
          .format(*canvas.percentiles(prepare_ms)))
    print()
    print(f"{'model':16}{'runtime':9}{'file':24}{'median':>9}{'p95':>9}"
          f"{'infer':>9}{'right':>8}{'= keras':>9}")

    # every model in every runtime
    serve = {}
    for name in args.models:
        rows = [measure(name, runtime, values, digits, labels)
                for runtime in args.runtimes]
        rows = [row for row in rows if row]
        keras_top1 = next((r["top1"] for r in rows if r["runtime"] == "keras"), None)
        for row in rows:
            row["agree"] = (None if keras_top1 is None
                            else float(np.mean(row["top1"] == keras_top1)))
            print_row(name, row)
        same = [r for r in rows if r["agree"] is None or r["agree"] >= SAME_ANSWERS]
        if same:
            serve[name] = min(same, key=lambda r: r["median"])["runtime"]
        if args.handler:
            print_row(name, measure_handler(name, values, labels))
    print()
    print("fastest runtime with Keras' answers: " + ", ".join(
        f"{name} {runtime}" for name, runtime in serve.items()))


def measure(name, runtime_name, values, digits, labels):
    """Times of to_digit + predict per drawing, for one model in one runtime."""
    path = model_file(name, runtime_name)
    if path is None:
        return None
    runtime = runtimes.load(path)
    for value in values[:WARMUP]:
        predict_drawing(runtime, value)
    total_ms, top1 = [], []
    for value in values:
        probabilities, milliseconds = timed(predict_drawing, runtime, value)
        total_ms.append(milliseconds)
        top1.append(int(probabilities.argmax()))
    infer_ms = [timed(runtime.predict, digit[None])[1] for digit in digits]
    top1 = np.array(top1)
    median, p95 = canvas.percentiles(total_ms)
    return {"runtime": runtime_name, "file": path.name, "median": median, "p95": p95,
            "infer": float(np.median(infer_ms)), "top1": top1,
            "right": float(np.mean(top1 == labels))}


def measure_handler(name, values, labels):
    """The same through app.classify_drawing, the Draw tab's handler."""
    import app

    for value in values[:WARMUP]:
        app.classify_drawing(value, name)
    times, top1 = [], []
    for value in values:
        (label, _, _), milliseconds = timed(app.classify_drawing, value, name)
        times.append(milliseconds)
        top1.append(int(max(label, key=label.get)))
    median, p95 = canvas.percentiles(times)
    return {"runtime": "handler", "file": store.served_tflite(name).name,
            "median": median, "p95": p95, "infer": None, "agree": None,
            "right": float(np.mean(np.array(top1) == labels))}


def predict_drawing(runtime, value):
    """What the Draw tab does with a drawing: preprocess, then infer."""
    return runtime.predict(sketch.to_digit(value)[None])[0]


def model_file(name, runtime_name):
    """The file a runtime serves the model from, or None if it has none."""
    if runtime_name == "litert":
        return store.served_tflite(name)
    path = store.model_dir(name) / store.KERAS_FILE
    return path if path.is_file() else None


def timed(function, *args):
    """(function(*args), milliseconds it took)."""
    started = time.perf_counter()
    result = function(*args)
    return result, 1000 * (time.perf_counter() - started)


def print_row(name, row):
    infer = "" if row["infer"] is None else f"{row['infer']:.3f}"
    agree = "" if row["agree"] is None else f"{row['agree']:.1%}"
    print(f"{name:16}{row['runtime']:9}{row['file']:24}{row['median']:9.3f}"
          f"{row['p95']:9.3f}{infer:>9}{row['right']:8.1%}{agree:>9}")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    canvas.add_arguments(parser, count=1000)
    parser.add_argument("--models", nargs="+", default=store.available_models())
    parser.add_argument("--runtimes", nargs="+", default=["keras", "litert"],
                        choices=["keras", "litert"])
    parser.add_argument("--handler", action="store_true",
                        help="also time app.classify_drawing (imports Gradio)")
    return parser.parse_args()


if __name__ == "__main__":
    main()
