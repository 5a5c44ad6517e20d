"""Sphinx configuration of the documentation site (see docs/README.md).

The guides are the markdown pages of docs/; scripts/build_docs.py copies them, with the
generated pages (models, API, CLI, notebooks), into a temporary source tree. This file only
says how Sphinx renders them.
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

project = "keras_resnet"
author = "keras_resnet contributors"
copyright = "keras_resnet contributors"

extensions = [
    "myst_nb",  # markdown (MyST) pages and the notebooks, with their committed outputs
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",  # the Google-style "Args:" / "Returns:" docstrings
]

# Render the committed outputs; never execute a notebook while building.
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

# In docstrings `x` is code, as in the guides.
default_role = "literal"
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
napoleon_google_docstring = True
napoleon_numpy_docstring = False

# furo: maintained, readable on any width; custom.css lets wide tables wrap inside the article.
html_theme = "furo"
html_title = "keras_resnet"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_favicon = "favicon.svg"  # else browsers ask for /favicon.ico, a 404
html_show_sourcelink = False
exclude_patterns = ["_build"]
suppress_warnings = ["mystnb.unknown_mime_type"]
