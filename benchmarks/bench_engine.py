"""Speed of the engine, side by side with the references it is measured against, in one run.

Prints the table of the speed issue: every figure a median, over many rounds, of a ratio
measured within one round.

* Scalar path: one training step of micrograd's own demo (MLP 2-16-16-1 on 100 moons points,
  SVM max-margin loss plus 1e-4 L2, backward, SGD) built from scalar Values, with tinygrad_edu
  and with micrograd itself (as shipped, and with the garbage collector off); and backward
  alone, per graph node, on a graph built (untimed) just before it.
* Tensor path: the step a user writes (``X @ W + b`` with a numpy batch, relu, the package's
  `cross_entropy`, `zero_grad`, `backward()`, a manual SGD update; and, a row below, the
  same with `optim.SGD`) against the same step written by hand in numpy, on a small
  (2-16-16-2, batch 100) and a medium (784-256-128-10, batch 512) MLP; with PyTorch
  (1 thread), MyGrad and HIPS autograd as further columns when
  they can be imported (``pip install -e '.[bench]'`` brings the last two; PyTorch is large:
  ``pip install torch --index-url https://download.pytorch.org/whl/cpu``).

The method, made for a shared, noisy machine: the contenders take one step each per round, in
an order that changes from round to round (shuffled: a plain rotation would keep every step's
neighbours, so one step would always follow a collection); each step is timed in CPU time of
this thread (`time.thread_time`), so time the scheduler gives to other processes is not
counted; a step "with the collector off" runs with `gc.disable()` inside its timing and is
followed by an untimed ``gc.collect()``, so that no other step pays for its garbage (a row in
parentheses adds that collection's time to the step's: a graph of reference cycles, such as
micrograd's, is freed only there, one without cycles within the step; another keeps each
step's graph until after the timer, so that no contender's freeing counts). Each scalar
contender runs in a process of its own, forked from this one, which tells each in turn to take
its step: in one process, the tens of thousands of objects each step makes and frees would
share the allocator's arenas with the other contenders', and one's garbage would change the
page faults of the next (see `run_rounds`). A round gives one ratio per contender; the figure
is the median of those ratios. numpy and PyTorch
run one BLAS thread (a second thread's CPU time would escape `thread_time`), and glibc's
allocator thresholds are fixed (hand-written numpy alone swings 10-40% with the allocator's
history): the script re-runs itself with those environment variables set when they are not.

    python benchmarks/bench_engine.py [--quick] [--tiny] [--floors] [--only PART]

``--quick`` runs few rounds; ``--tiny`` shrinks every problem (for the test that keeps this
script working; its figures mean nothing). ``--floors`` adds the lean references of
`floors.py` to the same rounds (an engine that does what this one must do and nothing more;
on scalars, the same on a tape, whose graphs are reference cycles; and hand-written numpy
that keeps what it keeps), checks that they compute exactly the engine's loss and gradients,
and prints a second table: how far each figure can go (the scalar step's, and its two halves:
the forward pass alone, each graph let go untimed, and the backward pass per node), with our
time ÷ the lean engine's beside our figure.
"""

from __future__ import annotations

import os
import sys

# Before numpy is imported: one BLAS thread, and an allocator that does not depend on history.
_ENVIRONMENT = {
    "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    "GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=268435456",
}

# the checkout this script lives in, not another installed copy of the package
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

if __name__ == "__main__" and any(os.environ.get(k) != v for k, v in _ENVIRONMENT.items()):
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **_ENVIRONMENT})

import argparse  # noqa: E402  (after the re-run above: numpy must see the environment)
import contextlib  # noqa: E402
import functools  # noqa: E402
import gc  # noqa: E402
import importlib  # noqa: E402
import itertools  # noqa: E402
import multiprocessing  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from floors import LeanScalar, LeanTensor, TapeScalar, numpy_kept_step  # noqa: E402

