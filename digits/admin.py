"""The Admin tab's work: who may act, what may be trained, the training job.

Admin actions need the secret the host sets in DIGITS_ADMIN_SECRET (how a
Hugging Face Space passes secrets); without it every action is refused.

A training run is `python -m digits train ... --report FOLDER --background`
in its own process, one at a time per server: the web process only starts,
watches and stops it, so drawings keep being classified while it trains, and
killing it at any moment leaves the served model whole (see digits.store).
The trainer appends one JSON line per event to FOLDER/progress.jsonl
(TrainingReport); the server reads them back (TrainingJob.status):

    {"event": "start", "model", "config"}        the recipe, before data loads
    {"event": "fit", "epochs", "steps"}          steps: batches per epoch
    {"event": "batch" | "epoch", "epoch", "batch", "steps", "loss",
     "accuracy", "elapsed"}                      see train.ProgressReport
    {"event": "stage", "stage"}                  "evaluating", "exporting"
    {"event": "evaluated", ...}                  see digits.evaluation.evaluate;
                                                 FOLDER/misclassified.npz holds
                                                 the first misclassified digits
    {"event": "saved", "version", "published"}   kept as a version
    {"event": "failed", "message"} | {"event": "cancelled"}

Every event also has "time" (Unix seconds). This module imports neither
TensorFlow nor Gradio.
"""

import contextlib
import datetime
import hmac
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from digits import models, store, train

