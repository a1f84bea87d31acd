"""A self-contained HTML page from report blocks: inline CSS, PNGs embedded as data URIs."""

from __future__ import annotations

import base64
import html

import polars as pl

CSS = """
body { font-family: system-ui, -apple-system, Segoe UI, sans-serif; margin: 2rem auto; max-width: 1200px;
       color: #222; line-height: 1.45; padding: 0 1rem; }
h1 { border-bottom: 2px solid #444; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.82rem; margin: 0.6rem 0; display: block; overflow-x: auto; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.5rem; text-align: right; white-space: nowrap; }
th { background: #f3f3f3; position: sticky; top: 0; }
td:first-child, th:first-child { text-align: left; }
tr:nth-child(even) td { background: #fafafa; }
figure { margin: 1rem 0; } figcaption { font-size: 0.85rem; color: #555; }
img { max-width: 100%; border: 1px solid #eee; }
"""


def table_html(df: pl.DataFrame) -> str:
    """An HTML table of a display (all-string) frame."""
    if df.is_empty():
        return "<p><em>(none)</em></p>"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in df.iter_rows())
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def to_html(blocks, title: str) -> str:
    """Render report blocks (silo.report.Block) as one self-contained HTML document."""
    from silo.report import display

    parts = []
    for b in blocks:
        if b.kind == "h1":
            parts.append(f"<h1>{html.escape(b.text)}</h1>")
        elif b.kind == "h2":
            parts.append(f"<h2>{html.escape(b.text)}</h2>")
        elif b.kind == "p":
            parts.append(f"<p>{html.escape(b.text)}</p>")
        elif b.kind == "table":
            parts.append(table_html(display(b.table) if len(b.table) else b.table))
        elif b.kind == "img":
            data = base64.b64encode(b.path.read_bytes()).decode()
            parts.append(f'<figure><img alt="{html.escape(b.text)}" src="data:image/png;base64,{data}">'
                         f"<figcaption>{html.escape(b.text)}</figcaption></figure>")
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n")