import tinygrad_edu  # noqa: E402
from tinygrad_edu import Value  # noqa: E402
from tinygrad_edu.engine import topological_order  # noqa: E402
from tinygrad_edu.losses import cross_entropy  # noqa: E402
from tinygrad_edu.optim import SGD  # noqa: E402

Step = Callable[[], Any]


# ---- the method ------------------------------------------------------------------------------


@dataclass
class Contender:
    """One step to time; `gc_off` runs it with the garbage collector switched off.

    A contender takes `steps` steps in a row at its turn (the time of one is their mean): with
    the collector on, a full collection falls on about one step in two, so one step a turn
    would make the median depend on where the collections fell. `collections`: for a step
    with the collector off, the CPU time of the `gc.collect()` after each turn, kept apart;
    `releases`, the CPU time of `after` (a graph let go there: the time of its freeing).
    """

    name: str
    step: Step
    gc_off: bool = False
    steps: int = 1
    times: list[float] = field(default_factory=list)
    faults: list[int] = field(default_factory=list)
    collections: list[float] = field(default_factory=list)
    releases: list[float] = field(default_factory=list)
    before: Callable[[], Any] | None = None  # run untimed before each turn (collector as
    # the step has it)
    after: Callable[[], Any] | None = None  # run untimed after each turn


def _minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_THREAD).ru_minflt


def run_rounds(contenders: Sequence[Contender], rounds: int, *, isolated: bool = False) -> None:
    """Time one step of each contender per round, in an order that changes from round to round.

    The order is shuffled (seeded), not rotated: a rotation keeps each step's neighbours, and
    the step that always follows a collection (the one after a step with the collector off)
    would always start on a fresh collector.

    CPU time of the thread that runs the step; an untimed `gc.collect()` after each step run
    with the collector off (a step with it on pays for its own collections, as in a training
    loop, and a collection after it would leave the next step cold caches). Every step runs
    once untimed first.

    `isolated`: each contender runs in a process of its own (forked from this one, as it is
    now), the rounds still interleaved, one step at a time, by this process: for steps that
    each allocate tens of thousands of objects (the scalar demo). In one process such
    contenders share the allocator's arenas and the collector's generations, and one's
    garbage changes the memory the next gets (micrograd's gc-off demo step took 10,708 minor
    page faults a step alone and 5,002 beside the others; ours 284 alone and 1,260 beside
    them): a cost no user of either engine pays, who runs one. Not for a step of a fraction of
    a millisecond: a switch of process leaves it cold caches (the small MLP's numpy step
    took 0.20 ms a step so, against 0.09 in one process), which a training loop does not
    meet either. Where processes cannot be forked, in this process.
    """
    runners = [_Forked(c) if isolated and _CAN_FORK else _InProcess(c) for c in contenders]
    order = list(range(len(contenders)))
    shuffle = random.Random(0).shuffle
    try:
        for _ in range(rounds):
            shuffle(order)
            for k in order:
                elapsed, faults, release, collection = runners[k].turn()
                c = contenders[k]
                c.times.append(elapsed)
                c.faults.append(faults)
                if release is not None:
                    c.releases.append(release)
                if collection is not None:
                    c.collections.append(collection)
    finally:
        for runner in runners:
            runner.close()


Turn = tuple[float, int, float | None, float | None]  # elapsed, faults, release, collection


def _turn(c: Contender) -> Turn:
    """One timed turn of `c` (its `steps` steps): the time of a step, its minor page faults, and
    per step, the time of `after` and of the collection after a collector-off turn (or None)."""
    collecting = gc.isenabled()
    if c.gc_off:
        gc.disable()
    try:
        if c.before is not None:
            c.before()
        faults, start = _minor_faults(), time.thread_time()
        for _ in range(c.steps):
            c.step()
        elapsed = (time.thread_time() - start) / c.steps
        faults = (_minor_faults() - faults) // c.steps
        release = collection = None
        if c.after is not None:
            start = time.thread_time()
            c.after()
            release = (time.thread_time() - start) / c.steps
    finally:
        if collecting:
            gc.enable()
    if c.gc_off:
        start = time.thread_time()
        gc.collect()  # what the collector would have done, not in the step's time
        collection = (time.thread_time() - start) / c.steps
    return elapsed, faults, release, collection


