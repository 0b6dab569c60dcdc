"""Run an exported digit model in Keras, LiteRT, or TF.js in Chromium.

`load(path)` picks the runtime from the file: a .keras file runs in Keras, a
.tflite file in LiteRT (the runtime Android ships), and a folder holding a
TF.js graph model (model.json) in headless Chromium, where the page loads
the same tf.min.js a browser would. Every runtime has the same interface:

    with load("exports/mlp/model.tflite") as runtime:
        probabilities = runtime.predict(images)  # (n, 28, 28) -> (n, 10)

Images are float32, white ink on black in 0..1, always batched: one digit is
images[None]. Each runtime imports its own library when loaded, so the app
can serve LiteRT without importing TensorFlow. A full-integer (int8) .tflite
is fed and read through its tensors' scale and zero point, so it too takes
float images and returns probabilities; quantized TF.js weights are expanded
by TF.js itself. `median_latency_ms` times single-digit inferences inside the
runtime (for TF.js, inside the page), the figure the Export tab shows.

The TF.js runtime needs Chromium (`apt-get install chromium`, or the path in
DIGITS_CHROMIUM), the Python package playwright, and tf.min.js from
`npm install` at the repository root (or its path in DIGITS_TFJS_LIB; the
copy in digits/web/ serves where npm never ran).
"""

import base64
import logging
import mimetypes
import os
import shutil
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np

log = logging.getLogger(__name__)

IMAGE_SHAPE = (28, 28)  # one digit: rows, columns
NUM_CLASSES = 10  # digits 0-9

KERAS_BATCH = 1024  # images per Keras call; bounds memory for the CNN
LITERT_BATCH = 256  # largest batch the LiteRT input tensor is resized to
# Batches this large run on a second LiteRT interpreter that uses every core
# (ResNet50V2 on MNIST's 10,000 test digits: 57 s -> 29 s on 2 cores); smaller
# ones, like the app's single drawings, on one thread, as served: the app's
# parallelism is across drawings, so one drawing never waits for a core.
LITERT_ALL_CORES_FROM = 64
TFJS_BATCH = 256  # images per page.evaluate call (~1.3 MB of base64 each)
LATENCY_WARMUP = 10  # single-digit runs before timing starts (caches, kernels)

REPO_ROOT = Path(__file__).resolve().parent.parent
TFJS_LIB_ENV = "DIGITS_TFJS_LIB"  # overrides the path to tf.min.js
TFJS_LIB = REPO_ROOT / "node_modules" / "@tensorflow" / "tfjs" / "dist" / "tf.min.js"
BUNDLED_TFJS_LIB = REPO_ROOT / "digits" / "web" / "tf.min.js"  # a copy of it
CHROMIUM_ENV = "DIGITS_CHROMIUM"  # overrides the Chromium executable
CHROMIUM_NAMES = (
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
)
# The network is closed in CI and development; keep Chromium from reaching it.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
# Requests to this origin never leave the browser: page.route answers them
# from the model folder and tf.min.js, so no port is opened.
PAGE_ORIGIN = "http://digits.invalid"
PAGE_HTML = '<!doctype html><meta charset="utf-8"><script src="/tf.min.js"></script>'


class Runtime:
    """A loaded model file; `predict` maps (n, 28, 28) to (n, 10) float32."""

    name = ""

    def __init__(self, path):
        self.path = Path(path)

    def predict(self, images):
        """Probabilities (n, 10) float32 for a batch of (n, 28, 28) images."""
        batch = check_images(images)
        if len(batch) == 0:
            return np.zeros((0, NUM_CLASSES), np.float32)
        return np.asarray(self._predict_batch(batch), np.float32)

    def median_latency_ms(self, images):
        """Median milliseconds of one single-digit inference, over `images`
        (n, 28, 28) run one at a time after LATENCY_WARMUP untimed runs."""
        batch = check_images(images)
        for image in batch[:LATENCY_WARMUP]:
            self.predict(image[None])
        times = []
        for image in batch:
            started = time.perf_counter()
            self.predict(image[None])
            times.append(1000 * (time.perf_counter() - started))
        return float(np.median(times))

    def close(self):
        """Release what the runtime holds; safe to call more than once."""

    def _predict_batch(self, batch):
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __repr__(self):
        return f"<{type(self).__name__} {self.name} {self.path}>"


