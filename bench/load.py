"""Many people drawing at once: N gradio_client users against one running app.

Starts `python app.py` (or uses --url), connects --users gradio_client
Clients, then starts them together: each sends --per-user drawings to
/classify one after another, as fast as answers come, the way a person's
canvas would. A drawing is a held-out writer's pen-drawn digit on the 400 px
transparent canvas, sent as the Sketchpad's {"background", "layers",
"composite"}; the answer carries the 28x28 preview inside it. Before the
start, each user opens the page as a browser does: the page's first call
(/describe_models) makes the user's session in the app, ~15 ms of its CPU
for its ~80 components, paid at page load and not at the first drawing.
Prints throughput, median and p95 of the end-to-end time of each call, the
CPU time per drawing of the app (when it started it, on Linux) and of the
clients, the errors, and the share read right.

Then, for scale, the same users and drawings to a Gradio app whose handler
does nothing (bench/server.py's serve_nothing: each drawing uploaded as a
plain file, a constant label back): the most the same server, queue and
clients allow on this machine, whatever the app did. --no-baseline skips it.

    python bench/load.py [--users 20] [--per-user 20] [--pause 0] [--model cnn]
        [--processes 4] [--url http://127.0.0.1:7860/] [--no-baseline]
        [--pendigits FILE]

--pause is the mean of the seconds each user waits after an answer before
sending the next drawing, drawn uniformly from 0 to twice that (a person
takes a second or more to draw a digit); 0, the default, sends back to
back: the most load N users can make.

The users are spread over --processes client processes, as people are over
browsers: in one process, 20 users' threads queue for its one interpreter
lock and the figures measure that queue as much as the app. The clients run
on the same CPU cores as the app: on a 2-core machine they take a good part
of it, so the figures are pessimistic.
They connect with ssl_verify=False: the app is plain HTTP on 127.0.0.1, and
otherwise every request gradio_client makes builds a certificate store first
(~20-40 ms of CPU each, several per drawing), which measures the client.
gradio_client also polls for answers every 50 ms, so no call takes less
than a few tens of milliseconds whatever the app does.
"""

import argparse
import multiprocessing
import random
import tempfile
import threading
import time
from pathlib import Path

from gradio_client import Client, handle_file

import canvas
import server


def main():
    args = parse_args()
    print(canvas.machine_speed())
    labels, drawings = canvas.pen_drawings(args.pendigits, args.users * args.per_user)
    pace = f"{args.pause:g} s apart on average" if args.pause else "back to back"
    print(f"{args.users} users x {args.per_user} drawings ({pace}), "
          f"gradio_client, end to end")
    with tempfile.TemporaryDirectory() as folder:
        paths = [write_png(folder, index, rgba) for index, rgba in enumerate(drawings)]
        if args.url:
            report(f"/classify ({args.model}) at {args.url}", labels,
                   *run_users(args, args.url, paths, "/classify"))
            return
        with server.AppProcess() as app:
            app.wait_until_listening()
            report(f"/classify ({args.model})", labels,
                   *run_users(args, app.url + "/", paths, "/classify", app))
        if args.baseline:
            with server.nothing_app() as nothing:
                nothing.wait_until_listening()
                report("for scale, a handler that does nothing", None,
                       *run_users(args, nothing.url + "/", paths, "/nothing", nothing))


def report(title, labels, results, seconds, cpu):
    times = [r["ms"] for r in results if r["answer"] is not None]
    errors = [r["error"] for r in results if r["error"] is not None]
    median, p95 = canvas.percentiles(times) if times else (float("nan"),) * 2
    print(f"{title}:")
    print(f"throughput {len(times) / seconds:.1f} drawings/s over {seconds:.1f} s")
    print(f"latency median {median:.0f} ms, p95 {p95:.0f} ms, max "
          f"{max(times, default=float('nan')):.0f} ms")
    print("CPU per drawing: " + ", ".join(
        f"{who} {1000 * used / len(results):.1f} ms" for who, used in cpu.items()))
    read = ""
    if labels is not None:
        right = sum(r["answer"] == str(labels[r["index"]]) for r in results)
        read = f"; read right {right / len(results):.1%}"
    print(f"errors {len(errors)} of {len(results)}{read}")
    for error in sorted(set(errors))[:5]:
        print(f"  error: {error}")


