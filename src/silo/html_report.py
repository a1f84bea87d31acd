"""Self-contained HTML pages from Jinja2 templates (src/silo/templates/): inline CSS, PNGs as data URIs.

Autoescaping is on, so no run content can become markup.
"""

from __future__ import annotations

import base64
import re
from functools import cache

import polars as pl
from jinja2 import Environment, PackageLoader, select_autoescape

TEXT_COLUMNS = {"example", "why", "value", "grid", "task_versions", "settings", "name", "team", "models", "config"}
_CI = re.compile(r"^(-?[\d.]+) (\[-?[\d.]+, -?[\d.]+\](?: n=\d+)?)$")


@cache
def env() -> Environment:
    """The template environment (package data under silo/templates)."""
    return Environment(loader=PackageLoader("silo", "templates"), autoescape=select_autoescape(default=True),
                       trim_blocks=True, lstrip_blocks=True)


def css() -> str:
    """The shared stylesheet of silo's pages."""
    return env().loader.get_source(env(), "base.css")[0]


CSS = css()


def cells(df: pl.DataFrame) -> list[list[dict]]:
    """Rows of a display (all-string) frame as cells: value, interval (shown on its own line) and text flag."""
    out = []
    for row in df.iter_rows():
        line = []
        for col, v in zip(df.columns, row, strict=True):
            v = "" if v is None else str(v)
            m = _CI.match(v)
            line.append({"value": m.group(1) if m else v, "ci": m.group(2) if m else "",
                         "text": col in TEXT_COLUMNS or len(v) > 60})
        out.append(line)
    return out


def table_html(df: pl.DataFrame) -> str:
    """An HTML table of a display (all-string) frame, in a wrapper that scrolls visibly when too wide."""
    return env().from_string(
        "{% import 'macros.j2' as m %}{{ m.table(columns, rows) }}").render(columns=df.columns, rows=cells(df))


def to_html(blocks, title: str) -> str:
    """Render report blocks (silo.report.Block) as one self-contained HTML document."""
    from silo.report import display

    ctx = []
    for b in blocks:
        d = {"kind": b.kind, "text": b.text}
        if b.kind == "table":
            t = display(b.table) if len(b.table) else b.table
            d |= {"columns": t.columns, "rows": cells(t)}
        elif b.kind == "img":
            d["data"] = base64.b64encode(b.path.read_bytes()).decode()
        ctx.append(d)
    return env().get_template("report.html.j2").render(title=title, css=CSS, blocks=ctx)
