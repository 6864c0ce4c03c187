"""Plots with matplotlib (the `plot` extra): decision boundaries, activation functions, and
for classifiers of real data their learning curves, confusion matrix and images.

matplotlib is imported inside the functions, so importing this module (and `tinygrad_edu.viz`,
which re-exports both functions) works without it; calling one without matplotlib raises
`PlotDependencyError`, which says how to install the `plot` extra.

Every function draws into what it is given (an ``Axes``, a ``Figure``), or, given nothing,
into a new pyplot figure, as matplotlib's own plotting functions do.

>>> from tinygrad_edu.plots import grid_predictions
>>> from tinygrad_edu.nn import Perceptron
>>> p = Perceptron(2, zeros=True)
>>> p.weights = [-1.5, 1.0, 1.0]  # AND: x1 + x2 > 1.5
>>> xx, yy, classes, probability = grid_predictions(p, [[0, 0], [1, 1]], resolution=3)
>>> classes.tolist(), probability is None
([[0, 0, 0], [0, 0, 1], [0, 1, 1]], True)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any, NoReturn, Protocol

import numpy as np

from tinygrad_edu import nn
from tinygrad_edu._common import plural, redefined
from tinygrad_edu.activations import ACTIVATIONS, activation_names, name_of
from tinygrad_edu.data import Array, Labels, class_indices
from tinygrad_edu.engine import Value, no_grad
from tinygrad_edu.grad_mode import enable_grad
from tinygrad_edu.kernels import is_number
from tinygrad_edu.micrograd import nn as micrograd_nn

__all__ = [
    "CLASS_COLORS",
    "CLASS_MARKERS",
    "PlotDependencyError",
    "grid_predictions",
    "plot_activations",
    "plot_confusion_matrix",
    "plot_decision_boundary",
    "plot_images",
    "plot_learning_curves",
    "require_matplotlib",
]

CLASS_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2",
                "#17becf", "#bcbd22", "#7f7f7f", "#d62728")
"""Point colours per class: matplotlib's ten ``tab10`` hues, blue, orange, green first (the
pair red-green, hard to tell apart with colour blindness, is kept apart: red comes last)."""
CLASS_MARKERS = ("o", "^", "s", "D", "v", "P", "X", "*", "<", ">", "p")
"""Point markers per class, so classes differ in shape as well as colour. Eleven of them against
ten colours: class k has colour k % 10 and marker k % 11, so no two of the first 110 classes
share both."""
_SHADES = ("#c6dbef", "#fdd0a2", "#c7e9c0", "#dadaeb", "#e7d4cf", "#f7d3ea", "#a9ecec",
           "#ebebbd", "#c8c8c8", "#f6bcbc")
"""Light versions of the class colours, for the regions behind the points."""


def _class_style(k: int) -> tuple[str, str, str]:
    """The colour, the marker and the background shade of class `k` (an index ≥ 0): the first
    ten classes differ in all three; colours and shades repeat every 10 classes, markers every
    11, so no two of the first 110 classes are drawn alike.

    >>> _class_style(0), _class_style(10)
    (('#1f77b4', 'o', '#c6dbef'), ('#1f77b4', 'p', '#c6dbef'))
    """
    return (CLASS_COLORS[k % len(CLASS_COLORS)], CLASS_MARKERS[k % len(CLASS_MARKERS)],
            _SHADES[k % len(_SHADES)])


PLOT_INSTALL_HINT = "pip install -e '.[plot]' (from the clone), or make demo"

_RENUMBER = (" (to draw labels of another kind, number them first: names, y = "
             "np.unique(y, return_inverse=True), and pass labels=names)")
"""How to draw labels that are not class indices, for an error message."""


class PlotDependencyError(ImportError):
    """matplotlib (or pillow, for GIFs) is missing; the message says how to install it."""


def require_matplotlib() -> Any:
    """Import matplotlib, or raise `PlotDependencyError` saying how to install it."""
    try:
        import matplotlib
    except ImportError as error:
        raise PlotDependencyError(
            f"plotting needs matplotlib, which is not installed: {PLOT_INSTALL_HINT}"
        ) from error
    return matplotlib


def _scores(model: Any, points: Array) -> Array:
    """The model's raw output for each row of `points`, as a float array of shape (n,) or
    (n, classes); a ValueError says what else the model gave."""
    out = model_outputs(model, points, "grid_predictions")
    data = out.data if isinstance(out, Value) else out
    try:
        scores = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError):
        scores = None
    n = len(points)
    if scores is None or not (scores.shape == (n,) or (scores.ndim == 2 and len(scores) == n
                                                        and scores.shape[1] >= 1)):
        raise ValueError(f"grid_predictions: the model must give one score per point or one "
                         f"per class, an array of shape ({n},) or ({n}, classes) for {n} "
                         f"points; got {_described(data)}")
    undefined = np.isnan(scores).reshape(n, -1).any(axis=1)
    if undefined.any():  # nan > 0 is False: a silent class 0 there
        where = points[int(np.argmax(undefined))]
        raise ValueError(f"grid_predictions: the model's output is nan at {int(undefined.sum())} "
                         f"of {n} grid points (the first at x = ({where[0]:g}, {where[1]:g})); "
                         f"no class can be drawn there")
    return scores


def _described(data: Any) -> str:
    """What a model gave, for an error message: its type and shape."""
    shape = getattr(data, "shape", None)
    return f"type {type(data).__name__}" + ("" if shape is None else f", shape {tuple(shape)}")


def _class_names(labels: Any, who: str) -> list[str]:
    """`labels`, the names of classes 0, 1, 2, ..., as strings; a ValueError for one string
    (whose letters would be taken for the names) or for what holds no names."""
    try:
        names = None if isinstance(labels, str | bytes) else [str(name) for name in labels]
    except TypeError:
        names = None
    if names is None:
        raise ValueError(f"{who}: labels must be a list of names, one per class (index 0, 1, "
                         f"...); got {labels!r}")
    return names


def _points(X: Any, who: str) -> Array:
    """`X` as a non-empty (n, 2) float array of finite points, or a ValueError."""
    try:
        array = np.asarray(X.data if isinstance(X, Value) else X, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{who}: X must be an (n, 2) array of numbers; got "
                         f"{_described(X)}") from None
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"decision boundaries are drawn for 2 input features; got X of shape "
                         f"{array.shape}")
    if not len(array):
        raise ValueError(f"{who}: X has no points (shape {array.shape}); the grid is drawn "
                         f"around them")
    finite = np.isfinite(array).all(axis=1)
    if not finite.all():
        row = int(np.argmin(finite))
        raise ValueError(f"{who}: point {row} of X is {array[row].tolist()}; the grid around "
                         f"the points needs finite coordinates")
    return array


PROBABILITY_OUTPUTS = ("sigmoid", "step")
"""Output activations whose value is already the probability of class 1 (or a 0/1 class)."""
_THRESHOLDS = {"sigmoid": 0.5, "step": 0.5, "softplus": math.log(2.0)}
"""Where an output activation's value switches class, when it is not 0: its value at logit 0."""


