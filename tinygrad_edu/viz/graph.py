"""The graph model behind the pictures: which values to draw, their names, roles and groups.

`build_graph(root, ...)` walks the computation graph once (the engine's own walk,
`topological_order`), numbers the values in creation order, gives each a role (output, parameter,
input, constant, intermediate) and, above `max_nodes` values, folds them into boxes. Nothing
here knows about Graphviz: `tinygrad_edu.viz.dot` draws a `Graph`.

>>> from tinygrad_edu import Value
>>> w, x = Value(-3.0, label="w"), Value(2.0, label="x")
>>> graph = build_graph(w * x, inputs=["x"])
>>> [(graph.names[id(n)], graph.titles[id(n)], graph.roles[id(n)]) for n in graph.nodes]
[('n0', 'w', 'parameter'), ('n1', 'x', 'input'), ('n2', '', 'output')]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinygrad_edu.data import data_of, describe
from tinygrad_edu.engine import Value, topological_order

__all__ = [
    "SCREEN",
    "SHARED_USES",
    "SMALL_TENSOR",
    "Graph",
    "Unit",
    "build_graph",
    "by_distance",
    "estimated_size",
    "format_number",
    "has_nan_or_inf",
    "is_all_zero",
    "summarize",
]

SMALL_TENSOR = 6
"""Tensors with at most this many elements are shown element by element."""


# --------------------------------------------------------------------------------------------
# Summaries of values and gradients
# --------------------------------------------------------------------------------------------


def format_number(x: float) -> str:
    """A number as a graph shows it: 4 decimals, or scientific notation when very big/small.

    >>> format_number(0.5), format_number(123456.0), format_number(float("nan"))
    ('0.5000', '1.235e+05', 'nan')
    >>> format_number(-0.0), format_number(99999.99999)
    ('-0.0000', '1.000e+05')
    """
    if math.isnan(x) or math.isinf(x):
        return str(x)
    if x == 0.0:  # -0.0 keeps its sign, as numpy and PyTorch print it (1/-0.0 is -inf)
        return "-0.0000" if math.copysign(1.0, x) < 0 else "0.0000"
    fixed = f"{x:.4f}"
    if abs(x) >= 1e-3 and abs(float(fixed)) < 1e5:  # (99999.99999 rounds up to 1e5)
        return fixed
    return f"{x:.3e}"


def summarize(x: Any) -> str:
    """A scalar's value, a small tensor's elements, or a large tensor's mean/min/max.

    >>> summarize(2.0), summarize(np.array([1.0, -2.0])), summarize(np.arange(10.0))
    ('2.0000', '[1.0000, -2.0000]', 'mean 4.5000, min 0.0000, max 9.0000')
    """
    x = data_of(x)
    if not isinstance(x, np.ndarray):
        return format_number(float(x))
    if x.size <= SMALL_TENSOR:
        formatter: Any = {"float_kind": format_number}
        text = np.array2string(x, separator=", ", formatter=formatter)
        return " ".join(text.split())
    finite = x[np.isfinite(x)]
    parts = []
    if finite.size:
        parts.append(f"mean {format_number(_mean(finite))}")
        parts.append(f"min {format_number(float(finite.min()))}")
        parts.append(f"max {format_number(float(finite.max()))}")
    counts = (int(np.isnan(x).sum()), int(np.isneginf(x).sum()), int(np.isposinf(x).sum()))
    parts += [f"{count} {what}" for count, what in zip(counts, ("nan", "-inf", "inf"),
                                                        strict=True) if count]
    return ", ".join(parts)


def _mean(finite: np.ndarray[Any, Any]) -> float:
    """The mean of finite numbers, finite too: scaled by the largest magnitude first, so a
    sum past the float range (seven values of 1e308) neither overflows nor warns.

    >>> _mean(np.full(7, 1e308)), _mean(np.array([1.0, 2.0]))
    (1e+308, 1.5)
    """
    scale = float(np.max(np.abs(finite)))
    if scale == 0.0:
        return float(np.mean(finite))
    return float(np.mean(finite / scale)) * scale


def has_nan_or_inf(grad: Any) -> bool:
    """True when a gradient (a number, an array or a Value) holds a nan or an inf.

    >>> has_nan_or_inf(float("inf")), has_nan_or_inf(np.array([1.0, 2.0]))
    (True, False)
    """
    return not bool(np.all(np.isfinite(data_of(grad))))


def is_all_zero(grad: Any) -> bool:
    """True when every element of a gradient is exactly 0 (a dead ReLU's, say).

    >>> is_all_zero(0.0), is_all_zero(np.array([0.0, 1e-9]))
    (True, False)
    """
    return not bool(np.any(data_of(grad) != 0.0))


# --------------------------------------------------------------------------------------------
# Distance from the root
# --------------------------------------------------------------------------------------------


def by_distance(nodes: list[Value]) -> list[Value]:
    """`nodes`, a graph in the engine's order (`topological_order`, root first), sorted by
    their distance from the root (the fewest operations between them), nearest first.

    Every value that uses a node comes before it in that order, so one pass finds each
    distance.

    >>> from tinygrad_edu import Value
    >>> a = Value(2.0, label="a")
    >>> b = (a * 3.0).tanh() + a
    >>> [v.op.name if v.op else v.data for v in by_distance(topological_order(b, constants=True))]
    ['add', 'tanh', 2.0, 'mul', 3.0]
    """
    distance = {id(nodes[0]): 0}
    for node in nodes:
        d = distance[id(node)] + 1
        for parent in node.parents:
            distance[id(parent)] = min(distance.get(id(parent), d), d)
    return sorted(nodes, key=lambda node: distance[id(node)])


# --------------------------------------------------------------------------------------------
# The graph: nodes, names, roles and groups, computed once
# --------------------------------------------------------------------------------------------


@dataclass
class Unit:
    """One box of a collapsed picture: a group of values, or the values that were cut off.

    >>> Unit("g0", "layers.0", members=12)
    Unit(key='g0', title='layers.0', members=12)
    """

    key: str
    title: str
    members: int = 0
    roles: dict[str, int] = field(default_factory=dict, repr=False)  # role -> values hidden

    def add(self, role: str) -> None:
        """Count one more value, of `role`, folded into this box."""
        self.members += 1
        self.roles[role] = self.roles.get(role, 0) + 1


@dataclass
class Graph:
    """What a picture of `root`'s graph shows; the dicts are keyed by ``id(node)``.

    `units` holds the box of each value folded away (empty unless collapsed), and `hidden`
    counts those values. Made by `build_graph`.

    >>> from tinygrad_edu import Value
    >>> graph = build_graph(Value(1.0, label="x").tanh())
    >>> len(graph.nodes), graph.hidden, graph.units
    (2, 0, {})
    """

    root: Value
    nodes: list[Value]  # oldest first
    names: dict[int, str]  # id(node) -> "n0", "n1", ... (creation order)
    titles: dict[int, str]  # id(node) -> the label shown
    roles: dict[int, str]
    max_nodes: int | None
    units: dict[int, Unit] = field(default_factory=dict)  # id(node) -> its box, if collapsed
    hidden: int = 0
    fitted: bool = False  # collapsed further than max_nodes, to fit (a screen)


PARAMS_ACCEPTED = ("a model (with named_parameters() or parameters()), a name -> Value "
                   "mapping, (name, Value) pairs or Values")
"""What `draw_graph`'s `params` may be, as its errors say."""


def _named_values(params: Any) -> dict[int, tuple[str, Value]]:
    """`params` (a model, a name → Value mapping, (name, Value) pairs or Values) by id.

    A model with ``named_parameters()`` (ours) names its parameters; one with only
    ``parameters()`` (micrograd's) gives them as Values, shown by their labels.

    >>> _named_values(5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: draw_graph: params must be a model (...), ...; got 5 (type int)
    """
    if params is None:
        return {}
    if callable(getattr(params, "named_parameters", None)):
        params = params.named_parameters()
    elif callable(getattr(params, "parameters", None)):
        params = params.parameters()
    if isinstance(params, Value):  # one parameter
        params = [params]
    items = params.items() if isinstance(params, Mapping) else params
    if isinstance(items, str | bytes) or not isinstance(items, Iterable):
        raise TypeError(f"draw_graph: params must be {PARAMS_ACCEPTED}; got {describe(params)}")
    found: dict[int, tuple[str, Value]] = {}
    for item in items:
        if isinstance(item, Value):
            found[id(item)] = (item.label, item)
            continue
        if not (isinstance(item, tuple | list) and len(item) == 2):
            raise TypeError(f"draw_graph: params must be {PARAMS_ACCEPTED}; it held "
                            f"{describe(item)}")
        name, value = item
        if not isinstance(value, Value):
            raise TypeError(f"draw_graph: params must hold Values; got {type(value).__name__}")
        found[id(value)] = (str(name), value)
    return found


def _input_items(inputs: Iterable[Value | str] | Value | str | None) -> list[Value | str]:
    """`inputs` as a list: one Value or label stands for itself (``inputs="x1"`` is the value
    labelled x1, not the labels "x" and "1"); anything but Values and labels is refused."""
    if inputs is None:
        return []
    if isinstance(inputs, Value | str):
        return [inputs]
    try:
        items = list(inputs)
    except TypeError:
        raise TypeError("draw_graph: inputs must be Values or their labels (a list of them, "
                        f"or one); got {describe(inputs)}") from None
    for item in items:
        if not isinstance(item, Value | str):
            raise TypeError("draw_graph: inputs must be Values or their labels; it held "
                            f"{describe(item)}")
    return items


SHOWN_LABELS = 10
"""An error about `inputs` lists this many of the graph's labels, and counts the others."""


def _check_inputs_in_graph(items: list[Value | str], nodes: list[Value]) -> None:
    """A `ValueError` naming the inputs (Values or labels) that are not in the graph of
    `nodes`, with the labels that are (the first `SHOWN_LABELS` of them).

    >>> from tinygrad_edu import Value
    >>> x = Value(2.0, label="x")
    >>> _check_inputs_in_graph(["x ", Value(1.0), x, "x"], [x])
    Traceback (most recent call last):
    ...
    ValueError: draw_graph: inputs 'x ', Value(data=1.0, grad=0.0) not in the graph (its
    labels: 'x')
    """
    in_graph = {id(node) for node in nodes}
    labels = list(dict.fromkeys(node.label for node in nodes if node.label))
    unknown = [item for item in items if
               (id(item) not in in_graph if isinstance(item, Value) else item not in labels)]
    if not unknown:
        return
    shown = ", ".join(map(repr, labels[:SHOWN_LABELS]))
    more = len(labels) - SHOWN_LABELS
    known = (f"its labels: {shown}" + (f" and {more} more" if more > 0 else "") if labels
             else "no value in it has a label")
    raise ValueError(f"draw_graph: inputs {', '.join(map(repr, unknown))} not in the graph "
                     f"({known})")


def build_graph(
    root: Value,
    params: Any = None,
    inputs: Iterable[Value | str] | Value | str | None = None,
    max_nodes: int | None = None,
    fits: Callable[[Graph], bool] | None = None,
    *,
    always_fit: bool = False,
) -> Graph:
    """The values of `root`'s graph with their names, titles and roles (see `draw_graph`),
    folded into boxes when there are more than `max_nodes` (None: never); a collapsed graph
    folds further until `fits` (say, its picture fits a screen) is True of it. With
    `always_fit`, a graph of fewer values whose picture does not fit folds too (the
    backprop stepper's frames: a chain of 60 ops is 15,000 pixels wide).

    >>> from tinygrad_edu import Value
    >>> x = Value(1.0, label="x")
    >>> y = x
    >>> for _ in range(10):
    ...     y = y.tanh()
    >>> graph = build_graph(y, max_nodes=5)
    >>> graph.hidden, graph.units[id(x)]
    (7, Unit(key='hidden', title='further values', members=7))
    """
    if not isinstance(root, Value):
        raise TypeError(f"draw_graph: root must be a Value; got {type(root).__name__}")
    if max_nodes is not None and (isinstance(max_nodes, bool)
                                  or not isinstance(max_nodes, int | np.integer)):
        raise TypeError(f"draw_graph: max_nodes must be a whole number (or None: never "
                        f"collapse); got {describe(max_nodes)}")
    if max_nodes is not None and max_nodes < 1:
        raise ValueError(f"draw_graph: max_nodes must be at least 1; got {max_nodes}")
    items = _input_items(inputs)
    nodes = topological_order(root, constants=True)[::-1]
    _check_inputs_in_graph(items, nodes)
    named = _named_values(params)
    input_ids = set()
    input_labels = set()
    for item in items:
        if isinstance(item, Value):
            input_ids.add(id(item))
        else:
            input_labels.add(item)
    names: dict[int, str] = {}
    titles: dict[int, str] = {}
    roles: dict[int, str] = {}
    for i, node in enumerate(nodes):
        key = id(node)
        names[key] = f"n{i}"
        titles[key] = named[key][0] if key in named and named[key][0] else node.label
        if node is root:
            roles[key] = "output"
        elif not node.is_leaf:
            roles[key] = "intermediate"
        elif not node.requires_grad:
            roles[key] = "constant"
        elif (key in input_ids or (node.label and node.label in input_labels)
              or (named and key not in named)):
            roles[key] = "input"
        else:
            roles[key] = "parameter"
    graph = Graph(root, nodes, names, titles, roles, max_nodes)
    if max_nodes is not None and len(nodes) > max_nodes:
        _collapse(graph, max_nodes, fits or (lambda graph: True))
    elif always_fit and fits is not None and not fits(graph):
        _collapse(graph, len(nodes), fits)
        graph.fitted = True
    return graph


def _module_units(name: str) -> list[str]:
    """The module path of a parameter's dotted name, as units (``layers.0``, ``neurons.3``).

    ``layers.0.neurons.3.w`` and ``layers.0.neurons.3.w.1`` are both in module
    ``layers.0.neurons.3``: trailing indices are dropped, then the attribute name.
    """
    parts = name.split(".")
    while parts and parts[-1].isdigit():
        parts.pop()
    units: list[str] = []
    for part in parts[:-1]:
        if part.isdigit() and units:
            units[-1] += "." + part
        else:
            units.append(part)
    return units


def _group_keys(graph: Graph, level: int) -> dict[int, str]:
    """Each node's module, `level` units above the module owning a parameter (0: that one).

    A leaf's module comes from its dotted name (``layers.0.W`` is in ``layers.0``); a computed
    value belongs to the most recently created module among its operands' (the module whose
    forward computed it). The root is never grouped.
    """
    groups: dict[int, str] = {}
    rank: dict[str, int] = {}
    for position, node in enumerate(graph.nodes):
        key = id(node)
        if node.is_leaf:
            units = _module_units(graph.titles[key])
            if not units:
                continue
            group = ".".join(units[: max(1, len(units) - level)])
            groups[key] = group
            rank.setdefault(group, position)
        elif node is not graph.root:
            best: str | None = None
            for parent in node.parents:
                theirs = groups.get(id(parent))
                if theirs is not None and (best is None or rank[theirs] > rank[best]):
                    best = theirs
            if best is not None:
                groups[key] = best
    return groups


SHARED_USES = 3
"""A value used by more ops than this is drawn once, and again as a small dashed copy beside
each further op that uses it (see `tinygrad_edu.viz.dot.draw_graph`): long edges from one
value to uses far away are what make Graphviz's `dot` take minutes."""

SCREEN = (26.0, 14.0)
"""A screen, in inches (2496 × 1344 pixels at Graphviz's 96 per inch): a collapsed picture
folds further until it fits, so it is readable at its natural size (see `draw_graph`)."""

_CHAR = 0.085  # inches per character of 11-point Helvetica, a little generous
_ROW = 0.19  # inches per line of a value's box
_NODESEP, _RANKSEP = 0.25, 0.35  # as dot.render_graph sets them


def _box_size(graph: Graph, node: Value) -> tuple[float, float]:
    """The estimated width and height (inches) of a value's box: title, data and grad rows."""
    key = id(node)
    shape = f"  shape {node.shape}" if node.shape else ""
    text = summarize(node.data)
    lines = [graph.titles[key] + shape, "data " + text]
    if node.requires_grad:
        lines.append("grad " + text)  # about as long as the data
    width = max(len(line) for line in lines) * _CHAR + 0.3
    return width, len(lines) * _ROW + 0.15


def estimated_size(graph: Graph, rankdir: str = "LR") -> tuple[float, float]:
    """The size (width, height in inches) `dot` will give the picture of `graph`, roughly:
    its nodes in ranks by their longest path (a value's box, its op's ellipse; a leaf or a
    collapsed box just before its first use), ranks side by side (LR) or stacked (TB), with
    the room long edges and the copies of much-used values take (see `SHARED_USES`).

    >>> from tinygrad_edu import Value
    >>> x = Value(1.0, label="x")
    >>> width, height = estimated_size(build_graph(x.tanh().tanh()))
    >>> 4.0 < width < 10.0 and 0.3 < height < 1.5
    True
    """
    rank: dict[int | str, int] = {}
    sources: dict[int | str, tuple[float, float]] = {}  # leaves and boxes: placed later
    uses: dict[int | str, list[int]] = {}  # source -> the ranks of the ops it feeds
    sizes: dict[int, list[tuple[float, float]]] = {}
    for unit in {unit.key: unit for unit in graph.units.values()}.values():
        sources[unit.key] = (len(unit.title) * _CHAR + 0.6, 0.75)
    for node in graph.nodes:  # oldest first: parents before the values they make
        key = id(node)
        if key in graph.units:
            continue
        if node.is_leaf:
            sources[key] = _box_size(graph, node)
            continue
        feeds = {graph.units[id(p)].key if id(p) in graph.units else id(p)
                 for p in node.parents}
        op_rank = 1 + max((rank.get(f, -1) for f in feeds), default=-1)
        for source in feeds:
            uses.setdefault(source, []).append(op_rank)
        sizes.setdefault(op_rank, []).append((0.7, 0.35))
        rank[key] = op_rank + 1
        sizes.setdefault(op_rank + 1, []).append(_box_size(graph, node))
    for source, size in sources.items():  # a leaf or box sits just before its first use
        first = min(uses.get(source, [1]))
        rank[source] = first - 1
        sizes.setdefault(first - 1, []).append(size)
    spans: dict[int, int] = {}  # rank -> long edges passing through it
    for source, ranks in uses.items():
        for k, op_rank in enumerate(sorted(ranks)):
            if k >= SHARED_USES:  # drawn as a copy beside the op
                sizes.setdefault(op_rank - 1, []).append((0.8, 0.3))
                continue
            for r in range(rank[source] + 1, op_rank):
                spans[r] = spans.get(r, 0) + 1
    for r, count in spans.items():
        sizes.setdefault(r, []).extend([(0.1, 0.1)] * count)
    rows = list(sizes.values())
    sep = _RANKSEP * (len(rows) - 1)
    if rankdir in ("TB", "BT"):
        across = max(sum(w for w, _ in row) + _NODESEP * (len(row) - 1) for row in rows)
        return across, sum(max(h for _, h in row) for row in rows) + sep
    across = max(sum(h for _, h in row) + _NODESEP * (len(row) - 1) for row in rows)
    return sum(max(w for w, _ in row) for row in rows) + sep, across


def _fold_modules(graph: Graph, groups: dict[int, str]) -> None:
    graph.units = {}
    units: dict[str, Unit] = {}
    for key, group in groups.items():
        unit = units.setdefault(group, Unit(f"g{len(units)}", group))
        unit.add(graph.roles[key])
        graph.units[key] = unit
    graph.hidden = len(groups)


def _keep_nearest(graph: Graph, nearest: list[Value], count: int) -> None:
    graph.units = {}
    kept = {id(node) for node in nearest[:count]}
    rest = Unit("hidden", "further values")
    for node in graph.nodes:
        if id(node) not in kept:
            rest.add(graph.roles[id(node)])
            graph.units[id(node)] = rest
    graph.hidden = rest.members


def _collapse(graph: Graph, max_nodes: int, fits: Callable[[Graph], bool]) -> None:
    """Fold modules into one box each, or keep the values nearest the root, to fit max_nodes
    values and `fits`."""
    depth = max((len(_module_units(graph.titles[id(n)])) for n in graph.nodes if n.is_leaf),
                default=0)
    for level in range(depth):
        groups = _group_keys(graph, level)
        shown = len(graph.nodes) - len(groups) + len(set(groups.values()))
        if groups and shown <= max_nodes:
            _fold_modules(graph, groups)
            if fits(graph):
                return
            graph.fitted = True  # a finer level fitted max_nodes, not the screen
    # no module structure that fits: keep the values nearest the root, hide the rest
    nearest = by_distance(graph.nodes[::-1])
    low, high = 1, max(1, max_nodes - 1)
    _keep_nearest(graph, nearest, high)
    if fits(graph):
        return
    while low < high:  # the most values kept whose picture fits the screen
        middle = (low + high + 1) // 2
        _keep_nearest(graph, nearest, middle)
        if fits(graph):
            low = middle
        else:
            high = middle - 1
    _keep_nearest(graph, nearest, low)
    graph.fitted = True
