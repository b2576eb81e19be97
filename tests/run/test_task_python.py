"""flyte_ls.run.task_python: which Python a notebook's tasks will run on (the value sent to the worker as
``pythonVersionCheck``), every branch, and the message of a mismatch."""

from __future__ import annotations

import pytest

from flyte_ls.run.task_python import (
    IMAGE,
    LOCAL,
    TaskPython,
    image_python,
    major_minor,
    mismatch_message,
    task_python,
)

pytestmark = pytest.mark.timeout(10)

PY310_IMAGE = "cr.flyte.org/flyteorg/flytekit:py3.10-1.16.0"
LOCAL_STATUS = {"running": True, "python": "/venv/bin/python", "python_version": "3.11.7"}


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (PY310_IMAGE, "3.10"),
        ("cr.flyte.org/flyteorg/flytekit:py3.12-latest", "3.12"),
        ("ghcr.io/me/img:v2-py3.11", "3.11"),
        ("ghcr.io/me/img:build_py3.9_cuda", "3.9"),
        ("default=cr.flyte.org/flyteorg/flytekit:py3.10-1.16.0", "3.10"),  # pyflyte's name=image form
        ("localhost:5000/flytekit:py3.11-1.16.0", "3.11"),  # a registry's port is not the tag
        (" cr.flyte.org/flyteorg/flytekit:py3.10 ", "3.10"),
        # no clear py<major>.<minor> token: unknown
        ("localhost:5000/py3.10/flytekit", None),  # in the name, not the tag
        ("cr.flyte.org/flyteorg/flytekit:python3.10-1.16.0", None),
        ("cr.flyte.org/flyteorg/flytekit:py310-1.16.0", None),
        ("cr.flyte.org/flyteorg/flytekit:py3-1.16.0", None),
        ("cr.flyte.org/flyteorg/flytekit:cpy3.10", None),
        ("me/img:py3.10-py3.11", None),  # two different versions
        ("me/img:latest", None),
        ("me/img", None),
        ("", None),
        (None, None),
    ],
)
def test_image_python(image: str | None, expected: str | None) -> None:
    assert image_python(image) == expected


def test_the_same_token_twice_is_clear() -> None:
    assert image_python("me/img:py3.10-base-py3.10") == "3.10"


def test_the_local_backend_in_use_wins_over_the_image() -> None:
    """The local backend runs tasks in its interpreter whatever the image says."""
    chosen = task_python(LOCAL_STATUS, PY310_IMAGE)
    assert chosen == TaskPython("3.11.7", LOCAL, "/venv/bin/python")


def test_a_local_backend_that_did_not_record_its_python_is_unknown() -> None:
    """Started before ``python_version`` was recorded: unknown — not the image's, which it ignores."""
    assert task_python({"running": True, "python": "/venv/bin/python"}, PY310_IMAGE) is None
    assert task_python({"running": True, "python_version": ""}, PY310_IMAGE) is None


def test_otherwise_the_image_names_it() -> None:
    assert task_python(None, PY310_IMAGE) == TaskPython("3.10", IMAGE, PY310_IMAGE)


def test_otherwise_unknown() -> None:
    """No image (flytekit's default image matches the notebook's Python) or a tag that says nothing."""
    assert task_python(None, None) is None
    assert task_python(None, "") is None
    assert task_python(None, "me/img:latest") is None


def test_major_minor() -> None:
    assert major_minor("3.11.7") == "3.11" and major_minor("3.10") == "3.10"


def test_mismatch_with_the_image_says_what_to_change() -> None:
    text = mismatch_message("/nb/bin/python", "3.11.7", TaskPython("3.10", IMAGE, PY310_IMAGE))
    assert text.startswith(
        "the notebook's interpreter /nb/bin/python (flyte.pythonPath: select the kernel's interpreter) is "
        "Python 3.11.7, but its tasks would run on Python 3.10, the image's: flyte.image is "
        f"{PY310_IMAGE}."
    ), text
    assert "set flyte.image to an image with Python 3.11" in text
    assert "cr.flyte.org/flyteorg/flytekit:py3.11-<flytekit version>" in text
    assert "clear flyte.image" in text and "select a Python 3.10 interpreter for the notebook" in text
    assert "flyte-ls local" not in text


def test_mismatch_with_the_local_backend_says_what_to_change() -> None:
    text = mismatch_message("/nb/bin/python", "3.12.1", TaskPython("3.11.7", LOCAL, "/venv/bin/python"))
    assert (
        "is Python 3.12.1, but its tasks would run on Python 3.11.7, the local backend's interpreter " in text
    )
    assert "/venv/bin/python (`flyte-ls local start --python`)" in text
    assert "stop the local backend (Flyte: Stop Local Backend, command flyte.stopLocalBackend;" in text
    assert "`flyte-ls local start --python /path/to/python3.12`" in text
    assert "select a Python 3.11 interpreter for the notebook" in text
    assert "flyte.image" not in text


def test_mismatch_without_the_interpreter_path() -> None:
    text = mismatch_message(None, "3.11.7", TaskPython("3.10", IMAGE, PY310_IMAGE))
    assert text.startswith("the notebook's interpreter (flyte.pythonPath"), text
