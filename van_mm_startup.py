# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""mmengine's package lookup without ``pkg_resources``, from interpreter
start-up on.

mmengine 0.10.7 resolves the ``mmdet::``/``mmseg::`` prefixes of a
config's ``_base_`` through ``pkg_resources`` (``is_installed``,
``get_installed_path``, ``package2module`` in
``mmengine/utils/package_utils.py``), which setuptools >= 81 no longer ships
(``No module named 'pkg_resources'``) and older setuptools deprecate with a
warning on every import. The three functions below are their
``importlib.metadata`` equivalents, with the same results.

A config is often parsed before ``van_mm`` is imported (mmdet's and mmseg's
own ``tools/train.py`` read the config first and process its
``custom_imports`` after), so the replacement cannot wait for
``import van_mm``: ``van_mm_startup.pth``, installed next to this module in
site-packages, runs :func:`install` when the interpreter starts. That only
adds an import hook (standard library, no import of mmengine): when
``mmengine.utils.package_utils`` is first imported, its three functions are
replaced right after it runs, so every module that imports them by name
gets these. :mod:`van_mm.compat` installs the same hook for interpreters
without the ``.pth`` file (a source checkout on ``PYTHONPATH``).
"""
import os.path as osp
import sys

TARGET = 'mmengine.utils.package_utils'


def _distribution(package: str):
    """The installed distribution called ``package``, or None."""
    import importlib.metadata  # here: start-up imports only what it needs
    try:
        return importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def package2module(package: str) -> str:
    """mmengine's ``package2module``: the first top-level module of a
    distribution (``mmsegmentation`` -> ``mmseg``)."""
    dist = _distribution(package)
    top_level = dist.read_text('top_level.txt') if dist else None
    if not top_level:
        raise ValueError(f'can not infer the module name of {package}')
    return top_level.split('\n')[0]


def is_installed(package: str) -> bool:
    """mmengine's ``is_installed`` without ``pkg_resources``: a
    distribution of that name, or else an importable module."""
    import importlib.util
    if _distribution(package) is not None:
        return True
    spec = importlib.util.find_spec(package)
    return spec is not None and spec.origin is not None


def get_installed_path(package: str) -> str:
    """mmengine's ``get_installed_path`` without ``pkg_resources``: the
    folder of the installed package (``.../site-packages/mmdet``)."""
    import importlib.metadata
    import importlib.util
    dist = _distribution(package)
    if dist is None:
        # not installed as a distribution: found through sys.path
        spec = importlib.util.find_spec(package)
        if spec is None:
            raise importlib.metadata.PackageNotFoundError(package)
        if spec.origin is None:
            raise RuntimeError(
                f'{package} is a namespace package, which is invalid '
                'for `get_install_path`')
        return osp.dirname(spec.origin)
    location = str(dist.locate_file(''))
    possible_path = osp.join(location, package)
    if osp.exists(possible_path):
        return possible_path
    return osp.join(location, package2module(package))


REPLACEMENTS = dict(is_installed=is_installed,
                    get_installed_path=get_installed_path,
                    package2module=package2module)


def replace_in(module) -> None:
    """Put the functions above in place of mmengine's in ``module``."""
    for name, function in REPLACEMENTS.items():
        if hasattr(module, name):
            setattr(module, name, function)


class _ReplacingLoader:
    """Runs mmengine's module with its own loader, then replaces the
    functions in it."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        self.loader.exec_module(module)
        replace_in(module)

    def __getattr__(self, name):  # get_source, get_filename, ...
        return getattr(self.loader, name)


class _PackageUtilsHook:
    """Finds ``mmengine.utils.package_utils`` with the other finders and
    hands it the replacing loader (a meta path finder)."""

    def find_spec(self, name, path, target=None):
        if name != TARGET:
            return None
        for finder in sys.meta_path:
            if isinstance(finder, _PackageUtilsHook) or \
                    not hasattr(finder, 'find_spec'):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, 'exec_module'):
            spec.loader = _ReplacingLoader(spec.loader)
        return spec


def install() -> None:
    """Replace the functions in mmengine if it is imported already, and in
    any case when it is (once per interpreter)."""
    if TARGET in sys.modules:
        replace_in(sys.modules[TARGET])
    if not any(isinstance(f, _PackageUtilsHook) for f in sys.meta_path):
        sys.meta_path.insert(0, _PackageUtilsHook())
