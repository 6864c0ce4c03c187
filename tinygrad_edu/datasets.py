"""Data sets: small ones made with numpy from a seed, real handwritten digits, mini-batches.

The made ones return ``(X, y)``: `X` a float64 array of shape (n, features), `y` integer labels
of shape (n,). The same seed gives the same data (``np.random.default_rng(seed)``); seed=None
draws from numpy's global random state, so ``np.random.seed(s)`` makes it repeat.

The real ones, `load_digits` (scikit-learn's 8×8 digits, the `data` extra) and `load_mnist`
(MNIST or Fashion-MNIST from IDX files you already have), return a `TrainTestSplit`,
``X_train, X_test, y_train, y_test`` as scikit-learn's `train_test_split` orders them, scaled
with statistics of the training part only. `DataLoader` cuts arrays into (shuffled)
mini-batches, as PyTorch's does. Nothing here downloads anything.

>>> from tinygrad_edu.datasets import logic_gate, make_moons
>>> X, y = logic_gate("xor")
>>> X.tolist(), y.tolist()
([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1, 0])
>>> X, y = make_moons(100, seed=0)
>>> X.shape, y.shape, int(y.sum())
((100, 2), (100,), 50)
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np

from tinygrad_edu._common import PathLike, Seed, plural, positive_int, random_generator
from tinygrad_edu.data import Array, Labels, rows_of
from tinygrad_edu.idx import read_idx
from tinygrad_edu.kernels import is_number

__all__ = [
    "DATA_INSTALL_HINT",
    "FASHION_MNIST_CLASSES",
    "GATES",
    "MNIST_FILES",
    "DataLoader",
    "TrainTestSplit",
    "load_digits",
    "load_mnist",
    "logic_gate",
    "make_circles",
    "make_moons",
    "make_spiral",
    "train_test_split",
]

_TWO_INPUTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])

GATES: dict[str, tuple[Array, list[int]]] = {
    "and": (_TWO_INPUTS, [0, 0, 0, 1]),
    "or": (_TWO_INPUTS, [0, 1, 1, 1]),
    "nand": (_TWO_INPUTS, [1, 1, 1, 0]),
    "xor": (_TWO_INPUTS, [0, 1, 1, 0]),
    "not": (np.array([[0.0], [1.0]]), [1, 0]),
}
"""The truth tables: inputs (one row per case) and the gate's output."""


def logic_gate(name: str) -> tuple[Array, Labels]:
    """The truth table of a logic gate: ``"and" "or" "nand" "xor"`` (2 inputs) or ``"not"``.

    >>> logic_gate("not")[1].tolist()
    [1, 0]
    """
    key = name.lower() if isinstance(name, str) else None
    if key not in GATES:
        raise ValueError(f"unknown logic gate {name!r}; known gates: {', '.join(GATES)}")
    X, y = GATES[key]
    return X.copy(), np.array(y, dtype=np.int64)


def _check(n: Any, noise: Any, what: str) -> int:
    count = positive_int(n, what)
    if not (is_number(noise) and 0.0 <= noise < math.inf):
        raise ValueError(f"{what.split(':')[0]}: noise must be a non-negative number; got "
                         f"{noise!r}"
                         + (" (it must be finite)" if is_number(noise) and noise == math.inf
                            else ""))
    return count


def _shuffled(rng: np.random.Generator, X: Array, y: Labels, noise: float,
              who: str) -> tuple[Array, Labels]:
    with np.errstate(over="ignore"):
        X = X + noise * rng.standard_normal(X.shape)
    if not np.isfinite(X).all():
        raise ValueError(f"{who}: noise={noise!r} is too large: the points overflow to inf")
    order = rng.permutation(len(X))
    return X[order], y[order]


