"""Accuracy on real pen-drawn digits, replayed onto canvases as the app gets them.

Each pendigits sample (tablet strokes by 30 writers) is drawn with
../shared/tools/render_strokes.py under several conditions: canvas sizes from
280 to 800 px, brushes from 6 to 30 px, centred or at a random size and
position, dark ink on light or light on dark. Every drawing goes through the
app's own preprocessing (digits.sketch) and each model's served runtime.

By default only the held-out writers are used (digits.data.split_writers:
no shipped model trained on them); --all-writers uses all 30.

    python bench/drawn.py [--models cnn mlp] [--record]
        [--pendigits ../shared/data/pendigits_train.json]
        [--render-tool ../shared/tools/render_strokes.py]

--record writes the figures into each model's card. About 90 seconds on
2 cores for the held-out writers.
"""

import argparse
import importlib.util
import os
import sys
from collections import defaultdict
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from digits import cards, data, sketch, store  # noqa: E402

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"


@dataclass(frozen=True)
class Condition:
    name: str
    canvas: int  # side, pixels
    brush: float  # stroke width, pixels
    jitter: bool  # random size (35-85 % of the canvas) and position
    light_ink: bool = False  # white strokes on black


CONDITIONS = (
    Condition("centred", 400, 12, jitter=False),  # the app's usual canvas
    Condition("jitter", 400, 12, jitter=True),
    Condition("280px-6px", 280, 6, jitter=False),
    Condition("800px-30px-jitter", 800, 30, jitter=True),
    Condition("800px-8px-jitter", 800, 8, jitter=True),
    Condition("600px-20px-light", 600, 20, jitter=False, light_ink=True),
    Condition("280px-16px-jitter-light", 280, 16, jitter=True, light_ink=True),
)


def main():
    args = parse_args()
    samples = data.load_drawn_file(args.pendigits)
    if not args.all_writers:
        held_out = set(data.split_writers(samples)[1])
        samples = [s for s in samples if s["writer"] in held_out]
    labels = np.array([s["label"] for s in samples])
    writers = np.array([s["writer"] for s in samples])

    # draw and preprocess every sample once per condition
    inputs = {c.name: render_inputs(args.render_tool, samples, c) for c in CONDITIONS}

    # score each model on the same inputs
    print(f"{len(samples)} drawings by {len(set(writers))} "
          f"{'' if args.all_writers else 'held-out '}writers")
    print(f"{'condition':26}" + "".join(f"{m:>16}" for m in args.models))
    scores = {m: score_model(m, inputs, labels, writers) for m in args.models}
    for condition in CONDITIONS:
        print(f"{condition.name:26}" + "".join(
            f"{scores[m]['conditions'][condition.name]:16.2%}" for m in args.models))
    for row in ("mean", "worst"):
        print(f"{row + ' condition':26}" + "".join(
            f"{scores[m][row]:16.2%}" for m in args.models))
    print(f"{'worst writer':26}" + "".join(
        f"{scores[m]['worst_writer']:>16}" for m in args.models))
    if args.record:
        for name, score in scores.items():
            cards.update_card(name, drawn_accuracy={
                **score, "n": len(samples), "centred": score["conditions"]["centred"],
                "jitter": score["conditions"]["jitter"], "canvas_px": 400,
                "writers": "all 30" if args.all_writers else "held-out",
                "data": "UCI pendigits, real pen strokes"})


def score_model(name, inputs, labels, writers):
    runtime = store.served_runtime(name)
    conditions, per_writer = {}, defaultdict(list)
    for condition, images in inputs.items():
        right = runtime.predict(images).argmax(axis=1) == labels
        conditions[condition] = float(right.mean())
        for ok, writer in zip(right, writers):
            per_writer[writer].append(ok)
    worst_accuracy, worst_writer = min(
        (float(np.mean(v)), w) for w, v in per_writer.items())
    return {"conditions": conditions, "mean": float(np.mean(list(conditions.values()))),
            "worst": min(conditions.values()),
            "worst_writer": f"{worst_writer} {worst_accuracy:.1%}"}


def render_inputs(render_tool, samples, condition):
    jobs = [(render_tool, s["strokes"], i, condition) for i, s in enumerate(samples)]
    with get_context("spawn").Pool(os.cpu_count()) as pool:
        return np.stack(pool.map(_render_one, jobs, chunksize=64))


def _render_one(job):
    render_tool, strokes, index, condition = job
    tool = _load_tool(render_tool)
    rng = tool.sample_rng(0, index) if condition.jitter else None
    image, _ = tool.render_sample({"strokes": strokes}, size=condition.canvas,
                                  width=condition.brush, y_up=True, rng=rng,
                                  supersample=2)
    pixels = np.asarray(image)
    return sketch.to_digit(255 - pixels if condition.light_ink else pixels)


_tools = {}


def _load_tool(path):
    if path not in _tools:
        spec = importlib.util.spec_from_file_location("render_strokes", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _tools[path] = module
    return _tools[path]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pendigits", default=os.environ.get(
        "DIGITS_PENDIGITS", SHARED / "data/pendigits_train.json"))
    parser.add_argument("--render-tool", default=os.environ.get(
        "DIGITS_RENDER_TOOL", str(SHARED / "tools/render_strokes.py")))
    parser.add_argument("--models", nargs="+", default=store.available_models())
    parser.add_argument("--all-writers", action="store_true",
                        help="score all 30 writers, trained-on ones included")
    parser.add_argument("--record", action="store_true",
                        help="write the figures into each model's card")
    return parser.parse_args()


if __name__ == "__main__":
    main()
