"""Regenerate the tables in docs/configuration.md and docs/roles.md from the code."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opennrm.settings")

import django  # noqa: E402

django.setup()

from opennrm.core.docgen import configuration_table, replace_block, roles_table  # noqa: E402

for name, table, path in [
    ("configuration", configuration_table(), ROOT / "docs" / "configuration.md"),
    ("roles", roles_table(), ROOT / "docs" / "roles.md"),
]:
    path.write_text(replace_block(path.read_text(encoding="utf-8"), name, table), encoding="utf-8")
    print(f"updated {path.relative_to(ROOT)}")