def _warm_up(c: Contender) -> None:
    """A step of `c`, untimed (its first: imports, caches, the arrays it allocates)."""
    if c.before is not None:
        c.before()
    c.step()
    if c.after is not None:
        c.after()
    gc.collect()


class _InProcess:
    """A contender run in this process."""

    def __init__(self, c: Contender) -> None:
        self.contender = c
        _warm_up(c)

    def turn(self) -> Turn:
        return _turn(self.contender)

    def close(self) -> None:
        pass


_CAN_FORK = "fork" in multiprocessing.get_all_start_methods()


class _Forked:
    """A contender run in a process of its own, forked from this one: it takes a turn when
    told to, and sends back what `_turn` measured."""

    def __init__(self, c: Contender) -> None:
        self.name = c.name
        self.connection, theirs = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("fork").Process(
            target=self._serve, args=(c, theirs), daemon=True)
        self.process.start()
        theirs.close()

    @staticmethod
    def _serve(c: Contender, connection: Any) -> None:
        _warm_up(c)
        while connection.recv():
            connection.send(_turn(c))

    def turn(self) -> Turn:
        try:
            self.connection.send(True)
            result: Turn = self.connection.recv()
        except (EOFError, OSError):  # (gone: its step, or its first step, raised)
            raise RuntimeError(f"the step of {self.name!r} raised (its traceback is above)") \
                from None
        return result

    def close(self) -> None:
        with contextlib.suppress(OSError):  # (a worker gone: its step raised, and its
            self.connection.send(False)  # traceback says why)
        self.process.join()


def ratio(numerator: Contender, denominator: Contender, *,
          with_collections: bool = False) -> float:
    """The median over rounds of numerator's time ÷ denominator's time in the same round;
    `with_collections`: each time with the collection after it added (collector-off steps)."""
    def times(c: Contender) -> list[float]:
        if not with_collections:
            return c.times
        return [t + collection for t, collection in zip(c.times, c.collections, strict=True)]

    return statistics.median(a / b for a, b in zip(times(numerator), times(denominator),
                                                   strict=True))


def of_lean(ours: Contender, lean: Contender) -> str:
    """The floors table's bracket after our figure: our time ÷ the lean engine's, the median
    of the per-round ratios (a target stated against the floor reads it here)."""
    return f" ({ratio(ours, lean):.2f})"


def median(c: Contender) -> float:
    return statistics.median(c.times)


# ---- data --------------------------------------------------------------------------------------


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


