"""Panels: how an app adds a section to another app's page without the page's app importing it.

`cases` shows the case page; `referrals` (which depends on cases, not the reverse) registers a panel for it in
its AppConfig.ready(). A provider returns None when it has nothing to show this user.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest


@dataclass(frozen=True)
class Panel:
    template: str
    context: dict[str, Any]
    order: int = 100


Provider = Callable[[HttpRequest, Any], Panel | None]
_registry: dict[str, list[Provider]] = {}


def register(slot: str, provider: Provider) -> None:
    providers = _registry.setdefault(slot, [])
    if provider not in providers:
        providers.append(provider)


def panels_for(slot: str, request: HttpRequest, obj: Any) -> list[Panel]:
    found = [p for provider in _registry.get(slot, []) if (p := provider(request, obj)) is not None]
    return sorted(found, key=lambda p: p.order)
