"""The check every journey makes on a phone-sized screen: nothing spills sideways."""

from __future__ import annotations

from typing import Any


def fits_the_phone(page: Any) -> None:
    """On a mobile device Chromium widens the layout viewport (and `innerWidth`) to the content, so the page's
    width is compared with the screen's (`clientWidth`) as well as with `innerWidth`."""
    scroll, inner, screen = page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth, document.documentElement.clientWidth]"
    )
    assert scroll <= inner and scroll <= screen, (
        f"sideways scrolling on a phone at {page.url}: {scroll} > {screen}"
    )
