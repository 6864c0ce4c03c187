"""Argument types and checks shared by the modules of the package (private: no API of its own).

>>> from tinygrad_edu._common import plural, positive_int
>>> positive_int(3, "n"), plural(1, "epoch"), plural(2, "epoch")
(3, '1 epoch', '2 epochs')
>>> positive_int(0, "make_moons: n")
Traceback (most recent call last):
...
ValueError: make_moons: n must be a positive integer; got 0
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["PathLike", "Seed", "file_name", "plural", "positive_int", "random_generator",
           "redefined"]

Seed = int | np.random.Generator | None
"""A seed: an int, a Generator (used as it is), or None (numpy's global random state)."""

PathLike = str | os.PathLike[str]
"""A file or folder name: a string or a `pathlib.Path`."""


def random_generator(seed: Seed) -> np.random.Generator:
    """The generator `seed` names; for None, one drawn from numpy's global random state.

    So, as scikit-learn's ``random_state=None``, ``np.random.seed(s)`` makes runs repeat.

    >>> _ = np.random.seed(3); a = random_generator(None).random()
    >>> _ = np.random.seed(3); a == random_generator(None).random()
    True
    """
    if seed is None:
        seed = int(np.random.randint(0, 2**63 - 1, dtype=np.int64))
    try:
        if isinstance(seed, bool | np.bool_):  # (seed=True is a slip, not the seed 1)
            raise TypeError
        return np.random.default_rng(seed)
    except (TypeError, ValueError) as error:  # (numpy's own words: "...for entropy not a")
        raise type(error)(f"seed must be an integer ≥ 0, a numpy Generator or None; got "
                          f"{seed!r} (type {type(seed).__name__})") from None


def file_name(path: Any, who: str, example: str) -> str:
    """`path` (a str or a `pathlib.Path`) as the name of a file to write or read, or an error
    naming `who`: a TypeError for anything else, a ValueError for a folder (an existing one, or
    a name ending in /), with `example` as the file name to give in it.

    >>> file_name("runs/", "save", "model.npz")
    Traceback (most recent call last):
    ...
    ValueError: save: 'runs/' is a folder; give the name of a file in it, e.g. 'runs/model.npz'
    """
    text = os.fspath(path) if isinstance(path, str | os.PathLike) else None
    if not isinstance(text, str):  # (None, a number, bytes, a path object of bytes)
        raise TypeError(f"{who}: the path must be a str or a pathlib.Path; got {path!r:.60} "
                        f"(type {type(path).__name__})")
    if os.path.isdir(text) or text.endswith(("/", os.sep)):
        raise ValueError(f"{who}: {text!r} is a folder; give the name of a file in it, e.g. "
                         f"{os.path.join(text, example)!r}")
    return text


def file_to_write(path: Any, who: str, example: str) -> Path:
    """`path` as a Path to write a file to, or an error saying what is wrong with it, before
    anything is computed or written: not a path, a folder (`file_name`), empty, or in a
    folder that does not exist.

    >>> file_to_write("no/such/folder/page.html", "save", "page.html")
    Traceback (most recent call last):
    ...
    FileNotFoundError: save: cannot write 'no/such/folder/page.html': the folder
    'no/such/folder' does not exist (create it first)
    """
    text = file_name(path, who, example)
    if not text.strip():
        raise ValueError(f"{who}: the path is empty; give a file name such as {example!r}")
    folder = Path(text).parent
    if not folder.is_dir():
        error = NotADirectoryError if folder.exists() else FileNotFoundError
        what = "is not a folder" if folder.exists() else "does not exist (create it first)"
        raise error(f"{who}: cannot write {text!r}: the folder {str(folder)!r} {what}")
    return Path(text)


def positive_int(n: Any, what: str) -> int:
    """`n` as an int, or a ValueError naming `what` unless it is a positive integer."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"{what} must be a positive integer; got {n!r}")
    return int(n)


def plural(count: int, noun: str) -> str:
    """``"1 epoch"``, ``"2 epochs"``: `count` and `noun`, with an s unless `count` is 1."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def redefined(cls: type, base: type, names: tuple[str, ...]) -> list[str]:
    """Which of the methods `names` (those that compute an output) `cls` redefines from `base`."""
    return [name for name in names if getattr(cls, name, None) is not getattr(base, name, None)]


def set_on_instance(obj: object, names: tuple[str, ...]) -> list[str]:
    """Which of the methods `names` `obj` holds as its own attribute (``model.forward = f``),
    which its class's methods call instead of theirs (not a dunder: Python looks those up on
    the class)."""
    own = getattr(obj, "__dict__", {})
    return [name for name in names if name in own and not name.startswith("__")]
