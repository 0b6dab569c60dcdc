"""The Admin tab: a running `python app.py` with an admin secret and a fresh
store (a copy of the shipped mlp), reached through gradio_client as anyone on
the internet could reach it; and its handlers called directly.

A real training run (the MLP, 20,000 MNIST images, one epoch) goes from the
Admin API to a published version that the Draw endpoint then serves, and back
by rollback. Drawn digits are not rendered here (DIGITS_PENDIGITS is unset for
the app): tests/test_cli.py and digits.evaluation cover them.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

import app
from digits import admin, runtimes, sketch, store, train

REPO = Path(app.__file__).resolve().parent
SECRET = "correct horse battery staple"
RECIPE = ("mlp", 1, 32, 0.001, False, 20_000)  # epochs, batch, rate, augment, images
DRAWINGS = [str(REPO / "examples" / f"{name}.png") for name in ("seven", "three")]
STARTUP_SECONDS = 90  # longest wait for `python app.py` to answer
RUN_SECONDS = 300  # longest wait for a training run to end


# the running app


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(gradio_client.Client, store folder) of `python app.py` serving a copy
    of the shipped mlp, with DIGITS_ADMIN_SECRET set."""
    root = tmp_path_factory.mktemp("store")
    shutil.copytree(store.SHIPPED / "mlp", root / "mlp")
    port = free_port()
    env = {**os.environ, store.STORE_ENV: str(root), admin.SECRET_ENV: SECRET,
           "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_ANALYTICS_ENABLED": "False"}
    env.pop("DIGITS_PENDIGITS", None)
    log = root.parent / "app.log"
    with open(log, "w") as output:
        server = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env,
                                  stdout=output, stderr=output)
    try:
        yield connect(f"http://127.0.0.1:{port}/", server, log), root
    finally:
        server.terminate()
        server.wait(timeout=30)


def connect(url, server, log):
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        if server.poll() is not None:
            pytest.fail(f"app.py exited ({server.returncode}):\n{log.read_text()}")
        try:
            return Client(url, verbose=False)
        except Exception:  # not listening yet
            if time.monotonic() > deadline:
                pytest.fail(f"app.py did not answer at {url}:\n{log.read_text()}")
            time.sleep(0.5)


def classify(client, drawing):
    """{digit: probability} of the top three, as the Draw endpoint answers."""
    label, _, _ = client.predict(handle_file(drawing), "mlp", api_name="/classify")
    return {c["label"]: c["confidence"] for c in label["confidences"]}


def read_locally(tflite, drawing):
    """The same top three, from a .tflite run here on the app's preprocessing."""
    with runtimes.load(tflite) as runtime:
        probabilities = runtime.predict(sketch.to_digit(drawing)[None])[0]
    top = np.argsort(probabilities)[::-1][: app.TOP_CLASSES]
    return {str(d): float(probabilities[d]) for d in top}


def wait_for_run(client, until):
    """Poll /training_status until until(outputs) or the run ends; returns
    every answer seen."""
    seen = []
    deadline = time.monotonic() + RUN_SECONDS
    while time.monotonic() < deadline:
        seen.append(client.predict(SECRET, api_name="/training_status"))
        said = seen[-1][3]
        if until(seen[-1]) or said.startswith(("Kept", "The run stopped", "Cancelled")):
            return seen
        time.sleep(0.5)
    pytest.fail(f"the run did not end within {RUN_SECONDS} s: {seen[-1][3]}")


ADMIN_CALLS = {  # every admin endpoint, with the secret first (export_again: second)
    "/start_training": lambda secret: (secret, *RECIPE),
    "/training_status": lambda secret: (secret,),
    "/cancel_training": lambda secret: (secret,),
    "/publish_version": lambda secret: (secret, "mlp", "0001"),
    "/rollback": lambda secret: (secret, "mlp"),
    "/versions": lambda secret: (secret, "mlp"),
    "/export_again": lambda secret: ("mlp", secret),
}


@pytest.mark.parametrize("endpoint", sorted(ADMIN_CALLS))
@pytest.mark.parametrize("secret, sentence", [
    ("", "Admin actions need the admin secret"),
    ("wrong horse battery staple", "That is not the admin secret"),
])
def test_admin_endpoints_refuse_a_missing_or_wrong_secret(served, endpoint, secret,
                                                          sentence):
    client, root = served
    with pytest.raises(AppError, match=sentence):
        client.predict(*ADMIN_CALLS[endpoint](secret), api_name=endpoint)
    assert not (root / store.VERSIONS_DIR).exists()  # nothing was trained or kept


