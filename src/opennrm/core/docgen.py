"""Tables in the docs that are generated from the code, so they cannot drift (a test compares them)."""

from __future__ import annotations

from opennrm.accounts.roles import ROLE_DESCRIPTIONS, ROLE_PERMISSIONS, Perm, Role
from opennrm.conf import VARIABLES


def configuration_table() -> str:
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for var in VARIABLES:
        lines.append(f"| `{var.name}` | `{var.default}` | {var.help} |")
    return "\n".join(lines)


def roles_table() -> str:
    roles = list(Role)
    header = "| permission | " + " | ".join(r.value for r in roles) + " |"
    lines = [header, "|---|" + "---|" * len(roles)]
    for perm in Perm:
        marks = ["✓" if perm in ROLE_PERMISSIONS[r] else "" for r in roles]
        lines.append(f"| `{perm.value}` {perm.label} | " + " | ".join(marks) + " |")
    lines.append("")
    for role in roles:
        lines.append(f"- **{role.value}** ({role.label}): {ROLE_DESCRIPTIONS[role]}")
    return "\n".join(lines)


def replace_block(text: str, name: str, body: str) -> str:
    start, end = f"<!-- generated:{name} -->", f"<!-- /generated:{name} -->"
    before, rest = text.split(start, 1)
    _old, after = rest.split(end, 1)
    return f"{before}{start}\n{body}\n{end}{after}"