def scalar_loss(value_cls: Any, model: ScalarMLP, X: np.ndarray, y: np.ndarray) -> Any:
    """micrograd's demo loss: SVM max-margin plus 1e-4 L2, from scalar Values."""
    inputs = [[value_cls(float(v)) for v in row] for row in X]
    yb = [1.0 if t else -1.0 for t in y]
    scores = [model(x) for x in inputs]
    losses = [(1 + -yi * si).relu() for yi, si in zip(yb, scores, strict=True)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = 1e-4 * sum(p * p for p in model.parameters())
    return data_loss + reg_loss


def scalar_step(value_cls: Any, model: ScalarMLP, X: np.ndarray, y: np.ndarray) -> Any:
    """Forward, loss, zero_grad, backward and SGD update: micrograd's demo loop body."""
    total = scalar_loss(value_cls, model, X, y)
    for p in model.parameters():
        p.grad = 0.0
    total.backward()
    for p in model.parameters():
        p.data -= 0.1 * p.grad
    return total


def let_go_after(name: str, build: Callable[[], Any]) -> Contender:
    """`build`, collector off, the graph it returns kept until after the timer and let go
    there (its freeing timed apart, in `releases`)."""
    kept: list[Any] = []
    return Contender(name, lambda: kept.append(build()), gc_off=True, after=kept.clear)


def forward_alone(value_cls: Any, model: ScalarMLP, X: np.ndarray, y: np.ndarray) -> Contender:
    """The step's forward pass (`scalar_loss`), collector off; its graph is let go untimed."""
    return let_go_after(f"forward, {value_cls.__name__}",
                        lambda: scalar_loss(value_cls, model, X, y))


def backward_alone(value_cls: Any, model: ScalarMLP, X: np.ndarray, y: np.ndarray) -> Contender:
    """The step's backward pass, collector off, on a graph built untimed just before it and
    let go untimed after it: the graph a training step's backward meets, in memory the last
    one freed. (Passes repeated on one graph measured the luck of its layout: ours moved
    0.39-0.58x micrograd's from run to run; 0.513-0.522 in three runs this way.)"""
    graph: list[Any] = []
    return Contender(f"backward, {value_cls.__name__}", lambda: graph[0].backward(),
                     gc_off=True, before=lambda: graph.append(scalar_loss(value_cls, model, X, y)),
                     after=graph.clear)


def micrograd_nodes(root: Any) -> int:
    """The nodes micrograd's backward visits (its topological sort, constants included)."""
    seen, stack = {root}, [root]
    while stack:
        for child in stack.pop()._prev:
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return len(seen)


@dataclass
class Row:
    """One line of the table: the figure per column ('' where it was not measured)."""

    work: str
    cells: dict[str, str]


def bench_scalar(rounds: int, points: int, hidden: int, steps_on: int,
                 floors: list[Row] | None = None) -> list[Row]:
    import micrograd.engine

    mg = micrograd.engine.Value
    X, y = moons(points)
    sizes = [hidden, hidden, 1]
    ours, theirs = ScalarMLP(Value, 2, sizes), ScalarMLP(mg, 2, sizes)
    steps = [
        Contender("ours", lambda: scalar_step(Value, ours, X, y), steps=steps_on),
        Contender("ours, gc off", lambda: scalar_step(Value, ours, X, y), gc_off=True),
        Contender("micrograd", lambda: scalar_step(mg, theirs, X, y), steps=steps_on),
        Contender("micrograd, gc off", lambda: scalar_step(mg, theirs, X, y), gc_off=True),
        let_go_after("ours, gc off, its graph let go after the timer",
                     lambda: scalar_step(Value, ours, X, y)),
    ]
    floor_steps: list[Contender] = []
    if floors is not None:
        lean, taped = ScalarMLP(LeanScalar, 2, sizes), ScalarMLP(TapeScalar, 2, sizes)
        floor_steps = [
            Contender("lean, gc off", lambda: scalar_step(LeanScalar, lean, X, y), gc_off=True),
            Contender("tape, gc off", lambda: scalar_step(TapeScalar, taped, X, y), gc_off=True),
            # the forward alone (micrograd, ours, lean, tape): the loss built, and let go
            # after the timer, so no contender's freeing counts
            *[forward_alone(cls, model, X, y) for cls, model in
              [(mg, theirs), (Value, ours), (LeanScalar, lean), (TapeScalar, taped)]]]
    run_rounds(steps + floor_steps, rounds, isolated=True)
    ours_on, ours_off, mg_on, mg_off, ours_kept = steps
    if floors is not None:
        # checked after the rounds, on models as built (the steps may have run here): three
        # graphs of 65,000 nodes built here before them would leave the workers forked from
        # this process a heap that spared micrograd's step a quarter of its page faults
        # (8,208 a step against 10,744; 105 ms against 112)
        for floor in (LeanScalar, TapeScalar):
            engine_model, floor_model = ScalarMLP(Value, 2, sizes), ScalarMLP(floor, 2, sizes)
            check_same_gradients(scalar_loss(Value, engine_model, X, y), engine_model.parameters(),
                                 scalar_loss(floor, floor_model, X, y), floor_model.parameters())
        lean_off, tape_off, mg_forward, *forwards = floor_steps
        floors.append(Row("micrograd's demo step, both with the collector off: micrograd ÷ …",
                          {"lean": f"{ratio(mg_off, lean_off):.3f}×",
                           "tape": f"{ratio(mg_off, tape_off):.3f}×",
                           "ours": f"{ratio(mg_off, ours_off):.3f}×{of_lean(ours_off, lean_off)}"}))
        cells = {column: f"{ratio(mg_forward, forward):.3f}×"
                 for column, forward in zip(["ours", "lean", "tape"], forwards, strict=True)}
        cells["ours"] += of_lean(forwards[0], forwards[1])
        floors.append(Row("its forward alone (the loss built; each graph let go after the "
                          "timer): micrograd ÷ …", cells))

    # backward alone, each on a graph just built (the lean graph is ours, node for node)
    our_nodes = len(topological_order(scalar_loss(Value, ours, X, y)))
    their_nodes = micrograd_nodes(scalar_loss(mg, theirs, X, y))
    passes = [backward_alone(cls, model, X, y) for cls, model in
              [(Value, ours), (mg, theirs), *([(LeanScalar, lean)] if floors is not None else [])]]
    run_rounds(passes, rounds, isolated=True)
    per_node = [median(passes[0]) * 1e6 / our_nodes, median(passes[1]) * 1e6 / their_nodes]
    nodes = their_nodes / our_nodes  # (a ratio of times × this: a ratio of times per node)
    if floors is not None:
        floors.append(Row("backward per node, scalar: ÷ micrograd's",
                          {"lean": f"{ratio(passes[2], passes[1]) * nodes:.3f}×",
                           "ours": f"{ratio(passes[0], passes[1]) * nodes:.3f}×"
                                   f"{of_lean(passes[0], passes[2])}"}))

    work = f"micrograd's demo step, scalar Values ({our_nodes:,} nodes)"
    released = statistics.median(ours_kept.releases) * 1e3  # (ms: our graph's freeing)
    return [
        Row(f"{work}: micrograd with gc off ÷ ours, as shipped ({rounds} rounds; "
            f"{steps_on} steps a turn with the collector on)",
            {"micrograd": "1.00", "ours": f"{ratio(mg_off, ours_on):.3f}×"}),
        Row("same, both with the collector off",
            {"micrograd": "1.00", "ours": f"{ratio(mg_off, ours_off):.3f}×"}),
        Row("(same, with the `gc.collect()` after each step added to its time: micrograd's "
            "graph is made of reference cycles, freed only there; ours is freed within the "
            "step)",
            {"micrograd": "1.00",
             "ours": f"{ratio(mg_off, ours_off, with_collections=True):.3f}×"}),
        Row("(same, each step's graph let go after the timer, so that no one's freeing counts: "
            "micrograd's is in its collection, ours took the time in brackets, a median)",
            {"micrograd": "1.00", "ours": f"{ratio(mg_off, ours_kept):.3f}× ({released:.1f} ms)"}),
        Row("(micrograd as shipped ÷ ours, as shipped)",
            {"micrograd": "1.00", "ours": f"{ratio(mg_on, ours_on):.3f}×"}),
        Row(f"backward per node (scalar; micrograd's graph has {their_nodes:,} nodes; in "
            "brackets ÷ micrograd's, a figure that moves less with the machine's speed)",
            {"micrograd": f"{per_node[1]:.3f} µs",
             "ours": f"{per_node[0]:.3f} µs ({ratio(passes[0], passes[1]) * nodes:.3f}×)"}),
    ]


def check_same_gradients(our_loss: Any, ours: list[Any], lean_loss: Any,
                         lean: list[Any]) -> None:
    """A floor measures the same work: the lean engine's loss and gradients are the engine's,
    bit for bit (from parameters of the same values; `.grad` reset first)."""
    for p in [*ours, *lean]:
        p.grad = 0.0 if type(p.data) is float else None
    our_loss.backward()
    lean_loss.backward()
    pairs = [(our_loss.data, lean_loss.data), *((a.grad, b.grad) for a, b in zip(ours, lean,
                                                                                 strict=True))]
    if not all(_same_bits(a, b) for a, b in pairs):
        raise AssertionError("the lean engine does not compute what the engine computes")


def _same_bits(x: Any, y: Any) -> bool:
    """x and y hold the same float64 numbers, bit for bit (nan and -0.0 too)."""
    x, y = np.asarray(x), np.asarray(y)
    return (x.dtype == y.dtype == np.float64 and x.shape == y.shape
            and np.array_equal(x.view(np.int64), y.view(np.int64)))


# ---- tensor path: the step a user writes, against hand-written numpy and the others ----------


Params = list[tuple[np.ndarray, np.ndarray]]
ValueParams = list[tuple[Value, Value]] | list[tuple[LeanTensor, LeanTensor]]
"""A network's (W, b) per layer as Values: the engine's, or the lean floor's (floors.py)."""


def init_mlp(sizes: list[int], seed: int = 0) -> Params:
    rng = np.random.default_rng(seed)
    return [(rng.normal(scale=np.sqrt(2.0 / a), size=(a, b)), np.zeros(b))
            for a, b in itertools.pairwise(sizes)]


def numpy_step(params: Params, X: np.ndarray, labels: np.ndarray, lr: float) -> float:
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


def engine_forward(params: ValueParams, X: np.ndarray) -> Any:
    """The network's logits for the numpy batch `X`: relu(X @ W + b) per layer, none last."""
    h: Any = X
    for i, (W, b) in enumerate(params):
        z = h @ W + b
        h = z.relu() if i < len(params) - 1 else z
    return h


def engine_step(params: ValueParams, X: np.ndarray, labels: np.ndarray,
                lr: float, loss_of: Callable[[Any, Any], Any] = cross_entropy) -> float:
    """The same step with Values, as a user writes it: the engine derives the backward pass.
    (`loss_of`: the package's `cross_entropy`, or the lean engine's of floors.py.)"""
    loss = loss_of(engine_forward(params, X), labels)
    for W, b in params:
        W.zero_grad()
        b.zero_grad()
    loss.backward()
    for W, b in params:
        W.data -= lr * W.grad
        b.data -= lr * b.grad
    return float(loss.data)


def engine_sgd_step(params: list[tuple[Value, Value]], optimizer: SGD, X: np.ndarray,
                    labels: np.ndarray) -> float:
    """`engine_step` with the package's optimizer: `zero_grad()` and `step()` of `SGD`."""
    loss = cross_entropy(engine_forward(params, X), labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return float(loss.data)


def torch_step(raw: Params) -> Callable[[np.ndarray, np.ndarray, float], float] | None:
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        return None
    torch.set_num_threads(1)
    params = [(torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True))
              for W, b in raw]
    functional = importlib.import_module("torch.nn.functional")

    def step(X: np.ndarray, labels: np.ndarray, lr: float) -> float:
        h = torch.from_numpy(X)
        for i, (W, b) in enumerate(params):
            h = h @ W + b
            if i < len(params) - 1:
                h = h.relu()
        loss = functional.cross_entropy(h, torch.from_numpy(labels))
        for W, b in params:
            W.grad = None
            b.grad = None
        loss.backward()
        with torch.no_grad():
            for W, b in params:
                W -= lr * W.grad
                b -= lr * b.grad
        return float(loss.detach())

    return step


def mygrad_step(raw: Params) -> Callable[[np.ndarray, np.ndarray, float], float] | None:
    try:
        mg = importlib.import_module("mygrad")
        nnet = importlib.import_module("mygrad.nnet")
    except ImportError:
        return None
    params = [(mg.tensor(W.copy()), mg.tensor(b.copy())) for W, b in raw]

    def step(X: np.ndarray, labels: np.ndarray, lr: float) -> float:
        h: Any = X
        for i, (W, b) in enumerate(params):
            h = mg.matmul(h, W) + b
            if i < len(params) - 1:
                h = nnet.relu(h)
        loss = nnet.softmax_crossentropy(h, labels)
        loss.backward()
        for W, b in params:
            W.data -= lr * W.grad
            b.data -= lr * b.grad
        return float(loss.item())

    return step


def autograd_step(raw: Params) -> Callable[[np.ndarray, np.ndarray, float], float] | None:
    try:
        autograd = importlib.import_module("autograd")
        anp = importlib.import_module("autograd.numpy")
    except ImportError:
        return None
    params = [(W.copy(), b.copy()) for W, b in raw]

    def loss_of(ps: Params, X: np.ndarray, labels: np.ndarray) -> Any:
        h: Any = X
        for i, (W, b) in enumerate(ps):
            h = anp.dot(h, W) + b
            if i < len(ps) - 1:
                h = anp.maximum(h, 0.0)
        shifted = h - anp.max(h, axis=1, keepdims=True)
        logp = shifted - anp.log(anp.sum(anp.exp(shifted), axis=1, keepdims=True))
        return -anp.mean(logp[np.arange(len(labels)), labels])

    value_and_grad = autograd.value_and_grad(loss_of)

    def step(X: np.ndarray, labels: np.ndarray, lr: float) -> float:
        loss, grads = value_and_grad(params, X, labels)
        for (W, b), (gW, gb) in zip(params, grads, strict=True):
            W -= lr * gW
            b -= lr * gb
        return float(loss)

    return step


OTHERS = {"PyTorch": torch_step, "MyGrad": mygrad_step, "autograd": autograd_step}


def bench_tensor(sizes: list[int], batch: int, rounds: int,
                 floors: list[Row] | None = None) -> list[Row]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(batch, sizes[0]))
    labels = rng.integers(0, sizes[-1], size=batch)
    raw = init_mlp(sizes)
    values = [(Value(W.copy()), Value(b.copy())) for W, b in raw]
    reference = numpy_step([(W.copy(), b.copy()) for W, b in raw], X, labels, 0.0)
    ours = engine_step(values, X, labels, 0.0)
    if abs(reference - ours) > 1e-9 * max(1.0, abs(reference)):
        raise AssertionError(f"the engine's loss {ours} is not numpy's {reference}")
    with_sgd = [(Value(W.copy()), Value(b.copy())) for W, b in raw]
    sgd = SGD([p for pair in with_sgd for p in pair], lr=1e-3)
    steps = [Contender("numpy", lambda: numpy_step(raw, X, labels, 1e-3)),
             Contender("ours", lambda: engine_step(values, X, labels, 1e-3)),
             Contender("ours, SGD", lambda: engine_sgd_step(with_sgd, sgd, X, labels))]
    for name, make in OTHERS.items():
        other = make(raw)
        if other is not None:
            steps.append(Contender(name, functools.partial(other, X, labels, 1e-3)))
    floor_steps: list[Contender] = []
    if floors is not None:
        lean = [(LeanTensor(W.copy()), LeanTensor(b.copy())) for W, b in raw]
        check_same_gradients(cross_entropy(engine_forward(values, X), labels),
                             [p for pair in values for p in pair],
                             LeanTensor.cross_entropy(engine_forward(lean, X), labels),
                             [p for pair in lean for p in pair])
        kept = [(W.copy(), b.copy()) for W, b in raw]
        if numpy_kept_step(kept, X, labels, 0.0) != ours:
            raise AssertionError("numpy_kept_step's loss is not the engine's")
        floor_steps = [Contender("lean", lambda: engine_step(lean, X, labels, 1e-3,
                                                             LeanTensor.cross_entropy)),
                       Contender("numpy, kept", lambda: numpy_kept_step(kept, X, labels, 1e-3))]
    run_rounds(steps + floor_steps, rounds)
    numpy, ours_manual, ours_sgd = steps[:3]
    cells = {c.name: f"{ratio(c, numpy):.3f}×" for c in steps[1:] + floor_steps}
    peers = [c for c in steps if c is not ours_sgd]
    faults = " / ".join(f"{statistics.median(c.faults):.0f}" for c in peers)
    names = " / ".join(c.name for c in peers)
    work = f"MLP {'-'.join(map(str, sizes))}, batch {batch}, step ÷ hand-written numpy"
    if floors is not None:
        floors.append(Row(work, {**cells, "ours": cells["ours"] + of_lean(ours_manual,
                                                                          floor_steps[0])}))
    return [Row(f"{work} ({median(numpy) * 1e3:.2f} ms; {rounds} rounds; minor faults per "
                f"step, {names}: {faults})", cells),
            Row("same, with `optim.SGD` (its `zero_grad()` and `step()`) for the manual update",
                {"ours": cells["ours, SGD"]})]


