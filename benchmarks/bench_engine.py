"""Speed of the engine, side by side with the references it is measured against, in one run.

Scalar path: one training step of micrograd's own demo (MLP 2-16-16-1 on 100 moons points,
SVM max-margin loss plus 1e-4 L2) built from scalar Values, with tinygrad_edu and with
micrograd itself (as shipped, and with its garbage collector switched off).

Tensor path: one SGD step of a ReLU MLP with softmax cross-entropy, with tinygrad_edu and with
the same step written by hand in numpy (784-256-128-10, batch 512; and 2-16-16-2 on 100 points).

The machine is shared and noisy: read the ratios, not the absolute times. Each figure is the
median of several repeats.

    python benchmarks/bench_engine.py [--quick]
"""

from __future__ import annotations

import argparse
import gc
import itertools
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import tinygrad_edu
from tinygrad_edu import Value
from tinygrad_edu.engine import topological_order


def median_times(steps: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Median seconds of each step, the steps taking turns so that noise hits all alike.

    Each step starts from a collected heap, so no step pays for another's garbage.
    """
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            gc.collect()
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def gc_off(step: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        gc.disable()
        try:
            return step()
        finally:
            gc.enable()

    return run


def moons(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    half = n // 2
    t_out, t_in = np.linspace(0, np.pi, half), np.linspace(0, np.pi, n - half)
    X = np.concatenate([np.c_[np.cos(t_out), np.sin(t_out)],
                        np.c_[1 - np.cos(t_in), 1 - np.sin(t_in) - 0.5]])
    X += rng.normal(scale=0.1, size=X.shape)
    y = np.r_[np.zeros(half, int), np.ones(n - half, int)]
    return X, y


# ---- scalar path: micrograd's demo, written once for any micrograd-like Value class ---------


class ScalarMLP:
    """micrograd's nn.MLP, parametrised by the Value class, so both engines run the same code."""

    def __init__(self, value_cls: Any, nin: int, nouts: list[int], seed: int = 1337) -> None:
        rnd = random.Random(seed)
        sizes = [nin, *nouts]
        self.layers = []
        for i in range(len(nouts)):
            neurons = [([value_cls(rnd.uniform(-1, 1)) for _ in range(sizes[i])], value_cls(0.0))
                       for _ in range(sizes[i + 1])]
            self.layers.append((neurons, i != len(nouts) - 1))

    def __call__(self, x: list[Any]) -> Any:
        for neurons, nonlin in self.layers:
            out = []
            for w, b in neurons:
                act = sum((wi * xi for wi, xi in zip(w, x, strict=True)), b)
                out.append(act.relu() if nonlin else act)
            x = out
        return x[0]

    def parameters(self) -> list[Any]:
        return [p for neurons, _ in self.layers for w, b in neurons for p in [*w, b]]


def scalar_step(value_cls: Any, model: ScalarMLP, X: np.ndarray, y: np.ndarray) -> Any:
    """Forward, SVM loss + L2, backward and SGD update: micrograd's demo loop body."""
    inputs = [[value_cls(float(v)) for v in row] for row in X]
    yb = [1.0 if t else -1.0 for t in y]
    scores = [model(x) for x in inputs]
    losses = [(1 + -yi * si).relu() for yi, si in zip(yb, scores, strict=True)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = 1e-4 * sum(p * p for p in model.parameters())
    total = data_loss + reg_loss
    for p in model.parameters():
        p.grad = 0.0
    total.backward()
    for p in model.parameters():
        p.data -= 0.1 * p.grad
    return total


def bench_scalar(repeats: int) -> None:
    import micrograd.engine

    X, y = moons(100)
    ours = ScalarMLP(Value, 2, [16, 16, 1])
    theirs = ScalarMLP(micrograd.engine.Value, 2, [16, 16, 1])

    total = scalar_step(Value, ours, X, y)
    nodes = len(topological_order(total))
    t = median_times({
        "tinygrad_edu": lambda: scalar_step(Value, ours, X, y),
        "tinygrad_edu, gc off": gc_off(lambda: scalar_step(Value, ours, X, y)),
        "micrograd 0.1.0 (as shipped)": lambda: scalar_step(micrograd.engine.Value, theirs, X, y),
        "micrograd 0.1.0, gc off": gc_off(lambda: scalar_step(micrograd.engine.Value, theirs,
                                                              X, y)),
        "tinygrad_edu backward alone": total.backward,
    }, repeats)
    ours_t = t["tinygrad_edu"]
    print(f"scalar path: micrograd's demo step, MLP 2-16-16-1, 100 moons, {nodes:,} graph nodes")
    print(f"  {'':34}{'seconds':>10}{'/ tinygrad_edu':>17}")
    for name in list(t)[:4]:
        print(f"  {name:34}{t[name]:10.4f}{t[name] / ours_t:16.2f}x")
    mg_off = t["micrograd 0.1.0, gc off"]
    print(f"  micrograd with gc off / tinygrad_edu as shipped: {mg_off / ours_t:.2f}x "
          f"(target >= 2x); both with gc off: {mg_off / t['tinygrad_edu, gc off']:.2f}x")
    print(f"  backward alone (graph walk included): "
          f"{t['tinygrad_edu backward alone'] * 1e6 / nodes:.3f} us per node (target <= 0.5 us)")


# ---- tensor path: tinygrad_edu against hand-written numpy ----------------------------------


def init_mlp(sizes: list[int], seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [(rng.normal(scale=np.sqrt(2.0 / a), size=(a, b)), np.zeros(b))
            for a, b in itertools.pairwise(sizes)]


def numpy_step(params: list[tuple[np.ndarray, np.ndarray]], X: np.ndarray, labels: np.ndarray,
               lr: float) -> float:
    """Forward, softmax cross-entropy, backward and SGD, all by hand."""
    acts = [X]
    h = X
    for i, (W, b) in enumerate(params):
        z = h @ W + b
        h = np.maximum(z, 0.0) if i < len(params) - 1 else z
        acts.append(h)
    shifted = h - h.max(axis=1, keepdims=True)
    logsumexp = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    logp = shifted - logsumexp
    n = len(labels)
    loss = -logp[np.arange(n), labels].mean()
    grad = np.exp(logp)
    grad[np.arange(n), labels] -= 1.0
    grad /= n
    for i in range(len(params) - 1, -1, -1):
        W, b = params[i]
        gW, gb = acts[i].T @ grad, grad.sum(axis=0)
        if i:
            grad = (grad @ W.T) * (acts[i] > 0)
        W -= lr * gW
        b -= lr * gb
    return float(loss)


def engine_step(params: list[tuple[Value, Value]], X: np.ndarray, labels: np.ndarray,
                lr: float) -> float:
    """The same step with Values: the engine derives the backward pass."""
    h: Value | np.ndarray = X
    for i, (W, b) in enumerate(params):
        z = h @ W + b
        h = z.relu() if i < len(params) - 1 else z
    assert isinstance(h, Value)
    shifted = h - h.data.max(axis=1, keepdims=True)
    logp = shifted - shifted.exp().sum(axis=1, keepdims=True).log()
    loss = -logp[np.arange(len(labels)), labels].mean()
    for W, b in params:
        W.zero_grad()
        b.zero_grad()
    loss.backward()
    for W, b in params:
        W.data -= lr * W.grad
        b.data -= lr * b.grad
    return float(loss.data)


def bench_tensor(sizes: list[int], batch: int, repeats: int) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(batch, sizes[0]))
    labels = rng.integers(0, sizes[-1], size=batch)
    raw = init_mlp(sizes)
    values = [(Value(W.copy()), Value(b.copy())) for W, b in raw]
    loss_np = numpy_step([(W.copy(), b.copy()) for W, b in raw], X, labels, 0.0)
    loss_engine = engine_step(values, X, labels, 0.0)
    t = median_times({"numpy": lambda: numpy_step(raw, X, labels, 0.01),
                      "engine": lambda: engine_step(values, X, labels, 0.01)}, repeats)
    t_np, t_engine = t["numpy"], t["engine"]
    name = "-".join(map(str, sizes))
    print(f"tensor path: ReLU MLP {name}, batch {batch}, softmax cross-entropy, SGD "
          f"(losses agree: {abs(loss_np - loss_engine) < 1e-9})")
    print(f"  {'numpy by hand':34}{t_np * 1e3:10.3f} ms")
    print(f"  {'tinygrad_edu':34}{t_engine * 1e3:10.3f} ms   {t_engine / t_np:.2f}x numpy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    repeats = 3 if args.quick else 9
    print(f"tinygrad_edu {tinygrad_edu.__version__}, numpy {np.__version__}")
    bench_scalar(repeats)
    bench_tensor([784, 256, 128, 10], 512, repeats * 3)
    bench_tensor([2, 16, 16, 2], 100, repeats * 30)


if __name__ == "__main__":
    main()
