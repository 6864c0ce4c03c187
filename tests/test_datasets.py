"""tinygrad_edu.datasets: logic gates and the seeded 2-D classification sets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_edu.data import Array
from tinygrad_edu.datasets import DataLoader, logic_gate, make_circles, make_moons, make_spiral

Maker = Callable[..., tuple[np.ndarray, np.ndarray]]

TRUTH = {
    "and": [0, 0, 0, 1],
    "or": [0, 1, 1, 1],
    "nand": [1, 1, 1, 0],
    "xor": [0, 1, 1, 0],
}


@pytest.mark.parametrize("name", sorted(TRUTH))
def test_logic_gates_are_their_truth_tables(name: str) -> None:
    X, y = logic_gate(name)
    assert X.dtype == np.float64 and X.shape == (4, 2)
    assert y.dtype.kind == "i" and y.shape == (4,)
    assert X.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert y.tolist() == TRUTH[name]
    assert logic_gate(name.upper())[1].tolist() == TRUTH[name]


def test_not_gate_has_one_input() -> None:
    X, y = logic_gate("not")
    assert X.tolist() == [[0.0], [1.0]] and y.tolist() == [1, 0]


def test_logic_gate_returns_fresh_arrays() -> None:
    X, y = logic_gate("and")
    X[0, 0], y[0] = 9.0, 9
    assert logic_gate("and")[0][0, 0] == 0.0 and logic_gate("and")[1][0] == 0


def test_unknown_gate_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown logic gate 'xnor'; known gates: and, or, nand"):
        logic_gate("xnor")


def spiral(n: int, noise: float = 0.05, seed: Any = None) -> tuple[np.ndarray, np.ndarray]:
    return make_spiral(n, noise=noise, seed=seed)


MAKERS: list[tuple[Maker, int]] = [(make_moons, 1), (make_circles, 1), (spiral, 2)]
"""Each maker with the number of points per requested n (the spiral takes n per class)."""


@pytest.mark.parametrize(("make", "per_n"), MAKERS, ids=["moons", "circles", "spiral"])
@given(n=st.integers(1, 60), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=15)
def test_shapes_types_labels_and_seeding(make: Maker, per_n: int, n: int, seed: int) -> None:
    X, y = make(n, seed=seed)
    assert X.shape == (n * per_n, 2) and X.dtype == np.float64
    assert y.shape == (n * per_n,) and y.dtype.kind == "i"
    assert set(y.tolist()) <= {0, 1}
    counts = np.bincount(y, minlength=2)
    assert abs(counts[0] - counts[1]) <= 1
    X2, y2 = make(n, seed=seed)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    if n >= 4:
        X3, _ = make(n, seed=seed + 1)
        assert not np.array_equal(X, X3)


@pytest.mark.parametrize(("make", "per_n"), MAKERS, ids=["moons", "circles", "spiral"])
def test_a_generator_may_be_passed_as_seed(make: Maker, per_n: int) -> None:
    a = make(10, seed=np.random.default_rng(3))
    b = make(10, seed=np.random.default_rng(3))
    assert np.array_equal(a[0], b[0])


@pytest.mark.parametrize(("seed", "error"), [("a", TypeError), (1.5, TypeError),
                                            (-1, ValueError), (True, TypeError)])
def test_a_bad_seed_is_refused_in_our_words(seed: Any, error: type[Exception]) -> None:
    """(numpy's own message for "a" ends "...for entropy not a".)"""
    from tinygrad_edu.nn import MLP, Perceptron

    makers: list[Callable[[], Any]] = [
        lambda: make_moons(4, seed=seed), lambda: MLP(2, [3], seed=seed),
        lambda: Perceptron(2, seed=seed), lambda: DataLoader(np.ones(3), shuffle=True, seed=seed)]
    for make in makers:
        with pytest.raises(error, match=rf"^seed must be an integer ≥ 0, a numpy Generator or "
                                        rf"None; got {seed!r} \(type {type(seed).__name__}\)$"):
            make()


def test_moons_without_noise_lie_on_their_half_circles() -> None:
    X, y = make_moons(50, noise=0.0, seed=0)
    upper, lower = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0)
    assert np.all(upper[:, 1] >= -1e-12)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0)
    assert np.all(lower[:, 1] <= 0.5 + 1e-12)


def test_circles_without_noise_have_radius_1_and_factor() -> None:
    X, y = make_circles(40, noise=0.0, factor=0.3, seed=0)
    radius = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(radius[y == 0], 1.0)
    np.testing.assert_allclose(radius[y == 1], 0.3)


def test_spiral_arms_are_interleaved_half_a_turn_apart() -> None:
    X, y = make_spiral(200, noise=0.0, seed=0)
    radius = np.hypot(X[:, 0], X[:, 1])
    assert radius.max() == pytest.approx(1.0) and radius.min() == pytest.approx(0.05)
    # for each point of one arm, the point at the same radius on the other arm is opposite
    arm0 = X[y == 0][np.argsort(radius[y == 0])]
    arm1 = X[y == 1][np.argsort(radius[y == 1])]
    np.testing.assert_allclose(arm0, -arm1, atol=1e-12)
    # interleaved: along a ray the two classes alternate as the radius grows
    angles = np.arctan2(X[:, 1], X[:, 0])
    ray = np.abs(angles - 0.0) < 0.1
    labels_along_ray = y[ray][np.argsort(radius[ray])]
    assert len(set(labels_along_ray.tolist())) == 2


