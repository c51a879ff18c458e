"""Names a package loads on first use (PEP 562), so that importing it stays cheap."""

from __future__ import annotations

from importlib import import_module


def lazy(package: str, names: dict[str, str], namespace: dict):
    """``__getattr__`` and ``__dir__`` for ``package``: each of ``names`` (name -> submodule) is
    imported from its submodule on first access and cached in ``namespace`` (the package's globals)."""
    def __getattr__(name: str):
        if name in names:
            value = getattr(import_module(f".{names[name]}", package), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(set(namespace) | set(names))
    return __getattr__, __dir__