def activation_name(activation: Any) -> str | None:
    """The name in `ACTIVATIONS` of an activation given as `nn` accepts it (a name, an alias,
    one of the library's own callables, a `functools.partial` of one with non-negative
    parameters, None for the identity), or None for a callable the library does not know.

    >>> from tinygrad_edu import Value, activations
    >>> activation_name(activations.sigmoid), activation_name(Value.tanh), activation_name("Linear")
    ('sigmoid', 'tanh', 'identity')
    >>> activation_name(lambda v: v.sigmoid()) is None
    True
    """
    if activation is None:
        return "identity"
    if isinstance(activation, str):
        return activation_names([activation])[0]
    if isinstance(activation, functools.partial) and not activation.args and all(
            is_number(v) and v >= 0 for v in activation.keywords.values()):
        activation = activation.func  # leaky_relu(negative_slope=0.2), elu(alpha=0.5), ...
    return name_of(activation)


LIBRARY_MODELS: tuple[type[nn.Module | nn.NeuronView | micrograd_nn.Module], ...] = (
    nn.MLP, nn.Layer, nn.Neuron, nn.NeuronView, micrograd_nn.MLP, micrograd_nn.Layer,
    micrograd_nn.Neuron)
"""The library's models, whose structure says what their output is, unless a subclass
redefines one of the methods that compute it (each class's `OUTPUT_METHODS`)."""
SCORE_OPS = frozenset({"add", "sub", "neg", "mul", "matmul", "sum"})
"""Operations that end an affine map (``x @ W + b``, a weighted sum, a scaling): what they give
is a logit or a score, whose class switches at 0."""
VIEW_OPS = frozenset({"reshape", "transpose", "getitem", "broadcast_to"})
"""Operations that only move an output's numbers (squeeze, flatten, ``[:, 0]``, ...)."""


def _library_model(model: Any) -> bool:
    """Whether `model` is one of `LIBRARY_MODELS` that computes its output as its class does."""
    return any(isinstance(model, base) and not redefined(type(model), base, base.OUTPUT_METHODS)
               for base in LIBRARY_MODELS)


def _structural_activation(model: Any) -> tuple[bool, Any]:
    """Whether `model`'s structure tells its output activation (`_library_model`), and that
    activation: its last layer's (a `Neuron`'s or a `Layer`'s own; a layer's for one of its
    neurons); None (linear) for a micrograd model, whose neurons are ReLU or linear, both 0
    where the logit is 0."""
    if isinstance(model, nn.MLP) and model.layers:  # (its forward calls each layer's transform)
        return _structural_activation(model.layers[-1]) if _library_model(model) else (False, None)
    if not _library_model(model):
        return False, None
    if isinstance(model, nn.NeuronView):
        return True, model.layer.activation
    return True, getattr(model, "activation", None)


