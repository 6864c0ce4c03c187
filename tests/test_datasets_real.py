"""tinygrad_edu.datasets, real data: the seeded stratified split, scikit-learn's digits, MNIST
from IDX files (built here, never downloaded) and the DataLoader's mini-batches."""

from __future__ import annotations

import gzip
import math
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tinygrad_edu.datasets import (
    DATA_INSTALL_HINT,
    MNIST_FILES,
    DataLoader,
    TrainTestSplit,
    load_digits,
    load_mnist,
    train_test_split,
)

# ---- train_test_split ---------------------------------------------------------------------


@given(counts=st.lists(st.integers(2, 30), min_size=1, max_size=6),
       fraction=st.floats(0.05, 0.95), seed=st.integers(0, 2**32 - 1), data=st.data())
@settings(max_examples=60)
def test_a_stratified_split_is_a_partition_keeping_each_class_share(
        counts: list[int], fraction: float, seed: int, data: st.DataObject) -> None:
    y = np.repeat(np.arange(len(counts)) * 10, counts)  # labels need not be 0..k-1
    y = data.draw(st.permutations(y.tolist()).map(np.array))
    n = len(y)
    n_test = math.ceil(fraction * n)
    assume(min(n_test, n - n_test) >= len(counts))
    X = np.arange(n * 2).reshape(n, 2)  # row i is (2i, 2i + 1): tells where each row went
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=fraction, seed=seed)
    assert len(y_test) == n_test and len(y_train) == n - n_test
    rows = np.concatenate([X_train[:, 0], X_test[:, 0]]) // 2
    assert sorted(rows.tolist()) == list(range(n))  # every sample once
    assert np.array_equal(y[X_train[:, 0] // 2], y_train)  # labels stay with their rows
    assert np.array_equal(y[X_test[:, 0] // 2], y_test)
    for label, count in zip(np.arange(len(counts)) * 10, counts, strict=True):
        exact = n_test * count / n
        assert abs(int(np.sum(y_test == label)) - exact) < 1.0  # its share, rounded
    again = train_test_split(X, y, test_size=fraction, seed=seed)
    assert all(np.array_equal(a, b) for a, b in zip(again, (X_train, X_test, y_train, y_test),
                                                    strict=True))


def test_a_split_is_shuffled_and_different_seeds_differ() -> None:
    y = np.repeat([0, 1], 50)
    X = np.arange(100)
    a = train_test_split(X, y, seed=0)
    b = train_test_split(X, y, seed=1)
    assert not np.array_equal(a.X_test, b.X_test)
    assert not np.all(np.diff(a.X_train) > 0)  # not left in the original order
    assert not np.array_equal(a.y_train[:10], np.sort(a.y_train[:10])) or \
        not np.array_equal(a.y_train[-10:], np.sort(a.y_train[-10:]))
    # the test part too: its rows, drawn class by class, are not left class 0 then class 1
    assert not np.all(np.diff(a.y_test) >= 0)


def test_an_unstratified_split_and_a_count() -> None:
    y = np.array([0] * 9 + [1])  # one sample of class 1: only unstratified works
    split = train_test_split(np.arange(10), y, test_size=3, stratify=False, seed=0)
    assert isinstance(split, TrainTestSplit) and len(split.X_test) == 3
    assert sorted(np.concatenate([split.X_train, split.X_test]).tolist()) == list(range(10))
    assert train_test_split(np.arange(10), y, test_size=0.25, stratify=False).X_test.size == 3


def test_the_global_seed_makes_a_split_repeat() -> None:
    y = np.repeat([0, 1, 2], 10)
    np.random.seed(5)
    first = train_test_split(np.arange(30), y).X_test
    np.random.seed(5)
    assert np.array_equal(first, train_test_split(np.arange(30), y).X_test)


@pytest.mark.parametrize(("args", "kwargs", "message"), [
    ((np.zeros((4, 2)), [0, 1, 0]), {}, r"X of shape \(4, 2\) and y of shape \(3,\)"),
    ((np.zeros(4), [[0, 1], [0, 1]]), {}, "y of shape"),
    ((np.zeros(4), [0, 1, 0, 1]), {"test_size": 1.0},
     r"^train_test_split: test_size must be a fraction in \(0, 1\).*got 1.0"),
    ((np.zeros(4), [0, 1, 0, 1]), {"test_size": 0},
     "^train_test_split: test_size=0 leaves 0 of 4 samples for testing"),
    ((np.zeros(4), [0, 1, 0, 1]), {"test_size": "half"}, "got 'half'"),
    ((np.zeros(4), [0, 1, 0, 1]), {"test_size": True}, "got True"),
    ((np.zeros(4), [0, 1, 0, 1]), {"test_size": 4}, "leaves 4 of 4"),
    ((np.zeros(5), [0, 0, 0, 0, 1]), {}, "class 1 has only one sample"),
    ((np.zeros(6), [0, 0, 1, 1, 2, 2]), {"test_size": 2},
     "cannot give each of the 3 classes a place in both"),
    ((np.zeros(4), [0, 1, 0, 1]), {"stratify": "yes"}, "stratify must be True or False"),
])
def test_bad_splits_are_refused(args: tuple[Any, ...], kwargs: dict[str, Any],
                                message: str) -> None:
    with pytest.raises(ValueError, match=message):
        train_test_split(*args, **kwargs)


# ---- load_digits --------------------------------------------------------------------------


def test_the_digits_are_split_stratified_and_standardised_with_training_statistics() -> None:
    X_train, X_test, y_train, y_test = load_digits(seed=0)
    assert X_train.shape == (1347, 64) and X_test.shape == (450, 64)
    assert X_train.dtype == np.float64 and y_train.dtype == np.int64
    assert sorted(set(y_test.tolist())) == list(range(10))
    share_test = np.bincount(y_test) / len(y_test)
    share_all = np.bincount(np.concatenate([y_train, y_test])) / 1797
    assert np.all(np.abs(share_test - share_all) < 1.0 / 450 + 1e-12)
    raw = load_digits(seed=0, scale=None)
    assert np.array_equal(raw.y_train, y_train) and np.array_equal(raw.y_test, y_test)
    assert raw.X_train.min() == 0.0 and raw.X_train.max() == 16.0
    mean, std = raw.X_train.mean(axis=0), raw.X_train.std(axis=0)
    constant = std == 0.0
    assert constant.any()  # some corner pixels are always 0 in the training part
    np.testing.assert_allclose(X_train.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(X_train.std(axis=0)[~constant], 1.0, rtol=1e-12)
    # the test part is scaled with the training part's statistics (no peeking at it)
    np.testing.assert_allclose(X_test, (raw.X_test - mean) / np.where(constant, 1.0, std),
                               rtol=1e-12, atol=1e-12)
    assert not np.allclose(X_test.mean(axis=0)[~constant], 0.0, atol=1e-3)
    unit = load_digits(seed=0, scale="unit")
    np.testing.assert_array_equal(unit.X_test, raw.X_test / 16.0)


def test_the_digits_are_the_bundled_ones_with_no_sample_in_both_parts() -> None:
    from sklearn.datasets import load_digits as bundled

    X, y = bundled(return_X_y=True)
    raw = load_digits(seed=3, scale=None, test_size=0.5)
    every = np.concatenate([raw.X_train, raw.X_test])
    assert len(every) == 1797
    order = np.lexsort(every.T[::-1])
    np.testing.assert_array_equal(every[order], X[np.lexsort(X.T[::-1])])
    np.testing.assert_array_equal(np.sort(np.concatenate([raw.y_train, raw.y_test])),
                                  np.sort(y))
    other = load_digits(seed=4, scale=None, test_size=0.5)
    assert not np.array_equal(raw.X_test, other.X_test)


def test_load_digits_without_scikit_learn_names_the_extra(hide_package: Callable[[str], None],
                                                          ) -> None:
    hide_package("sklearn")
    with pytest.raises(ImportError, match=r"scikit-learn.*\.\[data\]") as caught:
        load_digits()
    assert DATA_INSTALL_HINT in str(caught.value)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"scale": "minmax"}, "scale must be 'standard', 'unit' or None; got 'minmax'"),
    ({"scale": True}, "got True"),
    ({"test_size": 1.5}, "^load_digits: test_size must be a fraction"),
    ({"test_size": 1797}, "^load_digits: test_size=1797 leaves 1797 of 1797"),
])
def test_load_digits_refuses_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_digits(**kwargs)


# ---- load_mnist ---------------------------------------------------------------------------


def idx(code: int, shape: tuple[int, ...], payload: bytes) -> bytes:
    return (struct.pack(">BBBB", 0, 0, code, len(shape)) + struct.pack(f">{len(shape)}I", *shape)
            + payload)


def make_mnist(folder: Path, *, n_train: int = 6, n_test: int = 4, side: int = 28,
               gz: bool = True, dotted: bool = False) -> dict[str, np.ndarray]:
    """Four small IDX files with MNIST's names (random pixels, labels 0-9); their arrays."""
    rng = np.random.default_rng(0)
    arrays = {"X_train": rng.integers(0, 256, (n_train, side, side), dtype=np.uint8),
              "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
              "X_test": rng.integers(0, 256, (n_test, side, side), dtype=np.uint8),
              "y_test": rng.integers(0, 10, n_test, dtype=np.uint8)}
    folder.mkdir(parents=True, exist_ok=True)
    for part, stem in MNIST_FILES.items():
        content = idx(0x08, arrays[part].shape, arrays[part].tobytes())
        name = stem.replace("-idx", ".idx") if dotted else stem
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(content))
        else:
            (folder / name).write_bytes(content)
    return arrays


