"""Sphinx configuration of pixscale's documentation site.

Build: ``pip install -e ".[docs]"`` then ``sphinx-build -W -b html docs docs/_build/html``.
The figures of the method and getting-started pages are drawn at build time
from pixscale's own synthetic data (``_docfigures.py`` beside this file), never
committed.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import pixscale  # noqa: E402

project = "pixscale"
author = "The pixscale developers"
copyright = "2026, the pixscale developers"  # noqa: A001
release = pixscale.__version__
version = release

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinxarg.ext",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "_generated/*.md"]
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence", "dollarmath"]
suppress_warnings = ["myst.xref_missing"]

autosummary_generate = True
autodoc_typehints = "none"  # numpydoc's Parameters sections say the types
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
numpydoc_validation_checks = set()  # validated by docs/check.py instead, on the public API

# No intersphinx: the build must work offline (CI reaches only the package registries).
html_theme = "pydata_sphinx_theme"
html_title = f"pixscale {release}"
html_theme_options = {"navigation_with_keys": False, "show_prev_next": False}
html_static_path = ["_static"]
html_css_files = ["pixscale.css"]


def _draw_figures(app):
    from _docfigures import draw_all

    draw_all(os.path.join(app.srcdir, "_generated"))


def setup(app):
    app.connect("builder-inited", _draw_figures)