def output_activation_name(model: Any, sample: Any = None) -> str:
    """The name in `ACTIVATIONS` of what gives one-output `model`'s output (``"identity"`` for a
    logit or a score), or a ValueError that asks for ``threshold=`` where it is unknown.

    A library model (`LIBRARY_MODELS`) tells it by its structure: its last layer's
    activation, unless that is a callable of the user's own. Any other model (a `Module` of
    the user's own, a function) is run on `sample`, one sample of its input, with its graph
    recorded, and the last operation of its output tells (views skipped): one of the
    library's activations names itself, an affine operation (`SCORE_OPS`) gives a score.
    Another operation, or none recorded, leaves it unknown. A function that gives numbers,
    not a Value, gives logits or scores (as `grid_predictions` documents).
    """
    who = getattr(model, "__name__", type(model).__name__)  # (a function's own name)
    known, activation = _structural_activation(model)
    if known:
        name = activation_name(activation)
        if name is None:
            raise ValueError(
                f"the output activation of {who} is {activation!r}, a callable that is not "
                f"one of the library's activations, so where its output switches class is "
                f"unknown; {_ASK_THRESHOLD}, or give the activation by name (e.g. "
                f"output_activation=\"sigmoid\")")
        return name
    if sample is None:
        raise ValueError(f"{who} is not one of the library's models: where its output switches "
                         f"class is read from its output for a sample of its input; give one")
    first = sample if np.ndim(sample) == 1 else sample[0]  # (the first row of a batch)
    with enable_grad():  # (a graph for one sample, let go on return)
        out = model(first.tolist()) if takes_one_sample(model) else model(sample)
    if isinstance(out, list | tuple) and len(out) == 1:  # (a micrograd layer of one neuron)
        out = out[0]
    if not isinstance(out, Value):
        return "identity"
    node = out
    while node.op is not None and node.op.name in VIEW_OPS:
        node = node.parents[0]
    if node.op is None:
        raise ValueError(f"the output of {who} records no operation (made under no_grad, or "
                         f"from parameters that need no gradient), so what it is (a logit, a "
                         f"probability) and where it switches class are unknown; "
                         f"{_ASK_THRESHOLD}")
    if node.op.name in ACTIVATIONS:
        return node.op.name
    if node.op.name in SCORE_OPS:
        return "identity"
    raise ValueError(f"the output of {who} is made by {node.op.name!r} (its last operation), "
                     f"neither one of the library's activations nor an affine one (+, @, ...), "
                     f"so where it switches class is unknown; {_ASK_THRESHOLD}")


_ASK_THRESHOLD = ("pass threshold= (the output above which the class is 1, e.g. 0.5 for a "
                  "probability, 0 for a logit)")
"""What a one-output model whose threshold is unknown is asked for, in an error message."""


def decision_threshold(model: Any, sample: Any = None) -> float:
    """Where a one-output model's output switches class: the output of its activation at
    logit 0 (`output_activation_name`; `sample` is one sample of its input, needed for a model
    that is not the library's), so that class 1 is a positive logit whatever the activation:
    0.5 for a sigmoid (or step) output, which is already a probability, log 2 for softplus,
    and 0 for a logit, a score or any other of the library's activations.

    Where the activation is unknown (a callable of the user's own, a last operation that is
    no activation), a `ValueError` says to pass ``threshold=`` to `predict`, `accuracy` or
    `grid_predictions` (or to give the activation by name).

    >>> from tinygrad_edu.nn import MLP
    >>> decision_threshold(MLP(2, [3, 1])), decision_threshold(MLP(2, [1], "relu", "sigmoid"))
    (0.0, 0.5)
    """
    return _THRESHOLDS.get(output_activation_name(model, sample), 0.0)


def takes_one_sample(model: Any) -> bool:
    """Whether `model` is called on one sample at a time, a flat list of numbers (a model of
    `tinygrad_edu.micrograd`: micrograd's neurons read their inputs one by one), rather than
    on a batch (a 2-D array, one row a sample)."""
    return isinstance(model, micrograd_nn.Module)


