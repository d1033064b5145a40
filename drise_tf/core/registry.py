"""A small name -> object registry, shared by :mod:`drise_tf.explain.similarity` and :mod:`drise_tf.explain`."""
from __future__ import annotations

from typing import Callable, Dict, Generic, List, Optional, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to objects, with a decorator to add new ones.

    Parameters
    ----------
    kind : str
        What the registry holds ("similarity score", "explainer"), used in error messages.

    Examples
    --------
    >>> scores = Registry("similarity score")
    >>> @scores.register("mine")
    ... def mine(probs, target):
    ...     return probs[:, 0]
    >>> scores.get("mine") is mine
    True
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: Dict[str, T] = {}

    def register(self, name: str, obj: Optional[T] = None, *, overwrite: bool = False) -> Callable[[T], T] | T:
        """Register ``obj`` under ``name``; without ``obj``, return a decorator that does it.

        Raises
        ------
        ValueError
            If ``name`` is empty or already taken and ``overwrite`` is False.
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind} name must be a non-empty string, got {name!r}")

        def add(item: T) -> T:
            if name in self._items and not overwrite:
                raise ValueError(f"{self.kind} {name!r} is already registered; pass overwrite=True to replace it")
            self._items[name] = item
            return item

        return add if obj is None else add(obj)

    def get(self, name: str) -> T:
        """Return the object registered under ``name``.

        Raises
        ------
        ValueError
            If ``name`` is unknown; the message lists the known names.
        """
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise ValueError(
                f"unknown {self.kind} {name!r}; known: {', '.join(self.available())}"
            ) from None

    def available(self) -> List[str]:
        """Names registered so far, sorted."""
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items