def make_moons(n: int, noise: float = 0.1, seed: Seed = None) -> tuple[Array, Labels]:
    """Two interleaved half circles: class 0 is (cos t, sin t), class 1 is
    (1 − cos t, 0.5 − sin t), t in [0, π]; Gaussian noise of std `noise`; shuffled.

    >>> X, y = make_moons(6, noise=0.0, seed=0)
    >>> sorted(np.round(X[y == 0, 0], 3).tolist())
    [-1.0, 0.0, 1.0]
    """
    n = _check(n, noise, "make_moons: n")
    rng = random_generator(seed)
    n_outer = n // 2  # (an odd n: the extra point is class 1's, as in scikit-learn)
    n_inner = n - n_outer
    t_outer = np.linspace(0.0, math.pi, n_outer)
    t_inner = np.linspace(0.0, math.pi, n_inner)
    outer = np.stack([np.cos(t_outer), np.sin(t_outer)], axis=1)
    inner = np.stack([1.0 - np.cos(t_inner), 0.5 - np.sin(t_inner)], axis=1)
    X = np.concatenate([outer, inner])
    y = np.concatenate([np.zeros(n_outer, np.int64), np.ones(n_inner, np.int64)])
    return _shuffled(rng, X, y, float(noise), "make_moons")


def make_circles(n: int, noise: float = 0.1, factor: float = 0.5,
                 seed: Seed = None) -> tuple[Array, Labels]:
    """Two concentric circles: class 0 of radius 1, class 1 of radius `factor` (0 < factor < 1);
    Gaussian noise of std `noise`; shuffled.

    >>> X, y = make_circles(8, noise=0.0, seed=0)
    >>> sorted(set(np.round(np.hypot(X[:, 0], X[:, 1]), 6).tolist()))
    [0.5, 1.0]
    """
    n = _check(n, noise, "make_circles: n")
    if not (is_number(factor) and 0.0 < factor < 1.0):
        raise ValueError(f"make_circles: factor (the inner radius) must be in (0, 1); "
                         f"got {factor!r}")
    rng = random_generator(seed)
    n_outer = n // 2  # (an odd n: the extra point is class 1's, as in scikit-learn)
    n_inner = n - n_outer
    t_outer = np.linspace(0.0, 2.0 * math.pi, n_outer, endpoint=False)
    t_inner = np.linspace(0.0, 2.0 * math.pi, n_inner, endpoint=False)
    outer = np.stack([np.cos(t_outer), np.sin(t_outer)], axis=1)
    inner = factor * np.stack([np.cos(t_inner), np.sin(t_inner)], axis=1)
    X = np.concatenate([outer, inner])
    y = np.concatenate([np.zeros(n_outer, np.int64), np.ones(n_inner, np.int64)])
    return _shuffled(rng, X, y, float(noise), "make_circles")


def make_spiral(n_per_class: int, noise: float = 0.05, seed: Seed = None, *,
                turns: float = 1.0) -> tuple[Array, Labels]:
    """Two interleaved spiral arms, class k at radius r = t and angle 2π·turns·t + kπ for
    t in [0.05, 1]; Gaussian noise of std `noise`; shuffled.

    >>> X, y = make_spiral(50, seed=0)
    >>> X.shape, np.bincount(y).tolist()
    ((100, 2), [50, 50])
    """
    n = _check(n_per_class, noise, "make_spiral: n_per_class")
    if not (is_number(turns) and 0.0 < 2.0 * math.pi * float(turns) < math.inf):
        raise ValueError(f"make_spiral: turns must be a positive number; got {turns!r}"
                         + (" (2π·turns must be finite)" if is_number(turns) and turns > 0
                            else ""))
    rng = random_generator(seed)
    t = np.linspace(0.05, 1.0, n)
    arms = []
    for k in range(2):
        angle = 2.0 * math.pi * turns * t + k * math.pi
        arms.append(np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1))
    X = np.concatenate(arms)
    y = np.repeat(np.arange(2, dtype=np.int64), n)
    return _shuffled(rng, X, y, float(noise), "make_spiral")


# --------------------------------------------------------------------------------------------
# Real data: a seeded train/test split, the scaling, the digits and MNIST
# --------------------------------------------------------------------------------------------

DATA_INSTALL_HINT = "pip install -e '.[data]' (from the clone), or make test"
"""How to get scikit-learn, which `load_digits` reads its bundled digits from."""

Scale = Literal["standard", "unit"] | None
SCALES = ("standard", "unit", None)


class TrainTestSplit(NamedTuple):
    """Training and test data, in the order scikit-learn's `train_test_split` returns them."""

    X_train: np.ndarray[Any, Any]
    X_test: np.ndarray[Any, Any]
    y_train: np.ndarray[Any, Any]
    y_test: np.ndarray[Any, Any]