SECRET_ENV = "DIGITS_ADMIN_SECRET"
REPO = Path(__file__).resolve().parent.parent
PROGRESS_FILE = "progress.jsonl"
MISCLASSIFIED_FILE = "misclassified.npz"
LOG_FILE = "trainer.log"
MISCLASSIFIED_SHOWN = 40  # misclassified test digits kept for the gallery
MISCLASSIFIED_SCALE = 3  # each shown 3x3 pixels per pixel: 84x84
CANCEL_GRACE_SECONDS = 20  # after Cancel, how long the trainer may take to stop
# TF.js variants are checked on fewer test digits from the Admin tab than from
# the CLI (1,000): each costs ~9 ms per CNN digit in Chromium. LiteRT still
# checks all 10,000; the card records how many each variant was run on.
ADMIN_TFJS_IMAGES = 300
# The trainer's environment: besides --background (lowest priority, one
# TensorFlow thread for training), one thread for the converters and the
# LiteRT checks too, so that the web process keeps a core to itself.
BACKGROUND_ENV = {"PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1",
                  "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}

# The training form's limits, so that a run on a shared 2-core machine ends
# within about an hour (the trainer runs niced, on one TensorFlow thread).
EPOCHS = (1, 30)
BATCH_SIZES = (16, 1024)
LEARNING_RATES = (1e-5, 0.1)
TRAIN_IMAGES = (1_000, 60_000)  # how much of MNIST's 60,000 training images
# ResNet50V2 costs 20-70 ms per image on 2 cores: at most 80,000 image passes
# (its default: 20,000 images 4 times, ~30-40 minutes).
MAX_IMAGE_PASSES = {"resnet50v2": 80_000}


class AdminError(Exception):
    """An admin action was refused; the message is a sentence for the person."""


# who may act


def check_secret(given):
    """Refuse (AdminError) unless `given` is the secret in DIGITS_ADMIN_SECRET."""
    expected = os.environ.get(SECRET_ENV, "")
    if not expected:
        raise AdminError(
            f"Admin actions are turned off: the host has not set {SECRET_ENV}. "
            f"Set it (on a Space: Settings, Secrets) and restart the app."
        )
    if not given or not isinstance(given, str):
        raise AdminError("Admin actions need the admin secret: enter it in the "
                         "Admin tab.")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise AdminError("That is not the admin secret; admin actions are refused.")


def is_enabled():
    return bool(os.environ.get(SECRET_ENV))


# what may be trained


@dataclass(frozen=True)
class TrainRequest:
    """The training form, checked: the recipe a run uses."""

    model: str
    epochs: int
    batch_size: int
    learning_rate: float
    augment: bool
    train_images: int

    def arguments(self):
        """The `python -m digits train` arguments for this recipe."""
        return ["--model", self.model, "--epochs", str(self.epochs),
                "--batch-size", str(self.batch_size),
                "--learning-rate", repr(self.learning_rate),
                "--augment" if self.augment else "--no-augment",
                "--train-images", str(self.train_images)]


def check_request(model, epochs, batch_size, learning_rate, augment, train_images):
    """A TrainRequest from the form's values, or AdminError with a sentence
    naming the value out of bounds."""
    check_model(model)
    request = TrainRequest(
        model=model,
        epochs=_whole_number("Epochs", epochs, EPOCHS),
        batch_size=_whole_number("Batch size", batch_size, BATCH_SIZES),
        learning_rate=_number("Learning rate", learning_rate, LEARNING_RATES),
        augment=bool(augment),
        train_images=_whole_number("MNIST training images", train_images,
                                   TRAIN_IMAGES),
    )
    most = MAX_IMAGE_PASSES.get(model)
    if most and request.epochs * request.train_images > most:
        raise AdminError(
            f"{model} costs 20-70 ms per image on this machine: epochs times "
            f"training images may be at most {most:,} here "
            f"({request.epochs} x {request.train_images:,} asked)."
        )
    return request


def check_model(model):
    """AdminError unless `model` is one of models.MODEL_NAMES (a name that
    also becomes a folder name in the store)."""
    if model not in models.MODEL_NAMES:
        raise AdminError(f"There is no model {model!r}; choose one of: "
                         f"{', '.join(models.MODEL_NAMES)}.")


def recipe_defaults(model):
    """The form's starting values for `model`: the recipe it shipped with."""
    config = train.default_config(model)
    return {"epochs": config.epochs, "batch_size": config.batch_size,
            "learning_rate": config.learning_rate, "augment": config.augment,
            "train_images": min(config.train_images, TRAIN_IMAGES[1])}


def _number(what, value, bounds):
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not bounds[0] <= number <= bounds[1]:
        raise AdminError(f"{what} must be a number from {bounds[0]:g} to "
                         f"{bounds[1]:g}, not {value!r}.")
    return number


def _whole_number(what, value, bounds):
    number = _number(what, value, bounds)
    if number != int(number):
        raise AdminError(f"{what} must be a whole number, not {value!r}.")
    return int(number)


# the trainer's side of the report


class TrainingReport:
    """What a trainer tells the server: events appended to progress.jsonl
    (one write per line, so a reader sees whole lines), and the misclassified
    digits. TrainingReport(None) reports nothing."""

    def __init__(self, folder):
        self.folder = Path(folder) if folder else None
        if self.folder:
            self.folder.mkdir(parents=True, exist_ok=True)

    def event(self, event, **fields):
        if not self.folder:
            return
        line = json.dumps({"event": event, "time": time.time(), **fields}) + "\n"
        handle = os.open(self.folder / PROGRESS_FILE,
                         os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(handle, line.encode())
        finally:
            os.close(handle)

    def __call__(self, event):
        """For train.ProgressReport: `event` is a dict with an "event" key."""
        self.event(**event)

    def save_misclassified(self, images, result):
        """The first MISCLASSIFIED_SHOWN misclassified test digits of an
        evaluation.evaluate `result`, as uint8 images with their labels."""
        if not self.folder:
            return
        wrong = result["misclassified"]
        shown = slice(0, MISCLASSIFIED_SHOWN)
        pixels = np.round(images[wrong["index"][shown]] * 255).astype(np.uint8)
        handle, temporary = tempfile.mkstemp(dir=self.folder, suffix=".npz")
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, images=pixels, true=wrong["true"][shown],
                     predicted=wrong["predicted"][shown])
        os.replace(temporary, self.folder / MISCLASSIFIED_FILE)


# the server's side: one training job at a time


@dataclass
class JobStatus:
    """What a training job has reported so far."""

    # "running", "cancelling", then "finished", "failed" or "cancelled"
    state: str = "running"
    # "starting", "training", "evaluating", "exporting", "saved"
    stage: str = "starting"
    model: str = ""
    epoch: int = 0
    epochs: int = 0
    batch: int = 0
    steps: int = 0
    loss: float | None = None
    accuracy: float | None = None
    train_seconds: float = 0.0  # seconds since fitting began, at the last report
    curve: list = field(default_factory=list)  # (epochs done, loss, accuracy)
    evaluation: dict | None = None
    version: str | None = None
    published: bool = False
    message: str = ""

    def remaining_seconds(self):
        """Estimated seconds of training left, or None before the first batch
        or once training is over."""
        done = self.done_fraction()
        if self.stage != "training" or done <= 0:
            return None
        return self.train_seconds * (1 - done) / done

    def done_fraction(self):
        """Share of the training batches done, 0..1."""
        if not self.epochs or not self.steps or not self.epoch:
            return 0.0
        return ((self.epoch - 1) + self.batch / self.steps) / self.epochs


class TrainingJob:
    """A trainer process started by this server, and what it reported."""

    def __init__(self, request, started_by, folder, process):
        self.request, self.started_by = request, started_by
        self.folder, self.process = folder, process
        self.started = time.time()
        self.ended = None  # when status() first saw the process gone
        self.cancelled_at = None
        self._offset, self._status = 0, JobStatus(model=request.model,
                                                  epochs=request.epochs)
        self._pictures = None  # drawn once the evaluation is in, see pictures()
        self._lock = threading.Lock()

    @classmethod
    def launch(cls, request, started_by):
        folder = Path(tempfile.mkdtemp(prefix="digits-training-"))
        command = [sys.executable, "-m", "digits", "train", *request.arguments(),
                   "--report", str(folder), "--background",
                   "--tfjs-images", str(ADMIN_TFJS_IMAGES)]
        with open(folder / LOG_FILE, "wb") as log:
            process = subprocess.Popen(
                command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
                env={**os.environ, **BACKGROUND_ENV},
            )
        return cls(request, started_by, folder, process)

    def running(self):
        return self.process.poll() is None

    def cancel(self):
        """Ask the trainer to stop (SIGINT: it stops after the current batch,
        keeps nothing and exits); it is killed if it has not after
        CANCEL_GRACE_SECONDS."""
        if self.running() and self.cancelled_at is None:
            self.cancelled_at = time.time()
            self.process.send_signal(signal.SIGINT)

    def status(self):
        """A JobStatus with every event reported so far."""
        with self._lock:
            self._enforce_cancel()
            exit_code = self.process.poll()  # before reading: no event missed
            if exit_code is not None and self.ended is None:
                self.ended = time.time()
            for event in self._read_new_events():
                _apply_event(self._status, event)
            log_error = self._log_error() if exit_code not in (None, 0) else ""
            return _final_state(self._status, exit_code, self.cancelled_at,
                                log_error)

    def elapsed_seconds(self):
        """Seconds from the start to now, or to the end once it has ended."""
        return (self.ended or time.time()) - self.started

    def pictures(self):
        """(confusion matrix PNG, [(misclassified test digit PNG, "true 7,
        read 2")]) once the evaluation has been reported (see status), else
        (None, []). Drawn once into the job's folder: polling costs no
        drawing."""
        with self._lock:
            ready = (self.folder / MISCLASSIFIED_FILE).is_file()
            if self._pictures is None and self._status.evaluation and ready:
                self._pictures = self._draw_pictures()
            return self._pictures or (None, [])

    def _draw_pictures(self):
        from PIL import Image

        confusion = self.folder / "confusion.png"
        matrix = self._status.evaluation["confusion_matrix"]
        Image.fromarray(draw_confusion_matrix(matrix)).save(confusion)
        gallery = []
        with np.load(self.folder / MISCLASSIFIED_FILE) as saved:
            found = zip(saved["images"], saved["true"], saved["predicted"])
            for index, (digit, true, read) in enumerate(found):
                path = self.folder / f"misclassified-{index:02d}.png"
                scale = MISCLASSIFIED_SCALE
                Image.fromarray(digit.repeat(scale, 0).repeat(scale, 1)).save(path)
                gallery.append((str(path), f"true {true}, read {read}"))
        return str(confusion), gallery

    def remove_files(self):
        shutil.rmtree(self.folder, ignore_errors=True)

    def _enforce_cancel(self):
        waited = time.time() - (self.cancelled_at or time.time())
        if waited > CANCEL_GRACE_SECONDS and self.running():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)  # the trainer and Chromium
            self.process.wait()

    def _read_new_events(self):
        path = self.folder / PROGRESS_FILE
        if not path.is_file():
            return []
        with open(path, "rb") as stream:
            stream.seek(self._offset)
            chunk = stream.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]  # a line still being written waits
        self._offset += len(complete)
        return [json.loads(line) for line in complete.splitlines() if line.strip()]

    def _log_error(self):
        """The CLI's "error: ..." sentence from the trainer's log, if any."""
        path = self.folder / LOG_FILE
        lines = path.read_text(errors="replace").splitlines() if path.is_file() else []
        errors = [line[len("error: "):] for line in lines if line.startswith("error: ")]
        return errors[-1] if errors else ""