@pytest.mark.parametrize(("gz", "dotted"), [(True, False), (False, False), (True, True)])
def test_mnist_is_read_from_its_four_files(tmp_path: Path, gz: bool, dotted: bool) -> None:
    arrays = make_mnist(tmp_path, gz=gz, dotted=dotted)
    X_train, X_test, y_train, y_test = load_mnist(tmp_path)
    assert X_train.shape == (6, 784) and X_test.shape == (4, 784)
    assert X_train.dtype == np.float64 and y_train.dtype == np.int64
    np.testing.assert_array_equal(X_train, arrays["X_train"].reshape(6, -1) / 255.0)
    np.testing.assert_array_equal(X_test, arrays["X_test"].reshape(4, -1) / 255.0)
    assert y_train.tolist() == arrays["y_train"].tolist()
    assert y_test.tolist() == arrays["y_test"].tolist()


def test_mnist_images_unflattened_raw_or_standardised(tmp_path: Path) -> None:
    arrays = make_mnist(tmp_path, side=5)
    images = load_mnist(str(tmp_path), flatten=False, scale=None)
    assert images.X_train.shape == (6, 5, 5)
    np.testing.assert_array_equal(images.X_test, arrays["X_test"].astype(np.float64))
    standard = load_mnist(tmp_path, scale="standard")
    np.testing.assert_allclose(standard.X_train.mean(axis=0), 0.0, atol=1e-12)
    mean = arrays["X_train"].reshape(6, -1).mean(axis=0)
    std = arrays["X_train"].reshape(6, -1).std(axis=0)
    np.testing.assert_allclose(standard.X_test, (arrays["X_test"].reshape(4, -1) - mean) / std)