def check_images(images):
    """Return `images` as a float32 (n, 28, 28) array, or raise ValueError."""
    batch = np.asarray(images, dtype=np.float32)
    if batch.ndim != 3 or batch.shape[1:] != IMAGE_SHAPE:
        raise ValueError(
            f"images must have shape (n, 28, 28), got {batch.shape}; "
            "pass one digit as images[None]."
        )
    return batch


class KerasRuntime(Runtime):
    """A .keras file run by calling the model directly, in batches."""

    name = "keras"

    def __init__(self, path):
        super().__init__(path)
        import keras

        import digits.networks  # noqa: F401  (registers the package's Keras classes)

        self._keras = keras
        self._model = keras.saving.load_model(self.path, compile=False)

    def _predict_batch(self, batch):
        parts = [
            self._keras.ops.convert_to_numpy(
                self._model(batch[start : start + KERAS_BATCH], training=False)
            )
            for start in range(0, len(batch), KERAS_BATCH)
        ]
        return np.concatenate(parts)


class LiteRtRuntime(Runtime):
    """A .tflite file run by the LiteRT interpreter; safe to share by threads.

    Small batches, like the app's single drawings, run on one thread; from
    LITERT_ALL_CORES_FROM images on, on every core, in an interpreter of their
    own. Each resizes its input tensor only when the batch size changes, so
    the app's one-drawing-at-a-time calls go straight to invoke(). An int8 input
    is fed round(x / scale) + zero_point and an int8 output read back as
    (q - zero_point) * scale, with each tensor's own quantization.
    """

    name = "litert"

    def __init__(self, path):
        super().__init__(path)
        self._interpreters = {1: _LiteRtInterpreter(self.path, threads=1)}
        self._input = self._interpreters[1].input
        self._output = self._interpreters[1].output
        self._lock = threading.Lock()

    def describe_tensors(self):
        """{"input": ..., "output": ...}, each {"shape" (batch 1), "dtype",
        "scale", "zero_point"}; scale and zero_point are None unless quantized."""
        return {"input": _describe_tensor(self._input),
                "output": _describe_tensor(self._output)}

    def _predict_batch(self, batch):
        size = min(len(batch), LITERT_BATCH)
        threads = (os.cpu_count() or 1) if size >= LITERT_ALL_CORES_FROM else 1
        with self._lock:
            if threads not in self._interpreters:
                self._interpreters[threads] = _LiteRtInterpreter(self.path, threads)
            interpreter = self._interpreters[threads]
            parts = [
                interpreter.invoke(_pad_batch(batch[start : start + size], size))
                for start in range(0, len(batch), size)
            ]
        return np.concatenate(parts)[: len(batch)]


class _LiteRtInterpreter:
    """One LiteRT interpreter on `threads` threads, its input tensor resized
    only when the batch size changes; not safe to share by threads."""

    def __init__(self, path, threads):
        interpreter_class = _import_litert_interpreter()
        self._interpreter = interpreter_class(model_path=str(path), num_threads=threads)
        self.input, self.output = _find_digit_tensors(self._interpreter, path)
        self._batch_size = None

    def invoke(self, chunk):
        if len(chunk) != self._batch_size:
            self._interpreter.resize_tensor_input(self.input["index"], chunk.shape)
            self._interpreter.allocate_tensors()
            self._batch_size = len(chunk)
        self._interpreter.set_tensor(self.input["index"], quantize(chunk, self.input))
        self._interpreter.invoke()
        return dequantize(self._interpreter.get_tensor(self.output["index"]),
                          self.output)


def quantize(values, tensor):
    """Float values as the tensor's dtype: q = round(x / scale) + zero_point,
    clipped to the dtype's range (halves round up), or unchanged if float."""
    dtype = np.dtype(tensor["dtype"])
    if dtype.kind == "f":
        return np.ascontiguousarray(values, dtype)
    scale, zero_point = tensor["quantization"]
    limits = np.iinfo(dtype)
    steps = np.floor(np.asarray(values, np.float64) / scale + 0.5) + zero_point
    return np.clip(steps, limits.min, limits.max).astype(dtype)


