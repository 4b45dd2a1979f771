"""How the code is arranged: no import cycles in the package, no script
importing another script, nothing pointing outside the repository, and the
style the code follows."""
import ast
import glob
import os
import shutil
import subprocess
import sys

import pytest

from helpers import REPO


def module_name(path):
    rel = os.path.relpath(path, REPO)[:-len('.py')].replace(os.sep, '.')
    return rel[:-len('.__init__')] if rel.endswith('.__init__') else rel


def imports_of(path, modules=()):
    """Every module an explicit import in ``path`` names (top level and
    inside functions); ``from X import y`` counts as X.y where that is one
    of ``modules``, else as X (and X.y)."""
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), path)
    package = module_name(path)
    if not path.endswith('__init__.py'):
        package = package.rpartition('.')[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parts = package.split('.')
                parts = parts[:len(parts) - node.level + 1]
                base = '.'.join(parts + ([base] if base else []))
            named = {f'{base}.{alias.name}' for alias in node.names}
            found.update(named)
            if not named <= set(modules):
                found.add(base)
    return found


def package_graph():
    paths = glob.glob(os.path.join(REPO, 'van_mm', '**', '*.py'),
                      recursive=True)
    modules = {module_name(p): p for p in paths}
    return {name: sorted(imports_of(path, modules) & set(modules) - {name})
            for name, path in modules.items()}


def test_no_module_imports_one_that_imports_it_back():
    graph = package_graph()
    assert len(graph) > 10
    cycles = []

    def visit(node, stack):
        if node in stack:
            cycles.append(stack[stack.index(node):] + [node])
            return
        for nxt in graph[node]:
            if nxt not in done:
                visit(nxt, stack + [node])
        done.add(node)

    done = set()
    for node in graph:
        visit(node, [])
    assert not cycles, 'import cycles: ' + '; '.join(
        ' -> '.join(c) for c in cycles)


# van_mm's layers, lowest first: a module imports modules of its own
# package (the first two parts of its name) or of lower layers, never of a
# higher one or of another package in its layer. van_mm/__init__.py, what
# ``custom_imports`` runs, is above them all.
LAYERS = [
    # foundations: no van_mm import but the registry
    ['van_mm.version', 'van_mm.registry', 'van_mm.compat', 'van_mm.fileio',
     'van_mm.images', 'van_mm.synthetic', 'van_mm.testing'],
    ['van_mm.checkpoint'],  # layouts, files, published weights: no model
    ['van_mm.models'],  # the backbone, its arch table, its deploy layers
    ['van_mm.engine', 'van_mm.checks', 'van_mm.visualization'],  # runs
    ['van_mm.apis'],  # configs to models, for the tools
    ['van_mm.export', 'van_mm.analysis'],  # deployment, looking at models
    ['van_mm.webdemo'],  # the demo page: ONNX models and attention maps
    ['van_mm.cli'],  # the tools' command lines
]


def layer_of(module):
    unit = '.'.join(module.split('.')[:2])
    return unit, next(i for i, layer in enumerate(LAYERS) if unit in layer)


def test_no_layer_imports_a_higher_one():
    graph = package_graph()
    placed = {m for m in graph if m != 'van_mm'}
    assert {'.'.join(m.split('.')[:2]) for m in placed} == {
        u for layer in LAYERS for u in layer}, 'a package outside LAYERS'
    wrong = []
    for module in sorted(placed):
        unit, level = layer_of(module)
        for imported in graph[module]:
            if imported == 'van_mm':
                wrong.append(f'{module} imports van_mm itself')
                continue
            other, other_level = layer_of(imported)
            if other != unit and other_level >= level:
                wrong.append(f'{module} (layer {level}) imports {imported} '
                             f'(layer {other_level})')
    assert not wrong, '\n'.join(wrong)


def test_the_package_top_level_is_small():
    """At most 10 modules beside the subpackages, each a layer's
    foundation or its own concern."""
    top = [p for p in os.listdir(os.path.join(REPO, 'van_mm'))
           if p.endswith('.py')]
    assert len(top) <= 10, sorted(top)


SCRIPTS = sorted(p for p in glob.glob(os.path.join(REPO, 'tools', '*.py')) +
                 glob.glob(os.path.join(REPO, 'benchmarks', '*.py')) +
                 glob.glob(os.path.join(REPO, 'tests', '*.py'))
                 if not p.endswith('test_structure.py'))  # names the needles


@pytest.mark.parametrize('path', SCRIPTS,
                         ids=lambda p: os.path.relpath(p, REPO))
def test_no_script_imports_another_script(path):
    """Scripts share code through van_mm, not by importing each other
    (no sys.path edits, no loading files of tools/ as modules)."""
    tools = {os.path.splitext(os.path.basename(p))[0]
             for p in glob.glob(os.path.join(REPO, 'tools', '*.py'))}
    with open(path, encoding='utf-8') as f:
        text = f.read()
    named = {m.split('.')[0] for m in imports_of(path)}
    assert not named & (tools | {'tools'}), named & tools
    assert 'spec_from_file_location' not in text
    if not path.endswith(os.path.join('tests', 'conftest.py')):
        assert 'sys.path.insert' not in text and 'sys.path.append' not in text


def tracked_files():
    out = subprocess.run(['git', 'ls-files'], cwd=REPO, capture_output=True,
                         text=True)
    if out.returncode != 0:
        pytest.skip('not a git checkout')
    return [f for f in out.stdout.splitlines()
            if f.endswith(('.py', '.md', '.sh', '.yml', '.toml', '.txt'))]


def test_nothing_points_outside_the_repository():
    """Users get the repository only: no references to the project's
    private notes."""
    bad = []
    for name in tracked_files():
        if name == 'tests/test_structure.py':  # the needles below
            continue
        with open(os.path.join(REPO, name), encoding='utf-8') as f:
            text = f.read()
        for needle in ('SPEC.md', 'SPEC §', 'SPEC section', 'shared/seeds',
                       '../shared', 'seed document'):
            if needle in text:
                bad.append(f'{name}: {needle}')
    assert not bad


def test_style():
    """ruff (pycodestyle, pyflakes, import order; pyproject.toml)."""
    ruff = shutil.which('ruff') or os.path.join(
        os.path.dirname(sys.executable), 'ruff')
    if not os.path.exists(ruff):
        pytest.skip('ruff is not installed (test extra)')
    out = subprocess.run([ruff, 'check', '--no-cache', '.'], cwd=REPO,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-1000:]
