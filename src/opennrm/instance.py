"""The embedded instance folder: generated secrets live here, never in git."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def write_secret_file(path: Path, content: str) -> None:
    """Create `path` with owner-only permissions, atomically; never overwrite an existing secret."""
    ensure_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(content)
    try:
        os.link(tmp, path)  # fails if another process won the race: keep theirs
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def secret_key(folder: Path) -> str:
    path = folder / "secret_key"
    if not path.exists():
        write_secret_file(path, secrets.token_urlsafe(64))
    return path.read_text(encoding="utf-8").strip()
