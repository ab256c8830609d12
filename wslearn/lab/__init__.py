"""The course's JupyterLab: ``jupyter lab`` plus the course's styles (``custom.css``).

``python -m wslearn.lab [jupyter options]`` is ``jupyter lab`` with this folder first on
the server's ``static_custom_path`` (JupyterLab serves ``/custom/custom.css`` from there
when ``--LabApp.custom_css=True``): the course's styles without writing into the user's
``~/.jupyter``. ``static_custom_path`` is not a configurable option, so the launcher adds
the folder right after the web application is made, before JupyterLab reads it.
"""

from __future__ import annotations

from pathlib import Path

STYLES = Path(__file__).resolve().parent


def main() -> None:
    from jupyter_server.serverapp import ServerApp

    init_webapp = ServerApp.init_webapp

    def with_course_styles(self: ServerApp) -> None:
        init_webapp(self)
        paths = self.web_app.settings.setdefault("static_custom_path", [])
        paths.insert(0, str(STYLES))

    ServerApp.init_webapp = with_course_styles  # type: ignore[method-assign]
    from jupyterlab.labapp import main as lab_main  # type: ignore[import-untyped]

    lab_main()
