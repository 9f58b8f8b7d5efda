#!/usr/bin/env python3
"""Build `picklists.json` and `htcds_messages.py` from IOM's HTCDS 2.0 field list (CSV).

Run from the repository root with the CSV committed next to this script:

    python src/opennrm/core/reference/htcds/build_picklists.py \\
        src/opennrm/core/reference/htcds/htcds_field_standards_2.0.csv

`--check` writes nothing and exits with status 1 when the committed files differ from what the CSV
gives (for CI). Standard library only, so it runs without the project installed.

What the script does to the CSV (also listed in ATTRIBUTION.md):
- a field's section comes from the section row above it; line breaks in section names become spaces;
- rows without a field name (section headings, the "EXAMPLE QUESTION" rows of the Assessment and
  Planning sections) are not fields;
- value names and labels are split on line breaks and paired in order; surrounding white space,
  including non-breaking spaces, is removed, and empty lines are dropped;
- a "value" that is an instruction to use an ISO code list ("Use ISO 3166 country codes standard", ...)
  is not a value: the field gets `code_list` ("ISO 3166-1" or "ISO 639-2") and keeps the instruction
  text in `code_list_note`;
- everything else, spelling included, is kept as published.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_JSON = HERE / "picklists.json"
DEFAULT_MESSAGES = HERE.parent / "htcds_messages.py"
TRANSLATION_CONTEXT = "HTCDS"

COLUMNS = {
    "section": "Section",
    "status": "Status",
    "core": "Core",
    "prefix": "Field Name Prefix",
    "base_name": "Field Name",
    "label": "Field Label",
    "name": "Field Name including Prefix",
    "type": "Field Type",
    "salesforce": "Salesforce Standard or Custom",
    "value_names": "Value Names (if picklist)",
    "value_labels": "Value Labels (if picklist)",
    "description": "Description",
    "notes": "Notes",
}


class CsvError(ValueError):
    """The CSV does not have the shape this script knows."""


def clean(text: str) -> str:
    """Collapse every run of white space (line breaks and non-breaking spaces included) to one space."""
    return " ".join(text.split())


def code_list(instruction: str) -> str | None:
    """The ISO code list an instruction line points to, or None when the line is a real value."""
    lowered = instruction.lower().lstrip("[")
    if not lowered.startswith("use iso"):
        return None
    if "3166" in lowered:
        return "ISO 3166-1"
    if "639" in lowered:
        return "ISO 639-2"
    raise CsvError(f"Unknown code list instruction: {instruction!r}")


def lines(cell: str) -> list[str]:
    return [clean(line) for line in cell.replace("\r\n", "\n").split("\n")]


def parse(csv_path: Path) -> dict[str, Any]:
    raw = csv_path.read_bytes()
    reader = csv.DictReader(raw.decode("utf-8-sig").splitlines(keepends=True))
    missing = [column for column in COLUMNS.values() if column not in (reader.fieldnames or [])]
    if missing:
        raise CsvError(f"{csv_path}: missing columns {missing}")
    fields: list[dict[str, Any]] = []
    picklists: dict[str, dict[str, Any]] = {}
    section = ""
    for row in reader:
        cell = {key: (row.get(column) or "") for key, column in COLUMNS.items()}
        if clean(cell["section"]):
            section = clean(cell["section"])
        name = clean(cell["name"]) or (
            clean(cell["prefix"]) + clean(cell["base_name"]) if cell["base_name"] else ""
        )
        if not name:
            continue
        field_type = clean(cell["type"])
        names, labels = lines(cell["value_names"]), lines(cell["value_labels"])
        if len(names) != len(labels):
            raise CsvError(f"{name}: {len(names)} value names but {len(labels)} value labels")
        pairs = [(value, label) for value, label in zip(names, labels, strict=True) if value or label]
        instructions = [text for pair in pairs for text in pair if text and code_list(text)]
        field: dict[str, Any] = {
            "name": name,
            "prefix": clean(cell["prefix"]),
            "base_name": clean(cell["base_name"]),
            "label": clean(cell["label"]) or None,
            "section": section,
            "type": field_type or None,
            "status": clean(cell["status"]) or None,
            "core": clean(cell["core"]).lower() == "core",
            "salesforce": clean(cell["salesforce"]) or None,
            "description": cell["description"].strip() or None,
            "notes": cell["notes"].strip() or None,
            "multiple": field_type.lower().startswith("multiselect"),
            "picklist": False,
            "code_list": code_list(instructions[0]) if instructions else None,
            "code_list_note": instructions[0] if instructions else None,
        }
        if instructions:
            if len(pairs) != 1:
                raise CsvError(f"{name}: a code list instruction mixed with values")
        elif pairs:
            if "picklist" not in field_type.lower():
                raise CsvError(f"{name}: values listed for a field of type {field_type!r}")
            empty = [pair for pair in pairs if not pair[0] or not pair[1]]
            if empty:
                raise CsvError(f"{name}: value without a name or a label: {empty}")
            values = [value for value, _ in pairs]
            if len(set(values)) != len(values):
                raise CsvError(f"{name}: duplicate value names")
            field["picklist"] = True
            picklists[name] = {
                "field": name,
                "multiple": field["multiple"],
                "values": [{"value": value, "label": label} for value, label in pairs],
            }
        fields.append(field)
    return {
        "standard": "Human Trafficking Case Data Standard (HTCDS)",
        "version": "2.0",
        "publisher": "International Organization for Migration (IOM)",
        "licence": "CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)",
        "source_file": csv_path.name,
        "source_sha256": hashlib.sha256(raw).hexdigest(),
        "generated_by": "src/opennrm/core/reference/htcds/build_picklists.py",
        "fields": fields,
        "picklists": picklists,
    }


def render_json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def render_messages(data: dict[str, Any]) -> str:
    labels = {field["label"] for field in data["fields"] if field["label"]}
    labels |= {value["label"] for picklist in data["picklists"].values() for value in picklist["values"]}
    body = "".join(
        f"    pgettext_lazy({json.dumps(TRANSLATION_CONTEXT)}, {json.dumps(label, ensure_ascii=False)}),\n"
        for label in sorted(labels)
    )
    return (
        '"""HTCDS 2.0 labels marked for translation, so that `makemessages` finds them.\n'
        "\n"
        "Generated by core/reference/htcds/build_picklists.py from the HTCDS CSV: do not edit, regenerate.\n"
        '"""\n'
        "\n"
        "from django.utils.translation import pgettext_lazy\n"
        "\n"
        f"CONTEXT = {json.dumps(TRANSLATION_CONTEXT)}\n"
        "\n"
        "# fmt: off\n"
        "MESSAGES = (\n"
        f"{body}"
        ")\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("csv", type=Path, help="path of htcds_field_standards_2.0.csv")
    parser.add_argument("--output", type=Path, default=DEFAULT_JSON, help="picklists JSON to write")
    parser.add_argument("--messages", type=Path, default=DEFAULT_MESSAGES, help="Python module to write")
    parser.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 if stale")
    args = parser.parse_args(argv)
    data = parse(args.csv)
    outputs = {args.output: render_json(data), args.messages: render_messages(data)}
    if args.check:
        stale = [
            str(path)
            for path, text in outputs.items()
            if not path.exists() or path.read_text("utf-8") != text
        ]
        for path in stale:
            print(f"stale: {path} (regenerate with build_picklists.py)", file=sys.stderr)
        return 1 if stale else 0
    for path, text in outputs.items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    print(f"{len(data['fields'])} fields, {len(data['picklists'])} picklists")
    return 0


if __name__ == "__main__":
    sys.exit(main())