def test_a_missing_folder_or_file_says_where_to_get_mnist(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist") as caught:
        load_mnist(tmp_path / "nowhere")
    assert "yann.lecun.com" in str(caught.value) and "fashion-mnist" in str(caught.value)
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        load_mnist(tmp_path / "file")
    make_mnist(tmp_path / "three")
    (tmp_path / "three" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError) as caught:
        load_mnist(tmp_path / "three")
    message = str(caught.value)
    assert "has no t10k-labels-idx1-ubyte (nor t10k-labels-idx1-ubyte.gz)" in message
    assert "holds 3 files: t10k-images-idx3-ubyte.gz, train-images" in message
    assert "never downloads" in message and "zalandoresearch/fashion-mnist" in message


def test_malformed_mnist_files_are_named(tmp_path: Path) -> None:
    make_mnist(tmp_path)
    labels = tmp_path / "train-labels-idx1-ubyte.gz"
    labels.write_bytes(gzip.compress(idx(0x08, (6,), b"\x01\x02")))  # truncated
    with pytest.raises(ValueError, match=r"load_mnist: .*train-labels-idx1-ubyte.gz.*only 2 "
                                         "bytes of data"):
        load_mnist(tmp_path)
    labels.write_bytes(gzip.compress(idx(0x0C, (6,), bytes(24))))  # int32 labels
    with pytest.raises(ValueError, match=r"should hold a 1-D array of uint8 .* of int32"):
        load_mnist(tmp_path)
    labels.write_bytes(gzip.compress(idx(0x08, (6,), bytes([0, 1, 2, 200, 3, 4]))))
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte.gz' should hold labels 0 to "
                                         r"9 \(train-labels-idx1-ubyte\); it holds 200$"):
        load_mnist(tmp_path)  # (it loaded; cross_entropy refused the label 200 much later)
    labels.write_bytes(gzip.compress(idx(0x08, (5,), bytes(5))))  # one label short
    with pytest.raises(ValueError, match="the train files disagree: 6 images but 5 labels"):
        load_mnist(tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(idx(0x08, (4, 784), bytes(4 * 784))))  # rows, not images
    with pytest.raises(ValueError, match=r"a 3-D array \(images, rows, columns\)"):
        load_mnist(tmp_path)


def test_load_mnist_refuses_bad_options(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="load_mnist: scale"):
        load_mnist(tmp_path, scale="max")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="load_mnist: flatten must be True or False"):
        load_mnist(tmp_path, flatten="yes")  # type: ignore[arg-type]


# ---- DataLoader ---------------------------------------------------------------------------


