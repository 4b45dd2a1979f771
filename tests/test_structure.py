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


def imports_of(path):
    """Every module an explicit import in ``path`` names (top level and
    inside functions), ``from X import y`` counted as X and X.y."""
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
            found.add(base)
            found.update(f'{base}.{alias.name}' for alias in node.names)
    return found


def package_graph():
    paths = glob.glob(os.path.join(REPO, 'van_mm', '**', '*.py'),
                      recursive=True)
    modules = {module_name(p): p for p in paths}
    return {name: sorted(imports_of(path) & set(modules) - {name})
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


def test_the_key_mapping_imports_no_model():
    graph = package_graph()
    for name in ('van_mm.archs', 'van_mm.checkpoint.layouts',
                 'van_mm.checkpoint.keys', 'van_mm.checkpoint.files'):
        assert not [m for m in graph[name] if m.startswith('van_mm.models')]


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
