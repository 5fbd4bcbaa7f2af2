"""A tiny name -> object registry used for datasets, metrics, generators and crop protocols."""

from __future__ import annotations

from typing import Callable, Generic, Iterable, Iterator, TypeVar

from eadbench.errors import EadbenchError

T = TypeVar("T")


def unknown_name_message(kind: str, name: object, known: Iterable[str]) -> str:
    """``unknown <kind> 'sim'; did you mean ssim? known: ...``: the one wording of every refused name."""
    import difflib

    names = sorted(known)
    close = difflib.get_close_matches(str(name), names, n=2, cutoff=0.6)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    return f"unknown {kind} {name!r}{hint} known: {', '.join(names) or 'none'}" if hint else \
        f"unknown {kind} {name!r}; known: {', '.join(names) or 'none'}"


class Registry(Generic[T]):
    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            return obj

        return deco

    def add(self, name: str, obj: T) -> T:
        return self.register(name)(obj)

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise EadbenchError(self.unknown_message(name)) from None

    def unknown_message(self, name: object) -> str:
        """``unknown metric 'sim'; did you mean ssim? known: ...``"""
        return unknown_name_message(self.kind, name, self._items)

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def items(self):
        return sorted(self._items.items())