def dequantize(values, tensor):
    """The tensor's values as float32: (q - zero_point) * scale if quantized."""
    if np.dtype(tensor["dtype"]).kind == "f":
        return np.asarray(values, np.float32)
    scale, zero_point = tensor["quantization"]
    return ((values.astype(np.float32) - zero_point) * scale).astype(np.float32)


def _describe_tensor(tensor):
    scale, zero_point = tensor["quantization"]
    quantized = np.dtype(tensor["dtype"]).kind != "f"
    return {
        "shape": [1, *map(int, tensor["shape_signature"][1:])],
        "dtype": np.dtype(tensor["dtype"]).name,
        "scale": float(scale) if quantized else None,
        "zero_point": int(zero_point) if quantized else None,
    }


def _import_litert_interpreter():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as error:
        raise RuntimeError(
            "LiteRT is not installed; run `pip install ai-edge-litert`."
        ) from error
    return Interpreter


def _find_digit_tensors(interpreter, path):
    inputs = interpreter.get_input_details()
    outputs = interpreter.get_output_details()
    shape = tuple(inputs[0]["shape_signature"][1:]) if len(inputs) == 1 else None
    if shape != IMAGE_SHAPE or len(outputs) != 1:
        raise ValueError(
            f"{path} is not a digit model: expected one (batch, 28, 28) input "
            f"and one output, found inputs {[i['shape'] for i in inputs]}; "
            "export it with digits.export.export_tflite."
        )
    return inputs[0], outputs[0]


def _pad_batch(chunk, size):
    # The last chunk of a large batch is padded with blank digits so the
    # interpreter keeps one tensor size instead of resizing twice per call.
    if len(chunk) == size:
        return np.ascontiguousarray(chunk)
    padding = np.zeros((size - len(chunk), *IMAGE_SHAPE), np.float32)
    return np.concatenate([chunk, padding])


class TfjsRuntime(Runtime):
    """A TF.js graph model run by tf.min.js in headless Chromium.

    Each runtime has its own browser context; runtimes loaded in one thread
    share one Chromium, which the last close() (or `with` exit) ends.
    Playwright's sync API ties the runtime to the thread that loaded it.
    """

    name = "tfjs"

    def __init__(self, path, backend="cpu"):
        super().__init__(path)
        self._library = find_tfjs_library()
        self._chromium = SharedChromium.borrow()
        self._context = None
        try:
            self._context = self._chromium.browser.new_context()
            self._page = self._open_model_page(backend)
        except BaseException:
            self.close()
            raise

    def close(self):
        if self._chromium is None:
            return
        if self._context is not None:
            self._context.close()
        self._chromium.give_back()
        self._chromium = None

    def _open_model_page(self, backend):
        page = self._context.new_page()
        page.route(f"{PAGE_ORIGIN}/**", self._serve_request)
        page.goto(f"{PAGE_ORIGIN}/index.html")
        loaded_backend = self._evaluate(page, _LOAD_MODEL_JS, backend)
        if loaded_backend != backend:
            raise RuntimeError(
                f"TF.js could not start the {backend!r} backend in Chromium "
                f"(got {loaded_backend!r}); use backend='cpu'."
            )
        log.info("loaded %s in Chromium, TF.js backend %s", self.path, backend)
        return page

    def _serve_request(self, route):
        url_path = unquote(urlparse(route.request.url).path)
        if url_path == "/index.html":
            route.fulfill(body=PAGE_HTML, content_type="text/html")
        elif url_path == "/tf.min.js":
            route.fulfill(path=self._library, content_type="text/javascript")
        else:
            self._serve_model_file(route, url_path)

    def _serve_model_file(self, route, url_path):
        folder = self.path.resolve()
        wanted = (folder / url_path.removeprefix("/model/")).resolve()
        inside = url_path.startswith("/model/") and wanted.parent == folder
        if not (inside and wanted.is_file()):
            route.fulfill(status=404, body=f"not found: {url_path}")
            return
        kind = mimetypes.guess_type(wanted.name)[0] or "application/octet-stream"
        route.fulfill(path=wanted, content_type=kind)

    def _predict_batch(self, batch):
        if self._chromium is None:
            raise RuntimeError(
                f"the TF.js runtime for {self.path} is closed; load it again."
            )
        parts = []
        for start in range(0, len(batch), TFJS_BATCH):
            chunk = np.ascontiguousarray(batch[start : start + TFJS_BATCH])
            pixels = base64.b64encode(chunk.tobytes()).decode("ascii")
            flat = self._evaluate(self._page, _PREDICT_JS, [pixels, len(chunk)])
            parts.append(np.asarray(flat, np.float32).reshape(len(chunk), NUM_CLASSES))
        return np.concatenate(parts)

    def median_latency_ms(self, images):
        """Median milliseconds of one single-digit predict + read-back, timed
        in the page with performance.now(), after LATENCY_WARMUP runs: the
        trip between Python and Chromium is not counted."""
        batch = check_images(images)
        pixels = base64.b64encode(np.ascontiguousarray(batch).tobytes()).decode()
        times = self._evaluate(
            self._page, _TIME_SINGLE_DIGITS_JS, [pixels, len(batch), LATENCY_WARMUP]
        )
        return float(np.median(times))

    def _evaluate(self, page, script, argument):
        from playwright.sync_api import Error as PlaywrightError

        try:
            return page.evaluate(script, argument)
        except PlaywrightError as error:
            raise RuntimeError(
                f"TF.js failed on {self.path} in Chromium: {error.message}"
            ) from error