def _test_count(test_size: Any, n: int, who: str) -> int:
    """How many of `n` samples go to the test part: ⌈test_size·n⌉ for a fraction, as
    scikit-learn counts, or `test_size` itself for an integer."""
    if isinstance(test_size, bool) or not isinstance(test_size, int | float | np.number):
        raise ValueError(f"{who}: test_size must be a fraction in (0, 1) or a number of "
                         f"samples; got {test_size!r}")
    if isinstance(test_size, int | np.integer):
        count = int(test_size)
    elif 0.0 < test_size < 1.0:  # (in its own precision: float32(0.3) of 10 is 3, not 4)
        count = math.ceil(test_size * n)
    else:
        raise ValueError(f"{who}: test_size must be a fraction in (0, 1) or a number of "
                         f"samples; got {test_size!r}")
    if not 1 <= count <= n - 1:
        raise ValueError(f"{who}: test_size={test_size!r} leaves {count} of {n} samples for "
                         f"testing and {n - count} for training; each part needs at least one")
    return count


def _stratified_test_rows(rng: np.random.Generator, labels: np.ndarray[Any, Any],
                          n_test: int) -> np.ndarray[Any, np.dtype[np.intp]]:
    """The rows of a test part of `n_test` samples with every class in the proportion it
    has in `labels` (largest remainders, ties drawn at random)."""
    try:
        classes, codes = np.unique(labels, return_inverse=True)
    except TypeError:
        raise ValueError(f"train_test_split: a stratified split sorts the labels of y, but "
                         f"these do not compare: {labels[:5].tolist()}"
                         f"{' ...' if len(labels) > 5 else ''} (pass stratify=False)") from None
    counts = np.bincount(codes)
    n = len(labels)
    if counts.min() < 2:
        lonely = classes[int(np.argmin(counts))].item()
        raise ValueError(f"train_test_split: class {lonely!r} has only one sample; a "
                         "stratified split needs at least two of each class (or pass "
                         "stratify=False)")
    if min(n_test, n - n_test) < len(classes):
        raise ValueError(f"train_test_split: a stratified split of {n} samples into "
                         f"{n - n_test} for training and {n_test} for testing cannot give "
                         f"each of the {len(classes)} classes a place in both; change "
                         "test_size (or pass stratify=False)")
    share = n_test * counts / n
    per_class = np.floor(share).astype(np.intp)
    remainders = np.lexsort((rng.random(len(classes)), -(share - per_class)))
    per_class[remainders[: n_test - int(per_class.sum())]] += 1
    rows = [rng.permutation(np.flatnonzero(codes == k))[:per_class[k]]
            for k in range(len(classes))]
    return np.concatenate(rows)


def train_test_split(X: Any, y: Any, *, test_size: float = 0.25, stratify: bool = True,
                     seed: Seed = None) -> TrainTestSplit:
    """Split samples at random into a training and a test part, ``X_train, X_test, y_train,
    y_test``; with `stratify` (the default), each class keeps its proportion in both parts.

    `test_size` is a fraction (⌈test_size·n⌉ samples, as scikit-learn counts) or a number of
    samples. Both parts come shuffled; the same seed gives the same split.

    >>> X, y = np.arange(20.0).reshape(10, 2), np.array([0] * 6 + [1] * 4)
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, seed=0)
    >>> X_train.shape, X_test.shape, np.bincount(y_train).tolist(), np.bincount(y_test).tolist()
    ((5, 2), (5, 2), [3, 2], [3, 2])
    """
    data, labels = rows_of(X, "train_test_split", "X"), rows_of(y, "train_test_split", "y")
    if data.ndim < 1 or labels.ndim != 1 or len(data) != len(labels):
        raise ValueError(f"train_test_split: X needs one row per label of y, a 1-D array; got "
                         f"X of shape {data.shape} and y of shape {labels.shape}")
    if not isinstance(stratify, bool):
        raise ValueError(f"train_test_split: stratify must be True or False; got {stratify!r}")
    n = len(labels)
    n_test = _test_count(test_size, n, "train_test_split")
    rng = random_generator(seed)
    test = (_stratified_test_rows(rng, labels, n_test) if stratify
            else rng.permutation(n)[:n_test])
    in_test = np.zeros(n, dtype=bool)
    in_test[test] = True
    train = rng.permutation(np.flatnonzero(~in_test))
    test = rng.permutation(test)
    return TrainTestSplit(data[train], data[test], labels[train], labels[test])


