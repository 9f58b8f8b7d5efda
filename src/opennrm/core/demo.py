"""Demo data builders. Each app registers its own in AppConfig.ready(); `manage.py load_demo` runs them in order
after the demo agencies and users. Every builder is idempotent and uses generated data only."""

from __future__ import annotations

from collections.abc import Callable

_builders: dict[str, tuple[int, Callable[[], int]]] = {}


def register(name: str, builder: Callable[[], int], *, order: int) -> None:
    _builders[name] = (order, builder)


def builders() -> list[tuple[str, Callable[[], int]]]:
    return [(name, b) for name, (_o, b) in sorted(_builders.items(), key=lambda item: item[1][0])]
