"""Drawing a computation graph with Graphviz: colours, labels, the legend, saving pictures.

`draw_graph(root)` returns a `GraphPicture`, a `graphviz.Digraph` (shown inline in Jupyter;
rendered to SVG, PNG or PDF by Graphviz's `dot` program). Building it, and its DOT text
`.source`, needs no Graphviz program; rendering without one raises `GraphvizNotFoundError`,
which says how to install it. `save_graph` writes a picture to a file.

>>> from tinygrad_edu import Value
>>> x = Value(3.0, label="x")
>>> print(draw_graph(x.tanh(), show_grad=False).source)  # doctest: +ELLIPSIS
digraph tinygrad_edu {
...
	n0 [label=<...<B>x</B>...data 3.0000...> fillcolor="#fdcf9e" ...]
	n1 [label=<...data 0.9951...> fillcolor="#b8e0b0" peripheries=2 ...]
	n1_op [label=tanh ...]
	n0 -> n1_op
	n1_op -> n1
}
"""

from __future__ import annotations

import html
import subprocess
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import graphviz
import numpy as np

from tinygrad_edu._common import file_to_write
from tinygrad_edu.changes import changed_after_use
from tinygrad_edu.data import check_flag
from tinygrad_edu.engine import Primitive, Value
from tinygrad_edu.viz.graph import (
    SCREEN,
    SHARED_USES,
    Graph,
    build_graph,
    estimated_size,
    has_nan_or_inf,
    is_all_zero,
    summarize,
)

__all__ = [
    "ALARM",
    "DIM_BORDER",
    "DIM_TEXT",
    "FONT",
    "FORMATS",
    "GROUP_COLOR",
    "HIGHLIGHT",
    "INSTALL_HINT",
    "OP_COLOR",
    "RENDER_TIMEOUT",
    "ROLE_COLORS",
    "GraphPicture",
    "GraphvizNotFoundError",
    "RenderTimeoutError",
    "draw_graph",
    "fits_screen",
    "local_rule",
    "operand_letter",
    "printable",
    "render_graph",
    "save_graph",
]

INSTALL_HOW = (
    "'sudo apt-get install graphviz' (Debian/Ubuntu), 'sudo dnf install graphviz' (Fedora), "
    "'brew install graphviz' (macOS), 'conda install -c conda-forge graphviz' or 'winget "
    "install graphviz' (Windows, then add its bin folder to PATH)"
)
"""How to install Graphviz, on each system."""
INSTALL_HINT = (
    "Graphviz's 'dot' program is needed to render graphs, and it was not found on PATH. "
    f"Install Graphviz: {INSTALL_HOW}. The DOT text (.source) works without it."
)


class GraphvizNotFoundError(graphviz.ExecutableNotFound):  # type: ignore[misc]
    """Rendering needs Graphviz's `dot` program, which is not installed (a `RuntimeError`).

    >>> isinstance(GraphvizNotFoundError(), RuntimeError), "brew install" in INSTALL_HINT
    (True, True)
    """

    def __init__(self) -> None:
        RuntimeError.__init__(self, INSTALL_HINT)


