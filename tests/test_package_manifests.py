"""Every package's package.xml declares the workspace packages its code imports."""

from __future__ import annotations

import ast
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
MANIFESTS = {p.parent.name: p for p in SRC.glob("*/package.xml")}


def _imported(package_dir: Path) -> set[str]:
    """Return the top-level modules the package's code imports."""
    found: set[str] = set()
    for path in package_dir.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


def _declared(manifest: Path) -> set[str]:
    return {str(e.text) for e in ET.parse(manifest).getroot() if e.tag.endswith("depend")}


@pytest.mark.parametrize("name", sorted(MANIFESTS))
def test_the_manifest_declares_every_workspace_package_the_code_imports(name: str) -> None:
    code = MANIFESTS[name].parent / name
    missing = (_imported(code) & set(MANIFESTS)) - _declared(MANIFESTS[name]) - {name}
    assert not missing, f"{name}/package.xml does not declare {sorted(missing)}"
