"""Self-contained HTML reports: one Jinja2 base template, shared table and figure helpers.

Every report (fairness, batch population, lending loop) is a single HTML file: CSS inline, figures embedded as
base64 SVG (text kept as text), no scripts and no links, so it opens from disk, from an e-mail and in MLflow's
artifact view.
Figures are `matplotlib.figure.Figure` objects (no pyplot state), so nothing is left open.
"""

from thinfile.training.reporting.figures import (
    BAND_COLOURS,
    PALETTE,
    new_figure,
    save_png,
    svg_data_uri,
    text_inches,
)
from thinfile.training.reporting.html import (
    Cell,
    Column,
    Image,
    Table,
    Verdict,
    format_value,
    image,
    render,
    table,
)

__all__ = [
    "BAND_COLOURS",
    "PALETTE",
    "Cell",
    "Column",
    "Image",
    "Table",
    "Verdict",
    "format_value",
    "image",
    "new_figure",
    "render",
    "save_png",
    "svg_data_uri",
    "text_inches",
    "table",
]
