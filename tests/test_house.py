"""The shape of the package: three wings, imports that read top-down, no import cycle, small modules.

The import graph is read from the source (module-level and function-level
imports alike: a lazy import is still a dependency), so this needs no import
of pixscale and checks the tree as it is.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pixscale"
MAX_LINES = 600

# Lower layers never import higher ones; a module may import its own layer or below.
# The front door (pixscale/__init__.py) re-exports the image API and, lazily, run_dataset.
LAYERS = {
    "kernels": 0,  # pixscale/kernels/: every Numba line
    "image": 1,  # pixscale/_*.py, reference.py, synth.py: the image API
    "wings": 2,  # pixscale/pipeline/, pixscale/report/: datasets, runs, reports
    "app": 3,  # cli.py, console.py, bench.py, __main__.py: the command line
}
APP = {"pixscale.cli", "pixscale.console", "pixscale.bench", "pixscale.__main__"}
FRONT_DOOR = "pixscale"


def _modules():
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _layer(name):
    if name.startswith("pixscale.kernels"):
        return LAYERS["kernels"]
    if name.startswith(("pixscale.pipeline", "pixscale.report")):
        return LAYERS["wings"]
    if name in APP:
        return LAYERS["app"]
    return LAYERS["image"]


def _imports(name):
    """The pixscale modules that module ``name`` imports, anywhere in its text."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in MODULES}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in MODULES:
                    found.add(sub)
                elif target in MODULES:
                    found.add(target)
    found.discard(name)
    return found


GRAPH = {name: _imports(name) for name in MODULES}


def _cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_three_wings_exist():
    for wing in ("kernels", "pipeline", "report"):
        assert (PACKAGE / wing / "__init__.py").is_file(), wing


# The one pair the issue allows inside the image API: ScaleTransform.apply is a
# convenience for pixscale.warp, which takes a ScaleTransform.
ALLOWED_PAIR = ["pixscale._transform", "pixscale._warp"]


def test_no_import_cycle_but_the_one_pair_in_the_image_api():
    assert _cycles(GRAPH) in ([], [ALLOWED_PAIR])


def test_the_cycle_check_finds_a_planted_cycle():
    planted = {k: set(v) for k, v in GRAPH.items()}
    planted["pixscale.kernels.cache"].add("pixscale._warp")  # _warp reaches the kernels, which now reach back
    assert any({"pixscale.kernels.cache", "pixscale._warp"} <= set(c) for c in _cycles(planted))


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_read_top_down(name):
    if name == FRONT_DOOR:
        return  # the front door re-exports from below and, lazily, run_dataset from the pipeline
    upward = {t for t in GRAPH[name] if t != FRONT_DOOR and _layer(t) > _layer(name)}
    assert not upward, f"{name} (layer {_layer(name)}) imports from a higher layer: {sorted(upward)}"


def test_the_kernels_import_nothing_of_pixscale_outside_their_folder():
    for name in MODULES:
        if name.startswith("pixscale.kernels"):
            outside = {t for t in GRAPH[name] if not t.startswith("pixscale.kernels")}
            assert not outside, (name, outside)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_reads_in_one_sitting(name):
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{MODULES[name].relative_to(PACKAGE.parent)} has {lines} lines (at most {MAX_LINES})"