def _scaled(split: TrainTestSplit, scale: Scale, maximum: float) -> TrainTestSplit:
    """The split with float64 features: as they are (None), divided by their largest possible
    value into [0, 1] (``"unit"``), or, per feature, minus the mean and over the standard
    deviation of the training part (``"standard"``; a constant feature is only centred)."""
    train = split.X_train.astype(np.float64)
    test = split.X_test.astype(np.float64)
    if scale == "unit":
        train, test = train / maximum, test / maximum
    elif scale == "standard":
        mean, std = train.mean(axis=0), train.std(axis=0)
        std[std == 0.0] = 1.0
        train, test = (train - mean) / std, (test - mean) / std
    return TrainTestSplit(train, test, split.y_train.astype(np.int64),
                          split.y_test.astype(np.int64))


def _check_scale(scale: Any, who: str) -> None:
    if scale not in SCALES or isinstance(scale, bool):
        raise ValueError(f"{who}: scale must be 'standard', 'unit' or None; got {scale!r}")


def load_digits(*, test_size: float = 0.25, scale: Scale = "standard",
                seed: Seed = None) -> TrainTestSplit:
    """The handwritten digits bundled with scikit-learn (no download): 1,797 images of 8×8
    pixels (0 to 16, rows of 64 features), labels 0-9, split with `train_test_split`
    (stratified, seeded; 1,347 for training and 450 for testing by default).

    `scale`: ``"standard"`` (each pixel minus its mean, over its standard deviation, both from
    the training part, as scikit-learn's StandardScaler fitted on it), ``"unit"`` (pixels / 16,
    in [0, 1]: the one for pictures), or None (the pixels as they are, as floats). The split
    does not depend on `scale`. Needs scikit-learn (the `data` extra).

    >>> X_train, X_test, y_train, y_test = load_digits(seed=0)
    >>> X_train.shape, X_test.shape, np.bincount(y_test).tolist()
    ((1347, 64), (450, 64), [45, 46, 44, 46, 45, 46, 45, 45, 43, 45])
    >>> bool(abs(X_train.mean()) < 1e-12), float(load_digits(seed=0, scale=None).X_train.max())
    (True, 16.0)
    """
    _check_scale(scale, "load_digits")
    try:
        from sklearn.datasets import load_digits as bundled_digits
    except ImportError:
        raise ImportError("load_digits reads the digits bundled with scikit-learn, which is "
                          f"not installed; install the `data` extra: {DATA_INSTALL_HINT}"
                          ) from None
    X, y = bundled_digits(return_X_y=True)
    _test_count(test_size, len(y), "load_digits")  # (its errors named by this function)
    split = train_test_split(X, y, test_size=test_size, stratify=True, seed=seed)
    return _scaled(split, scale, 16.0)


