"""Pictures of computation graphs: Graphviz drawings, and backpropagation step by step.

`draw_graph(root)` returns a `graphviz.Digraph` (it shows inline in Jupyter, and renders to
SVG, PNG or PDF with Graphviz's `dot` program). Building it, and its DOT text `.source`, needs
no Graphviz program; rendering without one raises `GraphvizNotFoundError`, which says how to
install it.

`backprop_steps(root)` records the engine's real backward pass, one step per node, and
`write_backprop_html(root, path)` saves those steps as one self-contained HTML page (inline
SVG pictures, a few lines of inline JavaScript, nothing fetched from the network) where a
learner steps through backpropagation.

>>> from tinygrad_edu import Value
>>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
>>> c = a * b
>>> c.label = "c"
>>> c.backward()
>>> dot = draw_graph(c)
>>> print(dot.source)  # doctest: +ELLIPSIS
digraph tinygrad_edu {
...
	n0 [label=<...a...data 2.0000...grad -3.0000...> ...]
...
	n0 -> n2_op
	n1 -> n2_op
	n2_op -> n2
}
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import graphviz
import numpy as np

from tinygrad_edu import engine
from tinygrad_edu.engine import Primitive, Value, data_of, topological_order

__all__ = [
    "ROLE_COLORS",
    "BackpropStep",
    "GraphPicture",
    "GraphvizNotFoundError",
    "backprop_html",
    "backprop_steps",
    "draw_graph",
    "local_rule",
    "plot_activations",
    "plot_decision_boundary",
    "save_graph",
    "write_backprop_html",
]

INSTALL_HINT = (
    "Graphviz's 'dot' program is needed to render graphs, and it was not found on PATH. "
    "Install Graphviz: 'sudo apt-get install graphviz' (Debian/Ubuntu), "
    "'sudo dnf install graphviz' (Fedora), 'brew install graphviz' (macOS), "
    "'conda install -c conda-forge graphviz' or 'winget install graphviz' (Windows, then add "
    "its bin folder to PATH). The DOT text (.source) works without it."
)


class GraphvizNotFoundError(graphviz.ExecutableNotFound):  # type: ignore[misc]
    """Rendering needs Graphviz's `dot` program, which is not installed (a `RuntimeError`)."""

    def __init__(self) -> None:
        RuntimeError.__init__(self, INSTALL_HINT)


