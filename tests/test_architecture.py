"""The layers import one way (README "Layout"): every ``dyncontract`` import of every module
(top level and inside functions) is checked against the allowed dependencies."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "dyncontract"

#: layer -> the dyncontract layers it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "_io": set(),
    "_arrays": set(),
    "model": {"_io", "_arrays"},
    "solvers": {"_io", "_arrays", "model"},
    "env": {"_io", "_arrays", "model", "solvers", "__init__"},
    "framework": {"_io", "_arrays", "model", "solvers"},
    "rl": {"_io"},
    "config": {"model", "env", "framework", "rl"},
    "experiments": {"_io", "_arrays", "model", "solvers", "env", "framework", "rl", "config"}
    | {"__init__"},
    "cli": {
        "_io",
        "_arrays",
        "model",
        "solvers",
        "env",
        "framework",
        "rl",
        "config",
        "experiments",
    },
    "__init__": set(),
}


def _layer(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 else rel.stem


def _imported_layers(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "dyncontract":  # a submodule, or a name of the package itself
                names = [
                    f"dyncontract.{a.name}"
                    if (SRC / a.name).is_dir() or (SRC / f"{a.name}.py").exists()
                    else "dyncontract"
                    for a in node.names
                ]
        for name in names:
            parts = name.split(".")
            if parts[0] == "dyncontract":
                out.add(parts[1] if len(parts) > 1 else "__init__")
    return out


def test_every_module_imports_only_lower_layers() -> None:
    bad = []
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 40  # the walk found the package
    for path in files:
        layer = _layer(path)
        for dep in _imported_layers(path) - {layer}:
            if dep not in ALLOWED[layer]:
                bad.append(f"{path.relative_to(SRC)} ({layer}) imports {dep}")
    assert not bad, "\n".join(bad)


def test_rl_is_domain_free() -> None:
    """rl/ imports nothing of dyncontract but its own modules and the stdlib-only _io."""
    for path in (SRC / "rl").rglob("*.py"):
        assert _imported_layers(path) <= {"rl", "_io"}, path


def test_the_check_can_fail(tmp_path: Path) -> None:
    p = tmp_path / "m.py"
    p.write_text("def f():\n    from dyncontract.experiments import runner\n")
    assert _imported_layers(p) == {"experiments"}