@pytest.mark.parametrize("epochs, batch, rate, images, sentence", [
    (0, 32, 0.001, 20_000, "Epochs must be a number from 1 to 30, not 0."),
    (1, "abc", 0.001, 20_000, "Batch size must be a number from 16 to 1024, not 'abc'."),
    (1, 32, 5.0, 20_000, "Learning rate must be a number from 1e-05 to 0.1, not 5.0."),
    (1, 32, 0.001, 999, "MNIST training images must be a number from 1000 to 60000"),
])
def test_form_values_sent_through_the_api_get_a_sentence_naming_the_field(
    served, epochs, batch, rate, images, sentence
):
    client, root = served
    log = root.parent / "app.log"
    logged = len(log.read_text())
    with pytest.raises(AppError, match=re.escape(sentence)):
        client.predict(SECRET, "mlp", epochs, batch, rate, False, images,
                       api_name="/start_training")
    assert "Traceback" not in log.read_text()[logged:]
    assert not (root / store.VERSIONS_DIR).exists()  # no run started


def test_with_the_secret_the_versions_are_listed(served):
    client, _ = served
    table, menu = client.predict(SECRET, "mlp", api_name="/versions")
    assert table.startswith("No version of mlp is kept yet")
    assert menu["choices"] == []


def test_a_training_run_is_published_and_then_served_by_the_draw_tab(served):
    client, root = served
    shipped = [classify(client, drawing) for drawing in DRAWINGS]

    said = client.predict(SECRET, *RECIPE, api_name="/start_training")
    with pytest.raises(AppError, match="A training run is already in progress"):
        client.predict(SECRET, *RECIPE, api_name="/start_training")
    answers = wait_for_run(client, lambda answer: False)

    # progress, curves, evaluation
    progress, loss, accuracy, status, evaluation, confusion, gallery, version = (
        answers[-1])
    assert said == "Training mlp on 20,000 MNIST images, 1 epoch."
    assert status.startswith(f"Kept mlp version {version}, not served yet")
    assert "Batch 625 of 625" in progress and "Epoch 1 of 1" in progress
    points = [len(answer[1]["data"]) for answer in answers]
    assert points == sorted(points) and points[-1] >= 2  # the curves grow
    epochs_done = [row[0] for row in loss["data"]]  # per batch, not per epoch
    assert epochs_done[0] < 0.01 and epochs_done[-1] == 1.0
    assert [row[1] for row in loss["data"]][-1] < loss["data"][0][1]
    assert 0.8 < accuracy["data"][-1][1] <= 1
    assert re.search(r"\| MNIST test, 10,000 digits \| 9\d\.\d\d% \| 97\.89% \|",
                     evaluation)
    assert Image.open(confusion).size[0] > 300
    captions = [item["caption"] for item in gallery]
    assert captions and all(re.fullmatch(r"true (\d), read (?!\1)\d", c)
                            for c in captions)

    # kept, not served: the Draw tab reads as before
    table, _ = client.predict(SECRET, "mlp", api_name="/versions")
    assert re.search(rf"\| {version} \|  \|", table)
    assert [classify(client, d) for d in DRAWINGS] == shipped

    # published: the Draw tab reads with the new version
    client.predict(SECRET, "mlp", version, api_name="/publish_version")
    tflite = root / store.VERSIONS_DIR / "mlp" / version / store.TFLITE_FILE
    assert_draw_tab_reads_with(client, tflite)

    # rolled back: exactly as before
    said, table = client.predict(SECRET, "mlp", api_name="/rollback")
    assert said.startswith("Rolled mlp back to version 0001-")
    assert [classify(client, d) for d in DRAWINGS] == shipped

    # chosen on the versions menu, which lists it once shown: served again
    _, menu = client.predict(SECRET, "mlp", api_name="/versions")
    assert version in [value for _, value in menu["choices"]]
    with pytest.raises(AppError, match="'9999' is not on the Version menu; "
                                       f"choose one of: {version}, 0001-"):
        client.predict(SECRET, "mlp", "9999", api_name="/serve_version")
    client.predict(SECRET, "mlp", version, api_name="/serve_version")
    assert_draw_tab_reads_with(client, tflite)
    client.predict(SECRET, "mlp", api_name="/rollback")
    assert [classify(client, d) for d in DRAWINGS] == shipped


def assert_draw_tab_reads_with(client, tflite):
    """The Draw tab's probabilities for DRAWINGS are those of `tflite`."""
    for drawing in DRAWINGS:
        answer, expected = classify(client, drawing), read_locally(tflite, drawing)
        assert answer.keys() == expected.keys()
        assert np.allclose(list(answer.values()), list(expected.values()), atol=1e-6)


