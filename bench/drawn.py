"""Accuracy on real pen-drawn digits, replayed onto a canvas as the app gets them.

Each pendigits sample (30 writers, tablet strokes) is drawn with
render_strokes.py on a 400 px canvas with a 12 px brush, once centred and once
at a random size and position (--jitter), then goes through the app's own
preprocessing (digits.sketch) and each model's served runtime.

    python bench/drawn.py --pendigits ../shared/data/pendigits_train.json \
        --render-tool ../shared/tools/render_strokes.py [--record]

--record writes the figures into each model's card. Takes ~5 min on 2 cores.
"""

import argparse
import importlib.util
import json
import os
import sys
from collections import defaultdict
from multiprocessing import Pool
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from digits import cards, sketch, store  # noqa: E402

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
CANVAS = 400  # canvas side, pixels
BRUSH = 12  # brush width, pixels
CONDITIONS = ("centred", "jitter")


def main():
    args = parse_args()
    samples = json.loads(Path(args.pendigits).read_text())[: args.limit]
    labels = np.array([s["label"] for s in samples])
    writers = np.array([s["writer"] for s in samples])

    # render and preprocess every sample once per condition
    inputs = {c: render_inputs(args.render_tool, samples, c) for c in CONDITIONS}

    # score each model on the same inputs
    print(f"{len(samples)} drawings by {len(set(writers))} writers, "
          f"{CANVAS} px canvas, {BRUSH} px brush")
    print(f"{'model':16}" + "".join(f"{c:>10}" for c in CONDITIONS) + "  worst writer")
    for name in args.models:
        runtime = store.served_runtime(name)
        scores, worst = {}, (1.0, "")
        for condition, images in inputs.items():
            right = runtime.predict(images).argmax(axis=1) == labels
            scores[condition] = float(right.mean())
            worst = min(worst, worst_writer(right, writers))
        print(f"{name:16}" + "".join(f"{scores[c]:10.2%}" for c in CONDITIONS)
              + f"  {worst[1]} {worst[0]:.2%}")
        if args.record:
            cards.update_card(name, drawn_accuracy={
                **scores, "n": len(samples), "canvas_px": CANVAS, "brush_px": BRUSH,
                "data": "pendigits (UCI), 30 writers"})


def render_inputs(render_tool, samples, condition):
    jobs = [(render_tool, s, i, condition) for i, s in enumerate(samples)]
    with Pool(os.cpu_count()) as pool:
        return np.stack(pool.map(_render_one, jobs, chunksize=64))


def _render_one(job):
    render_tool, sample, index, condition = job
    tool = _load_tool(render_tool)
    rng = tool.sample_rng(0, index) if condition == "jitter" else None
    image, _ = tool.render_sample(sample, size=CANVAS, width=BRUSH, y_up=True, rng=rng)
    return sketch.to_digit(np.asarray(image))


_tools = {}


def _load_tool(path):
    if path not in _tools:
        spec = importlib.util.spec_from_file_location("render_strokes", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _tools[path] = module
    return _tools[path]


def worst_writer(right, writers):
    by_writer = defaultdict(list)
    for ok, writer in zip(right, writers):
        by_writer[writer].append(ok)
    return min((float(np.mean(v)), w) for w, v in by_writer.items())


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pendigits",
                        default=os.environ.get("DIGITS_PENDIGITS",
                                               SHARED / "data/pendigits_train.json"))
    parser.add_argument("--render-tool",
                        default=str(SHARED / "tools/render_strokes.py"))
    parser.add_argument("--models", nargs="+", default=store.available_models())
    parser.add_argument("--limit", type=int, default=None,
                        help="use only the first N drawings")
    parser.add_argument("--record", action="store_true",
                        help="write the figures into each model's card")
    return parser.parse_args()


if __name__ == "__main__":
    main()
