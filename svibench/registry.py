"""Name -> plug-in registries (generators, metrics, trainers).

Built-ins are lazy ``"module:attr"`` strings so that listing names imports nothing heavy.
Third parties add entries through a Python entry-point group (``svibench.generators``,
``svibench.metrics``, ``svibench.trainers``) from their own package: no fork needed.
A duplicate name is an error; an unknown name raises with "did you mean" hints.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterator
from importlib.metadata import entry_points
from typing import Any

from svibench.errors import ConfigError


class Registry:
    def __init__(self, kind: str, group: str, builtins: dict[str, str]) -> None:
        self.kind = kind
        self.group = group
        self._builtins = dict(builtins)
        self._extra: dict[str, Any] = {}
        self._eps: dict[str, Any] | None = None

    def _entry_points(self) -> dict[str, Any]:
        if self._eps is None:
            self._eps = {}
            for ep in entry_points(group=self.group):
                if ep.name in self._builtins and self._builtins[ep.name] != ep.value:
                    raise ConfigError(
                        f"{self.kind} '{ep.name}' from entry point {ep.value!r} "
                        f"(group {self.group}) clashes with the built-in of the same name"
                    )
                self._eps[ep.name] = ep
        return self._eps

    def register(self, name: str, obj: Any) -> None:
        """Register an object in-process (tests, notebooks)."""
        if name in self.names():
            raise ConfigError(f"{self.kind} '{name}' is already registered")
        self._extra[name] = obj

    def names(self) -> list[str]:
        return sorted({*self._builtins, *self._entry_points(), *self._extra})

    def __contains__(self, name: str) -> bool:
        return name in self.names()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def source(self, name: str) -> str:
        """Where ``name`` comes from: "module:attr" (built-in), an entry point, or in-process."""
        if name in self._extra:
            return "registered in-process"
        if name in self._builtins:
            return self._builtins[name]
        eps = self._entry_points()
        if name in eps:
            dist = getattr(eps[name], "dist", None)
            return f"{eps[name].value} (entry point from {dist.name if dist else '?'})"
        return "?"

    def get(self, name: str, where: str = "") -> Any:
        """The class (or factory) registered under ``name``; imported on first use."""
        if name in self._extra:
            return self._extra[name]
        if name in self._builtins:
            module, _, attr = self._builtins[name].partition(":")
            return getattr(importlib.import_module(module), attr)
        eps = self._entry_points()
        if name in eps:
            return eps[name].load()
        hint = difflib.get_close_matches(name, self.names(), n=3)
        did = f"; did you mean {', '.join(repr(h) for h in hint)}?" if hint else ""
        loc = f"{where}: " if where else ""
        raise ConfigError(
            f"{loc}unknown {self.kind} '{name}'{did} (known: {', '.join(self.names())})"
        )