def test_cancel_stops_a_run_and_keeps_nothing(served):
    client, root = served
    kept = sorted((root / store.VERSIONS_DIR / "mlp").iterdir())
    client.predict(SECRET, "mlp", 20, 32, 0.001, False, 60_000,
                   api_name="/start_training")
    wait_for_run(client, lambda answer: "Batch" in answer[0])

    said = client.predict(SECRET, api_name="/cancel_training")

    assert said == "Stopping the training run; nothing from it will be kept."
    answers = wait_for_run(client, lambda answer: False)
    assert answers[-1][3] == ("Cancelled: nothing was kept; the served model is "
                              "unchanged.")
    assert "cancelled · " in answers[-1][0]  # the progress line ends too,
    time.sleep(1.1)  # and its clock has stopped
    assert client.predict(SECRET, api_name="/training_status")[0] == answers[-1][0]
    assert sorted((root / store.VERSIONS_DIR / "mlp").iterdir()) == kept
    assert not list(root.glob(".staging-*"))


# the handlers, called directly


def test_without_a_secret_set_admin_is_off_and_says_how_to_turn_it_on(monkeypatch):
    monkeypatch.delenv(admin.SECRET_ENV, raising=False)

    assert "Admin is off" in app.describe_admin_access()
    assert admin.SECRET_ENV in app.describe_admin_access()
    for call in (lambda: app.start_training("anything", *RECIPE),
                 lambda: app.training_status("anything"),
                 lambda: app.cancel_training(""),
                 lambda: app.publish_version("anything", "mlp", "0001"),
                 lambda: app.rollback_version("anything", "mlp"),
                 lambda: app.describe_versions("anything", "mlp"),
                 lambda: app.export_again("mlp", "anything")):
        with pytest.raises(gr.Error, match=f"has not set {admin.SECRET_ENV}"):
            call()


@pytest.mark.parametrize("model, epochs, batch, rate, images, sentence", [
    ("mlp", 0, 32, 0.001, 20_000, "Epochs must be a number from 1 to 30, not 0"),
    ("mlp", 2.5, 32, 0.001, 20_000, "Epochs must be a whole number, not 2.5"),
    ("mlp", 1, 32, "fast", 20_000, "Learning rate must be a number from 1e-05 to 0.1"),
    ("mlp", 1, 4096, 0.001, 20_000, "Batch size must be a number from 16 to 1024"),
    ("mlp", 1, 32, 0.001, 100, "MNIST training images must be a number from 1000"),
    ("resnet50v2", 4, 64, 0.001, 60_000, "may be at most 80,000 here"),
    ("lenet", 1, 32, 0.001, 20_000, "There is no model 'lenet'; choose one of: mlp"),
])
def test_form_values_out_of_bounds_get_a_sentence(monkeypatch, model, epochs, batch,
                                                  rate, images, sentence):
    monkeypatch.setenv(admin.SECRET_ENV, SECRET)
    with pytest.raises(gr.Error, match=re.escape(sentence)):
        app.start_training(SECRET, model, epochs, batch, rate, False, images)


def test_training_form_starts_from_the_recipe_each_model_shipped_with():
    recipe = train.default_config("mlp")
    assert app.training_form_defaults("mlp") == (
        recipe.epochs, recipe.batch_size, recipe.learning_rate, recipe.augment,
        recipe.train_images)
    epochs, _, _, augment, images = app.training_form_defaults("resnet50v2")
    assert epochs * images <= admin.MAX_IMAGE_PASSES["resnet50v2"] and not augment


def test_a_model_name_that_is_no_model_is_refused_before_the_store_is_touched(
    monkeypatch, tmp_path
):
    monkeypatch.setenv(admin.SECRET_ENV, SECRET)
    monkeypatch.setenv(store.STORE_ENV, str(tmp_path))
    for call in (lambda: app.publish_version(SECRET, "../mlp", "0001"),
                 lambda: app.rollback_version(SECRET, "../mlp"),
                 lambda: app.describe_versions(SECRET, "../mlp")):
        with pytest.raises(gr.Error, match=r"There is no model '\.\./mlp'"):
            call()
    assert list(tmp_path.iterdir()) == []


def test_publishing_without_a_chosen_version_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv(admin.SECRET_ENV, SECRET)
    monkeypatch.setenv(store.STORE_ENV, str(tmp_path))
    with pytest.raises(gr.Error, match="No version is chosen: train one, or pick"):
        app.publish_version(SECRET, "mlp", "")
    assert list(tmp_path.iterdir()) == []
