"""Draw-tab latency through gradio_client while the Admin tab trains a model.

    python bench/admin_load.py [--model cnn] [--epochs 1] [--train-images 20000]
        [--clients 2] [--baseline 100] [--url http://127.0.0.1:7860/ --secret S]

Without --url, starts `python app.py` on a free port, with a temporary store
(the shipped models are served from exports/, never written) and a made-up
admin secret. Then --clients gradio_client users send the example drawings to
/classify one after another, as a person drawing would, each user its own
drawings (two calls with the same drawing at once can collide in Gradio's
file cache, which rewrites an identical output image in place while the
other call downloads it; that race is not the Admin tab's): first --baseline
drawings with nothing else running, then for as long as a training run,
started through /start_training, trains, evaluates, exports and verifies.
Prints, for the baseline and for each stage of the run: n, median, p95 and
max of each call's end-to-end time, and the errors. The clients run in this
process, on the same cores as the app and the trainer, so the figures are
pessimistic.
"""

import argparse
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from gradio_client import Client, handle_file

import server

REPO = Path(__file__).resolve().parent.parent
DRAWINGS = sorted(str(p) for p in (REPO / "examples").glob("*.png"))
STARTUP_SECONDS = 120  # longest wait for `python app.py` to answer
POLL_SECONDS = 1.0  # how often the run's stage is asked for


def main():
    args = parse_args()
    with server.client_downloads_cleared():
        if args.url:
            report(args, args.url, args.secret)
            return
        with tempfile.TemporaryDirectory(prefix="digits-admin-load-") as store:
            secret = secrets.token_urlsafe(16)
            with running_app(Path(store), secret) as url:
                report(args, url, secret)


def report(args, url, secret):
    # ssl_verify=False: plain HTTP on 127.0.0.1, and without it each request
    # builds a certificate store (~20-40 ms of CPU), which measures the client
    clients = [Client(url, verbose=False, ssl_verify=False) for _ in range(args.clients)]
    drawings = [handle_file(path) for path in DRAWINGS]

    # nothing else running
    baseline = send_drawings(clients, drawings, args.model_served,
                             count=args.baseline)
    print_figures("no training (baseline)", baseline)

    # while a run trains, evaluates, exports and verifies
    admin = Client(url, verbose=False, ssl_verify=False)
    print(admin.predict(secret, args.model, args.epochs, args.batch_size,
                        args.learning_rate, args.augment, args.train_images,
                        api_name="/start_training"))
    stage = {"now": "starting", "said": ""}
    done = threading.Event()
    watcher = threading.Thread(target=watch_run, args=(admin, secret, stage, done))
    watcher.start()
    during = send_drawings(clients, drawings, args.model_served, stage=stage,
                           until=done)
    watcher.join()
    print(stage["said"])
    for name in dict.fromkeys(s for s, _, _ in during):
        print_figures(f"while {name}", [r for r in during if r[0] == name])
    print_figures("during the whole run", during)


def send_drawings(clients, drawings, model, count=None, stage=None, until=None):
    """(stage, milliseconds or None, error or None) per /classify call; each
    client sends drawings back to back until `count` calls or `until` is set."""
    results, lock = [], threading.Lock()

    def user(client, offset):
        mine, sent = drawings[offset :: len(clients)], 0
        while (count is None or sent < count // len(clients)) and not (
            until is not None and until.is_set()
        ):
            drawing = mine[sent % len(mine)]
            now = stage["now"] if stage else "baseline"
            started = time.perf_counter()
            try:
                client.predict(drawing, model, api_name="/classify")
                outcome = ((time.perf_counter() - started) * 1000, None)
            except Exception as error:  # counted and shown, not raised
                outcome = (None, f"{type(error).__name__}: {error}")
            with lock:
                results.append((now, *outcome))
            sent += 1

    threads = [threading.Thread(target=user, args=(client, index))
               for index, client in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def watch_run(admin, secret, stage, done):
    """Keep stage["now"] up to date from /training_status until the run ends."""
    try:
        while True:
            _, _, _, said, *_ = admin.predict(secret, api_name="/training_status")
            stage["said"] = said
            if said.startswith(("Kept", "The run stopped", "Cancelled")):
                return
            stage["now"] = said.rsplit(": ", 1)[-1].rstrip(".")
            time.sleep(POLL_SECONDS)
    finally:
        done.set()


def print_figures(what, results):
    times = sorted(ms for _, ms, _ in results if ms is not None)
    errors = [error for _, _, error in results if error is not None]
    if not times:
        print(f"{what}: no answers, {len(errors)} errors")
        return
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    print(f"{what}: n {len(results)}, median {statistics.median(times):.0f} ms, "
          f"p95 {p95:.0f} ms, max {times[-1]:.0f} ms, errors {len(errors)}")
    for error in sorted(set(errors))[:3]:
        print(f"  error: {error}")


class running_app:
    """`python app.py` on a free port with DIGITS_STORE=store and the secret;
    its URL while the with-block runs."""

    def __init__(self, store, secret):
        self.store, self.secret = store, secret

    def __enter__(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {**os.environ, "DIGITS_STORE": str(self.store),
               "DIGITS_ADMIN_SECRET": self.secret, "GRADIO_SERVER_NAME": "127.0.0.1",
               "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False"}
        self.log = open(self.store / "app.log", "w")
        self.process = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env,
                                        stdout=self.log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                Client(url, verbose=False)
                return url
            except Exception:  # not listening yet
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.__exit__()
                    sys.exit(f"app.py did not start: see {self.store / 'app.log'}")
                time.sleep(0.5)

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(timeout=60)
        self.log.close()


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running app (default: start one)")
    parser.add_argument("--secret", help="its DIGITS_ADMIN_SECRET (with --url)")
    parser.add_argument("--model", default="cnn", help="the model to train")
    parser.add_argument("--model-served", default="cnn",
                        help="the model the drawings are sent to")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=0.001)
    parser.add_argument("--augment", action=argparse.BooleanOptionalAction,
                        default=True)
    parser.add_argument("--train-images", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=2,
                        help="gradio_client users drawing at once")
    parser.add_argument("--baseline", type=int, default=100,
                        help="drawings sent before the run starts")
    args = parser.parse_args()
    if args.url and not args.secret:
        parser.error("--url needs --secret")
    return args


if __name__ == "__main__":
    main()
