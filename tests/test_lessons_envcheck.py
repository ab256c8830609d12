"""The environment check of chapter 00: ✓ rows say "ok" (stable output), ✗ rows say how to fix."""

from __future__ import annotations

from tests.support import arun
from wslearn.lessons.envcheck import check_environment, version_at_least


def test_version_compare() -> None:
    assert version_at_least("17.4", "17")
    assert version_at_least("8.1.9", "8")
    assert version_at_least("7.1.0", "7.1")
    assert not version_at_least("7.0.9", "7.1")
    assert not version_at_least("16.0", "17")
    assert version_at_least("17.0rc1", "17")
    assert not version_at_least(None, "1")


def test_this_environment_passes_with_live_socket_checks() -> None:
    report = arun(check_environment())
    text = repr(report)
    assert report.ok, text
    assert "a client connects and gets welcome" in text
    assert text.endswith("all good: the course will run here")
    assert "17." not in text  # versions are not printed on ✓ rows: stored output is stable


def test_missing_and_old_packages_are_named_with_a_fix() -> None:
    fake = {"websockets": "12.0", "ipywidgets": None, "jupyterlab_widgets": "3.0.17",
            "ipykernel": "6.29.5"}
    report = arun(check_environment(versions=fake.get, python=(3, 10, 4), live=False))
    text = repr(report)
    assert not report.ok
    assert "✗ Python >= 3.11" in text and "found Python 3.10.4" in text
    assert "found websockets 12.0" in text
    assert "ipywidgets is not installed" in text
    assert "found ipykernel 6.29.5" in text
    assert "✓ JupyterLab widget manager (jupyterlab_widgets)  ok" in text
    assert "5 problems" in text
    assert "<table>" in report._repr_html_()
