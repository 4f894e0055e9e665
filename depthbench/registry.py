"""One generic registry for every named thing: datasets, readers, models, metrics, aligners,
benchmarks, losses, recipes.

Entries may be objects or lazy ``"package.module:attr"`` strings resolved on first ``get`` (so that
``depthbench list`` never imports torch or transformers). Names are case-insensitive, aliases map to a
canonical name, a duplicate name is rejected, and an unknown name raises ``UnknownNameError`` with a
did-you-mean suggestion.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from depthbench.errors import UnknownNameError, UsageError

T = TypeVar("T")


def resolve_import_path(path: str) -> Any:
    """Import ``"package.module:attr.sub"`` and return the attribute."""
    module_name, sep, attr_path = path.partition(":")
    if not sep or not module_name or not attr_path:
        raise UsageError(f"import path {path!r}: expected 'package.module:attribute'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"import path {path!r}: cannot import module {module_name!r} ({exc})") from exc
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            raise UsageError(f"import path {path!r}: module {module_name!r} has no attribute {attr_path!r}") from exc
    return obj


class Registry(Generic[T]):
    """A case-insensitive name → object map with aliases, lazy entries and helpful errors."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T | str] = {}
        self._lazy: set[str] = set()
        self._aliases: dict[str, str] = {}

    @staticmethod
    def _key(name: str) -> str:
        return name.strip().lower()

    def register(
        self,
        name: str,
        obj: T | None = None,
        *,
        lazy: str | None = None,
        aliases: tuple[str, ...] | list[str] = (),
    ) -> Callable[[T], T]:
        """Register ``obj`` (or a lazy import path) under ``name``; usable as a decorator.

        Raises ``UsageError`` when the name or an alias is already taken.
        """

        def add(target: T | str, is_lazy: bool) -> None:
            key = self._key(name)
            for taken in [key, *map(self._key, aliases)]:
                if taken in self._entries or taken in self._aliases:
                    raise UsageError(f"{self.kind} name {taken!r} is already registered")
            self._entries[key] = target
            if is_lazy:
                self._lazy.add(key)
            for alias in aliases:
                self._aliases[self._key(alias)] = key

        if lazy is not None:
            if obj is not None:
                raise UsageError(f"{self.kind} {name!r}: give either an object or lazy=, not both")
            add(lazy, True)
            return lambda x: x
        if obj is not None:
            add(obj, False)
            return lambda x: x

        def decorator(target: T) -> T:
            add(target, False)
            return target

        return decorator

    def unregister(self, name: str) -> None:
        key = self.canonical(name)
        del self._entries[key]
        self._lazy.discard(key)
        self._aliases = {a: k for a, k in self._aliases.items() if k != key}

    def canonical(self, name: str) -> str:
        """The canonical registered name for ``name`` or an alias; raises ``UnknownNameError``."""
        key = self._key(name)
        key = self._aliases.get(key, key)
        if key not in self._entries:
            choices = list(self._entries) + list(self._aliases)
            close = difflib.get_close_matches(key, choices, n=1, cutoff=0.5)
            hint = f"; did you mean {self._aliases.get(close[0], close[0])!r}?" if close else ""
            known = ", ".join(sorted(self._entries)) or "none"
            raise UnknownNameError(f"unknown {self.kind} {name!r}{hint} (known: {known})")
        return key

    def get(self, name: str) -> T:
        """Return the object registered under ``name``, importing a lazy entry on first use."""
        key = self.canonical(name)
        if key in self._lazy:
            self._entries[key] = resolve_import_path(str(self._entries[key]))
            self._lazy.discard(key)
        return self._entries[key]  # type: ignore[return-value]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def aliases_of(self, name: str) -> list[str]:
        key = self.canonical(name)
        return sorted(a for a, k in self._aliases.items() if k == key)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = self._key(name)
        return key in self._entries or key in self._aliases

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)
