"""Start-up: from `python app.py` to the first answered drawing.

Spawns the app, then sends one held-out writer's pen-drawn digit through the
HTTP API (bench/server.py) every 50 ms until it is answered, and prints the
seconds until the page answered and until the drawing did; the median over
--runs starts, each a fresh process.

    python bench/startup.py [--runs 3] [--model cnn] [--pendigits FILE]
"""

import argparse
import statistics
import time

import httpx

import canvas
import server

POLL_SECONDS = 0.05  # between tries of the first drawing


def main():
    args = parse_args()
    print(canvas.machine_speed())
    labels, drawings = canvas.pen_drawings(args.pendigits, 1)
    png = canvas.png_bytes(drawings[0])
    listening, answered = [], []
    for run in range(args.runs):
        with server.AppProcess() as app:
            label = first_answer(app, png, args.model)
            answered.append(time.perf_counter() - app.started)
            listening.append(app.listening)
        print(f"run {run + 1}: page after {listening[-1]:.1f} s, first drawing "
              f"answered after {answered[-1]:.1f} s ({label['label']}, "
              f"drawn {labels[0]})")
    print(f"median of {args.runs}: page {statistics.median(listening):.1f} s, "
          f"first answer {statistics.median(answered):.1f} s")


def first_answer(app, png, model, timeout=120):
    """Try the drawing until the app answers it; record when the page did."""
    app.listening = app.wait_until_listening(timeout)
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=timeout) as http:
        while True:
            try:
                return server.classify(http, app.url, png, model)[0]
            except (httpx.HTTPError, RuntimeError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(POLL_SECONDS)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    canvas.add_arguments(parser)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--model", default="cnn")
    return parser.parse_args()


if __name__ == "__main__":
    main()