MNIST_FILES = {
    "X_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "X_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
"""The standard names of the four IDX files of MNIST (and of Fashion-MNIST)."""

MNIST_SOURCES = ("MNIST: https://yann.lecun.com/exdb/mnist/ (or the mirror "
                 "https://ossci-datasets.s3.amazonaws.com/mnist/); Fashion-MNIST, same file "
                 "names: https://github.com/zalandoresearch/fashion-mnist")

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot")
"""The names of Fashion-MNIST's labels 0-9 (MNIST's label is the digit itself)."""


def _mnist_file(folder: Path, stem: str) -> Path:
    """The file of `folder` holding `stem`: plain or gzipped, ``-idx`` or ``.idx`` (as some
    copies name them)."""
    dotted = stem.replace("-idx", ".idx")
    for name in (stem, f"{stem}.gz", dotted, f"{dotted}.gz"):
        if (folder / name).is_file():
            return folder / name
    present = sorted(p.name for p in folder.iterdir())
    shown = ", ".join(present[:8]) + (", ..." if len(present) > 8 else "")
    raise FileNotFoundError(
        f"load_mnist: {os.fspath(folder)!r} has no {stem} (nor {stem}.gz); it holds "
        f"{plural(len(present), 'file')}{': ' + shown if present else ''}. load_mnist reads "
        f"the four standard IDX files ({', '.join(MNIST_FILES.values())}, gzipped or not), "
        f"which it never downloads; get them from {MNIST_SOURCES}")


def load_mnist(directory: PathLike, *, scale: Scale = "unit",
               flatten: bool = True) -> TrainTestSplit:
    """MNIST (or Fashion-MNIST) from the four standard IDX files in `directory`, gzipped or
    not: its own split, 60,000 images for training and 10,000 for testing, 28×28 pixels (0 to
    255), labels 0-9. Nothing is downloaded: the error for a missing file says where to get it.

    Rows of 784 features (or ``(n, 28, 28)`` images with ``flatten=False``), float64: the
    whole set takes about 440 MB. `scale` as in `load_digits`; the default, ``"unit"``, is
    pixels / 255. A malformed file raises a `ValueError` naming it.
    """
    _check_scale(scale, "load_mnist")
    if not isinstance(flatten, bool):
        raise ValueError(f"load_mnist: flatten must be True or False; got {flatten!r}")
    folder = Path(directory)
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise FileNotFoundError(f"load_mnist: {os.fspath(folder)!r} {what}; give the folder "
                                f"holding the four IDX files ({', '.join(MNIST_FILES.values())}"
                                f"), which you can get from {MNIST_SOURCES}")
    arrays = {}
    for part, stem in MNIST_FILES.items():
        path = _mnist_file(folder, stem)
        try:
            array = read_idx(path)
        except ValueError as error:
            raise ValueError(f"load_mnist: {error}") from None
        is_images = part.startswith("X")
        if array.dtype != np.uint8 or array.ndim != (3 if is_images else 1):
            expected = "a 3-D array (images, rows, columns)" if is_images else "a 1-D array"
            raise ValueError(f"load_mnist: {os.fspath(path)!r} should hold {expected} of "
                             f"uint8 ({stem}); it holds shape {array.shape} of {array.dtype}")
        if not is_images and array.size and array.max() > 9:
            raise ValueError(f"load_mnist: {os.fspath(path)!r} should hold labels 0 to 9 "
                             f"({stem}); it holds {int(array.max())}")
        arrays[part] = array
    for kind in ("train", "test"):
        images, labels = arrays[f"X_{kind}"], arrays[f"y_{kind}"]
        if len(images) != len(labels):
            raise ValueError(f"load_mnist: the {kind} files disagree: {len(images)} images but "
                             f"{len(labels)} labels")
    train_shape, test_shape = arrays["X_train"].shape, arrays["X_test"].shape
    if train_shape[1:] != test_shape[1:]:  # (a mix of two data sets: no common features)
        raise ValueError(f"load_mnist: the training and the test images differ in size: "
                         f"{train_shape[1:]} and {test_shape[1:]} pixels (shapes {train_shape} "
                         f"and {test_shape}); the four files must be of one data set")
    if flatten:
        for part in ("X_train", "X_test"):
            images = arrays[part]  # (not reshape(n, -1): no -1 can be found for 0 images)
            arrays[part] = images.reshape(len(images), math.prod(images.shape[1:]))
    split = TrainTestSplit(arrays["X_train"], arrays["X_test"], arrays["y_train"],
                           arrays["y_test"])
    return _scaled(split, scale, 255.0)


# --------------------------------------------------------------------------------------------
# Mini-batches
# --------------------------------------------------------------------------------------------


class DataLoader:
    """Mini-batches of arrays that share their first axis, as PyTorch's ``DataLoader`` gives
    them: ``for X_batch, y_batch in DataLoader((X, y), batch_size=32, shuffle=True, seed=0)``.

    Every pass (epoch) goes through the samples once in batches of `batch_size` rows; the last
    batch is smaller unless `drop_last`. With `shuffle`, each pass takes a new order, drawn
    from a generator made once from `seed` (so a run repeats, epoch after epoch); with
    seed=None, from numpy's global random state as the pass begins (as PyTorch's loader draws
    from torch's), so ``np.random.seed(s)`` before a pass repeats it.
    ``len(loader)`` is the number of batches a pass gives. A single array (not a tuple) gives
    batches of that array alone. Only a tuple is a group of arrays; a list is a list of samples,
    as for PyTorch: rows stacked into one array (``[[1, 2], [3, 4]]`` is two samples), or, when
    each sample is a tuple such as ``(x, y)``, one array per position (PyTorch's collate).

    >>> X, y = np.arange(10.0).reshape(5, 2), np.array([0, 1, 0, 1, 1])
    >>> [yb.tolist() for _, yb in DataLoader((X, y), batch_size=2)]
    [[0, 1], [0, 1], [1]]
    >>> loader = DataLoader((X, y), batch_size=2, shuffle=True, drop_last=True, seed=0)
    >>> len(loader), [xb.shape for xb, _ in loader]
    (2, [(2, 2), (2, 2)])
    """

    def __init__(self, dataset: Any, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, *, seed: Seed = None) -> None:
        if isinstance(dataset, list):
            dataset = _stack_samples(dataset)
        self.single = not isinstance(dataset, tuple)
        arrays = [rows_of(a, "DataLoader", "the dataset" if self.single else f"array {k}")
                  for k, a in enumerate([dataset] if self.single else dataset)]
        if not arrays or any(a.ndim == 0 for a in arrays):
            raise ValueError("DataLoader: dataset must be an array or a tuple of arrays with "
                             "one row per sample, e.g. (X, y); got "
                             + ("an empty tuple" if not arrays else
                                f"a {type(dataset).__name__}" if self.single and
                                not isinstance(dataset, np.ndarray) else
                                f"shapes {[a.shape for a in arrays]}"))
        lengths = {len(a) for a in arrays}
        if len(lengths) != 1:
            raise ValueError(f"DataLoader: the arrays must have as many rows each; got shapes "
                             f"{[a.shape for a in arrays]}")
        self.batch_size = positive_int(batch_size, "DataLoader: batch_size")
        for name, flag in (("shuffle", shuffle), ("drop_last", drop_last)):
            if not isinstance(flag, bool | np.bool_):
                raise ValueError(f"DataLoader: {name} must be True or False; got {flag!r}")
        self.arrays = arrays
        self.shuffle, self.drop_last = bool(shuffle), bool(drop_last)
        self.samples = lengths.pop()
        if self.samples == 0 or len(self) == 0:
            raise ValueError(f"DataLoader: {plural(self.samples, 'sample')} in batches of "
                             f"{self.batch_size} with drop_last={self.drop_last} give no batch "
                             "at all")
        self.rng = None if seed is None else random_generator(seed)

    def __len__(self) -> int:
        if self.drop_last:
            return self.samples // self.batch_size
        return -(-self.samples // self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        order = (self.rng or random_generator(None)).permutation(self.samples) if self.shuffle \
            else np.arange(self.samples)
        for k in range(len(self)):
            rows = order[k * self.batch_size:(k + 1) * self.batch_size]
            batch = tuple(a[rows] for a in self.arrays)
            yield batch[0] if self.single else batch

    def __repr__(self) -> str:
        return (f"DataLoader({plural(self.samples, 'sample')}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}: "
                f"{len(self)} {'batch' if len(self) == 1 else 'batches'})")


def _stack_samples(samples: list[Any]) -> Any:
    """A list of samples as `DataLoader` takes it: one array of them, or a tuple of arrays
    (one per position) when every sample is a tuple, such as ``(x, y)``."""
    if samples and all(isinstance(s, tuple) for s in samples):
        sizes = {len(s) for s in samples}
        if len(sizes) != 1:
            raise ValueError(f"DataLoader: a list of samples that are tuples needs tuples of one "
                             f"length; got lengths {sorted(sizes)}")
        return tuple(_stack([s[k] for s in samples], f"position {k} of the samples")
                     for k in range(sizes.pop()))
    return _stack(samples, "the samples")


def _stack(rows: list[Any], what: str) -> Any:
    """`rows` as one array, or a ValueError that says a list is taken as samples."""
    try:
        return np.asarray(rows)
    except ValueError:
        shapes = list(dict.fromkeys(_shape_of(r) for r in rows))
        raise ValueError(f"DataLoader: a list is a list of samples, stacked into one array "
                         f"(as PyTorch's DataLoader does), but {what} do not stack: they have "
                         f"shapes {', '.join(shapes[:4])}{' ...' if len(shapes) > 4 else ''}; "
                         f"for arrays with one row per sample, give a tuple: "
                         f"DataLoader((X, y))") from None


def _shape_of(row: Any) -> str:
    try:
        return str(np.shape(row))
    except ValueError:
        return "ragged"
