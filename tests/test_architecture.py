"""The package's layers: every import points down a layer (or stays within one), and no
modules import each other in a circle.

The imports are read from the source with ``ast``: module-level ones, those inside
functions, those under ``if TYPE_CHECKING:``, and the modules a package hands to
``bayestune._lazy.lazy_exports``. ``docs/architecture.md`` draws the same layers.
"""

from __future__ import annotations

import ast
import dataclasses
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: From the ground up. An entry places a module and, for a package, everything in it;
#: the root package ``bayestune`` is placed by itself. A new module goes into the lowest
#: layer that holds everything it imports (and into docs/architecture.md).
LAYERS: list[tuple[str, list[str]]] = [
    ("exceptions and types", ["bayestune.exceptions", "bayestune._types", "bayestune._checks",
                              "bayestune._lazy", "bayestune._codec",
                              "bayestune._progress"]),
    ("space", ["bayestune.space"]),
    ("trial", ["bayestune.trial"]),
    ("gp", ["bayestune.gp"]),
    ("samplers and pruners", ["bayestune.samplers", "bayestune.pruners"]),
    ("storage", ["bayestune.storage"]),
    ("study", ["bayestune.study", "bayestune._heartbeat", "bayestune._loop",
               "bayestune._parallel", "bayestune._optimize", "bayestune._study_io"]),
    ("training and lr_finder", ["bayestune.training", "bayestune.lr_finder",
                                "bayestune.presets"]),
    ("diagnostics", ["bayestune.diagnostics"]),
    ("plot", ["bayestune.plot"]),
    ("applications", ["bayestune", "bayestune.report", "bayestune.integrations",
                      "bayestune.sklearn", "bayestune._sklearn_results",
                      "bayestune._sklearn_space", "bayestune.cli",
                      "bayestune.demo", "bayestune.dashboard"]),
]

#: Third-party packages slow or optional enough that a module may import them, or a
#: bayestune module that imports them, inside a function.
HEAVY = {"torch", "gpytorch", "botorch", "linear_operator", "matplotlib", "scipy", "pandas",
         "sklearn", "ray", "lightning", "pytorch_lightning", "transformers", "starlette",
         "uvicorn", "plotly", "tensorboard", "mlflow", "wandb"}


# -- reading the imports -------------------------------------------------------------------------
@dataclass(frozen=True)
class Import:
    """One import of a package module by another.

    Attributes:
        source: The importing module.
        target: The imported module.
        line: Where, in the importing file.
        names: The names it binds (checked for type-only imports).
        attrs: For ``from module import a, b``: ``a`` and ``b``.
        type_only: Under ``if TYPE_CHECKING:``.
        local: Inside a function (or a lazy export).
        optional: Inside ``try: ... except ImportError``.
        lazy_export: Named in a ``lazy_exports`` call rather than imported.
    """

    source: str
    target: str
    line: int
    names: tuple[str, ...] = ()
    attrs: tuple[str, ...] = ()
    type_only: bool = False
    local: bool = False
    optional: bool = False
    lazy_export: bool = False