# In the page: pick the backend, then load the graph model served from the
# model folder. Returns the backend TF.js actually uses.
_LOAD_MODEL_JS = """
async (backend) => {
  await tf.setBackend(backend);
  await tf.ready();
  window.digitModel = await tf.loadGraphModel('/model/model.json');
  return tf.getBackend();
}
"""

# In the page: base64 float32 pixels of n digits -> flat list of n * 10
# probabilities. Float32 values survive the trip to Python exactly.
_PREDICT_JS = """
async ([pixels, n]) => {
  const bytes = Uint8Array.from(atob(pixels), (c) => c.charCodeAt(0));
  const images = tf.tensor3d(new Float32Array(bytes.buffer), [n, 28, 28]);
  const probabilities = window.digitModel.predict(images);
  const values = await probabilities.data();
  tf.dispose([images, probabilities]);
  return Array.from(values);
}
"""


# In the page: time each of n digits run alone (after `warmup` untimed runs of
# the first ones); returns the n times in milliseconds.
_TIME_SINGLE_DIGITS_JS = """
async ([pixels, n, warmup]) => {
  const bytes = Uint8Array.from(atob(pixels), (c) => c.charCodeAt(0));
  const all = new Float32Array(bytes.buffer);
  const runOne = async (i) => {
    const image = tf.tensor3d(all.subarray(784 * i, 784 * (i + 1)), [1, 28, 28]);
    const started = performance.now();
    const probabilities = window.digitModel.predict(image);
    await probabilities.data();
    const elapsed = performance.now() - started;
    tf.dispose([image, probabilities]);
    return elapsed;
  };
  for (let i = 0; i < Math.min(warmup, n); i++) await runOne(i);
  const times = [];
  for (let i = 0; i < n; i++) times.push(await runOne(i));
  return times;
}
"""


def find_tfjs_library():
    """Path to tf.min.js: DIGITS_TFJS_LIB, else node_modules at the repo root,
    else the same build committed for the browser bundle (digits/web/), so a
    Space where npm never ran can verify TF.js exports too."""
    chosen = os.environ.get(TFJS_LIB_ENV)
    library = Path(chosen) if chosen else next(
        (path for path in (TFJS_LIB, BUNDLED_TFJS_LIB) if path.is_file()), TFJS_LIB)
    if not library.is_file():
        raise RuntimeError(
            f"TF.js library not found at {library}; run `npm install` in "
            f"{REPO_ROOT} or set {TFJS_LIB_ENV} to a tf.min.js."
        )
    return library


def find_chromium():
    """Chromium's executable: DIGITS_CHROMIUM, else the first on PATH, or None."""
    chosen = os.environ.get(CHROMIUM_ENV)
    if chosen:
        return chosen
    found = (shutil.which(name) for name in CHROMIUM_NAMES)
    return next((path for path in found if path), None)


