"""``python -m wslearn.lab``: JupyterLab with the course's styles (see the package)."""

from . import main

main()
