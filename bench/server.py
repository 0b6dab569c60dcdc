"""A running `python app.py` for the speed benchmarks, and one drawing sent to
it through the HTTP API the way the browser sends it: the PNG uploaded to
/gradio_api/upload, then /gradio_api/call/classify with the Sketchpad's
{"background", "layers", "composite"} naming the upload, its answer read
from the event stream.
"""

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
API = "/gradio_api"


class AppProcess:
    """`python <script>` on a free port of 127.0.0.1; a context manager that
    stops it on exit. `started` is when it was spawned (time.perf_counter)."""

    def __init__(self, script="app.py", args=(), log=None):
        port = free_port()
        env = dict(os.environ, GRADIO_SERVER_NAME="127.0.0.1",
                   GRADIO_SERVER_PORT=str(port), GRADIO_ANALYTICS_ENABLED="False")
        self.url = f"http://127.0.0.1:{port}"
        self.started = time.perf_counter()
        output = open(log, "w") if log else subprocess.DEVNULL
        self.process = subprocess.Popen([sys.executable, script, *args], cwd=REPO,
                                        env=env, stdout=output, stderr=output)

    def wait_until_listening(self, timeout=120):
        """Seconds from spawning until the page answers."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the app exited with {self.process.returncode}")
            try:
                if httpx.get(self.url + "/", timeout=5).status_code == 200:
                    return time.perf_counter() - self.started
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the app did not listen at {self.url}")
            time.sleep(0.05)

    def cpu_seconds(self):
        """CPU time the app has used so far (user and system, all threads),
        from Linux's /proc; None elsewhere."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1]
        except OSError:
            return None
        user, system = fields.split()[11:13]  # utime and stime, in clock ticks
        return (int(user) + int(system)) / os.sysconf("SC_CLK_TCK")

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def nothing_app():
    """An AppProcess of the do-nothing app (serve_nothing), for scale."""
    return AppProcess("bench/server.py", ["--serve-nothing"])


def serve_nothing():
    """A Gradio app whose handler does nothing: the same server and queue as
    the app, a drawing's file and a model name in (gr.File, gr.Textbox), a
    constant gr.Label out, as endpoint "nothing". Its queue sums up its
    analytics as app.py has it do."""
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")
    import gradio as gr

    with gr.Blocks() as demo:
        drawing, model, label = gr.File(), gr.Textbox(), gr.Label()
        gr.on([drawing.change], lambda *_: {"0": 1.0}, [drawing, model], [label],
              api_name="nothing")
    demo.launch()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def classify(http, url, png, model, api_name="classify", sketchpad=True,
             session=None):
    """Upload one drawing's PNG and classify it, as the browser does; returns
    the endpoint's outputs (a list), or raises RuntimeError with the app's
    message. `http` is an httpx.Client, kept open between calls as a browser
    keeps its connection. sketchpad=False sends the bare file instead of the
    Sketchpad's dict (for an endpoint whose input is a gr.File). `session`:
    the session hash of the calls of one browser tab; without it, Gradio
    makes each call a session of its own (~15 ms of the app's CPU for its
    ~80 components, which a browser pays once, when the page loads)."""
    upload = http.post(url + API + "/upload",
                       files={"files": ("canvas.png", png, "image/png")})
    upload.raise_for_status()
    drawing = {"path": upload.json()[0], "meta": {"_type": "gradio.FileData"}}
    if sketchpad:
        drawing = {"background": None, "layers": [], "composite": drawing}
    call = http.post(f"{url}{API}/call/{api_name}",
                     json={"data": [drawing, model], "session_hash": session})
    call.raise_for_status()
    event_id = call.json()["event_id"]
    with http.stream("GET", f"{url}{API}/call/{api_name}/{event_id}") as events:
        return _read_result(events.iter_lines())


def _read_result(lines):
    event = None
    for line in lines:
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and event in ("complete", "error"):
            payload = json.loads(line.split(":", 1)[1])
            if event == "error":
                raise RuntimeError(f"the app answered with an error: {payload}")
            return payload
    raise RuntimeError("the event stream ended without an answer")


@contextlib.contextmanager
def client_downloads_cleared():
    """gradio_client downloads each output file through a folder it makes in
    the temp directory and leaves there, empty: thousands per load run. Inside
    this block they are made in a folder of our own, removed on exit."""
    with tempfile.TemporaryDirectory(prefix="digits-client-") as folder:
        before, tempfile.tempdir = tempfile.tempdir, folder
        try:
            yield
        finally:
            tempfile.tempdir = before


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve-nothing"]:
        serve_nothing()
