"""Where the models live on disk: the version served, the versions kept, publish.

The store is the repository's `exports/` unless DIGITS_STORE names another
directory (on a Hugging Face Space, persistent storage such as /data/models,
since a Space's own disk is wiped when it restarts). Inside it:

    <name>/                        the version of model <name> being served:
                                   model.keras, the exports (model.tflite,
                                   tfjs/, ...), labels.txt, card.json and
                                   version.json (which version this is)
    .versions/<name>/<version>/    every version kept, whole; <version> is
                                   NNNN-YYYYMMDDTHHMMSSZ, numbered in order
    .versions/<name>/published.jsonl   one line per publish: version, date
    .staging-<name>-<pid>-*/       a version being assembled by process <pid>
    .versions/<name>/.partial-*/   a version being recorded

A model the store has no folder for is served from the shipped
`exports/<name>/`, so an empty store (a new Space) serves the shipped models.

A new version is assembled in a staging folder, then moved into .versions in
one rename (`save_version`): kept, verified, not served yet. `publish_version`
makes a copy of a kept version (hard links: no second copy of the bytes, as
no file in the store is ever rewritten in place) and swaps it with the served
folder in one renameat2(RENAME_EXCHANGE). A reader therefore sees the whole
old version or the whole new one, and a process killed at any moment leaves
the served version whole and only hidden leftovers behind, which
`discard_stale_staging` removes at the next start. The version served before
the first publish (the shipped one) is recorded as a version first, so it can
be rolled back to.

This module knows files, not networks: it hands paths to `runtimes`.
DIGITS_PUBLISH_PAUSE is for tests only: set to "staging" or "swap", a
publishing process stops there for good, so a test can kill it at that point.
"""

import contextlib
import ctypes
import datetime
import fcntl
import functools
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

STORE_ENV = "DIGITS_STORE"
PAUSE_ENV = "DIGITS_PUBLISH_PAUSE"
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
# {"version", "saved" (UTC date), "note"; "fingerprint" of a folder that was
# served before versions were kept, see _keep_unversioned_served}
VERSION_FILE = "version.json"
VERSIONS_DIR = ".versions"
HISTORY_FILE = "published.jsonl"
UNTAGGED_LEFTOVER_SECONDS = 24 * 3600  # see _is_running
VERSION_NAME = re.compile(r"^(\d{4,})-\d{8}T\d{6}Z$")  # 0003-20250101T120000Z


class VersionError(RuntimeError):
    """A version asked for is not kept, or there is none to roll back to."""


@dataclass(frozen=True)
class Version:
    """One kept version of a model."""

    name: str  # the model
    id: str  # NNNN-YYYYMMDDTHHMMSSZ
    folder: Path
    served: bool  # the version the served folder holds now
    published: bool  # served at some time (published.jsonl)

    def card(self):
        path = self.folder / CARD_FILE
        return json.loads(path.read_text()) if path.is_file() else {}

    def info(self):
        """version.json: {"version", "saved", "note"}."""
        return json.loads((self.folder / VERSION_FILE).read_text())


# the served version


def store_dir():
    """The directory holding one folder per model."""
    return Path(os.environ.get(STORE_ENV) or SHIPPED)


def model_dir(name):
    """The folder model `name` is served from: the store's, else the shipped one."""
    own = store_dir() / name
    shipped = SHIPPED / name
    if not own.is_dir() and shipped.is_dir():
        return shipped
    return own


def available_models():
    """Names of models that have a servable .tflite, in the store or shipped."""
    roots = [store_dir(), SHIPPED]
    names = {p.name for root in roots if root.is_dir() for p in root.iterdir()
             if not p.name.startswith(".")}
    return sorted(name for name in names if served_tflite(name))


def served_tflite(name):
    """The first of SERVED_TFLITE_FILES the model's folder holds, or None."""
    folder = model_dir(name)
    found = (folder / file for file in SERVED_TFLITE_FILES)
    return next((path for path in found if path.is_file()), None)


def read_card(name):
    """The model's card as a dict, or {} when it has none yet."""
    path = model_dir(name) / CARD_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def served_version(name):
    """The id of the version being served, or None for a folder not kept as a
    version yet (a shipped model before anything was saved in the store)."""
    folder = model_dir(name)
    path = folder / VERSION_FILE
    if path.is_file():
        return json.loads(path.read_text())["version"]
    recorded = _recorded_version(name, folder) if folder.is_dir() else None
    return recorded.id if recorded else None


@functools.lru_cache(maxsize=None)
def _served_runtime(path, stamp):
    from digits import runtimes

    return runtimes.load(path)