def find_modules(root: Path, package: str) -> dict[str, Path]:
    """``{module name: file}`` for every ``.py`` file of ``package`` under ``root``."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _catches_import_error(node: ast.Try) -> bool:
    def names(t: ast.expr | None) -> set[str]:
        if t is None:
            return {"BaseException"}
        elts = t.elts if isinstance(t, ast.Tuple) else [t]
        return {e.id if isinstance(e, ast.Name) else getattr(e, "attr", "") for e in elts}

    ok = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}
    return any(names(h.type) & ok for h in node.handlers)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def read_imports(module: str, path: Path, modules: Iterable[str], package: str) -> list[Import]:
    """Every import of a ``package`` module that ``module`` (the file ``path``) makes."""
    known = set(modules)
    is_package = path.name == "__init__.py"
    out: list[Import] = []

    def add(target: str, node: ast.stmt | ast.expr, names: tuple[str, ...],
            attrs: tuple[str, ...] = (), **flags: bool) -> None:
        if target == package or target.startswith(package + "."):
            out.append(Import(module, target, node.lineno, names, attrs, **flags))

    def visit(node: ast.AST, type_only: bool, local: bool, optional: bool) -> None:
        if isinstance(node, ast.Import):
            for a in node.names:
                add(a.name, node, (a.asname or a.name.split(".")[0],), type_only=type_only,
                    local=local, optional=optional)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node)
            for a in node.names:
                sub = f"{base}.{a.name}"  # `from pkg import submodule` imports the submodule
                add(sub if sub in known else base, node, (a.asname or a.name,), (a.name,),
                    type_only=type_only, local=local, optional=optional)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "lazy_exports":
            if len(node.args) > 2 and isinstance(node.args[2], ast.Dict):
                for key, value in zip(node.args[2].keys, node.args[2].values, strict=True):
                    if isinstance(key, ast.Constant) and isinstance(key.value, str):
                        names = tuple(e.value for e in getattr(value, "elts", ())
                                      if isinstance(e, ast.Constant))
                        add(key.value, node, (), names, local=True, lazy_export=True)
            for kw in node.keywords:
                if kw.arg == "submodules" and isinstance(kw.value, (ast.List, ast.Tuple)):
                    for e in kw.value.elts:
                        if isinstance(e, ast.Constant) and isinstance(e.value, str):
                            add(f"{module}.{e.value}", node, (), (e.value,), local=True,
                                lazy_export=True)
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, True, local, optional)
            for child in node.orelse:
                visit(child, type_only, local, optional)
            return
        inner_local = local or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                 ast.Lambda))
        if isinstance(node, ast.Try) and _catches_import_error(node):
            for child in node.body:
                visit(child, type_only, inner_local, True)
            for child in [*node.handlers, *node.orelse, *node.finalbody]:
                visit(child, type_only, inner_local, optional)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, type_only, inner_local, optional)

    visit(ast.parse(path.read_text(encoding="utf-8"), str(path)), False, False, False)
    return out


def lazy_table(imports: Iterable[Import]) -> dict[str, dict[str, str]]:
    """``{package: {name: module}}``: what each package's ``lazy_exports`` serves, read
    from the calls (a submodule serves itself)."""
    out: dict[str, dict[str, str]] = {}
    for i in imports:
        if i.lazy_export:
            for name in i.attrs:
                out.setdefault(i.source, {})[name] = i.target
    return out


def through_lazy_exports(imports: list[Import]) -> list[Import]:
    """``from package import name`` of a lazily exported name imports the module that
    defines it."""
    table = lazy_table(imports)
    out = []
    for i in imports:
        served = table.get(i.target, {})
        targets = sorted({served[a] for a in i.attrs if a in served})
        if not targets or i.lazy_export:
            out.append(i)
            continue
        rest = tuple(a for a in i.attrs if a not in served)
        if rest:
            out.append(dataclasses.replace(i, attrs=rest))
        out += [dataclasses.replace(i, target=t) for t in targets]
    return out


def runtime_uses(path: Path, names: Iterable[str]) -> dict[str, int]:
    """The first line where each of ``names`` is used outside an annotation."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    in_annotation: set[int] = set()
    for node in ast.walk(tree):
        parts: list[ast.expr | None] = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            parts.append(node.returns)
            parts += [a.annotation for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
            parts += [args.vararg.annotation if args.vararg else None,
                      args.kwarg.annotation if args.kwarg else None]
        elif isinstance(node, ast.AnnAssign):
            parts.append(node.annotation)
        for part in parts:
            if part is not None:
                in_annotation.update(id(n) for n in ast.walk(part))
    wanted = set(names)
    found: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in wanted and id(node) not in in_annotation:
            found.setdefault(node.id, node.lineno)
    return found


# -- judging them ---------------------------------------------------------------------------------
def layer_of(module: str, layers: Sequence[tuple[str, Sequence[str]]], package: str
             ) -> int | None:
    """The index of ``module``'s layer (the longest entry that holds it), None if none does."""
    best: tuple[int, int] | None = None
    for i, (_, entries) in enumerate(layers):
        for e in entries:
            holds = module == e or (e != package and module.startswith(e + "."))
            if holds and (best is None or len(e) > best[1]):
                best = (i, len(e))
    return None if best is None else best[0]


def unplaced(modules: Iterable[str], layers: Sequence[tuple[str, Sequence[str]]],
             package: str, paths: dict[str, Path], root: Path) -> list[str]:
    return [f"{paths[m].relative_to(root).as_posix()} "
            f"({m}) is in no layer: add it to LAYERS in tests/test_architecture.py (and to "
            f"docs/architecture.md), in the lowest layer that holds everything it imports"
            for m in modules if layer_of(m, layers, package) is None]


def upward(imports: Iterable[Import], layers: Sequence[tuple[str, Sequence[str]]],
           package: str, paths: dict[str, Path]) -> list[str]:
    """Imports from a lower layer of a higher one; a ``TYPE_CHECKING`` import passes when
    the names it binds are used in annotations only."""
    problems = []
    for imp in imports:
        src, dst = layer_of(imp.source, layers, package), layer_of(imp.target, layers, package)
        if src is None or dst is None or dst <= src:
            continue
        where = f"{imp.source} (line {imp.line}) imports {imp.target}"
        up = f"layer {layers[src][0]!r} reaches up to layer {layers[dst][0]!r}"
        if imp.type_only:
            used = runtime_uses(paths[imp.source], imp.names)
            if not used:
                continue
            problems.append(f"{where} under TYPE_CHECKING but uses {sorted(used)} at run time "
                            f"(line {min(used.values())}): {up}")
            continue
        problems.append(f"{where}: {up}. Move what both need down, pass it in, or, for "
                        f"annotations only, import it under `if TYPE_CHECKING:`")
    return problems


def cycles(imports: Iterable[Import]) -> list[list[str]]:
    """The strongly connected groups of modules (two or more, or one importing itself)
    in the graph of run-time imports (module-level, function-local and lazy)."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        if not imp.type_only and imp.source != imp.target:
            graph.setdefault(imp.source, set()).add(imp.target)
            graph.setdefault(imp.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return groups


def describe_cycle(group: list[str], imports: Iterable[Import]) -> str:
    """One circle through the group, with the line of each import."""
    edges = {}
    for imp in imports:
        if not imp.type_only and imp.source in group and imp.target in group:
            edges.setdefault((imp.source, imp.target), imp.line)
    path = [group[0]]
    while True:  # follow edges until a module repeats
        nxt = sorted(t for (s, t) in edges if s == path[-1])[0]
        if nxt in path:
            path = path[path.index(nxt):] + [nxt]
            break
        path.append(nxt)
    steps = [f"{a} (line {edges[(a, b)]})" for a, b in zip(path, path[1:], strict=False)]
    return f"import cycle among {group}: " + " -> ".join(steps) + f" -> {path[-1]}"


def heavy_modules(imports: Iterable[Import], third_party: dict[str, set[str]]) -> set[str]:
    """Package modules whose import loads a heavy third-party package (directly or through
    their module-level imports of other package modules)."""
    heavy = {m for m, pkgs in third_party.items() if pkgs & HEAVY}
    top = [i for i in imports if not i.local and not i.type_only]
    changed = True
    while changed:
        changed = False
        for i in top:
            if i.target in heavy and i.source not in heavy:
                heavy.add(i.source)
                changed = True
    return heavy


def module_level_third_party(path: Path) -> set[str]:
    """Top-level names of the packages a file imports at module level (not in functions,
    not under TYPE_CHECKING)."""
    out: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                continue
            if isinstance(child, ast.Import):
                out.update(a.name.split(".")[0] for a in child.names)
            elif isinstance(child, ast.ImportFrom) and not child.level and child.module:
                out.add(child.module.split(".")[0])
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return out


def needless_local_imports(imports: Iterable[Import], heavy: set[str]) -> list[str]:
    """Function-local imports of package modules that load nothing heavy or optional: they
    only hide an arrow (or cost nothing to import at the top)."""
    return [f"{i.source} (line {i.line}) imports {i.target} inside a function, but it is "
            f"neither heavy nor optional: import it at the top of the module"
            for i in imports
            if i.local and not i.lazy_export and not i.type_only and not i.optional
            and i.target not in heavy]


def check(root: Path, package: str, layers: Sequence[tuple[str, Sequence[str]]]
          ) -> dict[str, list[str]]:
    """Every problem the layer rules find in ``package`` under ``root``, by kind."""
    paths = find_modules(root, package)
    imports = [i for m, p in paths.items() for i in read_imports(m, p, paths, package)]
    imports = [i for i in through_lazy_exports(imports) if i.target in paths]
    third = {m: module_level_third_party(p) for m, p in paths.items()}
    found = {
        "unplaced": unplaced(paths, layers, package, paths, root),
        "upward": upward(imports, layers, package, paths),
        "cycles": [describe_cycle(g, imports) for g in cycles(imports)],
        "local": needless_local_imports(imports, heavy_modules(imports, third)),
    }
    return {kind: list(dict.fromkeys(msgs)) for kind, msgs in found.items()}


# -- the package ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def problems() -> dict[str, list[str]]:
    return check(ROOT, "bayestune", LAYERS)


def test_every_module_is_placed_in_a_layer(problems):
    assert not problems["unplaced"], "\n".join(problems["unplaced"])


def test_no_import_reaches_up_a_layer(problems):
    assert not problems["upward"], "\n".join(problems["upward"])


def test_no_modules_import_each_other_in_a_circle(problems):
    assert not problems["cycles"], "\n".join(problems["cycles"])


def test_function_local_imports_only_load_heavy_or_optional_modules(problems):
    assert not problems["local"], "\n".join(problems["local"])


def test_importing_the_package_and_its_light_parts_loads_no_torch_or_matplotlib():
    code = ("import sys, bayestune, bayestune.cli, bayestune.diagnostics, bayestune.plot, "
            "bayestune.training, bayestune.storage\n"
            "heavy = sorted({'torch', 'matplotlib', 'gpytorch', 'scipy'} & set(sys.modules))\n"
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.parametrize("name", ["bayestune", "bayestune.training", "bayestune.diagnostics",
                                  "bayestune.plot", "bayestune.samplers", "bayestune.storage"])
def test_packages_show_and_serve_their_public_names(name):
    import importlib

    pkg = importlib.import_module(name)
    assert dir(pkg) == sorted(pkg.__all__)
    for attr in pkg.__all__:
        assert getattr(pkg, attr) is not None
    with pytest.raises(AttributeError, match="no_such_name"):
        pkg.no_such_name  # noqa: B018


# -- the checker itself, on a tiny package ------------------------------------------------------
TINY_LAYERS = [("low", ["tiny.low", "tiny.types"]), ("high", ["tiny.high", "tiny.ring"])]


def _tiny(tmp_path: Path, files: dict[str, str]) -> dict[str, list[str]]:
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    pkg = root / "tiny"
    (pkg / "ring").mkdir(parents=True)
    for name, text in {"__init__.py": "", "ring/__init__.py": "", "types.py": "X = 1\n",
                       "high.py": "import tiny.low\n", **files}.items():
        (pkg / name).write_text(text)
    return check(root, "tiny", [*TINY_LAYERS, ("top", ["tiny"])])


def test_the_checker_passes_a_package_whose_imports_point_down(tmp_path):
    found = _tiny(tmp_path, {"low.py": "from tiny import types\n"})
    assert found == {"unplaced": [], "upward": [], "cycles": [], "local": []}


def test_the_checker_finds_an_upward_import_even_inside_a_function(tmp_path):
    found = _tiny(tmp_path, {"low.py": "def f():\n    from tiny.high import g\n    return g\n"})
    assert len(found["upward"]) == 1 and "tiny.low (line 2) imports tiny.high" in \
        found["upward"][0]
    assert "'low' reaches up to layer 'high'" in found["upward"][0]
    assert found["cycles"]  # high imports low: the hidden arrow closes a circle


def test_the_checker_allows_type_checking_imports_used_in_annotations_only(tmp_path):
    ok = ("from __future__ import annotations\nfrom typing import TYPE_CHECKING\n"
          "if TYPE_CHECKING:\n    from tiny.high import H\n\n"
          "def f(h: H) -> H:\n    x: H = h\n    return x\n")
    assert _tiny(tmp_path, {"low.py": ok})["upward"] == []
    bad = ok.replace("    return x\n", "    return isinstance(x, H)\n")
    found = _tiny(tmp_path, {"low.py": bad})["upward"]
    assert len(found) == 1 and "under TYPE_CHECKING but uses ['H'] at run time" in found[0]


def test_the_checker_finds_a_cycle_within_a_layer(tmp_path):
    found = _tiny(tmp_path, {"low.py": "", "high.py": "import tiny.ring.a\n",
                             "ring/a.py": "from tiny.ring import b\n",
                             "ring/b.py": "import tiny.ring.a\n"})
    assert found["upward"] == []
    assert len(found["cycles"]) == 1
    assert "['tiny.ring.a', 'tiny.ring.b']" in found["cycles"][0]
    assert "tiny.ring.a (line 1) -> tiny.ring.b (line 1) -> tiny.ring.a" in found["cycles"][0]


def test_the_checker_names_a_module_in_no_layer(tmp_path):
    found = _tiny(tmp_path, {"low.py": "", "extra.py": "import tiny.low\n"})
    assert len(found["unplaced"]) == 1
    assert found["unplaced"][0].startswith("tiny/extra.py (tiny.extra) is in no layer: add it to "
                                           "LAYERS in tests/test_architecture.py")


def test_the_checker_refuses_a_needless_function_local_import(tmp_path):
    text = "def f():\n    import tiny.types\n    return tiny.types.X\n"
    found = _tiny(tmp_path, {"low.py": text})
    assert found["upward"] == [] and len(found["local"]) == 1
    assert "tiny.low (line 2) imports tiny.types inside a function" in found["local"][0]
    heavy = "import torch\n"
    assert _tiny(tmp_path, {"low.py": text, "types.py": heavy})["local"] == []
    optional = "def f():\n    try:\n        import tiny.types\n    except ImportError:\n" \
               "        return None\n"
    assert _tiny(tmp_path, {"low.py": optional})["local"] == []


def test_the_checker_reads_lazy_exports_as_imports(tmp_path):
    text = ("from tiny._lazy import lazy_exports\n__all__ = ['g']\n"
            "__getattr__, __dir__ = lazy_exports(__name__, __all__, {'tiny.high': ['g']})\n")
    found = _tiny(tmp_path, {"low.py": text})
    assert len(found["upward"]) == 1 and "tiny.low (line 3) imports tiny.high" in \
        found["upward"][0]