def model_outputs(model: Any, X: Array, who: str) -> Any:
    """`model`'s output for `X` (one sample, 1-D, or a batch, 2-D), recording no graph: one
    call, or, for a model that `takes_one_sample`, one call per row, the outputs of the rows
    stacked into a float array of shape (n,) (one output a row) or (n, outputs)."""
    with no_grad():
        if not takes_one_sample(model):
            return model(X)
        if X.ndim == 1:
            return _sample_outputs(model, X, who, 0)
        rows = [_sample_outputs(model, row, who, i) for i, row in enumerate(X)]
    odd = next((i for i, row in enumerate(rows) if row.shape != rows[0].shape), None)
    if odd is not None:
        raise ValueError(f"{who}: {type(model).__name__} gave {_outputs(rows[0])} for sample 0 "
                         f"but {_outputs(rows[odd])} for sample {odd}; a model gives every "
                         f"sample as many")
    return np.array(rows, dtype=np.float64)


def _sample_outputs(model: Any, sample: Array, who: str, index: int) -> Array:
    """The output of a model that takes one sample, for `sample` (the `index`-th), as a float
    array: of shape () for a number or a scalar Value, (k,) for a list of k."""
    out = model(sample.tolist())
    parts = out if isinstance(out, list | tuple) else [out]
    numbers = [part.data if isinstance(part, Value) else part for part in parts]
    if not all(is_number(number) for number in numbers):
        raise ValueError(f"{who}: {type(model).__name__} takes one sample at a time and should "
                         f"give a number or a scalar Value, or a list of them (one per output); "
                         f"for sample {index} it gave {_described(out)}")
    outputs = np.array(numbers, dtype=np.float64)
    return outputs if isinstance(out, list | tuple) else outputs.reshape(())


def _outputs(row: Array) -> str:
    """How many outputs a sample's `row` holds, for an error message."""
    return "one output" if row.ndim == 0 else plural(len(row), "output")


def predicts_classes(model: Any) -> bool:
    """Whether `model` gives classes itself through ``predict`` (a `Perceptron`) rather than
    scores when called (an `nn` model or a plain callable)."""
    return hasattr(model, "predict") and not callable(getattr(model, "forward", None))


def refuse_threshold(who: str, model: Any, outputs: int = 1) -> NoReturn:
    """The ValueError of `who` for ``threshold=`` given where no single score is cut: a model
    that gives its classes itself (`predicts_classes`), or one with several `outputs`."""
    why = (f"this one has {outputs} outputs (its class is the argmax)" if outputs > 1
           else f"a {type(model).__name__} gives its classes itself")
    raise ValueError(f"{who}: threshold= is for a model with one output score; {why}")


def checked_threshold(threshold: Any, who: str) -> float | None:
    """`threshold` as a float (None stays None), or a ValueError naming `who`."""
    if threshold is None:
        return None
    if not is_number(threshold) or math.isnan(threshold):
        raise ValueError(f"{who}: threshold must be a number (the output above which the class "
                         f"is 1) or None; got {threshold!r}")
    return float(threshold)