def run_users(args, url, paths, endpoint, app=None):
    """Every user's results, the seconds from the start to the last answer,
    and the CPU seconds used meanwhile by the clients and by `app` (a
    server.AppProcess) when given and its figure is known.

    The users are spread over --processes client processes, threads within
    each, all started together."""
    groups = [list(range(first, args.users, args.processes))
              for first in range(min(args.processes, args.users))]
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(len(groups)) as pool:
        start = manager.Barrier(len(groups) + 1)
        pending = pool.starmap_async(
            run_group, [(args, url, paths, endpoint, users, start) for users in groups])
        start.wait()
        started = time.monotonic()
        app_cpu = app.cpu_seconds() if app else None
        finished = pending.get()
    cpu = {"clients": sum(group["cpu"] for group in finished)}
    if app_cpu is not None:
        cpu["app"] = app.cpu_seconds() - app_cpu
    seconds = max(group["finished"] for group in finished) - started
    return [r for group in finished for r in group["results"]], seconds, cpu


def run_group(args, url, paths, endpoint, users, start):
    """One client process: connect a Client per user, wait for the others,
    then run its users' threads; their results, when the last answer came
    (time.monotonic, shared by all processes) and the CPU this process used."""
    clients = {user: Client(url, verbose=False, ssl_verify=False) for user in users}
    if endpoint == "/classify":
        for client in clients.values():
            client.predict(api_name="/describe_models")  # opens the page
    results = {user: [] for user in users}
    threads = [
        threading.Thread(target=draw_one_after_another,
                         args=(client, args, paths, endpoint, user, results[user]))
        for user, client in clients.items()
    ]
    start.wait()
    cpu = -time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    finished = time.monotonic()
    cpu += time.process_time()
    for client in clients.values():
        client.close()
    return {"results": [r for user in users for r in results[user]],
            "finished": finished, "cpu": cpu}


def draw_one_after_another(client, args, paths, endpoint, user, results):
    pauses = random.Random(user)
    for index in range(user * args.per_user, (user + 1) * args.per_user):
        drawing = handle_file(paths[index])
        if endpoint == "/classify":  # the Sketchpad's value; "/nothing" takes the file
            drawing = {"background": None, "layers": [], "composite": drawing}
        answer = error = None
        started = time.perf_counter()
        try:
            outputs = client.predict(drawing, args.model, api_name=endpoint)
            label = outputs[0] if isinstance(outputs, tuple) else outputs
            answer = label["label"]
        except Exception as failure:  # any failure is a figure, not a crash
            error = f"{type(failure).__name__}: {failure}"[:200]
        results.append({"index": index, "answer": answer, "error": error,
                        "ms": 1000 * (time.perf_counter() - started)})
        time.sleep(pauses.uniform(0, 2 * args.pause))


def write_png(folder, index, rgba):
    path = Path(folder) / f"drawing-{index}.png"
    path.write_bytes(canvas.png_bytes(rgba))
    return str(path)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    canvas.add_arguments(parser)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--per-user", type=int, default=20)
    parser.add_argument("--processes", type=int, default=4,
                        help="client processes the users are spread over")
    parser.add_argument("--pause", type=float, default=0.0,
                        help="seconds between a user's answer and next drawing")
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--url", help="a running app; default: start python app.py")
    parser.add_argument("--no-baseline", dest="baseline", action="store_false",
                        help="skip the do-nothing app run for scale")
    return parser.parse_args()


if __name__ == "__main__":
    main()