class GraphPicture(graphviz.Digraph):  # type: ignore[misc]
    """A `graphviz.Digraph` whose rendering explains how to install Graphviz when it is missing."""

    def pipe(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().pipe(*args, **kwargs)
        except graphviz.ExecutableNotFound as error:
            raise GraphvizNotFoundError() from error

    def render(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().render(*args, **kwargs)
        except graphviz.ExecutableNotFound as error:
            raise GraphvizNotFoundError() from error

    def unflatten(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().unflatten(*args, **kwargs)
        except graphviz.ExecutableNotFound as error:
            raise GraphvizNotFoundError() from error


# --------------------------------------------------------------------------------------------
# Colours and shapes (the legend)
# --------------------------------------------------------------------------------------------

ROLE_COLORS: dict[str, str] = {
    "output": "#b8e0b0",  # green, double border: the root, what backward() starts from
    "parameter": "#fdcf9e",  # orange: a leaf that gets a gradient (a weight, a bias, ...)
    "input": "#c6dbef",  # blue: a leaf given as data (named in `inputs=`)
    "constant": "#eeeeee",  # grey, dashed border: a number wrapped by an operator, no gradient
    "intermediate": "#ffffff",  # white: a value computed by an op
}
"""Fill colour of a value box by role (see `draw_graph`)."""

OP_COLOR = "#f2f2f2"
GROUP_COLOR = "#e0e0e0"
HIGHLIGHT = "#7b3294"  # purple: the node being processed in a backprop step
ALARM = "#d62728"  # red: a nan or inf gradient
DIM_TEXT = "#a0a0a0"  # grey text: a gradient that is exactly zero (a dead ReLU, say)
DIM_BORDER = "#c8c8c8"
FONT = "Helvetica"

SMALL_TENSOR = 6
"""Tensors with at most this many elements are shown element by element."""


# --------------------------------------------------------------------------------------------
# Local derivative texts, for the step-by-step pictures (each primitive's `text` in ops.py)
# --------------------------------------------------------------------------------------------


def local_rule(prim: Primitive, params: Mapping[str, Any] | None = None) -> str:
    """The local derivative of `prim` as text, e.g. ``∂out/∂a = b`` (a generic one if unknown).

    >>> from tinygrad_edu.ops import REGISTRY
    >>> local_rule(REGISTRY["mul"])
    '∂out/∂a = b,  ∂out/∂b = a'
    >>> local_rule(REGISTRY["pow"], {"exponent": 2.0})
    '∂out/∂a = 2·a^(2 − 1)'
    """
    template = prim.text
    if not template:
        return f"each input gets g times ∂{prim.name}/∂input (the rule in tinygrad_edu.ops)"
    shown = {k: f"{v:g}" if isinstance(v, float) else str(v) for k, v in (params or {}).items()}
    try:
        return template.format_map(shown)
    except (KeyError, IndexError, ValueError):
        return template


# --------------------------------------------------------------------------------------------
# Formatting numbers and tensors
# --------------------------------------------------------------------------------------------


def _number(x: float) -> str:
    """A number as a graph shows it: 4 decimals, or scientific notation when very big/small."""
    if math.isnan(x) or math.isinf(x):
        return str(x)
    if x == 0.0:
        return "0.0000"
    if 1e-3 <= abs(x) < 1e5:
        return f"{x:.4f}"
    return f"{x:.3e}"


def _summary(x: Any) -> str:
    """A scalar's value, a small tensor's elements, or a large tensor's mean/min/max."""
    x = data_of(x)
    if not isinstance(x, np.ndarray):
        return _number(float(x))
    if x.size <= SMALL_TENSOR:
        formatter: Any = {"float_kind": _number}
        text = np.array2string(x, separator=", ", formatter=formatter)
        return " ".join(text.split())
    finite = x[np.isfinite(x)]
    parts = []
    if finite.size:
        parts.append(f"mean {_number(float(finite.mean()))}")
        parts.append(f"min {_number(float(finite.min()))}")
        parts.append(f"max {_number(float(finite.max()))}")
    n_nan, n_inf = int(np.isnan(x).sum()), int(np.isinf(x).sum())
    if n_nan:
        parts.append(f"{n_nan} nan")
    if n_inf:
        parts.append(f"{n_inf} inf")
    return ", ".join(parts)


def _is_bad(grad: Any) -> bool:
    """True when a gradient holds a nan or an inf."""
    return not bool(np.all(np.isfinite(data_of(grad))))


def _is_zero(grad: Any) -> bool:
    return not bool(np.any(data_of(grad) != 0.0))


def _escape(text: str) -> str:
    return html.escape(text, quote=False).replace('"', "&quot;")


# --------------------------------------------------------------------------------------------
# The graph: nodes, names, roles and groups, computed once
# --------------------------------------------------------------------------------------------


def graph_nodes(root: Value) -> list[Value]:
    """Every value `root` depends on, constants too, nearest first: breadth first, each
    node's operands in order. Iterative (the list is its own queue), so any depth works.

    >>> from tinygrad_edu import Value
    >>> a = Value(2.0, label="a")
    >>> b = (a * 3.0).tanh()
    >>> [v.op.name if v.op else v.data for v in graph_nodes(b)]
    ['tanh', 'mul', 2.0, 3.0]
    """
    nodes = [root]
    seen = {id(root)}
    for node in nodes:  # the loop reads the nodes appended while it runs
        for parent in node.parents:
            if id(parent) not in seen:
                seen.add(id(parent))
                nodes.append(parent)
    return nodes


def oldest_first(root: Value, nodes: list[Value]) -> list[Value]:
    """`nodes`, the values of `root`'s graph, in the order they were created (operands first).

    The engine's backward order (`topological_order`, newest first) gives that order for the
    values that need a gradient; a constant goes just before the first of them that uses it
    (where the operator that wrapped it created it). Anything left, which only happens behind a
    computed value whose `requires_grad` was switched off, goes first, farthest first.

    >>> from tinygrad_edu import Value
    >>> a = Value(2.0, label="a")
    >>> b = (a * 3.0).tanh()
    >>> [v.op.name if v.op else v.data for v in oldest_first(b, graph_nodes(b))]
    [2.0, 3.0, 'mul', 'tanh']
    """
    visited = topological_order(root)[::-1]
    placed = {id(node) for node in visited}
    ordered: list[Value] = []
    for node in visited:
        for parent in node.parents:
            if id(parent) not in placed:
                placed.add(id(parent))
                ordered.append(parent)
        ordered.append(node)
    return [node for node in reversed(nodes) if id(node) not in placed] + ordered


def _named_values(params: Any) -> dict[int, tuple[str, Value]]:
    """`params` (a model, a name → Value mapping, (name, Value) pairs or Values) by id."""
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        params = params.named_parameters()
    items = params.items() if isinstance(params, Mapping) else params
    found: dict[int, tuple[str, Value]] = {}
    for item in items:
        if isinstance(item, Value):
            found[id(item)] = (item.label, item)
        else:
            name, value = item
            if not isinstance(value, Value):
                raise TypeError(f"draw_graph: params must hold Values; got {type(value).__name__}")
            found[id(value)] = (str(name), value)
    return found


@dataclass
class _Unit:
    """One box of a collapsed picture: a group of values, or the values that were cut off."""

    key: str
    title: str
    members: int = 0


@dataclass
class _Graph:
    root: Value
    nodes: list[Value]  # oldest first
    nearest: list[Value]  # the same values, nearest the root first
    names: dict[int, str]  # id(node) -> "n0", "n1", ... (creation order)
    titles: dict[int, str]  # id(node) -> the label shown
    roles: dict[int, str]
    max_nodes: int
    units: dict[int, _Unit] = field(default_factory=dict)  # id(node) -> its box, if collapsed
    hidden: int = 0


def _build(
    root: Value,
    params: Any,
    inputs: Iterable[Value | str] | None,
    max_nodes: int,
) -> _Graph:
    if not isinstance(root, Value):
        raise TypeError(f"draw_graph: root must be a Value; got {type(root).__name__}")
    if max_nodes < 1:
        raise ValueError(f"draw_graph: max_nodes must be at least 1; got {max_nodes}")
    nearest = graph_nodes(root)
    nodes = oldest_first(root, nearest)
    named = _named_values(params)
    input_ids = set()
    input_labels = set()
    for item in inputs or ():
        if isinstance(item, Value):
            input_ids.add(id(item))
        else:
            input_labels.add(str(item))
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
    graph = _Graph(root, nodes, nearest, names, titles, roles, max_nodes)
    if len(nodes) > max_nodes:
        _collapse(graph, max_nodes)
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


def _group_keys(graph: _Graph, level: int) -> dict[int, str]:
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


def _collapse(graph: _Graph, max_nodes: int) -> None:
    """Fold modules into one box each, or keep the values nearest the root, to fit max_nodes."""
    depth = max((len(_module_units(graph.titles[id(n)])) for n in graph.nodes if n.is_leaf),
                default=0)
    for level in range(depth):
        groups = _group_keys(graph, level)
        shown = len(graph.nodes) - len(groups) + len(set(groups.values()))
        if groups and shown <= max_nodes:
            units: dict[str, _Unit] = {}
            for key, group in groups.items():
                unit = units.setdefault(group, _Unit(f"g{len(units)}", group))
                unit.members += 1
                graph.units[key] = unit
            graph.hidden = len(groups)
            return
    # no module structure that fits: keep the values nearest the root, hide the rest
    kept = {id(node) for node in graph.nearest[: max(1, max_nodes - 1)]}
    rest = _Unit("hidden", "further values")
    for node in graph.nodes:
        if id(node) not in kept:
            rest.members += 1
            graph.units[id(node)] = rest
    graph.hidden = rest.members


# --------------------------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------------------------

_ORDERED_OPERANDS = {"sub", "div", "power", "matmul", "where", "concatenate", "stack"}
"""Ops whose operand order matters: their incoming edges are labelled a, b, ..."""


def _value_label(graph: _Graph, node: Value, grad: Any, show_data: bool, show_grad: bool) -> str:
    key = id(node)
    rows = []
    title = graph.titles[key]
    shape = f"shape {node.shape}" if node.shape else ""
    head = "  ".join(p for p in (f"<B>{_escape(title)}</B>" if title else "", shape) if p)
    if head:
        rows.append(head)
    if show_data:
        rows.append(f"data {_escape(_summary(node.data))}")
    if show_grad and node.requires_grad:
        text = f"grad {_escape(_summary(grad))}"
        if _is_bad(grad):
            text = f'<FONT COLOR="{ALARM}"><B>{text}  (!)</B></FONT>'
        rows.append(text)
    if not rows:
        rows.append(" ")
    cells = "".join(f"<TR><TD>{row}</TD></TR>" for row in rows)
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{cells}</TABLE>>'


def _render(
    graph: _Graph,
    *,
    rankdir: str,
    show_data: bool,
    show_grad: bool,
    legend: bool,
    grads: Mapping[int, Any] | None = None,
    dim_zero: bool = True,
    highlight: Value | None = None,
    caption: str = "",
) -> GraphPicture:
    """The DOT picture of `graph`; `grads` (by id) replaces the nodes' own `.grad`."""
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"draw_graph: rankdir must be 'LR', 'RL', 'TB' or 'BT'; got {rankdir!r}")
    dot = GraphPicture("tinygrad_edu")
    dot.attr("graph", rankdir=rankdir, fontname=FONT, nodesep="0.25", ranksep="0.35")
    dot.attr("node", fontname=FONT, fontsize="11")
    dot.attr("edge", color="#555555", arrowsize="0.7", fontname=FONT, fontsize="9")
    notes = [caption] if caption else []
    if graph.hidden:
        boxes = len({unit.key for unit in graph.units.values()})
        notes.append(f"collapsed: {graph.hidden} of {len(graph.nodes)} values hidden in "
                     f"{boxes} box{'es' if boxes != 1 else ''} (more than max_nodes="
                     f"{graph.max_nodes})")
    if notes:
        dot.attr("graph", label="\n".join(notes), labelloc="t", labeljust="l", fontsize="12")
    focus = id(highlight) if highlight is not None else None

    def grad_of(node: Value) -> Any:
        if grads is None:
            return node.grad
        return grads.get(id(node), 0.0 if not node.shape else np.zeros(node.shape))

    # boxes for collapsed groups, in order of first appearance
    seen_units: set[str] = set()
    for node in graph.nodes:
        unit = graph.units.get(id(node))
        if unit is not None and unit.key not in seen_units:
            seen_units.add(unit.key)
            what = "values" if unit.members != 1 else "value"
            dot.node(unit.key, label=f"{unit.title}\n{unit.members} {what} hidden",
                     shape="box3d", style="filled", fillcolor=GROUP_COLOR)

    edges: dict[tuple[str, str], int] = {}  # collapsed edges, counted

    for node in graph.nodes:
        key = id(node)
        unit = graph.units.get(key)
        name = graph.names[key]
        if unit is None:
            role = graph.roles[key]
            grad = grad_of(node)
            dim = (dim_zero and node.requires_grad and _is_zero(grad)
                   and not (grads is not None and key not in grads))
            attrs = {"shape": "box", "style": "rounded,filled", "fillcolor": ROLE_COLORS[role]}
            if role == "constant":
                attrs["style"] = "rounded,filled,dashed"
            if role == "output":
                attrs["peripheries"] = "2"
            if role == "parameter":
                attrs["penwidth"] = "1.5"
            if dim:
                attrs.update(fontcolor=DIM_TEXT, color=DIM_BORDER)
            if show_grad and node.requires_grad and _is_bad(grad):
                attrs.update(color=ALARM, penwidth="2.5")
            if key == focus:
                attrs.update(color=HIGHLIGHT, penwidth="3")
            label = _value_label(graph, node, grad, show_data, show_grad)
            dot.node(name, label=label, **attrs)
        if node.is_leaf:
            continue
        op = node.op
        assert op is not None  # a non-leaf node always has its primitive
        target = unit.key if unit is not None else f"{name}_op"
        if unit is None:
            op_attrs = {"shape": "ellipse", "style": "filled", "fillcolor": OP_COLOR,
                        "margin": "0.02,0.02", "height": "0.3"}
            if key == focus:
                op_attrs.update(color=HIGHLIGHT, penwidth="2.5", fontcolor=HIGHLIGHT)
            dot.node(f"{name}_op", label=op.describe(node.params), **op_attrs)
        labelled = unit is None and op.name in _ORDERED_OPERANDS
        for position, parent in enumerate(node.parents):
            parent_unit = graph.units.get(id(parent))
            source = parent_unit.key if parent_unit is not None else graph.names[id(parent)]
            if parent_unit is None and unit is None:
                edge: dict[str, str] = {}
                if labelled:
                    edge["label"] = "abcdefghijklmnopqrstuvwxyz"[position % 26]
                if key == focus:
                    edge.update(color=HIGHLIGHT, penwidth="2", dir="back")
                dot.edge(source, target, **edge)
            elif source != target:
                edges[(source, target)] = edges.get((source, target), 0) + 1
        if unit is None:
            focused = {"color": HIGHLIGHT, "penwidth": "2", "dir": "back"}
            dot.edge(f"{name}_op", name, **(focused if key == focus else {}))
    for (source, target), count in edges.items():
        dot.edge(source, target, **({"label": f"×{count}"} if count > 1 else {}))
    if legend:
        _add_legend(dot)
    return dot


def _add_legend(dot: GraphPicture) -> None:
    with dot.subgraph(name="cluster_legend") as box:
        box.attr(label="legend", fontsize="10", style="rounded", color="#bbbbbb")
        box.attr("node", shape="box", style="rounded,filled", fontsize="9", height="0.25")
        previous = None
        for role, color in ROLE_COLORS.items():
            extra = {"peripheries": "2"} if role == "output" else {}
            if role == "constant":
                extra["style"] = "rounded,filled,dashed"
            box.node(f"legend_{role}", label=role, fillcolor=color, **extra)
            if previous is not None:
                box.edge(previous, f"legend_{role}", style="invis")
            previous = f"legend_{role}"
        box.node("legend_op", label="op", shape="ellipse", fillcolor=OP_COLOR)
        box.node("legend_nan", label="grad nan/inf", fillcolor="#ffffff", color=ALARM,
                 penwidth="2.5")
        box.node("legend_zero", label="grad exactly 0", fillcolor="#ffffff", color=DIM_BORDER,
                 fontcolor=DIM_TEXT)
        box.edge(previous or "legend_op", "legend_op", style="invis")
        box.edge("legend_op", "legend_nan", style="invis")
        box.edge("legend_nan", "legend_zero", style="invis")


def draw_graph(
    root: Value,
    *,
    rankdir: str = "LR",
    show_data: bool = True,
    show_grad: bool = True,
    max_nodes: int = 150,
    params: Any = None,
    inputs: Iterable[Value | str] | None = None,
    legend: bool = False,
) -> GraphPicture:
    """The computation graph that produced `root`, as a `graphviz.Digraph`.

    A box per value (its label, data and grad; a tensor's shape and its elements when it has
    at most 6, else their mean, min and max), an ellipse per op (``+``, ``*``, ``tanh``,
    ``sum(axis=(1,))``, ``@`` ...), edges operand → op → result (a value used twice, as in
    ``a*a``, has two edges; for ops where order matters they are labelled a, b, ...).

    Legend (``legend=True`` draws it in the picture):

    ============  ==================================================================
    output        green, double border: `root`
    parameter     orange: a leaf that requires grad (a weight, a bias, a variable)
    input         blue: a leaf named in `inputs`, or any leaf not in `params` when
                  `params` is given (the data fed to a model)
    constant      grey, dashed: a leaf without gradient (numbers wrapped by operators)
    intermediate  white: a value computed by an op
    op            light grey ellipse
    nan / inf     red border, the grad in red with (!)
    zero grad     grey text and border: after backward, a gradient exactly 0 (dead ReLU)
    ============  ==================================================================

    Node ids are ``n0, n1, ...`` in the order the values were created (a constant made by
    hand counts as made just before its first use), op nodes ``n5_op``, so the same graph
    gives the same DOT text every time.

    `params` (a model with ``named_parameters()``, a name → Value mapping or Values) names the
    parameters. Above `max_nodes` values, the picture collapses: values are folded into one box
    per module, found from dotted names (``layers.0.W`` is in ``layers.0``; a computed value
    goes to the module that computed it); failing that, only the values nearest the root are
    kept. The boxes and the title say how many values were hidden. The walk is iterative.

    >>> from tinygrad_edu import Value
    >>> x = Value(3.0, label="x")
    >>> y = x * x
    >>> dot = draw_graph(y)
    >>> dot.source.count("n0 -> n1_op")
    2
    """
    graph = _build(root, params, inputs, max_nodes)
    dim_zero = show_grad and not _is_zero(root.grad) if root.requires_grad else False
    return _render(graph, rankdir=rankdir, show_data=show_data, show_grad=show_grad,
                   legend=legend, dim_zero=dim_zero)


# --------------------------------------------------------------------------------------------
# Saving pictures
# --------------------------------------------------------------------------------------------

FORMATS = ("svg", "png", "pdf", "dot", "gv")


def save_graph(graph: graphviz.Digraph, path: str | Path, format: str | None = None) -> Path:
    """Write `graph` to `path`, as the suffix says (``.svg``, ``.png``, ``.pdf``, ``.dot``).

    ``.dot``/``.gv`` write the DOT text (no Graphviz program needed); the others run `dot`
    and raise `GraphvizNotFoundError` without it. Nothing else is written beside `path`.
    """
    path = Path(path)
    fmt = (format or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ValueError(f"cannot save a graph as {fmt!r} (from {str(path)!r}); "
                         f"use one of: {', '.join('.' + f for f in FORMATS)}")
    if fmt in ("dot", "gv"):
        path.write_text(graph.source, encoding="utf-8")
        return path
    try:
        data = graph.pipe(format=fmt)
    except graphviz.ExecutableNotFound as error:
        raise GraphvizNotFoundError() from error
    path.write_bytes(data)
    return path


# --------------------------------------------------------------------------------------------
# Backpropagation step by step
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackpropStep:
    """One frame: the node the engine just processed and every gradient known so far.

    Frame 0 is the forward graph (`node` is None, `grads` empty: every gradient 0). `grad` is
    the node's gradient from this backward pass, `text` explains the step, and `grads` maps
    each processed node (a Value) to its gradient.
    """

    number: int
    node: Value | None
    grad: Any
    text: str
    grads: dict[Value, Any]


# ---- THE ENGINE'S BACKWARD MACHINERY: the one function of viz that calls it ----------------
# It uses engine.initial_gradient and engine.run_backward(root, seed, capture={}, hook=...).
# When the engine offers engine.backpropagate(root, seed, visit), with visit(node, grad) called
# for each node in the engine's order, only this function changes.


def _engine_backward(root: Value, gradient: Any) -> list[tuple[Value, Any]]:
    """Each node the engine's backward pass from `root` visits, in its order, with a copy of
    the gradient it gets; no `.grad` is changed. `gradient` is checked as `backward()` does."""
    visits: list[tuple[Value, Any]] = []

    def visit(node: Value, grad: Any) -> None:
        grad = data_of(grad)
        copied = np.array(grad, dtype=np.float64) if isinstance(grad, np.ndarray) else float(grad)
        visits.append((node, copied))

    seed = engine.initial_gradient(root, gradient, False)
    engine.run_backward(root, seed, capture={}, hook=visit)
    return visits


# --------------------------------------------------------------------------------------------


def backprop_steps(root: Value, gradient: Any = None) -> list[BackpropStep]:
    """The engine's backward pass from `root`, one step per node, in the engine's own order.

    Uses the engine's real backward pass without touching any `.grad`. There is one step per
    node that receives a gradient, plus frame 0.

    >>> from tinygrad_edu import Value
    >>> a = Value(2.0, label="a")
    >>> steps = backprop_steps(a * a + 1)
    >>> [s.number for s in steps], steps[-1].grads[a], a.grad
    ([0, 1, 2, 3], 4.0, 0.0)
    >>> steps[2].text[:36]
    'n1 = a * a: gradient 1.0000 arrives.'
    """
    visits = _engine_backward(root, gradient)
    ordered = oldest_first(root, graph_nodes(root))
    names = {id(node): f"n{i}" for i, node in enumerate(ordered)}

    def who(node: Value) -> str:
        return node.label or names[id(node)]

    steps = [BackpropStep(0, None, None, "forward pass: every gradient is 0", {})]
    known: dict[Value, Any] = {}
    for node, g in visits:
        known[node] = g
        if node.op is None:
            text = f"{who(node)} is a leaf: its gradient {_summary(g)} is final (added to .grad)"
        else:
            operands = f" {node.op.describe(node.params)} ".join(who(p) for p in node.parents)
            if len(node.parents) == 1:
                operands = f"{node.op.describe(node.params)}({who(node.parents[0])})"
            letters = ", ".join(f"{'abcdefghijklmnopqrstuvwxyz'[i % 26]} = {who(p)}"
                                for i, p in enumerate(node.parents))
            text = (f"{who(node)} = {operands}: gradient {_summary(g)} arrives. "
                    f"Local rule (out = {who(node)}, {letters}): "
                    f"{local_rule(node.op, node.params)}")
        steps.append(BackpropStep(len(steps), node, g, text, dict(known)))
    return steps


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: Helvetica, Arial, sans-serif; margin: 1.5em; color: #222; }}
.controls {{ display: flex; gap: 0.6em; align-items: center; margin-bottom: 0.6em; }}
.controls input[type=range] {{ flex: 1; max-width: 40em; }}
.frame .text {{ font-size: 1.05em; min-height: 2.6em; }}
.frame svg {{ max-width: 100%; height: auto; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p>Step through backpropagation: frame 0 is the forward pass; each next frame fills in the
gradient of one more node, in the order the engine visits them (the node highlighted).
Keys: ← and →.</p>
<div class="controls">
<button id="prev" type="button">◀ prev</button>
<input id="slider" type="range" min="0" max="{last}" value="0">
<button id="next" type="button">next ▶</button>
<span id="counter">step 0 / {last}</span>
</div>
{frames}
<script>
(function () {{
  var frames = document.querySelectorAll(".frame");
  var slider = document.getElementById("slider");
  var counter = document.getElementById("counter");
  var current = 0;
  function show(i) {{
    current = Math.max(0, Math.min(frames.length - 1, i));
    for (var k = 0; k < frames.length; k++) {{ frames[k].hidden = (k !== current); }}
    slider.value = current;
    counter.textContent = "step " + current + " / " + (frames.length - 1);
  }}
  document.getElementById("prev").onclick = function () {{ show(current - 1); }};
  document.getElementById("next").onclick = function () {{ show(current + 1); }};
  slider.oninput = function () {{ show(parseInt(slider.value, 10)); }};
  document.addEventListener("keydown", function (e) {{
    if (e.key === "ArrowLeft") {{ show(current - 1); }}
    if (e.key === "ArrowRight") {{ show(current + 1); }}
  }});
  show(0);
}})();
</script>
</body>
</html>
"""


def _inline_svg(svg: str, prefix: str) -> str:
    """Dot's SVG without its XML prolog, with ids made unique within the page."""
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r'\bid="', f'id="{prefix}', svg)
    return re.sub(r'(href|xlink:href)="#', rf'\1="#{prefix}', svg)


def backprop_html(
    root: Value,
    gradient: Any = None,
    *,
    title: str = "Backpropagation, step by step",
    rankdir: str = "LR",
    show_data: bool = True,
    max_nodes: int = 150,
    max_steps: int = 300,
    params: Any = None,
    inputs: Iterable[Value | str] | None = None,
) -> str:
    """One self-contained HTML page (inline SVGs and script) stepping through backprop.

    Frame i shows the gradients of the first i nodes the engine processed, the current node
    highlighted and its local rule written above the picture. Needs Graphviz's `dot`.

    >>> from tinygrad_edu import Value
    >>> x = Value(2.0, label="x")
    >>> page = backprop_html(x.tanh())
    >>> page.count('<section class="frame"'), page.count("<svg")
    (3, 3)
    """
    steps = backprop_steps(root, gradient)
    if len(steps) - 1 > max_steps:
        raise ValueError(f"backprop_html: the graph has {len(steps) - 1} steps, more than "
                         f"max_steps={max_steps}; step through a smaller graph")
    graph = _build(root, params, inputs, max_nodes)
    frames = []
    for step in steps:
        grads = {id(node): g for node, g in step.grads.items()}
        caption = f"step {step.number}: {step.text}"
        picture = _render(graph, rankdir=rankdir, show_data=show_data, show_grad=True,
                          legend=False, grads=grads, highlight=step.node, dim_zero=True)
        svg = _inline_svg(picture.pipe(format="svg", encoding="utf-8"), f"f{step.number}-")
        hidden = " hidden" if step.number else ""
        frames.append(
            f'<section class="frame" id="frame-{step.number}"{hidden}>\n'
            f'<p class="text">{html.escape(caption)}</p>\n{svg}\n</section>'
        )
    return _PAGE.format(title=html.escape(title), last=len(steps) - 1, frames="\n".join(frames))


def write_backprop_html(root: Value, path: str | Path, gradient: Any = None,
                        **options: Any) -> Path:
    """Save `backprop_html(root, gradient, **options)` to `path` (UTF-8) and return the path."""
    path = Path(path)
    path.write_text(backprop_html(root, gradient, **options), encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------
# Plots (matplotlib, the `plot` extra): defined in `tinygrad_edu.plots`, which imports
# matplotlib only when a plot is drawn, so this module imports without it
# --------------------------------------------------------------------------------------------

from tinygrad_edu.plots import plot_activations, plot_decision_boundary  # noqa: E402