def _apply_event(status, event):
    kind = event["event"]
    if kind == "fit":
        status.stage = "training"
        status.epochs, status.steps = event["epochs"], event["steps"]
    elif kind in ("batch", "epoch"):
        status.epoch, status.batch = event["epoch"], event["batch"]
        status.steps = event["steps"]
        status.loss, status.accuracy = event["loss"], event["accuracy"]
        status.train_seconds = event["elapsed"]
        if kind == "batch":  # an epoch's end repeats its last batch
            status.curve.append((status.done_fraction() * status.epochs,
                                 event["loss"], event["accuracy"]))
    elif kind == "stage":
        status.stage = event["stage"]
    elif kind == "evaluated":
        status.evaluation = {key: value for key, value in event.items()
                             if key not in ("event", "time")}
    elif kind == "saved":
        status.stage, status.version = "saved", event["version"]
        status.published = event.get("published", False)
    elif kind == "failed":
        status.message = event["message"]
    elif kind == "cancelled":
        status.state = "cancelled"


def _final_state(status, exit_code, cancelled_at, log_error):
    """The status with its state settled from how the process ended."""
    if exit_code is None:
        status.state = "cancelling" if cancelled_at else "running"
    elif status.version and exit_code == 0:
        status.state = "finished"
    elif cancelled_at or status.state == "cancelled":
        status.state = "cancelled"
    else:
        status.state = "failed"
        status.message = status.message or log_error or (
            f"the training process ended unexpectedly (exit code {exit_code})")
    return status


