from pathlib import Path

import pytest

from opennrm.core.docgen import configuration_table, roles_table

DOCS = Path(__file__).resolve().parents[4] / "docs"


@pytest.mark.parametrize(
    ("filename", "table"), [("configuration.md", configuration_table), ("roles.md", roles_table)]
)
def test_generated_tables_match_the_code(filename, table):
    text = (DOCS / filename).read_text(encoding="utf-8")
    assert table() in text, f"docs/{filename} is out of date: run `python scripts/gen_docs.py`"


def test_every_variable_the_code_reads_is_documented():
    import re

    from opennrm.conf import VARIABLES

    declared = {v.name for v in VARIABLES}
    src = Path(__file__).resolve().parents[2]
    used = set()
    for path in src.rglob("*.py"):
        used |= set(
            re.findall(r"env(?:_bool|_int|_list)?\(\s*\"([A-Z_]+)\"", path.read_text(encoding="utf-8"))
        )
    assert used <= declared
