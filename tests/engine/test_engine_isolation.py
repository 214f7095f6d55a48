"""The engine must stay pure asyncio: no module under it may import Django or Channels."""
from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

ENGINE_DIR = pathlib.Path(__file__).resolve().parents[2] / "realtime_agents" / "engine"
FORBIDDEN = ("django", "channels", "daphne")


def _imported_roots(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_engine_module_imports_django_or_channels() -> None:
    modules = sorted(ENGINE_DIR.rglob("*.py"))
    assert modules, "the engine package has no modules"
    offenders = {str(p.relative_to(ENGINE_DIR)): sorted(_imported_roots(p) & set(FORBIDDEN)) for p in modules}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_importing_the_engine_loads_no_django() -> None:
    code = (
        "import sys, importlib, pkgutil, realtime_agents.engine as e\n"
        "for m in pkgutil.walk_packages(e.__path__, 'realtime_agents.engine.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in ('django', 'channels', 'daphne'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == ""


def test_no_engine_module_is_too_long() -> None:
    long_modules = {
        str(p.relative_to(ENGINE_DIR)): n
        for p in ENGINE_DIR.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 450
    }
    assert long_modules == {}
