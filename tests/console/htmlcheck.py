"""Reading rendered pages the way a browser would: attributes and text, after unescaping."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from .hostile_app import IMG, SCRIPT


class Page(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def values(self, attr: str) -> list[str]:
        return [a[attr] or "" for _, a in self.tags if attr in a]

    @property
    def all_text(self) -> str:
        return "".join(self.text)


def assert_safe(html: str) -> Page:
    """No markup from user data: no injected element, no event handler, no inline script."""
    page = Page(html)
    assert SCRIPT not in html and "<img" not in html, "hostile markup reached the page"
    for tag, attrs in page.tags:
        assert tag != "img", attrs
        handlers = [name for name in attrs if name.startswith("on")]
        assert not handlers, (tag, attrs)
        if tag == "script":
            assert attrs.get("src") == "/static/console.js", attrs
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"
    assert "javascript:" not in html.lower()
    return page


__all__ = ["IMG", "SCRIPT", "Page", "assert_safe"]
