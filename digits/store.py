"""Where the served models live on disk, and the model being served.

Each model has a folder `<store>/<name>/` holding `model.keras`, the exports
(`model.tflite`, `tfjs/`), `labels.txt` and `card.json`. The store is the
repository's `exports/` unless DIGITS_STORE names another directory.
This module knows files, not networks: it hands paths to `runtimes`.
"""

import ctypes
import functools
import json
import os
import shutil
import tempfile
from pathlib import Path

STORE_ENV = "DIGITS_STORE"
SHIPPED = Path(__file__).resolve().parent.parent / "exports"

KERAS_FILE = "model.keras"
TFLITE_FILE = "model.tflite"
# The .tflite files the app serves from, best first: float32, else a variant
# that keeps float32 input and output. A model too large to ship in float32
# (ResNet50V2, ~95 MB) ships only its dynamic-range file.
SERVED_TFLITE_FILES = (TFLITE_FILE, "model_float16.tflite", "model_dynamic.tflite")
TFJS_DIR = "tfjs"
LABELS_FILE = "labels.txt"
CARD_FILE = "card.json"


def store_dir():
    """The directory holding one folder per model."""
    return Path(os.environ.get(STORE_ENV) or SHIPPED)


def model_dir(name):
    return store_dir() / name


def available_models():
    """Names of models that have a servable .tflite in the store, sorted."""
    root = store_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if served_tflite(p.name))


def served_tflite(name):
    """The first of SERVED_TFLITE_FILES the model's folder holds, or None."""
    folder = model_dir(name)
    found = (folder / file for file in SERVED_TFLITE_FILES)
    return next((path for path in found if path.is_file()), None)


def read_card(name):
    """The model's card as a dict, or {} when it has none yet."""
    path = model_dir(name) / CARD_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


@functools.lru_cache(maxsize=None)
def _served_runtime(path, stamp):
    from digits import runtimes

    return runtimes.load(path)


def served_runtime(name):
    """A LiteRT runtime for the model's served .tflite (see served_tflite),
    reloaded if it changed."""
    path = served_tflite(name)
    if path is None:
        raise FileNotFoundError(
            f"model {name!r} has no {' or '.join(SERVED_TFLITE_FILES)} "
            f"in {model_dir(name)}"
        )
    return _served_runtime(path, path.stat().st_mtime_ns)


def staging_dir(name):
    """A fresh empty folder inside the store where a new version is assembled."""
    root = store_dir()
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".staging-{name}-", dir=root))


def publish(name, staged):
    """Make the folder `staged` the served `<store>/<name>/` in one step.

    On Linux the two directories are swapped with renameat2(RENAME_EXCHANGE),
    so a reader sees either the whole old version or the whole new one; the
    old one is then deleted. Elsewhere two renames leave a sub-millisecond gap
    in which the model folder is missing (readers retry; see served_runtime).
    """
    target = model_dir(name)
    _make_readable(staged)
    if not target.exists():
        os.replace(staged, target)
        return target
    if not _exchange(staged, target):
        retired = Path(tempfile.mkdtemp(prefix=f".retired-{name}-", dir=target.parent))
        os.replace(target, retired / name)
        os.replace(staged, target)
        staged = retired
    shutil.rmtree(staged, ignore_errors=True)
    return target


def _make_readable(folder):
    """Temp files are private (0600); served files are read by anyone (0644)."""
    os.chmod(folder, 0o755)
    for path in Path(folder).rglob("*"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)


def discard_stale_staging():
    """Remove half-built folders left by a run that was killed mid-way."""
    for leftover in store_dir().glob(".staging-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in store_dir().glob(".retired-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _exchange(a, b):
    """Atomically swap two paths with renameat2; False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return result == 0
