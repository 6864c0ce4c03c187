"""The lecture, runnable: one function per example, shared by `examples/*.py` and the command.

Each example writes its pictures into a folder and returns an `ExampleResult`: the files it
wrote, the training accuracies it reached, and a short text report. ``quick=True`` makes it
small enough for the tests (a few seconds); the full size runs in seconds too.

============================  ======================================================
example                       what it shows
============================  ======================================================
`value_and_graph`             a neuron tanh(x1*w1 + x2*w2 + b), its gradients, its
                              graph (SVG) and backpropagation step by step (HTML)
`activation_functions`        every activation and the derivative the engine
                              computes, checked against finite differences
`perceptron_logic_gates`      Rosenblatt's rule on AND, OR, NAND, XOR (XOR never
                              converges) and a sigmoid neuron's boundary moving (GIF)
`xor_mlp`                     an MLP learns XOR by backpropagation; a linear MLP fails
`decision_boundaries`         the lecture's grid: m hidden layers × n units on a spiral
`micrograd_demo`              micrograd's demo: moons, 100% training accuracy
`digits_mlp`                  past the lecture (not in the tour): an MLP on real
                              handwritten digits, accuracy on digits it never saw
============================  ======================================================

The helpers they share for training (`train_binary`, `accuracy`, `progress_bar`) are in
`tinygrad_edu.training`, and importable from here too.

>>> from tinygrad_edu.datasets import logic_gate
>>> from tinygrad_edu.perceptron import Perceptron
>>> X, y = logic_gate("and")
>>> p = Perceptron(2, zeros=True)
>>> print(describe_gate_run("and", p.fit(X, y), correct=int((p.predict(X) == y).sum())))
AND   converged after 6 epochs (10 updates); final weights get 4/4 right
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_edu._common import PathLike, plural
from tinygrad_edu.activations import ACTIVATIONS, activation_names
from tinygrad_edu.data import Array, Labels
from tinygrad_edu.datasets import (
    DataLoader,
    load_digits,
    logic_gate,
    make_moons,
    make_spiral,
)
from tinygrad_edu.engine import Value, no_grad
from tinygrad_edu.losses import binary_cross_entropy_with_logits, hinge_loss
from tinygrad_edu.nn import MLP, Neuron
from tinygrad_edu.optim import SGD, Adam
from tinygrad_edu.perceptron import Perceptron, PerceptronHistory
from tinygrad_edu.plots import (
    PLOT_INSTALL_HINT,
    PlotDependencyError,
    grid_predictions,
    plot_activations,
    plot_confusion_matrix,
    plot_decision_boundary,
    plot_images,
    plot_learning_curves,
    require_matplotlib,
)
from tinygrad_edu.testing import gradcheck
from tinygrad_edu.training import (
    accuracy,
    confusion_matrix,
    one_blas_thread,
    predict,
    progress_bar,
    train_binary,
    train_classifier,
)

__all__ = [
    "DIGITS_HIDDEN",
    "EXAMPLES",
    "GATE_NAMES",
    "GRID_LAYERS",
    "GRID_UNITS",
    "MORE_EXAMPLES",
    "ExampleResult",
    "accuracy",
    "activation_functions",
    "decision_boundaries",
    "describe_gate_run",
    "describe_xor_limit",
    "digits_mlp",
    "example_main",
    "micrograd_demo",
    "output_folder",
    "path_kind",
    "perceptron_logic_gates",
    "print_result",
    "progress_bar",
    "run_tour",
    "skipped_pictures",
    "summary_table",
    "train_binary",
    "value_and_graph",
    "xor_mlp",
]



@dataclass
class ExampleResult:
    """What an example did: the files it wrote, the accuracies it reached, a text report.

    `accuracies` are in [0, 1], by model: training accuracies, unless the name says "test";
    `details` holds the objects behind them (perceptron histories, the grid of accuracies,
    ...), for tests and notebooks.
    """

    name: str
    title: str
    files: list[Path] = field(default_factory=list)
    accuracies: dict[str, float] = field(default_factory=dict)
    report: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    headline: list[str] = field(default_factory=list)
    """A few short lines summing up `accuracies` (for the tour's table); empty: all of them."""
    skipped: list[str] = field(default_factory=list)
    """The pictures not drawn because matplotlib is missing (see `skipped_pictures`)."""
    skipped_graphs: list[str] = field(default_factory=list)
    """The graphs not drawn because Graphviz's `dot` is missing (see `skipped_pictures`)."""


# --------------------------------------------------------------------------------------------
# Helpers of the examples
# --------------------------------------------------------------------------------------------


def _percent(fraction: float) -> str:
    return f"{100.0 * fraction:.0f}%"


def _prepare(out: PathLike) -> Path:
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _figure(width: float, height: float) -> Any:
    """A matplotlib Figure outside pyplot (no GUI, no global state), for saving to files."""
    require_matplotlib()
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def _can_plot(result: ExampleResult, *pictures: str) -> bool:
    """True when matplotlib can be imported; otherwise `pictures` go to `result.skipped`,
    so the text-only parts of an example still run without the plot extra."""
    try:
        require_matplotlib()
    except PlotDependencyError:
        result.skipped.extend(pictures)
        return False
    return True


def skipped_pictures(results: Sequence[ExampleResult]) -> str:
    """A line naming the pictures skipped for want of matplotlib, and one for those skipped
    for want of Graphviz's `dot`, each saying how to get them ("" when none were).

    >>> r = ExampleResult("xor_mlp", "XOR", skipped=["xor_mlp.png"])
    >>> print(skipped_pictures([r]))  # doctest: +ELLIPSIS
    skipped 1 picture (matplotlib is not installed): xor_mlp.png; to draw it: pip install ...
    """
    from tinygrad_edu.viz.dot import INSTALL_HOW

    lines = []
    for names, missing, hint in (
            ([name for result in results for name in result.skipped], "matplotlib",
             PLOT_INSTALL_HINT),
            ([name for result in results for name in result.skipped_graphs],
             "Graphviz's dot program", f"install Graphviz: {INSTALL_HOW}")):
        if names:
            it = "it" if len(names) == 1 else "them"
            lines.append(f"skipped {plural(len(names), 'picture')} ({missing} is not "
                         f"installed): {', '.join(names)}; to draw {it}: {hint}")
    return "\n".join(lines)


def _save(fig: Any, path: Path, dpi: int = 100) -> Path:
    fig.savefig(path, dpi=dpi)
    return path


# --------------------------------------------------------------------------------------------
# 1. A neuron, its gradients, its graph
# --------------------------------------------------------------------------------------------


def value_and_graph(out: PathLike = "out", *, quick: bool = False,
                    progress: bool = False) -> ExampleResult:
    """micrograd's neuron o = tanh(x1*w1 + x2*w2 + b): its gradients by `backward()`, its
    computation graph (``neuron_graph.svg``) and backpropagation step by step
    (``neuron_backprop.html``). Needs Graphviz's `dot`."""
    from tinygrad_edu import viz

    folder = _prepare(out)
    start = time.perf_counter()
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    x1w1, x2w2 = x1 * w1, x2 * w2
    x1w1.label, x2w2.label = "x1*w1", "x2*w2"
    sum_ = x1w1 + x2w2
    sum_.label = "x1*w1 + x2*w2"
    n = sum_ + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    o.backward()
    result = ExampleResult("value_and_graph", "A neuron, its gradients and its graph")
    result.report.append(f"o = tanh(x1*w1 + x2*w2 + b) = {o.data:.4f}")
    for v in (x1, x2, w1, w2, b):
        result.report.append(f"  d o / d {v.label} = {v.grad:+.4f}")
    result.report.append("  (check: d o / d n = 1 - o² = "
                         f"{1 - o.data ** 2:.4f}, and d n / d w1 = x1, so d o / d w1 = "
                         f"{(1 - o.data ** 2) * x1.data:+.4f})")
    neuron = Neuron(2, activation="tanh", seed=0)  # the same neuron from tinygrad_edu.nn
    neuron.weights.data = np.array([w1.data, w2.data])
    neuron.bias.data = b.data
    neuron([x1.data, x2.data]).backward()
    weight_grads = ", ".join(f"{g:+.4f}" for g in neuron.weights.grad)
    result.report.append(f"the same neuron as nn.Neuron(2, activation='tanh'): weights "
                         f"{neuron.weights.data.tolist()}, bias {neuron.bias.data:.4f}; after "
                         f"backward() weights.grad [{weight_grads}], bias.grad "
                         f"{neuron.bias.grad:+.4f}")
    graph = viz.draw_graph(o, inputs=[x1, x2], legend=True)
    try:
        result.files.append(viz.save_graph(graph, folder / "neuron_graph.svg"))
        result.files.append(viz.write_backprop_html(o, folder / "neuron_backprop.html",
                                                    inputs=[x1, x2]))
    except viz.GraphvizNotFoundError:  # (the numbers above are printed all the same)
        result.skipped_graphs += ["neuron_graph.svg", "neuron_backprop.html"]
    result.details = {"output": o.data, "grads": {v.label: v.grad for v in (x1, x2, w1, w2, b)},
                      "neuron": neuron}
    result.seconds = time.perf_counter() - start
    return result


# --------------------------------------------------------------------------------------------
# 2. Activation functions
# --------------------------------------------------------------------------------------------


def activation_functions(out: PathLike = "out", *, quick: bool = False, progress: bool = False,
                         names: Sequence[str] | None = None) -> ExampleResult:
    """Every activation with the derivative the engine computes (``activations.png``), and
    each derivative checked against central differences (`testing.gradcheck`) at points away
    from its kink; the lecture's requirement, monotone (non-decreasing), checked on a grid.
    `names`: a list of names, or one name."""
    folder = _prepare(out)
    start = time.perf_counter()
    result = ExampleResult("activations", "Activation functions and their derivatives")
    names = activation_names(None if names is None else
                             [names] if isinstance(names, str) else list(names))
    points = np.linspace(-3.0, 3.0, 7 if quick else 25)
    fine = np.linspace(-5.0, 5.0, 1001)  # for monotonicity: f(z) never falls as z grows
    result.report.append(f"{'activation':<12} {'f(1)':>8} {'f′(1)':>8} {'f′(0)':>7} "
                         f"{'monotone':>8}  gradcheck")
    no_gradient, falling = [], []
    for name in names:
        activation = ACTIVATIONS[name]
        away = points[np.all(np.abs(points[:, None] - np.array(activation.kinks or [np.inf]))
                             > 1e-2, axis=1)]
        gradcheck(lambda x, f=activation: f(x), away)  # raises GradcheckError if wrong
        one, zero, grid = Value(1.0), Value(0.0), Value(points)
        activation(one).backward()
        activation(zero).backward()
        activation(grid).sum().backward()
        if not np.any(np.asarray(grid.grad)):
            no_gradient.append(name)
        monotone = bool(np.all(np.diff(activation(Value(fine)).data) >= 0.0))
        if not monotone:
            falling.append(name)
        result.report.append(f"{name:<12} {activation(Value(1.0)).data:>8.4f} "
                             f"{one.grad:>8.4f} {zero.grad:>7.4f} "
                             f"{'yes' if monotone else 'no':>8}  ok at {len(away)} points")
    if any(ACTIVATIONS[name].kinks for name in names):
        result.report.append("f′(0) at a kink is the convention of the derivative table.")
    if falling:
        result.report.append(f"not monotone (f falls somewhere in [-5, 5]): "
                             f"{', '.join(falling)}.")
    if no_gradient:
        result.report.append(f"{', '.join(no_gradient)}: backward() gives 0 at every one of "
                             f"the {len(points)} points, so gradient descent cannot train it "
                             "(hence Rosenblatt's own rule).")
    columns = min(5, len(names))
    if _can_plot(result, "activations.png"):
        fig = _figure(3.2 * columns, 3.0 * -(-len(names) // columns) + 0.8)
        plot_activations(names, fig, points=201 if quick else 801, columns=columns)
        result.files.append(_save(fig, folder / "activations.png", dpi=70 if quick else 100))
    result.details = {"checked": names}
    result.seconds = time.perf_counter() - start
    return result


# --------------------------------------------------------------------------------------------
# 3. Rosenblatt's perceptron on logic gates; a sigmoid neuron's boundary moving
# --------------------------------------------------------------------------------------------

GATE_NAMES = ("and", "or", "nand", "xor")


def _two_blobs(n_per_class: int, seed: int) -> tuple[Array, Labels]:
    """Two Gaussian clouds, class 0 around (−1, −0.8), class 1 around (1, 1): far enough apart
    that a line separates them for most seeds (for seed 0, the default), not for every one."""
    rng = np.random.default_rng(seed)
    centers = np.array([[-1.0, -0.8], [1.0, 1.0]])
    X = np.concatenate([c + 0.45 * rng.standard_normal((n_per_class, 2)) for c in centers])
    y = np.repeat(np.arange(2, dtype=np.int64), n_per_class)
    return X, y


def _labellings_a_line_draws(X: Array, y: Labels) -> tuple[int, int]:
    """How many of the 2ⁿ labellings of the n points `X` a straight line draws, and the most
    labels of `y` one of them gets right. Rosenblatt's rule, from zero weights, tells which
    ones a line draws: it converges on every linearly separable labelling and cycles on the
    others (their weights stay bounded and on a lattice, so they come back)."""
    drawn, best = 0, 0
    for labels in itertools.product((0, 1), repeat=len(y)):
        history = Perceptron(X.shape[1], zeros=True).fit(X, labels, max_epochs=10_000)
        if not (history.converged or history.cycled):  # (not for n points on a lattice)
            raise RuntimeError(f"the perceptron neither converged nor cycled on {labels}")
        if history.converged:
            drawn += 1
            best = max(best, int(np.sum(np.array(labels) == y)))
    return drawn, best


def describe_xor_limit() -> str:
    """Why no line does XOR (Minsky and Papert, 1969): the labellings of the 4 corners a line
    draws, and the most of XOR's any of them gets right."""
    X, y = logic_gate("xor")
    drawn, best = _labellings_a_line_draws(X, y)
    return (f"(of the {2 ** len(y)} ways to label the 4 corners, a line draws {drawn}: the rule "
            f"learns each of them; the closest to XOR gets {best} of its 4 right: Minsky and "
            "Papert, 1969)")


def describe_gate_run(gate: str, history: PerceptronHistory, correct: int) -> str:
    """One line on how Rosenblatt's rule did on a gate: converged, or why it never will."""
    if history.converged:
        outcome = (f"converged after {plural(history.epochs, 'epoch')} "
                   f"({plural(history.updates, 'update')})")
    elif history.cycled:
        outcome = (f"never: {gate.upper()} is not linearly separable "
                   f"(the weights cycle after {plural(history.epochs, 'epoch')})")
    else:
        outcome = f"not converged in {plural(history.epochs, 'epoch')}"
    return f"{gate.upper():<5} {outcome}; final weights get {correct}/4 right"


def perceptron_logic_gates(out: PathLike = "out", *, quick: bool = False,
                           progress: bool = False, seed: int = 0,
                           gates: Sequence[str] = GATE_NAMES, lr: float = 1.0,
                           max_epochs: int = 100, zeros: bool = False) -> ExampleResult:
    """Rosenblatt's rule on AND, OR, NAND and XOR (or `gates`; from random weights drawn with
    `seed`, or from zeros; `lr`, `max_epochs` as `Perceptron.fit` takes them) in
    ``perceptron_gates.png``: each gate's points and final boundary; then a sigmoid neuron
    trained by gradient descent on two clouds, its boundary drawn as it moves
    (``sigmoid_neuron.gif`` and a strip of frames, ``sigmoid_neuron_frames.png``)."""
    gates = [gates] if isinstance(gates, str) else list(gates)
    unknown = [gate for gate in gates if gate not in GATE_NAMES]
    if not gates or unknown:
        raise ValueError(f"perceptron_logic_gates: gates must be some of {', '.join(GATE_NAMES)}"
                         f"; got {gates!r}")
    folder = _prepare(out)
    start = time.perf_counter()
    result = ExampleResult("perceptron_logic_gates",
                           "Rosenblatt's perceptron on logic gates; a sigmoid neuron learning")
    histories: dict[str, PerceptronHistory] = {}
    perceptrons: dict[str, Perceptron] = {}
    for gate in gates:
        X, y = logic_gate(gate)
        p = Perceptron(2, seed=seed, zeros=zeros)
        histories[gate] = p.fit(X, y, lr=lr, max_epochs=max_epochs)
        perceptrons[gate] = p
        correct = int(np.sum(p.predict(X) == y))
        result.accuracies[f"perceptron {gate.upper()}"] = correct / len(y)
        result.report.append(describe_gate_run(gate, histories[gate], correct))
    if "xor" in gates:
        result.report.append("      " + describe_xor_limit())
    if _can_plot(result, "perceptron_gates.png"):
        fig = _figure(3.5 * len(gates), 3.9)
        axes = np.atleast_1d(fig.subplots(1, len(gates)))
        for ax, gate in zip(axes, gates, strict=True):
            X, y = logic_gate(gate)
            history = histories[gate]
            right = f"{round(len(y) * result.accuracies[f'perceptron {gate.upper()}'])}/4 right"
            state = (f"converged in {plural(history.epochs, 'epoch')}" if history.converged
                     else f"never converges ({right})" if history.cycled
                     else f"not converged in {plural(history.epochs, 'epoch')} ({right})")
            plot_decision_boundary(perceptrons[gate], X, y, ax, title=f"{gate.upper()}: {state}",
                                   shade="class", margin=0.35, point_size=90,
                                   resolution=80 if quick else 200)
        axes[0].legend(loc="upper left", fontsize=8, framealpha=0.9)
        fig.suptitle("Rosenblatt's perceptron: points of each gate and its final boundary")
        fig.tight_layout()
        result.files.append(_save(fig, folder / "perceptron_gates.png"))
    result.files.extend(_sigmoid_neuron_frames(folder, result, quick, seed))
    result.details = {"histories": histories}
    result.seconds = time.perf_counter() - start
    return result


STRIP_STEPS = (0, 2, 8, 30)
"""The training steps the strip of frames shows (with the last step); the GIF shows more."""


def _sigmoid_neuron_frames(folder: Path, result: ExampleResult, quick: bool,
                           seed: int) -> list[Path]:
    """Train σ(w·x + b) by gradient descent on two clouds; draw its boundary at some steps."""
    X, y = _two_blobs(20 if quick else 40, seed)
    neuron = Neuron(2, seed=seed)  # identity: it outputs the logit; σ lives in the loss
    neuron.weights.data = np.array([1.5, -1.0])  # a bad start: the boundary has far to go
    neuron.bias.data = 1.0
    steps = 40 if quick else 120
    shown = sorted({0, 1, 2, 4, 8, 16, 30, 60, steps} if not quick else {0, 2, 8, 30, steps})
    shown = [s for s in shown if s <= steps]
    opt = SGD(neuron.parameters(), lr=0.5)
    frames: list[tuple[int, float, float, Any]] = []
    target = y.astype(np.float64)
    for step in range(steps + 1):
        if step in shown:
            with no_grad():
                loss_now = float(binary_cross_entropy_with_logits(neuron(X), target).data)
            frames.append((step, loss_now, accuracy(neuron, X, y),
                           (np.array(neuron.weights.data), float(neuron.bias.data))))
        if step == steps:
            break
        loss = binary_cross_entropy_with_logits(neuron(X), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    final = frames[-1]
    first = next(step for step, _, right, _ in frames if right == final[2])  # (drawn steps)
    result.accuracies["sigmoid neuron"] = final[2]
    result.report.append(f"sigmoid neuron σ(w·x + b), gradient descent: accuracy "
                         f"{_percent(frames[0][2])} at step 0, {_percent(final[2])} from step "
                         f"{first} (of the steps drawn) to step {steps} (loss "
                         f"{frames[0][1]:.3f} → {final[1]:.3f})")
    if not _can_plot(result, "sigmoid_neuron_frames.png", "sigmoid_neuron.gif"):
        return []
    snapshot = Neuron(2, seed=0)  # (a seed: numpy's global random state stays the learner's)

    def draw(ax: Any, frame: tuple[int, float, float, Any]) -> None:
        step, loss_value, acc, (w, bias) = frame
        snapshot.weights.data = np.array(w)
        snapshot.bias.data = bias
        plot_decision_boundary(snapshot, X, y, ax, resolution=60 if quick else 120,
                               margin=0.1, title=f"step {step}: loss {loss_value:.3f}, "
                                                 f"accuracy {_percent(acc)}")

    in_strip = [f for f in frames if f[0] in STRIP_STEPS or f[0] == steps]
    strip = _figure(3.3 * len(in_strip), 3.6)
    for ax, frame in zip(strip.subplots(1, len(in_strip)), in_strip, strict=True):
        draw(ax, frame)
        ax.title.set_fontsize(9)
    strip.suptitle("A sigmoid neuron σ(w·x + b): its decision boundary (black, σ = 0.5) moving "
                   "as gradient descent trains it", fontsize=11)
    strip.tight_layout()
    paths = [_save(strip, folder / "sigmoid_neuron_frames.png", dpi=80)]
    paths.append(_write_gif([_frame_image(draw, frame) for frame in frames],
                            folder / "sigmoid_neuron.gif"))
    return paths


def _frame_image(draw: Callable[[Any, Any], None], frame: Any) -> Any:
    """Draw one frame on its own figure and return it as an RGB pixel array."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = _figure(4.6, 4.2)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    draw(ax, frame)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    canvas.draw()  # type: ignore[no-untyped-call]
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()  # type: ignore[no-untyped-call]


def _write_gif(frames: Sequence[Any], path: Path, milliseconds: int = 700) -> Path:
    """An animated GIF that loops forever, each frame shown `milliseconds`, the last longer."""
    try:
        from PIL import Image
    except ImportError as error:
        raise PlotDependencyError(f"writing a GIF needs pillow, which is not installed: "
                                  f"{PLOT_INSTALL_HINT}") from error
    images = [Image.fromarray(frame).convert("P", palette=Image.Palette.ADAPTIVE)
              for frame in frames]
    durations = [milliseconds] * (len(images) - 1) + [milliseconds * 3]
    images[0].save(path, save_all=True, append_images=images[1:], duration=durations,
                   loop=0, optimize=False)
    return path


# --------------------------------------------------------------------------------------------
# 4. XOR by a multilayer network
# --------------------------------------------------------------------------------------------


def xor_mlp(out: PathLike = "out", *, quick: bool = False, progress: bool = False,
            seed: int = 0) -> ExampleResult:
    """An MLP 2 → 4 tanh → 1 learns XOR by backpropagation; the same MLP with linear
    activations cannot (a stack of linear layers is one linear map). ``xor_mlp.png``: both
    boundaries and both loss curves."""
    folder = _prepare(out)
    start = time.perf_counter()
    result = ExampleResult("xor_mlp", "XOR by a multilayer network, and a linear one failing")
    X, y = logic_gate("xor")
    steps = 300 if quick else 600
    models = {"tanh MLP": MLP(2, [4, 1], activation="tanh", seed=seed),
              "linear MLP": MLP(2, [4, 1], activation="identity", seed=seed)}
    losses: dict[str, list[float]] = {}
    bar = progress_bar(2 * steps, "xor", progress)
    for name, model in models.items():
        losses[name] = train_binary(model, X, y, steps=steps, lr=0.05, bar=bar)
        result.accuracies[name] = accuracy(model, X, y)
        result.report.append(f"{name:<11} {model!r}: loss {losses[name][0]:.3f} → "
                             f"{losses[name][-1]:.4f}, "
                             f"{round(4 * result.accuracies[name])}/4 right")
    bar.close()
    result.report.append("the linear MLP's best is the constant 0.5 (loss ln 2 = 0.693): "
                         "without a non-linearity, layers stay one linear map")
    if _can_plot(result, "xor_mlp.png"):
        fig = _figure(14.0, 4.2)
        axes = fig.subplots(1, 3)
        for ax, (name, model) in zip(axes, models.items(), strict=False):
            plot_decision_boundary(model, X, y, ax, margin=0.35, point_size=90,
                                   resolution=80 if quick else 200,
                                   title=f"{name}: {_percent(result.accuracies[name])} right")
        axes[0].legend(loc="center", fontsize=8, framealpha=0.9)
        probability = np.asarray(grid_predictions(models["linear MLP"], X, resolution=20,
                                                  margin=0.35)[3])  # σ(output) on the picture
        low, high = f"{np.min(probability):.2f}", f"{np.max(probability):.2f}"
        where = f"= {low} everywhere" if low == high else f"from {low} to {high}"
        axes[1].text(0.5, 0.5, f"σ(output) {where}:\n"
                     "no line separates XOR", transform=axes[1].transAxes, ha="center",
                     va="center", fontsize=10, bbox={"facecolor": "white", "alpha": 0.9})
        for name, curve in losses.items():
            axes[2].plot(np.arange(len(curve)), curve, linewidth=2, label=name)
        axes[2].axhline(math.log(2.0), color="#999999", linestyle=":", label="ln 2 (a coin toss)")
        axes[2].set_xlabel("training step (Adam, whole batch)")
        axes[2].set_ylabel("binary cross-entropy")
        axes[2].set_title("loss while training")
        axes[2].set_ylim(bottom=0.0)
        axes[2].legend()
        axes[2].grid(alpha=0.3)
        fig.suptitle("XOR: a hidden layer with tanh learns it; the same network without "
                     "activations cannot")
        fig.tight_layout()
        result.files.append(_save(fig, folder / "xor_mlp.png"))
    result.details = {"losses": losses}
    result.seconds = time.perf_counter() - start
    return result


# --------------------------------------------------------------------------------------------
# 5. Decision boundaries: capacity against depth and width
# --------------------------------------------------------------------------------------------

GRID_LAYERS = (0, 1, 2, 3)
GRID_UNITS = (2, 4, 8, 16)


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def _counts(values: Sequence[int], name: str, least: int) -> list[int]:
    """`values` as a list of integers >= `least` (at least one), or a ValueError naming them."""
    listed = isinstance(values, Sequence | np.ndarray) and not isinstance(values, str)
    if not (listed and len(values) and all(_is_int(c) and c >= least for c in values)):
        raise ValueError(f"decision_boundaries: {name} must be a list of integers >= {least}, "
                         f"at least one; got {values!r}")
    return [int(c) for c in values]


def decision_boundaries(out: PathLike = "out", *, quick: bool = False, progress: bool = False,
                        seed: int = 0, layers: Sequence[int] = GRID_LAYERS,
                        units: Sequence[int] = GRID_UNITS, steps: int | None = None,
                        ) -> ExampleResult:
    """The lecture's grid (``decision_boundaries.png``): a network with m hidden layers
    (rows) of n tanh units (columns) trained on a two-arm spiral, each panel its boundary and
    training accuracy. m = 0 is a single linear neuron: n plays no part, and it stays near
    chance; more layers and more units draw more complicated boundaries."""
    layers, units = _counts(layers, "layers", 0), _counts(units, "units", 1)
    steps = steps if steps is not None else (400 if quick else 2000)
    if not _is_int(steps) or steps < 1:
        raise ValueError(f"decision_boundaries: steps must be an integer >= 1; got {steps!r}")
    folder = _prepare(out)  # (after the checks: a refused call leaves no folder behind)
    start = time.perf_counter()
    result = ExampleResult("decision_boundaries",
                           "Decision boundaries: m hidden layers × n units on a spiral")
    X, y = make_spiral(60 if quick else 150, noise=0.03, seed=seed, turns=2.0)
    lr = 0.05 if quick else 0.03
    grid = np.zeros((len(layers), len(units)))
    models: dict[tuple[int, int], MLP] = {}
    trained: dict[tuple[int, ...], MLP] = {}
    bar = progress_bar(len(layers) * len(units) * steps, "decision boundaries", progress)
    for i, m in enumerate(layers):
        for j, n in enumerate(units):
            sizes = (*([n] * m), 1)
            if sizes not in trained:  # m = 0: every column is the same linear neuron
                model = MLP(2, list(sizes), activation="tanh", seed=seed)
                train_binary(model, X, y, steps=steps, lr=lr, bar=bar)
                trained[sizes] = model
            else:
                bar.update(steps)
            models[m, n] = trained[sizes]
            grid[i, j] = accuracy(trained[sizes], X, y)
            result.accuracies[f"m={m} n={n}"] = float(grid[i, j])
    bar.close()
    for i, m in enumerate(layers):
        low, high = _percent(grid[i].min()), _percent(grid[i].max())
        what = "no hidden layer" if m == 0 else f"m={m}"
        result.headline.append(f"{what}: {low}" if low == high else f"{what}: {low} to {high}")
    header = "m \\ n " + "".join(f"{n:>7}" for n in units)
    result.report.append(f"training accuracy on the spiral ({len(X)} points, {steps} Adam "
                         "steps each):")
    result.report.append(header)
    for i, m in enumerate(layers):
        result.report.append(f"{m:>5} " + "".join(f"{_percent(a):>7}" for a in grid[i]))
    if _can_plot(result, "decision_boundaries.png"):
        fig = _figure(3.1 * len(units), 3.0 * len(layers) + 0.7)
        axes = np.array(fig.subplots(len(layers), len(units), squeeze=False))
        for i, m in enumerate(layers):
            for j, n in enumerate(units):
                ax = axes[i, j]
                what = "no hidden layer" if m == 0 else f"m={m}, n={n}"
                plot_decision_boundary(models[m, n], X, y, ax, resolution=50 if quick else 120,
                                       margin=0.08, point_size=9,
                                       title=f"{what}: {_percent(grid[i, j])}")
                ax.title.set_fontsize(10)
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_xlabel(f"n = {n} units" if i == len(layers) - 1 else "")
                ax.set_ylabel(f"m = {m} hidden" if j == 0 else "", fontsize=11)
        axes[0, 0].legend(loc="lower left", fontsize=7, framealpha=0.9)
        fig.suptitle("Decision boundaries on a two-arm spiral: rows m hidden layers, columns n "
                     "units per layer (title: training accuracy)", fontsize=12)
        fig.tight_layout()
        result.files.append(_save(fig, folder / "decision_boundaries.png",
                                  dpi=80 if quick else 100))
    result.details = {"grid": grid, "layers": layers, "units": units, "steps": steps}
    result.seconds = time.perf_counter() - start
    return result


# --------------------------------------------------------------------------------------------
# 6. micrograd's demo
# --------------------------------------------------------------------------------------------


def micrograd_demo(out: PathLike = "out", *, quick: bool = False, progress: bool = False,
                   seed: int = 0) -> ExampleResult:
    """micrograd's demo with this API: 100 moons, MLP 2 → 16 → 16 → 1 (ReLU), the SVM
    max-margin loss plus 1e-4·L2, SGD with a decaying rate, the whole batch each step.
    ``micrograd_moons.png``: the boundary and the loss curve."""
    folder = _prepare(out)
    start = time.perf_counter()
    result = ExampleResult("micrograd_demo", "micrograd's demo: two moons")
    X, y = make_moons(100, noise=0.1, seed=seed)
    model = MLP(2, [16, 16, 1], seed=seed)
    opt = SGD(model.parameters(), lr=1.0)
    steps = 100  # (micrograd's demo: 100 steps, its rate decaying from 1.0 to 0.1)
    signs = 2.0 * y - 1.0  # the hinge loss wants labels ±1
    losses, accuracies = [], []  # both of the same weights: before step k, after the last
    bar = progress_bar(steps, "moons", progress)
    for k in range(steps + 1):
        data_loss = hinge_loss(model(X), signs)
        l2 = 1e-4 * sum(((p * p).sum() for p in model.parameters()), Value(0.0))
        loss = data_loss + l2
        losses.append(float(loss.data))
        accuracies.append(accuracy(model, X, y))
        if k == steps:
            break
        opt.zero_grad()
        loss.backward()
        opt.lr = 1.0 - 0.9 * k / steps
        opt.step()
        bar.update(1)
    bar.close()
    final = accuracies[-1]
    result.accuracies["MLP on moons"] = final
    result.report.append(f"{model!r}, {model.num_parameters()} parameters: loss "
                         f"{losses[0]:.3f} → {losses[-1]:.4f}, training accuracy "
                         f"{_percent(final)} after {steps} steps")
    if _can_plot(result, "micrograd_moons.png"):
        fig = _figure(11.0, 4.4)
        ax_boundary, ax_loss = fig.subplots(1, 2)
        plot_decision_boundary(model, X, y, ax_boundary, resolution=80 if quick else 250,
                               title=f"two moons: {_percent(final)} training accuracy")
        ax_boundary.legend(loc="upper right", fontsize=8)
        ax_loss.plot(losses, linewidth=2, label="loss (hinge + L2)")
        ax_loss.set_xlabel("training step (SGD, whole batch)")
        ax_loss.set_ylabel("loss")
        ax_loss.grid(alpha=0.3)
        twin = ax_loss.twinx()
        twin.plot(accuracies, color="#ff7f0e", linewidth=1.5, label="training accuracy")
        twin.set_ylabel("training accuracy")
        twin.set_ylim(0.0, 1.05)
        handles = ax_loss.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
        ax_loss.legend(handles, [h.get_label() for h in handles], loc="center right")
        ax_loss.set_title("loss and accuracy while training")
        fig.suptitle("micrograd's demo with tinygrad_edu: MLP 2 → 16 → 16 → 1 on two moons")
        fig.tight_layout()
        result.files.append(_save(fig, folder / "micrograd_moons.png"))
    result.details = {"losses": losses, "accuracies": accuracies, "model": model}
    result.seconds = time.perf_counter() - start
    return result


# --------------------------------------------------------------------------------------------
# 7. Past the lecture: real handwritten digits, accuracy on digits never seen
# --------------------------------------------------------------------------------------------

DIGITS_HIDDEN = (128,)
"""The hidden layers of `digits_mlp`'s network (64 → 128 → 10)."""


def digits_mlp(out: PathLike = "out", *, quick: bool = False, progress: bool = False,
               seed: int = 0, hidden: Sequence[int] | None = None, epochs: int | None = None,
               lr: float = 1e-3, batch_size: int = 32) -> ExampleResult:
    """An MLP (ReLU) on scikit-learn's 8×8 handwritten digits (the `data` extra), trained with
    Adam on mini-batches of 1,347 digits and tested on 450 others it never sees (a stratified,
    seeded split, pixels standardised with the training part's statistics).
    ``digits_curves.png``: loss and accuracy per epoch on both parts (the gap between them is
    what the model does not generalise); ``digits_confusion.png``: which digit is taken for
    which; ``digits_mistakes.png``: the test digits it gets wrong. `hidden` defaults to
    `DIGITS_HIDDEN` (64 units with `quick`), `epochs` to 30 (10 with `quick`)."""
    folder = _prepare(out)
    start = time.perf_counter()
    result = ExampleResult("digits_mlp", "Handwritten digits: accuracy on digits never seen")
    epochs = epochs if epochs is not None else (10 if quick else 30)
    hidden = list(hidden) if hidden is not None else ([64] if quick else list(DIGITS_HIDDEN))
    X_train, X_test, y_train, y_test = load_digits(seed=seed)
    model = MLP(X_train.shape[1], [*hidden, 10], seed=seed)
    loader = DataLoader((X_train, y_train), batch_size=batch_size, shuffle=True, seed=seed)
    bar = progress_bar(epochs * len(loader), "digits", progress)
    with one_blas_thread():
        history = train_classifier(model, loader, Adam(model.parameters(), lr=lr),
                                   epochs=epochs, test=(X_test, y_test), bar=bar)
        predicted = predict(model, X_test)
    bar.close()
    matrix = confusion_matrix(y_test, predicted, num_classes=10)
    wrong = np.flatnonzero(predicted != y_test)
    result.accuracies = {"test accuracy": history.test_accuracy[-1],
                         "training accuracy": history.train_accuracy[-1]}
    result.headline = [f"test {100 * history.test_accuracy[-1]:.1f}%",
                       f"training {_percent(history.train_accuracy[-1])}"]
    result.report.append(f"{model!r}, {model.num_parameters():,} parameters; Adam (lr {lr:g}), "
                         f"batches of {batch_size}, {plural(epochs, 'epoch')}; "
                         f"{len(y_train):,} training digits, {len(y_test)} test digits")
    result.report.append(f"{'epoch':>5}  {'train loss':>10}  {'test loss':>9}  "
                         f"{'train acc':>9}  {'test acc':>8}")
    every = max(1, epochs // 6)
    for e in sorted({*range(every, epochs + 1, every), 1, epochs}):
        result.report.append(f"{e:>5}  {history.train_loss[e - 1]:>10.4f}  "
                             f"{history.test_loss[e - 1]:>9.4f}  "
                             f"{100 * history.train_accuracy[e - 1]:>8.1f}%  "
                             f"{100 * history.test_accuracy[e - 1]:>7.1f}%")
    result.report.append(f"held-out test accuracy {100 * history.test_accuracy[-1]:.1f}% "
                         f"({len(y_test) - len(wrong)}/{len(y_test)} right); lowest test loss "
                         f"at epoch {history.best_epoch} of {epochs}")
    if len(wrong):
        result.report.append(_most_frequent_mistakes(matrix))
    if _can_plot(result, "digits_curves.png", "digits_confusion.png", "digits_mistakes.png"):
        fig = _figure(11.0, 4.2)
        plot_learning_curves(history, fig.subplots(1, 2))
        fig.suptitle(f"{model!r} on handwritten digits: training data (solid) and test data "
                     "never trained on (dashed)", fontsize=11)
        fig.tight_layout()
        result.files.append(_save(fig, folder / "digits_curves.png"))
        fig = _figure(5.6, 5.0)
        plot_confusion_matrix(matrix, fig.subplots(), title=f"test digits: "
                              f"{len(y_test) - len(wrong)} of {len(y_test)} right")
        fig.tight_layout()
        result.files.append(_save(fig, folder / "digits_confusion.png"))
        images = load_digits(seed=seed, scale="unit").X_test  # the same split, as pictures
        shown = wrong[:30]
        fig = plot_images(images[shown], _figure(1.2 * min(max(len(shown), 4), 10),
                                                 1.4 * max(1, -(-len(shown) // 10)) + 0.7),
                          titles=[f"{y_test[i]} → {predicted[i]}" for i in shown],
                          title="test digits it gets wrong (true → predicted): "
                                + (f"all {len(wrong)}" if len(shown) == len(wrong)
                                   else f"the first {len(shown)} of {len(wrong)}"))
        fig.tight_layout()
        result.files.append(_save(fig, folder / "digits_mistakes.png"))
    result.details = {"history": history, "confusion": matrix, "model": model,
                      "wrong": wrong, "epochs": epochs}
    result.seconds = time.perf_counter() - start
    return result


def _most_frequent_mistakes(matrix: np.ndarray[Any, Any], shown: int = 3) -> str:
    """The line naming the most frequent mistakes in a confusion matrix (true class by row),
    every one of them when several are as frequent (the first `shown`, then how many more).

    >>> print(_most_frequent_mistakes(np.array([[5, 2, 0], [0, 4, 2], [1, 0, 3]])))
    most frequent mistakes, 2 times each: a 0 taken for a 1, a 1 taken for a 2
    """
    off_diagonal = matrix - np.diag(np.diag(matrix))
    most = int(off_diagonal.max())
    pairs = [f"{_a(int(t))} taken for {_a(int(p))}"
             for t, p in np.argwhere(off_diagonal == most)]
    more = f" and {len(pairs) - shown} more" if len(pairs) > shown else ""
    if len(pairs) == 1:
        return f"most frequent mistake: {pairs[0]} ({plural(most, 'time')})"
    return (f"most frequent mistakes, {plural(most, 'time')} each: "
            f"{', '.join(pairs[:shown])}{more}")


def _a(number: int) -> str:
    """A number with its article: 'a 3', 'an 8', 'an 11'."""
    spoken_with_a_vowel = str(number).startswith("8") or number in (11, 18)
    return f"{'an' if spoken_with_a_vowel else 'a'} {number}"


# --------------------------------------------------------------------------------------------
# The tour and the scripts
# --------------------------------------------------------------------------------------------

Example = Callable[..., ExampleResult]

EXAMPLES: dict[str, Example] = {
    "value_and_graph": value_and_graph,
    "activations": activation_functions,
    "perceptron_logic_gates": perceptron_logic_gates,
    "xor_mlp": xor_mlp,
    "decision_boundaries": decision_boundaries,
    "micrograd_demo": micrograd_demo,
}
"""Every example of the tour by the name of its script in `examples/`, in the lecture's order."""

MORE_EXAMPLES: dict[str, Example] = {
    "digits_mlp": digits_mlp,
}
"""Examples past the lecture, with scripts in `examples/` and subcommands of their own, not
part of the tour (`run_tour`, ``tinygrad-edu demo``)."""


def run_tour(out: PathLike = "out", *, quick: bool = False, progress: bool = False,
             only: Sequence[str] | None = None,
             on_result: Callable[[ExampleResult], None] | None = None) -> list[ExampleResult]:
    """Run the examples (all, or those named in `only`) into one folder, in order;
    `on_result` is called after each one; `only` may be one name."""
    names = list(EXAMPLES) if only is None else [only] if isinstance(only, str) else list(only)
    unknown = [name for name in names if name not in EXAMPLES]
    if unknown:
        raise ValueError(f"unknown example(s): {', '.join(unknown)}; known: "
                         f"{', '.join(EXAMPLES)}")
    results = []
    for name in names:
        result = EXAMPLES[name](out, quick=quick, progress=progress)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def summary_table(results: Sequence[ExampleResult]) -> str:
    """A plain-text table: each example, its time, the accuracies reached and its files
    (one per line).

    >>> r = ExampleResult("xor_mlp", "XOR", [Path("out/xor_mlp.png")],
    ...                   {"tanh MLP": 1.0, "linear MLP": 0.5}, seconds=0.4)
    >>> print(summary_table([r]))
    example  time   accuracy reached  files
    -------  -----  ----------------  -----------
    xor_mlp  0.4 s  tanh MLP 100%     xor_mlp.png
                    linear MLP 50%
    """
    rows: list[list[list[str]]] = [[["example"], ["time"], ["accuracy reached"], ["files"]]]
    for r in results:
        accs = r.headline or [f"{k} {_percent(v)}" for k, v in r.accuracies.items()] or ["-"]
        files = [path.name for path in r.files] or ["-"]
        rows.append([[r.name], [f"{r.seconds:.1f} s"], accs, files])
    widths = [max(len(line) for row in rows for line in row[i]) for i in range(4)]
    lines = []
    for k, row in enumerate(rows):
        for n in range(max(len(cell) for cell in row)):
            cells = [cell[n] if n < len(cell) else "" for cell in row]
            lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))
                         .rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def print_result(result: ExampleResult, stream: Any = None) -> None:
    """Print an example's report and the files it wrote."""
    stream = stream or sys.stdout
    print(f"== {result.title} ({result.name}, {result.seconds:.1f} s)", file=stream)
    for line in result.report:
        print(line, file=stream)
    for path in result.files:
        print(f"wrote {path}", file=stream)


def add_output_options(parser: argparse.ArgumentParser, quick: bool = True) -> None:
    """``--out DIR``, ``--quick`` (unless `quick` is False) and ``--quiet``, for the examples
    and the `tinygrad-edu` subcommands alike."""
    parser.add_argument("--out", default="out", metavar="DIR",
                        help="folder for the pictures (default: out)")
    if quick:
        parser.add_argument("--quick", action="store_true",
                            help="a small, fast run (seconds), as the tests use")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def path_kind(path: Path) -> str:
    """What an existing path is, in words: a folder, a file, a device or special file."""
    if path.is_dir():
        return "a folder"
    if path.is_file():
        return "a file"
    return "a device or special file"


def output_folder(text: str, option: str = "--out") -> Path:
    """The folder `option` names for the pictures (created later if missing); a `ValueError`
    naming the option when it is empty or cannot be a folder.

    >>> output_folder("/dev/null")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: --out /dev/null: /dev/null is a device or special file, not a folder; ...
    """
    if not text.strip():
        raise ValueError(f"{option} needs a folder name; got an empty string")
    path = Path(text)
    for place in (path, *path.parents):
        if place.exists():
            if not place.is_dir():
                raise ValueError(f"{option} {text}: {place} is {path_kind(place)}, not a "
                                 "folder; give a folder for the pictures (it is created if "
                                 "missing)")
            break
    return path


def progress_wanted(args: argparse.Namespace) -> bool:
    """Progress bars unless --quiet, and only on a terminal."""
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


def example_main(name: str, argv: Sequence[str] | None = None) -> int:
    """The command line of `examples/<name>.py`: ``--out DIR``, ``--quick``, ``--quiet``."""
    example = {**EXAMPLES, **MORE_EXAMPLES}[name]
    parser = argparse.ArgumentParser(
        prog=f"{name}.py", description=(example.__doc__ or name).split("\n\n")[0])
    add_output_options(parser)
    args = parser.parse_args(argv)
    try:
        out = output_folder(args.out)
    except ValueError as error:
        print(f"{name}: error: {error}", file=sys.stderr)
        return 2
    try:
        result = example(out, quick=args.quick, progress=progress_wanted(args))
    except KeyboardInterrupt:
        print(f"{name}: interrupted (Ctrl-C)", file=sys.stderr)
        return 130
    except (ImportError, RuntimeError, OSError, ValueError) as error:
        print(f"{name}: error: {error}", file=sys.stderr)
        return 1
    print_result(result)
    if result.skipped:
        print(skipped_pictures([result]))
    return 0