def test_circles_have_no_point_twice() -> None:
    """n points around a circle, evenly spaced: the angles 0 … 2π without the endpoint,
    which would put a point on top of the first."""
    X, y = make_circles(40, noise=0.0, seed=0)
    for label in (0, 1):
        angles = np.sort(np.arctan2(X[y == label, 1], X[y == label, 0]) % (2 * np.pi))
        steps = np.diff(np.append(angles, angles[0] + 2 * np.pi))
        np.testing.assert_allclose(steps, 2 * np.pi / 20)


@pytest.mark.parametrize("make", [make_moons, make_circles], ids=["moons", "circles"])
def test_an_odd_n_gives_class_1_the_extra_point(make: Maker) -> None:
    """As scikit-learn's make_moons and make_circles split an odd number of samples."""
    _, y = make(7, seed=0)
    assert np.bincount(y).tolist() == [3, 4]


def test_noise_is_gaussian_with_the_given_std() -> None:
    clean, _ = make_circles(2000, noise=0.0, seed=1)
    noisy, _ = make_circles(2000, noise=0.2, seed=1)
    # the same seed shuffles the same way; the difference is the noise
    noise = noisy - clean
    assert np.std(noise) == pytest.approx(0.2, rel=0.05)
    # drawn for each coordinate on its own: the noise of x and that of y are uncorrelated
    # (over 2000 points a correlation of about ±1/√2000 ≈ ±0.022; −0.03 with this seed)
    assert abs(np.corrcoef(noise[:, 0], noise[:, 1])[0, 1]) < 0.1


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: make_moons(0), r"make_moons: n must be a positive integer; got 0"),
        (lambda: make_moons(10, noise=-1.0), "noise must be a non-negative number; got -1.0"),
        (lambda: make_circles(10, factor=1.5), r"factor .* must be in \(0, 1\); got 1.5"),
        (lambda: make_spiral(2.5),  # type: ignore[arg-type]
         "n_per_class must be a positive integer; got 2.5"),
        (lambda: make_spiral(10, turns=0), "turns must be a positive number"),
    ],
)
def test_bad_arguments_are_refused(call: Callable[[], Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_numpys_global_seed_makes_data_and_models_repeat() -> None:
    """seed=None draws from numpy's global random state, as scikit-learn's random_state=None."""
    from tinygrad_edu.nn import MLP

    def run() -> list[np.ndarray]:
        np.random.seed(1337)
        model = MLP(2, [4, 1])
        data = [make_moons(10)[0], make_circles(10)[0], make_spiral(5)[0]]
        return data + [cast(Array, p.data) for p in model.parameters()]

    first, second = run(), run()
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    np.random.seed(7)
    assert not np.array_equal(make_moons(10)[0], first[0])
    np.testing.assert_array_equal(make_moons(10, seed=3)[0], make_moons(10, seed=3)[0])


# ---- DataLoader: a list is a list of samples; only a tuple is a group of arrays --------------


@given(rows=st.lists(st.lists(st.floats(-9.0, 9.0), min_size=2, max_size=2), min_size=1,
                     max_size=12), batch_size=st.integers(1, 5))
@settings(max_examples=30, deadline=None)
def test_a_list_of_samples_is_batched_as_the_array_of_them(rows: list[list[float]],
                                                            batch_size: int) -> None:
    as_list = DataLoader(rows, batch_size=batch_size)
    as_array = DataLoader(np.array(rows), batch_size=batch_size)
    assert repr(as_list) == repr(as_array)  # (one sample per row, not a group of rows)
    batches = list(as_list)
    assert all(isinstance(b, np.ndarray) for b in batches)
    for got, expected in zip(batches, as_array, strict=True):
        np.testing.assert_array_equal(got, expected)


def test_a_list_of_sample_tuples_is_collated_as_pytorch_does() -> None:
    X, y = np.arange(10.0).reshape(5, 2), np.array([0, 1, 0, 1, 1])
    pairs = list(DataLoader(list(zip(X, y, strict=True)), batch_size=2))
    grouped = list(DataLoader((X, y), batch_size=2))
    assert [len(p) for p in pairs] == [2, 2, 2]
    for (xb, yb), (xg, yg) in zip(pairs, grouped, strict=True):
        np.testing.assert_array_equal(xb, xg)
        np.testing.assert_array_equal(yb, yg)


def test_the_repro_a_list_of_three_rows_is_three_samples() -> None:
    loader = DataLoader([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], batch_size=2)
    assert loader.samples == 3 and len(loader) == 2  # (2 samples of a group of 3, before)
    assert [b.tolist() for b in loader] == [[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0]]]


@pytest.mark.parametrize(("dataset", "message"), [
    ([np.zeros((3, 2)), np.zeros(3)], r"a list is a list of samples, stacked into one array "
     r"\(as PyTorch's DataLoader does\), but the samples do not stack: they have shapes "
     r"\(3, 2\), \(3,\); for arrays with one row per sample, give a tuple: DataLoader\(\(X, y\)\)"),
    ([[1.0, 2.0], [3.0]], r"they have shapes \(2,\), \(1,\)"),
    ([(1.0, 0), (2.0,)], "tuples of one length; got lengths \\[1, 2\\]"),
    ([([1.0, 2.0], 0), ([3.0], 1)], "position 0 of the samples do not stack"),
])
def test_a_list_that_does_not_stack_is_refused_clearly(dataset: list[Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DataLoader(dataset)
