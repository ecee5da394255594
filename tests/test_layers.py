"""The package layers of the README's Layout section hold: no import runs back up a layer, and no
import loop but fbank <-> cmvn (a type-only import of cmvn's from fbank's signatures).

Read from the source with ``ast`` (function-local and ``TYPE_CHECKING`` imports included: a loop
hidden in a function is still a loop), so the test imports nothing."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Lowest first; a package may import its own layer and those before it.
LAYERS = (
    (
        "simul",
        "simul._fairseq2",
        "simul.config",
        "simul.registry",
        "simul.io",
        "simul.logs",
        "simul.provenance",
    ),
    ("simul.data", "simul.ops", "simul.eval", "simul.serialize"),
    ("simul.models",),
    ("simul.streaming",),
    ("policies", "simul.families"),
    ("simul.train", "simul.evaluation"),
    ("simul.agents", "simul.sweep", "simul.demo", "simul.analysis"),
    ("simul.cli",),
)
#: The one loop allowed (fbank's signatures name Cmvn; cmvn computes fbank features).
ALLOWED_LOOPS = [{"simul.data.features.cmvn", "simul.data.features.fbank"}]


def _modules() -> dict[str, Path]:
    modules = {}
    for top in ("simul", "policies"):
        for path in (ROOT / top).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    edges: dict[str, set[str]] = defaultdict(set)
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, *([node.module] if node.module else [])])
                names = [f"{base}.{alias.name}" for alias in node.names] + [base]
            for name in names:
                target = resolve(name)
                if target is not None and target != module:
                    edges[module].add(target)
    return edges


def _layer(module: str) -> int:
    best = None
    for index, packages in enumerate(LAYERS):
        for package in packages:
            if module == package or module.startswith(package + "."):
                if best is None or len(package) > best[0]:
                    best = (len(package), index)
    assert best is not None, f"{module} is in no layer of LAYERS"
    return best[1]


def test_no_import_runs_back_up_a_layer() -> None:
    edges = _imports(_modules())
    upward = sorted(
        f"{a} -> {b}" for a, targets in edges.items() for b in targets if _layer(b) > _layer(a)
    )
    assert upward == []


def test_no_import_loop_but_the_type_only_fbank_cmvn_one() -> None:
    edges = _imports(_modules())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    loops: list[set[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                loops.append(component)

    for module in sorted(_modules()):
        if module not in index:
            visit(module)
    assert [loop for loop in loops if loop not in ALLOWED_LOOPS] == []