def served_runtime(name):
    """A LiteRT runtime for the model's served .tflite (see served_tflite),
    loaded again whenever a publish replaced the file."""
    path = served_tflite(name)
    if path is None:
        raise FileNotFoundError(
            f"model {name!r} has no {' or '.join(SERVED_TFLITE_FILES)} "
            f"in {model_dir(name)}"
        )
    facts = path.stat()
    return _served_runtime(path, (facts.st_ino, facts.st_mtime_ns))


# versions


def list_versions(name):
    """The kept versions of model `name`, oldest first."""
    root = store_dir() / VERSIONS_DIR / name
    if not root.is_dir():
        return []
    served, published = served_version(name), _published_ids(name)
    ids = sorted((p.name for p in root.iterdir() if _is_version(p)),
                 key=_version_number)
    return [Version(name, id, root / id, id == served, id in published)
            for id in ids]


def find_version(name, version):
    """The kept Version `version` of model `name`; VersionError listing the
    kept ones when there is no such version."""
    kept = list_versions(name)
    for candidate in kept:
        if candidate.id == version:
            return candidate
    choices = ", ".join(v.id for v in kept) or "none yet"
    raise VersionError(
        f"Model {name!r} has no version {version!r}; kept versions: {choices}."
    )


def staging_dir(name):
    """A fresh empty folder inside the store where a new version is assembled."""
    root = store_dir()
    root.mkdir(parents=True, exist_ok=True)
    return _make_owned_dir(root, f".staging-{name}")


def save_version(name, staged, note=""):
    """Keep the complete folder `staged` (from staging_dir) as a new version of
    model `name`, without serving it; return its id. A served folder that is
    not a kept version yet (the shipped one) is kept first, so versions are
    numbered in the order they came."""
    with _locked():
        _keep_unversioned_served(name)
        return _save_version(name, Path(staged), note)


def _save_version(name, staged, note, **facts):
    version = _next_version_id(name)
    info = {"version": version, "saved": _now(), "note": note, **facts}
    (staged / VERSION_FILE).write_text(json.dumps(info, indent=2) + "\n")
    _make_readable(staged)
    _sync_tree(staged)
    os.replace(staged, _versions_root(name) / version)
    _sync_dir(_versions_root(name))
    return version


def publish_version(name, version):
    """Serve the kept `version` of model `name`: the served folder becomes a
    copy of it in one step."""
    with _locked():
        source = find_version(name, version).folder
        _keep_unversioned_served(name)
        staged = staging_dir(name)
        shutil.copytree(source, staged, copy_function=_link_or_copy,
                        dirs_exist_ok=True)
        _sync_dir(staged)
        pause_for_tests("swap")
        publish(name, staged)
        _append_history(name, version)
    return version


def rollback(name, to=None):
    """Serve version `to`, or else the newest published version older than the
    one served now; return the id served."""
    if to:
        return publish_version(name, to)
    served = served_version(name)
    older = [v for v in list_versions(name) if v.published and served
             and _version_number(v.id) < _version_number(served)]
    if not older:
        raise VersionError(
            f"Model {name!r} has no older published version to roll back to "
            f"(serving {served or 'the shipped version'}); kept versions: "
            f"{', '.join(v.id for v in list_versions(name)) or 'none'}."
        )
    return publish_version(name, older[-1].id)


def publish(name, staged):
    """Make the folder `staged` the served `<store>/<name>/` in one step.

    On Linux the two directories are swapped with renameat2(RENAME_EXCHANGE),
    so a reader sees either the whole old version or the whole new one; the
    old one is then deleted. Elsewhere two renames leave a sub-millisecond gap
    in which the model folder is missing (readers retry; see served_runtime).
    """
    target = store_dir() / name
    _make_readable(staged)
    if not target.exists():
        os.replace(staged, target)
        _sync_dir(target.parent)
        return target
    if not _exchange(staged, target):
        retired = _make_owned_dir(target.parent, f".retired-{name}")
        os.replace(target, retired / name)
        os.replace(staged, target)
        staged = retired
    _sync_dir(target.parent)
    shutil.rmtree(staged, ignore_errors=True)
    return target


def discard_stale_staging():
    """Remove half-built folders left by processes that were killed mid-way;
    those of processes still running are theirs and stay."""
    root = store_dir()
    leftovers = [*root.glob(".staging-*"), *root.glob(".retired-*"),
                 *root.glob(f"{VERSIONS_DIR}/*/.partial-*")]
    for leftover in leftovers:
        if not _is_running(leftover):
            shutil.rmtree(leftover, ignore_errors=True)


def pause_for_tests(point):
    """Stop here for good when DIGITS_PUBLISH_PAUSE names `point` (tests kill
    the process while it waits); otherwise return at once."""
    if os.environ.get(PAUSE_ENV) == point:
        print(f"{PAUSE_ENV}: paused at {point}", file=sys.stderr, flush=True)
        while True:
            time.sleep(60)


