"""The apps depend one way (docs/architecture.md, "Layers"): an app imports only apps below it, the apps
of the top layer do not import each other, and nothing in the product imports ``demo``. Read from the
code's own imports (every ``import`` statement, at any depth, so a deferred import inside a function
counts too)."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# From the bottom up; apps on one line share a layer and may not import each other.
LAYERS: list[tuple[str, ...]] = [
    ("cloustral",),
    ("accounts",),
    ("orgs",),
    ("billing",),
    ("connections",),
    ("inventory",),
    ("findings",),
    ("api", "automations", "privacy", "dashboard"),
    ("support",),  # the support console joins every app, the top ones included
]
# Beside the layers: simulated clouds for the local demo. It may use anything; nothing may use it.
ASIDE = ("demo",)
# The composition root: the URLconf names every app's URLs by design.
ROOT_MODULES = {"cloustral/urls.py"}
SKIPPED_DIRS = {"migrations", "tests", "__pycache__"}


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    importer: str
    imported: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.importer} imports {self.imported} ({self.why})"


def _rank(layers: list[tuple[str, ...]]) -> dict[str, int]:
    return {app: level for level, apps in enumerate(layers) for app in apps}


def _imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def layer_violations(
    root: Path,
    layers: list[tuple[str, ...]] = LAYERS,
    aside: tuple[str, ...] = ASIDE,
    root_modules: set[str] = frozenset(ROOT_MODULES),
) -> list[Violation]:
    """Every import in ``root``'s apps that goes up a layer, sideways within the top layers, or into an
    app kept aside."""
    rank = _rank(layers)
    known = set(rank) | set(aside)
    violations = []
    for app in sorted(known):
        for path in sorted((root / app).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            if SKIPPED_DIRS & set(path.relative_to(root).parts) or relative in root_modules:
                continue
            for line, module in _imported_modules(ast.parse(path.read_text(), filename=relative)):
                imported = module.split(".")[0]
                if imported == app or imported not in known or app in aside:
                    continue
                if imported in aside:
                    why = f"{imported} is outside the product"
                elif rank[imported] > rank[app]:
                    why = f"{imported} is in a layer above {app}"
                elif rank[imported] == rank[app]:
                    why = f"{imported} and {app} share a layer"
                else:
                    continue
                violations.append(Violation(relative, line, app, imported, why))
    return violations


def test_every_app_imports_only_the_layers_below_it():
    violations = layer_violations(ROOT)
    assert not violations, "imports against the layering:\n" + "\n".join(map(str, violations))


def test_every_app_has_a_layer():
    """A new app must be placed in LAYERS (and docs/architecture.md) before it can be checked."""
    placed = set(_rank(LAYERS)) | set(ASIDE)
    apps = {p.parent.name for p in ROOT.glob("*/apps.py")}
    assert apps <= placed, f"apps with no layer: {sorted(apps - placed)}"


# --- The checker itself, on a small tree of its own ----------------------------------------------


def _write(root: Path, relative: str, text: str = "") -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def tree(tmp_path):
    """Three layers: base < middle < (top_a, top_b), plus ``sim`` aside; every import here is allowed."""
    _write(tmp_path, "base/models.py", "import json\n")
    _write(tmp_path, "middle/models.py", "from base.models import Thing\nfrom middle import helpers\n")
    _write(tmp_path, "top_a/views.py", "from middle.models import Thing\nimport base\n")
    _write(tmp_path, "top_b/views.py", "from base import models\n")
    _write(tmp_path, "sim/seed.py", "from top_a import views\nfrom base import models\n")
    _write(tmp_path, "middle/migrations/0001_initial.py", "from top_a import views\n")  # migrations are skipped
    return tmp_path


def _check(root: Path) -> list[Violation]:
    return layer_violations(root, [("base",), ("middle",), ("top_a", "top_b")], ("sim",), set())


def test_checker_passes_a_clean_tree(tree):
    assert _check(tree) == []


def test_checker_catches_an_import_from_a_layer_above(tree):
    # Deliberately wrong: a lower app reaching up, inside a function where it is easy to miss.
    _write(tree, "base/views.py", "def page():\n    from middle.models import Thing\n    return Thing\n")
    assert [str(v) for v in _check(tree)] == [
        "base/views.py:2: base imports middle (middle is in a layer above base)"
    ]


def test_checker_catches_top_layer_apps_importing_each_other(tree):
    _write(tree, "top_b/api.py", "import top_a.views\n")
    assert [(v.importer, v.imported) for v in _check(tree)] == [("top_b", "top_a")]


def test_checker_catches_the_product_importing_the_demo(tree):
    _write(tree, "middle/tasks.py", "from sim.seed import seed\n")
    assert [(v.path, v.why) for v in _check(tree)] == [("middle/tasks.py", "sim is outside the product")]