def grid_predictions(model: Any, X: Any, *, resolution: int | np.integer[Any] = 200,
                     margin: float = 0.25, threshold: float | None = None,
                     ) -> tuple[Array, Array, Labels, Array | None]:
    """A grid over the bounding box of `X` (widened by `margin` of its size) and, at each grid
    point, the predicted class and (when the model gives scores) the probability of class 1.

    The model is an object with ``predict`` (a `Perceptron`: classes, no probability) or a
    callable giving one score per point (a logit: class 1 where it is > 0, with probability
    σ(score)) or one score per class (class = argmax, probability from the softmax).
    A one-output model's class is 1 where its output is above `decision_threshold` (0.5 for a
    sigmoid output, which is then the probability itself; see `output_activation_name` for
    how it is known), or above `threshold` when it is given (needed where the output's kind is
    unknown, e.g. an output activation of the user's own: then no probability is given, its
    scale being unknown). Only a logit (no output activation: σ(output)) and a sigmoid or
    step output give a probability: the output of a relu, tanh, ... is no logit (a relu's
    class-0 outputs are all 0, σ(0) = 0.5: "unsure" where it is sure), so none is given.
    A model of `tinygrad_edu.micrograd`, which takes one sample per call, is called on each
    grid point.
    An axis on which all points share one value is given the other axis's spread (a single
    point: its own magnitude, at least 1). A model output that is nan somewhere, or classes
    that are not indices 0, 1, 2, ..., are refused with a ValueError, never drawn as class 0.
    Returns ``(xx, yy, classes, probability)``, each of shape (resolution, resolution).
    """
    threshold = checked_threshold(threshold, "grid_predictions")
    X = _points(X, "grid_predictions")
    if isinstance(resolution, bool) or not isinstance(resolution, int | np.integer) or (
            resolution < 2):
        raise ValueError(f"resolution must be an integer >= 2; got {resolution!r}")
    if not (is_number(margin) and 0.0 <= margin < math.inf):
        raise ValueError(f"grid_predictions: margin must be a number >= 0 (a fraction of the "
                         f"points' spread); got {margin!r}")
    low, high = X.min(axis=0), X.max(axis=0)
    with np.errstate(over="ignore"):
        size = high - low
    # An axis on which all points sit at one value (to rounding) gets the other axis's size,
    # or, for a single point, its own magnitude (at least 1): not a sliver 1e-9 wide.
    flat = size <= 4.0 * np.spacing(np.maximum(np.abs(low), np.abs(high)))
    if flat.any():
        middle = low / 2.0 + high / 2.0
        spread = size[~flat].max() if not flat.all() else np.maximum(np.abs(middle), 1.0)
        size = np.where(flat, spread, size)
        low, high = np.where(flat, middle - size / 2.0, low), np.where(flat, middle + size / 2.0,
                                                                      high)
    with np.errstate(over="ignore", invalid="ignore"):
        xs = np.linspace(low[0] - margin * size[0], high[0] + margin * size[0], resolution)
        ys = np.linspace(low[1] - margin * size[1], high[1] + margin * size[1], resolution)
    if not (np.isfinite(xs).all() and np.isfinite(ys).all()):
        raise ValueError(f"grid_predictions: the grid around X (from {X.min(axis=0).tolist()} "
                         f"to {X.max(axis=0).tolist()}, margin {margin!r}) overflows")
    xx, yy = np.meshgrid(xs, ys)
    points = np.column_stack([xx.ravel(), yy.ravel()])
    probability: Array | None = None
    if predicts_classes(model):
        if threshold is not None:
            refuse_threshold("grid_predictions", model)
        classes = class_indices(model.predict(points),
                                f"grid_predictions: {type(model).__name__}.predict",
                                "its classes", n=len(points), signs=False)
    else:
        scores = _scores(model, points)
        if scores.ndim == 2 and scores.shape[1] > 1:
            if threshold is not None:
                refuse_threshold("grid_predictions", model, scores.shape[1])
            top = scores.max(axis=1, keepdims=True)
            # the softmax; where the top score is infinite, the classes that reach it share it
            infinite = np.isinf(top)
            with np.errstate(under="ignore"):
                shifted = np.where(infinite, scores == top,
                                   np.exp(scores - np.where(infinite, 0.0, top)))
            classes = scores.argmax(axis=1)
            probability = (shifted.max(axis=1) / shifted.sum(axis=1)).reshape(xx.shape)
        else:
            outputs = scores.reshape(-1)
            if threshold is not None:
                classes = (outputs > threshold).astype(np.int64)
            else:
                try:
                    name = output_activation_name(model, points[:1])
                except ValueError as error:  # an output whose kind is unknown
                    raise ValueError(f"grid_predictions: {error}") from None
                classes = (outputs > _THRESHOLDS.get(name, 0.0)).astype(np.int64)
                p1: Array | None = None
                if name in PROBABILITY_OUTPUTS:
                    p1 = np.clip(outputs, 0.0, 1.0)  # the output is the probability itself
                elif name == "identity":  # a logit: σ(logit), without overflow
                    p1 = 0.5 * (1.0 + np.tanh(0.5 * outputs))
                if p1 is not None:  # (else, relu, tanh, ...: no probability, see above)
                    probability = np.where(classes == 1, p1, 1.0 - p1).reshape(xx.shape)
    return xx, yy, classes.reshape(xx.shape).astype(np.int64), probability