_jobs_lock = threading.Lock()
_job = None  # this server's latest TrainingJob


def start_training(request, started_by):
    """Start a training run for `request`; AdminError if one is running."""
    global _job
    with _jobs_lock:
        if _job is not None and _job.running():
            status = _job.status()
            began = datetime.datetime.fromtimestamp(_job.started, datetime.UTC)
            raise AdminError(
                f"A training run is already in progress (started by "
                f"{_job.started_by} at {began:%H:%M:%S} UTC, {_job.request.model}, "
                f"epoch {max(status.epoch, 1)}/{status.epochs}); wait for it or "
                "cancel it."
            )
        if _job is not None:
            _job.remove_files()
        _job = TrainingJob.launch(request, started_by)
        return _job


def current_job():
    """This server's latest training job, running or ended, or None."""
    return _job


# versions


def publish(model, version):
    """Serve the kept `version` of `model` (the Draw tab switches to it)."""
    check_model(model)
    if not version:
        raise AdminError("No version is chosen: train one, or pick a kept one "
                         "after Show versions, then publish it.")
    try:
        return store.publish_version(model, version)
    except store.VersionError as error:
        raise AdminError(str(error)) from None


def rollback(model, to=None):
    """Serve an older version of `model`: `to`, else the one published before."""
    check_model(model)
    try:
        return store.rollback(model, to or None)
    except store.VersionError as error:
        raise AdminError(str(error)) from None


# pictures of the evaluation


CELL = 36  # side of one confusion-matrix cell, pixels
MARGIN = 56  # room for the axis titles and digits


def draw_confusion_matrix(matrix):
    """A confusion matrix as an RGB image (uint8): rows the true digit,
    columns the digit read, each cell its count, shaded by its share of the
    row (blue on the diagonal, red off it)."""
    from PIL import Image, ImageDraw, ImageFont

    counts = np.asarray(matrix)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    side = MARGIN + CELL * len(counts) + 8
    image = Image.new("RGB", (side, side), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=12)
    draw.text((MARGIN + CELL * 5, 6), "read as", fill="black", font=font, anchor="mt")
    draw.text((6, MARGIN + CELL * 5), "true", fill="black", font=font, anchor="lm")
    for i, row in enumerate(counts):
        y = MARGIN + i * CELL
        draw.text((MARGIN - 8, y + CELL / 2), str(i), fill="black", font=font,
                  anchor="rm")
        draw.text((MARGIN + i * CELL + CELL / 2, MARGIN - 8), str(i), fill="black",
                  font=font, anchor="mb")
        for j, count in enumerate(row):
            x = MARGIN + j * CELL
            strength = shares[i, j] if i == j else min(1.0, shares[i, j] * 10)
            tint = (40, 90, 200) if i == j else (210, 50, 40)
            colour = tuple(int(255 - (255 - c) * strength) for c in tint)
            draw.rectangle((x, y, x + CELL - 1, y + CELL - 1), fill=colour,
                           outline=(220, 220, 220))
            ink = "white" if strength > 0.6 else "black"
            draw.text((x + CELL / 2, y + CELL / 2), str(count), fill=ink,
                      font=font, anchor="mm")
    return np.asarray(image)
