"""The desk console: one offline page (plain HTML, CSS and JavaScript, no build step).

The three files are kept apart for editing and inlined into one document when served, so
the page needs no other route and no network beyond the API it talks to.
"""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def page() -> str:
    """index.html with style.css and app.js inlined."""
    here = resources.files(__package__)
    html = (here / "index.html").read_text(encoding="utf-8")
    css = (here / "style.css").read_text(encoding="utf-8")
    js = (here / "app.js").read_text(encoding="utf-8")
    return html.replace("/*STYLE*/", css).replace("/*SCRIPT*/", js)


__all__ = ["page"]