def _explained(run: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`run(*args, **kwargs)`, raising `GraphvizNotFoundError` when `dot` is missing."""
    try:
        return run(*args, **kwargs)
    except graphviz.ExecutableNotFound as error:
        raise GraphvizNotFoundError() from error


RENDER_TIMEOUT = 10.0
"""Seconds a picture may take to render before `RenderTimeoutError` stops `dot`."""

TIMEOUT_HINT = (
    "draw fewer values (a smaller max_nodes, e.g. draw_graph(root, max_nodes=60)), collapse by "
    "module (pass params=model so values fold into one box per layer), try another layout "
    "program (picture.engine = 'sfdp'), or allow more time (picture.timeout = 120)"
)


class RenderTimeoutError(RuntimeError):
    """Graphviz took longer than the picture's `timeout` and was stopped.

    >>> "max_nodes" in str(RenderTimeoutError("dot", 10.0))
    True
    """

    def __init__(self, engine: str, seconds: float) -> None:
        super().__init__(f"Graphviz's {engine!r} took more than {seconds:g} s to lay out this "
                         f"graph and was stopped; {TIMEOUT_HINT}.")


class GraphPicture(graphviz.Digraph):  # type: ignore[misc]
    """A `graphviz.Digraph` whose rendering explains how to install Graphviz when it is missing,
    and stops after `timeout` seconds (`RenderTimeoutError`) rather than hang (a Jupyter cell).

    >>> picture = GraphPicture("example")
    >>> picture.node("a")
    >>> picture.source.split()
    ['digraph', 'example', '{', 'a', '}']
    """

    timeout: float = RENDER_TIMEOUT

    def pipe(self, format: str | None = None, renderer: str | None = None,
             formatter: str | None = None, neato_no_op: bool | int | None = None,
             quiet: bool = False, *, engine: str | None = None,
             encoding: str | None = None) -> Any:
        if renderer is not None or formatter is not None or neato_no_op is not None:
            return _explained(super().pipe, format, renderer, formatter, neato_no_op, quiet,
                              engine=engine, encoding=encoding)
        program = engine or self.engine
        fmt = format or self.format
        try:
            done = subprocess.run([program, f"-T{fmt}"], input=self.source.encode("utf-8"),
                                  capture_output=True, timeout=self.timeout, check=False)
        except FileNotFoundError as error:
            raise GraphvizNotFoundError() from error
        except subprocess.TimeoutExpired as error:
            raise RenderTimeoutError(program, self.timeout) from error
        if done.returncode != 0:
            message = done.stderr.decode("utf-8", "replace").strip()
            raise RuntimeError(f"Graphviz's {program!r} failed (status {done.returncode}): "
                               f"{message or 'no message'}")
        return done.stdout.decode(encoding) if encoding is not None else done.stdout

    def render(self, *args: Any, **kwargs: Any) -> Any:
        return _explained(super().render, *args, **kwargs)

    def unflatten(self, *args: Any, **kwargs: Any) -> Any:
        return _explained(super().unflatten, *args, **kwargs)


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
NAME_TEXT = "#707070"  # grey: the name (n7) of a value without a label
DIM_BORDER = "#c8c8c8"
FONT = "Helvetica"


# --------------------------------------------------------------------------------------------
# Local derivative texts, for the step-by-step pictures (each primitive's `text` in ops.py)
# --------------------------------------------------------------------------------------------


def local_rule(prim: Primitive, params: Mapping[str, Any] | None = None) -> str:
    """The local derivative of `prim` as text, e.g. ``∂out/∂a = b`` (a generic one if unknown).

    >>> from tinygrad_edu.ops import REGISTRY
    >>> local_rule(REGISTRY["mul"])
    '∂out/∂a = b,  ∂out/∂b = a'
    >>> local_rule(REGISTRY["pow_const"], {"exponent": 2.0})
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


def operand_letter(position: int) -> str:
    """The name of an op's operand in local rules and on edges: a, b, c, ..., z, aa, ab, ...

    >>> [operand_letter(i) for i in (0, 1, 2, 25, 26, 27, 52)]
    ['a', 'b', 'c', 'z', 'aa', 'ab', 'ba']
    """
    letter = "abcdefghijklmnopqrstuvwxyz"[position % 26]
    return letter if position < 26 else operand_letter(position // 26 - 1) + letter


# --------------------------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------------------------

COMMUTATIVE = {"add", "mul", "maximum", "minimum"}
"""Ops whose operands may swap without changing the result; the edges into any other op with
several operands (sub, div, pow, matmul, where, ...) are labelled a, b, ... in order."""


def printable(text: str) -> str:
    """`text` with what no picture can hold written out: a control character, a lone
    surrogate or U+FFFE/U+FFFF (SVG's XML refuses them; dot fails on NUL), or a bidirectional
    control (U+202E would turn the rest of a caption around) as Python writes it (``\\x01``,
    ``\\ud800``, ``\\u202e``), a tab as a space, and ``\\r\\n`` or ``\\r`` as a newline.

    >>> printable("a\\tb\\x00c\\r\\nd")
    'a b\\\\x00c\\nd'
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return "".join(repr(char)[1:-1] if char != "\n" and (
        unicodedata.category(char) in ("Cc", "Cs") or char in _UNPRINTABLE) else char
        for char in text)


_UNPRINTABLE = ("\ufffe\uffff"
                "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Characters `printable` writes out besides controls and surrogates: two non-characters and
the bidirectional controls (marks, embeddings, overrides, isolates)."""


def _escape(text: str) -> str:
    """`text` inside an HTML-like label of Graphviz, after a tag: escaped as HTML, a `]` first
    too (``>]`` ends the node's attributes for dot's parser: a label "]" failed), a
    backslash doubled (dot reads ``\\N`` in an HTML label too, as the node's id, and ``\\\\``
    as one backslash, even written ``&#92;``), a newline as a line break.

    >>> _escape('a<b> & "c"'), _escape("]x"), _escape("a\\\\N"), _escape("a\\nb")
    ('a&lt;b&gt; &amp; &quot;c&quot;', '&#93;x', 'a\\\\\\\\N', 'a<BR/>b')
    """
    escaped = html.escape(printable(text), quote=False).replace('"', "&quot;")
    escaped = escaped.replace("\\", "\\\\").replace("\n", "<BR/>")
    return "&#93;" + escaped[1:] if escaped.startswith("]") else escaped


def _plain(text: str) -> str:
    """`text` as a plain (quoted) DOT label that shows as written: backslashes doubled
    (``\\N`` would show the node's id, a final one ended the string), never read as an HTML
    label (``<x>``), newlines kept as line breaks.

    >>> from graphviz.quoting import quote
    >>> quote(_plain("a\\\\N")), quote(_plain("<x>"))
    ('"a\\\\\\\\N"', '"<x>"')
    """
    return graphviz.escape(printable(text))  # type: ignore[no-any-return]


STALE_NOTE = "changed after use (!)"
"""Beside the data of a value changed after an op of the graph used it (an optimizer step
after `backward()`, say): the results drawn were computed from its old data."""


def _value_label(graph: Graph, node: Value, grad: Any, show_data: bool, show_grad: bool,
                 stale: bool = False) -> str:
    key = id(node)
    rows = []
    title = graph.titles[key]
    shape = f"shape {node.shape}" if node.shape else ""
    # a value without a label shows the name the backprop steps call it by (n7), in grey
    name = (f"<B>{_escape(title)}</B>" if title
            else f'<FONT COLOR="{NAME_TEXT}">{_escape(graph.names[key])}</FONT>')
    head = "  ".join(p for p in (name, shape) if p)
    if head:
        rows.append(head)
    if show_data:
        note = f'  <FONT COLOR="{ALARM}"><B>{STALE_NOTE}</B></FONT>' if stale else ""
        rows.append(f"data {_escape(summarize(node.data))}{note}")
    if show_grad and node.requires_grad:
        text = f"grad {_escape(summarize(grad))}"
        if has_nan_or_inf(grad):
            text = f'<FONT COLOR="{ALARM}"><B>{text}  (!)</B></FONT>'
        rows.append(text)
    if not rows:
        rows.append(" ")
    cells = "".join(f"<TR><TD>{row}</TD></TR>" for row in rows)
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{cells}</TABLE>>'


def check_switches(who: str, **switches: Any) -> None:
    """Raise a TypeError naming the first of `switches` that is not True or False (a string
    such as "no" would be taken for its truth).

    >>> check_switches("draw_graph", legend="no")
    Traceback (most recent call last):
    ...
    TypeError: draw_graph: legend must be True or False; got 'no' (type str)
    """
    for name, switch in switches.items():
        check_flag(switch, f"{who}: {name}")


def render_graph(
    graph: Graph,
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
    """The DOT picture of `graph`; `grads` (by id) replaces the nodes' own `.grad`, and
    `highlight` marks the node a backprop step processes.

    >>> from tinygrad_edu import Value
    >>> y = Value(2.0, label="x") * 3.0
    >>> picture = render_graph(build_graph(y), rankdir="TB", show_data=False, show_grad=True,
    ...                        legend=False, grads={id(y): 1.0}, highlight=y)
    >>> "grad 1.0000" in picture.source, HIGHLIGHT in picture.source
    (True, True)
    """
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"draw_graph: rankdir must be 'LR', 'RL', 'TB' or 'BT'; got {rankdir!r}")
    dot = GraphPicture("tinygrad_edu")
    dot.attr("graph", rankdir=rankdir, fontname=FONT, nodesep="0.25", ranksep="0.35")
    dot.attr("node", fontname=FONT, fontsize="11")
    dot.attr("edge", color="#555555", arrowsize="0.7", fontname=FONT, fontsize="9")
    notes = [caption] if caption else []
    if graph.hidden:
        boxes = len({unit.key for unit in graph.units.values()})
        why = (f"more than max_nodes={graph.max_nodes}"
               f"{'; folded further to fit a screen' if graph.fitted else ''}"
               if graph.max_nodes is None or len(graph.nodes) > graph.max_nodes
               else "folded to fit a screen")
        notes.append(f"collapsed: {graph.hidden} of {len(graph.nodes)} values hidden in "
                     f"{boxes} box{'es' if boxes != 1 else ''} ({why})")
    if notes:
        dot.attr("graph", label=_plain("\n".join(notes)), labelloc="t", labeljust="l",
                 fontsize="12")
    focus = id(highlight) if highlight is not None else None
    stale = changed_after_use(graph.nodes) if show_data else set()

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
            kinds = ", ".join(f"{count} {role}" for role, count in sorted(unit.roles.items()))
            label = f"{unit.title}\n{unit.members} {what} hidden"
            focused = {"color": HIGHLIGHT, "penwidth": "3"} if (
                focus is not None and graph.units.get(focus) is unit) else {}
            dot.node(unit.key, label=_plain(label + (f"\n({kinds})" if kinds else "")),
                     shape="box3d", style="filled", fillcolor=GROUP_COLOR, **focused)

    uses: dict[str, int] = {}  # how many ops each value (or box) feeds so far
    into_boxes: list[_Wire] = []  # edges into collapsed boxes, drawn (counted) at the end

    for node in graph.nodes:
        key = id(node)
        unit = graph.units.get(key)
        name = graph.names[key]
        if unit is None:
            role = graph.roles[key]
            grad = grad_of(node)
            dim = (dim_zero and node.requires_grad and is_all_zero(grad)
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
            if show_grad and node.requires_grad and has_nan_or_inf(grad):
                attrs.update(color=ALARM, penwidth="2.5")
            if key == focus:
                attrs.update(color=HIGHLIGHT, penwidth="3")
            label = _value_label(graph, node, grad, show_data, show_grad, key in stale)
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
            dot.node(f"{name}_op", label=_plain(op.describe(node.params)), **op_attrs)
        labelled = unit is None and len(node.parents) > 1 and op.name not in COMMUTATIVE
        wires = []
        for position, parent in enumerate(node.parents):
            parent_unit = graph.units.get(id(parent))
            source = parent_unit.key if parent_unit is not None else graph.names[id(parent)]
            if source != target:
                letter = operand_letter(position) if labelled else ""
                wires.append(_Wire(source, target, letter, key == focus, parent))
        if unit is not None:
            into_boxes.extend(wires)
            continue
        _draw_wires(dot, graph, wires, uses)
        dot.edge(f"{name}_op", name, **_focus(key == focus))
    _draw_wires(dot, graph, into_boxes, uses)
    if legend:
        _add_legend(dot)
    return dot


MERGED_EDGES = 3
"""At least this many edges from one box to the same op are drawn as one edge labelled ×k."""


@dataclass
class _Wire:
    """An edge from an operand (a value's name, or a collapsed box) to the op using it."""

    source: str
    target: str
    letter: str  # the operand's letter, for ops where order matters ("" otherwise)
    focused: bool  # into the op a backprop step processes
    value: Value  # the operand


def _copy_label(graph: Graph, value: Value) -> str:
    """The text of the dashed copy of a much-used value (or of the box it is folded into)."""
    unit = graph.units.get(id(value))
    if unit is not None:
        return f"from: {unit.title}"
    title = graph.titles[id(value)]
    return title if title else graph.names[id(value)]  # the name its box shows, in grey


def _draw_wires(dot: GraphPicture, graph: Graph, wires: list[_Wire], uses: dict[str, int],
                ) -> None:
    """Draw the operand edges, keeping `dot`'s layout fast whatever the graph's shape.

    Two things make `dot` slow (minutes for a hundred values): an edge spanning many ranks
    becomes a chain of hidden nodes, so one value used by n ops far apart costs n² of them;
    and an edge `label` doubles every rank. So parallel edges (more than `MERGED_EDGES`) are
    merged into one labelled ×k, a value used by more than `SHARED_USES` ops is copied beside
    its later uses, and the labels are head labels, which take no rank. `uses` counts the ops
    each source has fed so far.
    """
    groups: dict[tuple[str, str], list[_Wire]] = {}
    for wire in wires:
        groups.setdefault((wire.source, wire.target), []).append(wire)
    for (source, target), group in groups.items():
        collapsed = id(group[0].value) in graph.units
        uses[source] = uses.get(source, 0) + 1
        start = source
        if uses[source] > SHARED_USES:  # a copy of the value beside this use
            start = f"{source}_use{uses[source]}"
            dot.node(start, label=_plain(_copy_label(graph, group[0].value)), shape="box",
                     style="rounded,dashed", fontsize="9", height="0.2", margin="0.04,0.02",
                     fontcolor="#555555", color="#888888", tooltip=f"the same value as {source}")
        if len(group) >= MERGED_EDGES or (collapsed and len(group) > 1):
            letters = "".join(wire.letter for wire in group)
            text = f"×{len(group)}" + (f" ({','.join(letters)})" if letters else "")
            dot.edge(start, target, headlabel=text, **_focus(any(w.focused for w in group)))
            continue
        for wire in group:
            attrs = {"headlabel": wire.letter} if wire.letter else {}
            dot.edge(start, target, **attrs, **_focus(wire.focused))


def _focus(focused: bool) -> dict[str, str]:
    return {"color": HIGHLIGHT, "penwidth": "2", "dir": "back"} if focused else {}


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
    inputs: Iterable[Value | str] | Value | str | None = None,
    legend: bool = False,
    fit_screen: bool = True,
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
    input         blue: a leaf named in `inputs` (Values or labels, or one of them), or
                  any leaf not in `params` when `params` is given (the data fed to a model)
    constant      grey, dashed: a leaf without gradient (numbers wrapped by operators)
    intermediate  white: a value computed by an op
    op            light grey ellipse
    nan / inf     red border, the grad in red with (!)
    zero grad     grey text and border: after backward, a gradient exactly 0 (dead ReLU)
    changed       "changed after use (!)" beside data changed after an op used it (an
                  optimizer step): the results drawn were computed from the old data
    ============  ==================================================================

    Node ids are ``n0, n1, ...`` in the order the values were created (a constant made by
    hand counts as made just before its first use), op nodes ``n5_op``, so the same graph
    gives the same DOT text every time.

    `params` (a model with ``named_parameters()``, or micrograd's with ``parameters()``, a
    name → Value mapping, (name, Value) pairs or Values) names the parameters; an input (a
    Value or label) that is not in the graph is refused, a `ValueError`. Above
    `max_nodes` values, the picture collapses: values are folded into one box per module,
    found from dotted names (``layers.0.W`` is in ``layers.0``; a computed value goes to the
    module that computed it); failing that, only the values nearest the root are kept. A
    collapsed picture then folds further until it fits a screen (`SCREEN`, estimated;
    ``fit_screen=False``: max_nodes only), so it is readable at its natural size. The boxes say
    how many values of each role they hide, and the title how many in all. A value used by
    more than `SHARED_USES` ops is drawn again, small and dashed, beside its later uses (long
    edges to far uses are what makes `dot` slow); the copy shows the value's label, or the
    name its box shows. Labels show as written (quotes, ``<``, ``&``, backslashes, newlines;
    a control character as ``\\x01``). The walk is iterative.

    >>> from tinygrad_edu import Value
    >>> x = Value(3.0, label="x")
    >>> y = x * x
    >>> dot = draw_graph(y)
    >>> dot.source.count("n0 -> n1_op")
    2
    """
    if not isinstance(root, Value):
        raise TypeError(f"draw_graph: root must be a Value; got {type(root).__name__}")
    check_switches("draw_graph", show_data=show_data, show_grad=show_grad, legend=legend,
                   fit_screen=fit_screen)
    dim_zero = show_grad and not is_all_zero(root.grad) if root.requires_grad else False

    def picture(graph: Graph) -> GraphPicture:
        return render_graph(graph, rankdir=rankdir, show_data=show_data, show_grad=show_grad,
                            legend=legend, dim_zero=dim_zero)

    def fits(graph: Graph) -> bool:
        return fits_screen(graph, picture, rankdir)

    return picture(build_graph(root, params, inputs, max_nodes, fits if fit_screen else None))


def fits_screen(graph: Graph, picture: Callable[[Graph], GraphPicture], rankdir: str = "LR",
                screen: tuple[float, float] = SCREEN) -> bool:
    """Whether `picture(graph)` fits `screen` (inches) at its natural size: as `dot` lays it
    out (``-Tplain``, a second or less), or as `estimated_size` guesses without `dot`.

    The estimate of the length along `rankdir` is close, so it rules out big graphs first.

    >>> from tinygrad_edu import Value
    >>> y = Value(1.0, label="x").tanh()
    >>> fits_screen(build_graph(y), lambda g: render_graph(g, rankdir="LR", show_data=True,
    ...             show_grad=True, legend=False))
    True
    """
    width, height = estimated_size(graph, rankdir)
    if (width if rankdir in ("LR", "RL") else height) > (
            screen[0] if rankdir in ("LR", "RL") else screen[1]):
        return False
    try:
        done = subprocess.run(["dot", "-Tplain"], input=picture(graph).source.encode("utf-8"),
                              capture_output=True, timeout=RENDER_TIMEOUT, check=True)
        width, height = (float(x) for x in done.stdout.split(b"\n", 1)[0].split()[2:4])
    except (OSError, subprocess.SubprocessError, ValueError):
        pass  # no dot, or an answer not understood: the estimate
    return width <= screen[0] and height <= screen[1]


# --------------------------------------------------------------------------------------------
# Saving pictures
# --------------------------------------------------------------------------------------------

FORMATS = ("svg", "png", "pdf", "dot", "gv")


def save_graph(graph: graphviz.Digraph, path: str | Path, format: str | None = None) -> Path:
    """Write `graph` to `path`, as the suffix says (``.svg``, ``.png``, ``.pdf``, ``.dot``).

    ``.dot``/``.gv`` write the DOT text (no Graphviz program needed); the others run `dot`
    and raise `GraphvizNotFoundError` without it. Nothing else is written beside `path`.

    >>> import tempfile
    >>> from tinygrad_edu import Value
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = save_graph(draw_graph(Value(1.0).tanh()), Path(folder) / "tanh.dot")
    ...     path.name, path.read_text(encoding="utf-8").startswith("digraph")
    ('tanh.dot', True)
    """
    if not isinstance(graph, graphviz.Digraph):
        hint = " (draw it first: save_graph(draw_graph(value), path))" if isinstance(
            graph, Value) else ""
        raise TypeError(f"save_graph: graph must be a picture from draw_graph (a "
                        f"graphviz.Digraph); got {type(graph).__name__}{hint}")
    path = file_to_write(path, "save_graph", "graph.svg")  # (not a folder, nor "g.svg/")
    fmt = (format or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ValueError(f"cannot save a graph as {fmt!r} (from {str(path)!r}); "
                         f"use one of: {', '.join('.' + f for f in FORMATS)}")
    if fmt in ("dot", "gv"):
        path.write_text(graph.source, encoding="utf-8")
        return path
    path.write_bytes(_explained(graph.pipe, format=fmt))
    return path
