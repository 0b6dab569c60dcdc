"""Round trip of one drawing through the app's HTTP API, as the browser sends it.

Starts `python app.py` and, for scale, a Gradio app whose handler does
nothing (same server, same queue, a gr.File and a gr.Textbox in, a constant
gr.Label out), each on a free port of 127.0.0.1. Then, drawing by drawing,
alternating between the two: upload the canvas PNG (/gradio_api/upload),
call the endpoint (/gradio_api/call/<name>) and read its answer from the
event stream, over one kept-open connection and in one session, as from a
browser tab (whose session the page's loading made; here the untimed
first calls make it). Prints the median and p95 of each, and the app's
own share: the difference of the medians.

    python bench/roundtrip.py [--drawings 200] [--model cnn] [--pendigits FILE]

The app's answer carries its 28x28 preview inside it (a data: URL of a
PNG of a few hundred bytes): there is nothing more to fetch.
"""

import argparse
import time

import httpx

import canvas  # noqa: F401  (bench/canvas.py; puts the repository on sys.path)
import server

WARMUP = 10  # untimed round trips to each app first


def main():
    args = parse_args()
    print(canvas.machine_speed())
    labels, drawings = canvas.pen_drawings(args.pendigits, args.drawings + WARMUP)
    pngs = [canvas.png_bytes(rgba) for rgba in drawings]

    with server.AppProcess() as app, \
            server.nothing_app() as nothing:
        app.wait_until_listening()
        nothing.wait_until_listening()
        with httpx.Client(timeout=60) as http:
            app_ms, nothing_ms, right = [], [], 0
            for index, png in enumerate(pngs):
                (label, *_), milliseconds = timed(
                    server.classify, http, app.url, png, args.model, "classify",
                    True, "roundtrip-app")
                (_,), nothing_milliseconds = timed(
                    server.classify, http, nothing.url, png, args.model, "nothing",
                    False, "roundtrip-nothing")
                if index >= WARMUP:
                    app_ms.append(milliseconds)
                    nothing_ms.append(nothing_milliseconds)
                    right += label["label"] == str(labels[index])

    app_median, app_p95 = canvas.percentiles(app_ms)
    nothing_median, nothing_p95 = canvas.percentiles(nothing_ms)
    print(f"{len(app_ms)} drawings, upload + call + answer over HTTP "
          f"({canvas.CANVAS} px canvas PNGs of held-out writers' digits)")
    print(f"app /classify ({args.model}):  median {app_median:6.1f} ms, "
          f"p95 {app_p95:6.1f} ms, read right {right / len(app_ms):.1%}")
    print(f"do-nothing handler:      median {nothing_median:6.1f} ms, "
          f"p95 {nothing_p95:6.1f} ms")
    print(f"the app's own work:      median {app_median - nothing_median:6.1f} ms")


def timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return result, 1000 * (time.perf_counter() - started)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    canvas.add_arguments(parser, count=200)
    parser.add_argument("--model", default="cnn")
    return parser.parse_args()


if __name__ == "__main__":
    main()