def _keep_unversioned_served(name):
    """Keep the served folder as a version if it is none: the shipped one, or
    one published before versions were kept. Its files' names, sizes and
    times identify it, so it is kept once."""
    served = model_dir(name)
    if not served.is_dir() or (served / VERSION_FILE).is_file():
        return
    if _recorded_version(name, served):
        return
    partial = _make_owned_dir(_versions_root(name), ".partial")
    inside = served.resolve().is_relative_to(store_dir().resolve())
    copy = _link_or_copy if inside else shutil.copy2  # the shipped folder: untouched
    shutil.copytree(served, partial, copy_function=copy, dirs_exist_ok=True)
    trained = str((read_card(name).get("trained") or {}).get("date") or "")[:10]
    note = "served before versions were kept" + (f", trained {trained}" if trained else "")
    recorded = _save_version(name, partial, note, fingerprint=_fingerprint(served))
    _append_history(name, recorded)


def _recorded_version(name, folder):
    """The kept Version recorded from the unversioned `folder`, or None."""
    root = store_dir() / VERSIONS_DIR / name
    if not root.is_dir():
        return None
    fingerprint = _fingerprint(folder)
    recorded = (p for p in root.iterdir() if _is_version(p)
                and json.loads((p / VERSION_FILE).read_text()).get("fingerprint")
                == fingerprint)
    path = next(recorded, None)
    return Version(name, path.name, path, True, True) if path else None


def _fingerprint(folder):
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file())
    facts = [(str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
             for p in files]
    return hashlib.sha1(repr(facts).encode()).hexdigest()


def _versions_root(name):
    root = store_dir() / VERSIONS_DIR / name
    root.mkdir(parents=True, exist_ok=True)
    return root


def _is_version(path):
    return bool(VERSION_NAME.match(path.name)) and (path / VERSION_FILE).is_file()


def _version_number(version):
    return int(version.split("-", 1)[0])


def _next_version_id(name):
    numbers = [_version_number(p.name) for p in _versions_root(name).iterdir()
               if VERSION_NAME.match(p.name)]
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{max(numbers, default=0) + 1:04d}-{stamp}"


def _published_ids(name):
    path = store_dir() / VERSIONS_DIR / name / HISTORY_FILE
    if not path.is_file():
        return set()
    published = set()
    for line in path.read_text().splitlines():
        with contextlib.suppress(ValueError, KeyError):
            published.add(json.loads(line)["version"])
    return published


def _append_history(name, version):
    line = json.dumps({"version": version, "date": _now()}) + "\n"
    path = _versions_root(name) / HISTORY_FILE
    handle = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(handle, line.encode())  # one write: a whole line or none
        os.fsync(handle)
    finally:
        os.close(handle)


@contextlib.contextmanager
def _locked():
    """One process at a time numbers, records or publishes versions."""
    root = store_dir() / VERSIONS_DIR
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _link_or_copy(source, target):
    try:
        os.link(source, target)
    except OSError:  # another file system, or no hard links there
        shutil.copy2(source, target)


def _make_readable(folder):
    """Temp files are private (0600); served files are read by anyone (0644)."""
    os.chmod(folder, 0o755)
    for path in Path(folder).rglob("*"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)


def _sync_tree(folder):
    """Flush every file and folder under `folder` to disk before it is renamed
    into place, so a machine crash cannot leave a version with empty files."""
    for path in [*Path(folder).rglob("*"), Path(folder)]:
        handle = os.open(path, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


def _sync_dir(folder):
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _make_owned_dir(parent, kind):
    """A fresh hidden folder named after this process: "<kind>-<tag>-<random>"."""
    prefix = f"{kind}-{_process_tag(os.getpid())}-"
    return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))


def _process_tag(pid):
    """"<pid>.<start time>", in the names of the folders a process makes: it
    names the process even once its pid is reused (start time in clock ticks
    since boot, from /proc; the pid alone elsewhere)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return str(pid)
    return f"{pid}.{stat.rsplit(')', 1)[1].split()[19]}"


def _is_running(path):
    """Whether the process named in a leftover's name (".staging-cnn-<tag>-x1y2")
    may still be working on it. A name without a tag (made before tags were
    used) counts as running until it has been left untouched for a day."""
    parts = path.name.rsplit("-", 2)
    tag = parts[1] if len(parts) == 3 else ""
    pid = tag.split(".")[0]
    if not pid.isdigit():
        return time.time() - path.stat().st_mtime < UNTAGGED_LEFTOVER_SECONDS
    return _process_tag(int(pid)) == tag


def _now():
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


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