# ---- the table -------------------------------------------------------------------------------

COLUMNS = ["micrograd", "PyTorch", "MyGrad", "autograd", "ours"]
HEADERS = {"micrograd": "micrograd", "PyTorch": "PyTorch CPU, 1 thread", "MyGrad": "MyGrad",
           "autograd": "HIPS autograd", "ours": "tinygrad_edu"}
FLOORS = {"lean": "lean engine, same semantics (floors.py)",
          "tape": "lean engine on a tape, its graph of reference cycles (floors.py)",
          "numpy, kept": "numpy keeping what the engine keeps",
          "ours": "tinygrad_edu (in brackets: its time ÷ the lean engine's)"}


def print_table(rows: list[Row], headers: dict[str, str] | None = None) -> None:
    headers = headers or {c: HEADERS[c] for c in COLUMNS}
    print("| work | " + " | ".join(headers.values()) + " |")
    print("|---|" + "---|" * len(headers))
    for row in rows:
        cells = [row.cells.get(c, "—") for c in headers]
        print(f"| {row.work} | " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="few rounds")
    parser.add_argument("--tiny", action="store_true", help="tiny problems (a smoke test)")
    parser.add_argument("--only", choices=["scalar", "small", "medium"], action="append",
                        help="run only this part (may be repeated)")
    parser.add_argument("--floors", action="store_true",
                        help="also time the lean references of floors.py, in the same rounds")
    args = parser.parse_args(argv)
    parts = args.only or ["scalar", "small", "medium"]
    scalar_rounds, small_rounds, medium_rounds = (3, 10, 5) if args.quick else (21, 151, 41)
    points, hidden = (10, 4) if args.tiny else (100, 16)
    small = ([2, 4, 2], 8) if args.tiny else ([2, 16, 16, 2], 100)
    medium = ([20, 8, 4], 16) if args.tiny else ([784, 256, 128, 10], 512)
    print(f"tinygrad_edu {tinygrad_edu.__version__} ({os.path.dirname(tinygrad_edu.__file__)}), "
          f"numpy {np.__version__}, Python {sys.version.split()[0]}")
    rows: list[Row] = []
    floors: list[Row] | None = [] if args.floors else None
    if "scalar" in parts:
        rows += bench_scalar(scalar_rounds, points, hidden, 1 if args.quick else 4, floors)
    if "small" in parts:
        rows += bench_tensor(*small, small_rounds, floors)
    if "medium" in parts:
        rows += bench_tensor(*medium, medium_rounds, floors)
    print_table(rows)
    if floors:
        print("\nFloors: the least an engine costs (the lean one with the same semantics), "
              "in the same rounds")
        print_table(floors, FLOORS)


if __name__ == "__main__":
    main()