@given(n=st.integers(1, 40), batch_size=st.integers(1, 45), shuffle=st.booleans(),
       drop_last=st.booleans(), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=80)
def test_each_pass_gives_every_sample_once_in_aligned_batches(
        n: int, batch_size: int, shuffle: bool, drop_last: bool, seed: int) -> None:
    assume(not (drop_last and batch_size > n))
    X = np.arange(3 * n).reshape(n, 3)
    y = np.arange(n) * 7
    loader = DataLoader((X, y), batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                        seed=seed)
    full, rest = divmod(n, batch_size)
    assert len(loader) == full + (1 if rest and not drop_last else 0)
    epochs = []
    for _ in range(2):
        batches = list(loader)
        assert len(batches) == len(loader)
        sizes = [len(xb) for xb, _ in batches]
        assert all(s == batch_size for s in sizes[:full])
        assert sum(sizes) == (full * batch_size if drop_last else n)
        for xb, yb in batches:
            assert xb.shape[1:] == (3,) and np.array_equal(xb[:, 0] // 3 * 7, yb)
        seen = np.concatenate([yb for _, yb in batches]) // 7
        assert len(set(seen.tolist())) == len(seen)  # no sample twice in one pass
        if not shuffle:
            assert seen.tolist() == list(range(len(seen)))
        epochs.append(seen)
    again = [yb for _, yb in DataLoader((X, y), batch_size, shuffle, drop_last, seed=seed)]
    assert np.array_equal(np.concatenate(again) // 7, epochs[0])  # a seed repeats a run


def test_shuffling_draws_a_new_order_each_epoch() -> None:
    loader = DataLoader(np.arange(50), batch_size=50, shuffle=True, seed=0)
    first, second = next(iter(loader)), next(iter(loader))
    assert sorted(first.tolist()) == list(range(50)) and not np.array_equal(first, second)


def test_without_a_seed_each_pass_draws_from_numpys_global_state() -> None:
    """The order was drawn from a generator made when the loader was: np.random.seed(s)
    before a pass did not repeat it, as torch.manual_seed(s) repeats a pass of PyTorch's."""
    loader = DataLoader(np.arange(50), batch_size=50, shuffle=True)
    np.random.seed(0)
    first, second = next(iter(loader)), next(iter(loader))
    np.random.seed(0)
    assert np.array_equal(next(iter(loader)), first) and not np.array_equal(first, second)


def test_a_single_array_three_arrays_and_the_repr() -> None:
    loader = DataLoader(np.arange(5.0), batch_size=2)
    assert [b.tolist() for b in loader] == [[0.0, 1.0], [2.0, 3.0], [4.0]]
    triple = list(DataLoader(([1, 2, 3], [4, 5, 6], [[7], [8], [9]]), batch_size=3))
    assert [len(t) for t in triple] == [3] and triple[0][2].tolist() == [[7], [8], [9]]
    assert repr(DataLoader((np.zeros((5, 2)), np.zeros(5)), 2, drop_last=True)) == (
        "DataLoader(5 samples, batch_size=2, shuffle=False, drop_last=True: 2 batches)")


def test_batches_are_copies() -> None:
    X = np.zeros((4, 2))
    xb, = next(iter(DataLoader((X,), batch_size=2)))
    xb[:] = 1.0
    assert X.sum() == 0.0


@pytest.mark.parametrize(("args", "kwargs", "message"), [
    (((),), {}, "got an empty tuple"),
    ((np.array(3.0),), {}, r"got shapes \[\(\)\]"),
    ((np.float64(3.0),), {}, r"e.g. \(X, y\); got a float64$"),
    (("abc",), {}, r"e.g. \(X, y\); got a str$"),  # (these said "got shapes [()]")
    (({"X": np.zeros(3)},), {}, r"e.g. \(X, y\); got a dict$"),
    (((np.zeros(3), np.zeros(4)),), {}, r"as many rows each; got shapes \[\(3,\), \(4,\)\]"),
    ((np.zeros(3),), {"batch_size": 0}, "batch_size must be a positive integer; got 0"),
    ((np.zeros(3),), {"batch_size": 2.0}, "got 2.0"),
    ((np.zeros(3),), {"shuffle": 1}, "shuffle must be True or False; got 1"),
    ((np.zeros(3),), {"drop_last": "no"}, "drop_last must be True or False"),
    ((np.zeros(3),), {"batch_size": 4, "drop_last": True},
     "3 samples in batches of 4 with drop_last=True give no batch at all"),
    ((np.zeros((0, 2)),), {}, "0 samples in batches of 1"),
])
def test_bad_loaders_are_refused(args: tuple[Any, ...], kwargs: dict[str, Any],
                                 message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DataLoader(*args, **kwargs)