def check_tfjs_runs():
    """Raise RuntimeError with a sentence unless TF.js can run here: its
    library is found and Chromium starts (~1 s). `train` and `export` ask
    first, so a machine without a browser ends a run before a 30-minute fit,
    not after it."""
    find_tfjs_library()
    SharedChromium.borrow().give_back()


class SharedChromium:
    """One Playwright and one Chromium per thread, lent to its TF.js runtimes.

    Playwright's sync API allows one instance per thread at a time, so TF.js
    runtimes open together (say, one per model) borrow the same browser.
    """

    _per_thread = threading.local()

    def __init__(self):
        self.playwright = _start_playwright()
        try:
            self.browser = _launch_chromium(self.playwright)
        except BaseException:
            self.playwright.stop()
            raise
        self.borrowers = 0

    @classmethod
    def borrow(cls):
        """This thread's Chromium, started on first use."""
        shared = getattr(cls._per_thread, "chromium", None)
        if shared is None:
            shared = cls._per_thread.chromium = cls()
        shared.borrowers += 1
        return shared

    def give_back(self):
        """Return a borrowed browser; the last one back closes Chromium."""
        self.borrowers -= 1
        if self.borrowers == 0:
            self._per_thread.chromium = None
            self.browser.close()
            self.playwright.stop()


def _start_playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        raise RuntimeError(
            "The TF.js runtime needs Playwright; run `pip install playwright`."
        ) from error
    return sync_playwright().start()


def _launch_chromium(playwright):
    # None lets Playwright try its own browser (`playwright install chromium`).
    executable = find_chromium()
    try:
        return playwright.chromium.launch(
            executable_path=executable, args=list(CHROMIUM_FLAGS), headless=True
        )
    except Exception as error:
        raise RuntimeError(
            f"Could not start Chromium ({executable or 'Playwright default'}): "
            f"{str(error).splitlines()[0]}; run `apt-get install chromium` or set "
            f"{CHROMIUM_ENV} to a Chromium executable."
        ) from error


# Runtime name -> class, and the file each reads inside an export folder.
RUNTIMES = {
    "keras": KerasRuntime,
    "litert": LiteRtRuntime,
    "tfjs": TfjsRuntime,
}
RUNTIME_NAMES = tuple(RUNTIMES)
EXPORT_FOLDER_FILES = {
    "keras": "model.keras",
    "litert": "model.tflite",
    "tfjs": "tfjs",
}


def load(path, runtime=None):
    """Load a model file into the runtime that runs it.

    path: a .keras file, a .tflite file, or a folder with a TF.js model.json.
    runtime: None to pick by path, or one of RUNTIME_NAMES; with a name, path
    may also be an export folder (model.keras, model.tflite, tfjs/).
    """
    if runtime is not None and runtime not in RUNTIMES:
        raise ValueError(
            f"unknown runtime {runtime!r}; choose one of: {', '.join(RUNTIME_NAMES)}"
        )
    path = _resolve_model_path(Path(path), runtime)
    detected = detect_runtime(path)
    if runtime is not None and runtime != detected:
        raise ValueError(
            f"{path} runs in {detected!r}, not {runtime!r}; pass runtime=None "
            "or the file made for that runtime."
        )
    return RUNTIMES[detected](path)


def detect_runtime(path):
    """Name of the runtime that runs the model file or folder at `path`."""
    path = Path(path)
    if path.suffix == ".keras":
        return "keras"
    if path.suffix == ".tflite":
        return "litert"
    if path.is_dir() and (path / "model.json").is_file():
        return "tfjs"
    raise ValueError(
        f"cannot tell which runtime runs {path}; give a .keras file, a .tflite "
        "file, a folder holding a TF.js model.json, or an export folder "
        "together with runtime='keras', 'litert' or 'tfjs'."
    )


def _resolve_model_path(path, runtime):
    is_export_folder = path.is_dir() and not (path / "model.json").exists()
    if runtime is not None and is_export_folder:
        path = path / EXPORT_FOLDER_FILES[runtime]
    if not path.exists():
        raise FileNotFoundError(
            f"No model at {path}; train and export one first (digits.export) "
            "or check the path."
        )
    return path