def plot_decision_boundary(
    model: Any,
    X: Any,
    y: Any,
    ax: Any = None,
    *,
    title: str | None = None,
    resolution: int | np.integer[Any] = 200,
    margin: float = 0.25,
    shade: str = "probability",
    point_size: float = 18.0,
    labels: Sequence[str] | None = None,
    threshold: float | None = None,
) -> Any:
    """Draw a 2-input classifier's decision regions, its boundary, and the data points.

    `model` is an `MLP` (one output: a logit, class 1 where it is > 0; several outputs: the
    argmax), a `Neuron`, a `Perceptron` (its ``predict``), a micrograd model (called on each
    point) or any callable from an (n, 2) array to scores. The background is shaded by the
    probability the model gives the class it predicts (``shade="probability"``, when it gives
    scores and there are two classes, 0 and 1, the one predicted always the likelier) or flat
    per class (``shade="class"``, and otherwise); the boundary is a black line; the points are
    coloured and shaped by their label `y` (class indices 0, 1, 2, ...: each class has its own
    colour, marker and shade, as `CLASS_COLORS` and `CLASS_MARKERS` say), each class in `y`
    named once in the legend (``ax.legend()``): ``labels[k]`` or "class k". Returns the
    matplotlib ``Axes`` (a new pyplot figure's when `ax` is None). `threshold` is passed to
    `grid_predictions` (a one-output model whose output's kind is unknown needs it: an output
    activation of the user's own, say).
    """
    require_matplotlib()
    from matplotlib.colors import LinearSegmentedColormap

    if shade not in ("probability", "class"):
        raise ValueError(f"shade must be 'probability' or 'class'; got {shade!r}")
    X = _points(X, "plot_decision_boundary")
    y = class_indices(y, "plot_decision_boundary", "the labels y", n=len(X), renumber=_RENUMBER)
    names = None if labels is None else _class_names(labels, "plot_decision_boundary")
    if names is not None and len(names) <= y.max():
        raise ValueError(f"plot_decision_boundary: labels names {len(names)} classes (one per "
                         f"class index 0, 1, ...) but y holds class {int(y.max())}; give a "
                         f"name for each class up to it")
    # (computed before a figure is made: a model that fails leaves no empty figure behind)
    xx, yy, classes, probability = grid_predictions(model, X, resolution=resolution,
                                                    margin=margin, threshold=threshold)
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(5, 4.5))
    drawn = np.unique(classes)  # the classes of the regions, and of the points:
    shown = np.unique(y)  # (not 0..max: labels 0 and 10**6 are two classes, not a million)
    # one colour scale from class 0 (blue) through 0.5 (white) to class 1 (orange), for two
    # classes: with a third output that never wins, the class predicted may have p < 0.5, and
    # the scale would put it on the other class's side
    if probability is not None and shade == "probability" and max(drawn[-1], shown[-1]) <= 1 \
            and probability.min() >= 0.5:
        cmap = LinearSegmentedColormap.from_list("tinygrad_edu", [_SHADES[0], "#ffffff",
                                                                   _SHADES[1]])
        p1 = np.where(classes == 1, probability, 1.0 - probability)  # P(class 1)
        ax.contourf(xx, yy, p1, levels=np.linspace(0.0, 1.0, 11), cmap=cmap, vmin=0, vmax=1)
        if p1.min() < 0.5 < p1.max():
            ax.contour(xx, yy, p1, levels=[0.5], colors="black", linewidths=1.5)
    else:  # each class's region in its shade, outlined where it meets another class's
        # (one contour of all the classes at once would draw, where classes 0 and 3 meet,
        # slivers of 1 and 2 and three lines: the interpolation passes through them)
        for k in drawn.tolist():
            inside = (classes == k).astype(np.float64)
            ax.contourf(xx, yy, inside, levels=[0.5, 1.5], colors=[_class_style(k)[2]])
            if len(drawn) > 1:
                ax.contour(xx, yy, inside, levels=[0.5], colors="black", linewidths=1.5)
    for k in shown.tolist():
        color, marker, _ = _class_style(k)
        chosen = y == k
        ax.scatter(X[chosen, 0], X[chosen, 1], s=point_size, c=color, marker=marker,
                   edgecolors="black", linewidths=0.5,
                   label=f"class {k}" if names is None else names[k], zorder=3)
    ax.set_xlim(xx.min(), xx.max())
    ax.set_ylim(yy.min(), yy.max())
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")
    if title is not None:
        ax.set_title(title)
    return ax


def activation_curves(name: str, z: Array) -> tuple[Array, Array]:
    """An activation's values and its derivative at `z`, both computed by the engine.

    The derivative is what `backward()` gives: f′(z) = d(Σ f(zᵢ))/dzᵢ for an elementwise f.

    >>> values, slopes = activation_curves("relu", np.array([-1.0, 0.0, 2.0]))
    >>> values.tolist(), slopes.tolist()
    ([0.0, 0.0, 2.0], [0.0, 0.0, 1.0])
    """
    [name] = activation_names([name])
    x = Value(np.asarray(z, dtype=np.float64))
    out = ACTIVATIONS[name](x)
    out.sum().backward()
    return np.array(out.data, dtype=np.float64), np.array(x.grad, dtype=np.float64)


def plot_activations(
    names: Sequence[str] | None = None,
    fig: Any = None,
    *,
    z_range: tuple[float, float] = (-4.0, 4.0),
    points: int = 801,
    columns: int = 5,
) -> Any:
    """One panel per activation: the function (solid) and the derivative the engine computes
    by backpropagation (dashed), over `z_range`. `names` defaults to every activation in
    `ACTIVATIONS` except the identity. Returns the matplotlib ``Figure`` (a new pyplot figure
    when `fig` is None).
    """
    require_matplotlib()
    if isinstance(names, str):  # one name, not its letters
        names = [names]
    chosen = activation_names(None if names is None else list(names))
    low, high = z_range
    if not (is_number(low) and is_number(high) and -math.inf < low < high < math.inf):
        raise ValueError(f"plot_activations: z_range must be two finite numbers, low < high; "
                         f"got {z_range!r}")
    if isinstance(points, bool) or not isinstance(points, int | np.integer) or points < 2:
        raise ValueError(f"plot_activations: points must be an integer >= 2; got {points!r}")
    columns = max(1, min(columns, len(chosen)))
    rows = -(-len(chosen) // columns)
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(3.2 * columns, 2.9 * rows + 0.6))
    z = np.linspace(z_range[0], z_range[1], points)
    axes = fig.subplots(rows, columns, squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        if i >= len(chosen):
            ax.set_visible(False)
            continue
        name = chosen[i]
        values, slopes = activation_curves(name, z)
        ax.axhline(0.0, color="#999999", linewidth=0.6)
        ax.axvline(0.0, color="#999999", linewidth=0.6)
        ax.plot(z, values, color=CLASS_COLORS[0], linewidth=2.0, label="f(z)")
        ax.plot(z, slopes, color=CLASS_COLORS[1], linewidth=2.0, linestyle="--",
                label="f′(z), by backward()")
        for kink in ACTIVATIONS[name].kinks:
            ax.axvline(kink, color=CLASS_COLORS[3], linewidth=0.8, linestyle=":")
        ax.set_title(name)
        ax.set_xlabel("z")
        ax.grid(alpha=0.3)
        if i % columns == 0:
            ax.set_ylabel("value")
    fig.suptitle("Activation functions and the derivatives the engine computes", fontsize=13,
                 y=0.99, va="top")
    handles, texts = axes[0, 0].get_legend_handles_labels()
    if any(ACTIVATIONS[name].kinks for name in chosen):
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], color=CLASS_COLORS[3], linewidth=0.8, linestyle=":"))
        texts.append("kink (the derivative there is a convention)")
    height = fig.get_figheight()
    fig.legend(handles, texts, loc="upper center", ncol=len(handles), frameon=False,
               bbox_to_anchor=(0.5, 1.0 - 0.3 / height))
    fig.tight_layout(rect=(0.0, 0.0, 1.0, 1.0 - 0.5 / height))
    return fig



class Curves(Protocol):
    """Per-epoch measurements, as `training.History` holds them."""

    train_loss: list[float]
    train_accuracy: list[float]
    test_loss: list[float]
    test_accuracy: list[float]


def lowest_loss_epoch(losses: Sequence[float]) -> int | None:
    """The epoch (counted from 1) of the lowest of `losses`, one per epoch, skipping nan (a
    diverged epoch is never the lowest); None when there is no loss or every one is nan.

    >>> lowest_loss_epoch([0.9, float("nan"), 0.4, 0.6]), lowest_loss_epoch([float("nan")])
    (3, None)
    """
    values = np.asarray(losses, dtype=np.float64)
    if not values.size or np.isnan(values).all():
        return None
    return int(np.nanargmin(values)) + 1


def plot_learning_curves(history: Curves, axes: Any = None, *, title: str | None = None) -> Any:
    """Two panels, against the epoch: the loss (log scale) and the accuracy, each on the
    training data (solid) and the test data (dashed). A dotted line marks the epoch of the
    lowest test loss: after it the test loss rises while the training loss still falls, the
    mark of overfitting. `axes` is a pair of ``Axes`` (a new pyplot figure's when None);
    returns it.
    """
    missing = [name for name in Curves.__annotations__ if not hasattr(history, name)]
    if missing:
        raise TypeError(f"plot_learning_curves: history must be a training.History (as "
                        f"train_classifier returns it) or hold its lists; got a "
                        f"{type(history).__name__} without {', '.join(missing)}")
    require_matplotlib()
    epochs = np.arange(1, len(history.train_loss) + 1)
    if not len(epochs):
        raise ValueError("plot_learning_curves: the history holds no epoch")
    lengths = {name: len(getattr(history, name)) for name in Curves.__annotations__}
    if lengths["train_accuracy"] != len(epochs) or any(
            lengths[name] not in (0, len(epochs)) for name in ("test_loss", "test_accuracy")):
        raise ValueError(f"plot_learning_curves: one value per epoch is needed in each list "
                         f"(the test lists may be empty); got lengths {lengths}")
    losses = np.array([*history.train_loss, *history.test_loss], dtype=np.float64)
    # a log scale hides a loss of 0 (or below): then the scale is linear
    log_scale = bool(np.all(losses[np.isfinite(losses)] > 0.0))
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss, ax_accuracy = axes
    for ax, train, test, what in ((ax_loss, history.train_loss, history.test_loss, "loss"),
                                  (ax_accuracy, history.train_accuracy, history.test_accuracy,
                                   "accuracy")):
        ax.plot(epochs, train, color=CLASS_COLORS[0], linewidth=2, label=f"training {what}")
        if test:
            ax.plot(epochs, test, color=CLASS_COLORS[1], linewidth=2, linestyle="--",
                    label=f"test {what}")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    best = lowest_loss_epoch(history.test_loss)
    if best is not None:
        for ax in axes:
            ax.axvline(best, color="#777777", linestyle=":", linewidth=1.2,
                       label=f"lowest test loss (epoch {best})")
    if log_scale:
        ax_loss.set_yscale("log")
    ax_loss.set_ylabel("cross-entropy (log scale)" if log_scale else "cross-entropy")
    ax_loss.set_title("loss" if title is None else f"{title}: loss")
    ax_accuracy.set_ylabel("accuracy")
    accuracies = np.array([*history.train_accuracy, *history.test_accuracy], dtype=np.float64)
    low = float(np.min(accuracies[np.isfinite(accuracies)], initial=1.0))
    ax_accuracy.set_ylim(max(0.0, low - 0.02), 1.005)
    ax_accuracy.set_title("accuracy" if title is None else f"{title}: accuracy")
    ax_loss.legend(fontsize=8)
    ax_accuracy.legend(fontsize=8, loc="lower right")
    return axes


def plot_confusion_matrix(matrix: Any, ax: Any = None, *, labels: Sequence[str] | None = None,
                          title: str | None = None) -> Any:
    """A confusion matrix (rows: true class, columns: predicted class) as a grid of counts,
    darker for more; the diagonal holds the right answers. Returns the ``Axes``.
    """
    require_matplotlib()
    try:
        counts = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"plot_confusion_matrix: the matrix must hold counts (numbers); got "
                         f"{_described(matrix)}") from None
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or not counts.size:
        raise ValueError(f"plot_confusion_matrix: the matrix must be square, one row and one "
                         f"column per class; got shape {counts.shape}")
    bad = ~(np.isfinite(counts) & (counts >= 0) & (counts == np.round(counts)))
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(f"plot_confusion_matrix: counts must be whole numbers >= 0; got "
                         f"{counts[i, j]:g} at row {i}, column {j}")
    counts = counts.astype(np.int64)
    classes = counts.shape[0]
    names = ([str(k) for k in range(classes)] if labels is None
             else _class_names(labels, "plot_confusion_matrix"))
    if len(names) != classes:
        raise ValueError(f"plot_confusion_matrix: {classes} classes but {len(names)} labels")
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(5, 4.5))
    shown = np.log1p(counts)  # a log scale, so that single mistakes stay visible
    ax.imshow(shown, cmap="Blues", vmin=0.0, vmax=max(float(shown.max()), 1e-9))
    for i in range(classes):
        for j in range(classes):
            if counts[i, j]:
                dark = shown[i, j] > 0.6 * shown.max()
                ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if dark else ("black" if i == j else "#d62728"))
    ax.set_xticks(range(classes), names, rotation=0 if len(max(names, key=len)) < 3 else 45)
    ax.set_yticks(range(classes), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if title is not None:
        ax.set_title(title)
    return ax


def plot_images(images: Any, fig: Any = None, *, titles: Sequence[str] | None = None,
                shape: tuple[int, int] | None = None, columns: int = 10,
                title: str | None = None) -> Any:
    """Small grey-scale images in a grid, each with its title (say, "7 → 1": true and
    predicted). `images` is an array of images, or of rows reshaped to `shape` (default: a
    square). Returns the ``Figure`` (a new pyplot figure when `fig` is None).
    """
    require_matplotlib()
    stack = np.asarray(images, dtype=np.float64)
    if stack.ndim == 2 and len(stack):
        side = math.isqrt(stack.shape[1])
        rows, cols = shape or (side, stack.shape[1] // side if side else 0)
        if rows < 1 or cols < 1 or rows * cols != stack.shape[1]:
            raise ValueError(f"plot_images: rows of {stack.shape[1]} pixels are not "
                             f"{rows}x{cols} images; give shape=(rows, columns)")
        stack = stack.reshape(len(stack), rows, cols)
    if len(stack) and (stack.ndim != 3 or not stack[0].size):
        raise ValueError(f"plot_images: images must have shape (n, rows, columns) or "
                         f"(n, pixels), with at least one pixel; got {stack.shape}")
    if titles is not None and len(titles) != len(stack):
        raise ValueError(f"plot_images: {len(stack)} images but {len(titles)} titles")
    columns = max(1, min(columns, len(stack)))
    grid_rows = max(1, -(-len(stack) // columns))
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(1.2 * columns, 1.35 * grid_rows + 0.5))
    axes = fig.subplots(grid_rows, columns, squeeze=False)
    for k, ax in enumerate(axes.ravel()):
        ax.set_axis_off()
        if k < len(stack):
            ax.imshow(stack[k], cmap="gray_r", interpolation="nearest")
            if titles is not None:
                ax.set_title(titles[k], fontsize=9)
    if not len(stack):
        axes[0, 0].text(0.5, 0.5, "no image to show", ha="center", va="center",
                        transform=axes[0, 0].transAxes)
    if title is not None:
        fig.suptitle(title)
    return fig
