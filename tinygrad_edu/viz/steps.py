"""Backpropagation step by step: the engine's real backward pass, one frame per node.

`backprop_steps(root)` records the pass (no `.grad` changes); `step_through(root)` returns a
`BackpropStepper`, which Jupyter shows inline (its `_repr_html_`), and `write_backprop_html(root,
path)` saves the same stepper as a page of its own. Both are self-contained (inline SVG
pictures, a few lines of inline JavaScript, nothing fetched from the network); their templates
are the package data files ``tinygrad_edu/viz/stepper.html`` (the stepper: controls, frames,
script) and ``backprop.html`` (the page around it).

>>> from tinygrad_edu import Value
>>> x = Value(3.0, label="x")
>>> for step in backprop_steps(x * x):
...     print(step.number, step.text.split(":")[0], step.grads)
0 forward pass {}
1 n1 = x * x {Value(data=9.0, grad=0.0): 1.0}
2 x is a leaf {Value(data=9.0, grad=0.0): 1.0, Value(data=3.0, grad=0.0, label='x'): 6.0}
"""

from __future__ import annotations

import functools
import html
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import numpy as np

from tinygrad_edu import changes, engine
from tinygrad_edu._common import file_to_write
from tinygrad_edu.data import data_of, describe
from tinygrad_edu.engine import Value
from tinygrad_edu.viz.dot import (
    GraphPicture,
    check_switches,
    fits_screen,
    local_rule,
    operand_letter,
    printable,
    render_graph,
)
from tinygrad_edu.viz.graph import Graph, build_graph, summarize

__all__ = [
    "MAX_STEPS",
    "BackpropStep",
    "BackpropStepper",
    "backprop_html",
    "backprop_steps",
    "count_steps",
    "step_through",
    "write_backprop_html",
]


@dataclass(frozen=True)
class BackpropStep:
    """One frame: the node the engine just processed and every gradient known so far.

    Frame 0 is the forward graph (`node` is None, `grads` empty: every gradient 0). `grad` is
    the node's gradient from this backward pass, `text` explains the step, and `grads` maps
    each processed node (a Value) to its gradient.

    >>> BackpropStep(0, None, None, "forward pass: every gradient is 0", {}).grads
    {}
    """

    number: int
    node: Value | None
    grad: Any
    text: str
    grads: dict[Value, Any]


# ---- the one function of viz that runs the engine's backward pass ---------------------------


def _check_root(root: object) -> None:
    """A `TypeError` unless `root` is a Value that requires grad (a `ValueError` if not)."""
    if not isinstance(root, Value):
        raise TypeError(f"backpropagation step by step starts from a Value (a loss, say); got "
                        f"{type(root).__name__}")
    if not root.requires_grad:
        raise ValueError("backprop_steps: the root does not require grad (it was made from "
                         "constants only, or inside no_grad()): no gradient flows back from it")


Share = tuple[Value, int, Any]
"""What one use of a node sends it: (the node using it, the operand position, the gradient)."""


def _engine_backward(root: Value, gradient: Any) -> list[tuple[Value, Any, list[Share]]]:
    """Each node the engine's backward pass from `root` visits, in its order, with a copy of
    the gradient it gets and the shares it was summed from; no `.grad` is changed.
    `gradient` is checked as `backward()` does; an error names this function."""
    _check_root(root)
    try:
        seed = engine.initial_gradient(root, gradient, False)
        changes.check(engine.topological_order(root))  # (the pass checks it too: named here)
    except (ValueError, RuntimeError) as error:
        message = str(error).removeprefix("backward(): ")
        raise type(error)(f"backprop_steps: {message}") from None
    visits: list[tuple[Value, Any, list[Share]]] = []
    received: dict[Value, list[Share]] = {}

    def visit(node: Value, grad: Any) -> None:
        grad = data_of(grad)
        copied = np.array(grad, dtype=np.float64) if isinstance(grad, np.ndarray) else \
            float(grad)
        visits.append((node, copied, received.pop(node, [])))
        if node.op is None:
            return
        # the shares the engine sends next, computed as it computes them, in its order
        shares = engine.rule_on_data(node.op, grad, node)
        for position, (parent, share) in enumerate(zip(node.parents, shares, strict=True)):
            if share is not None and parent.requires_grad:
                share = np.array(engine.sum_to_shape(share, parent.shape), dtype=np.float64)
                received.setdefault(parent, []).append(
                    (node, position, share if share.ndim else float(share)))

    engine.backpropagate(root, seed, visit)
    return visits


# --------------------------------------------------------------------------------------------


MAX_STEPS = 300
"""The most steps a stepper takes by default (`max_steps`): each is a picture `dot` renders."""


def count_steps(root: Value, gradient: Any = None) -> int:
    """How many steps (after frame 0) stepping through backpropagation from `root` takes: the
    nodes the engine's backward pass visits. No picture is drawn and no `.grad` changes.

    >>> from tinygrad_edu import Value
    >>> a = Value(2.0, label="a")
    >>> count_steps(a * a + 1)
    3
    """
    return len(_engine_backward(root, gradient))


def backprop_steps(root: Value, gradient: Any = None, *, params: Any = None,
                   inputs: Iterable[Value | str] | Value | str | None = None,
                   ) -> list[BackpropStep]:
    """The engine's backward pass from `root`, one step per node, in the engine's own order.

    Uses the engine's real backward pass without touching any `.grad`. There is one step per
    node that receives a gradient, plus frame 0. Each gradient is the one `backward()` stores
    (from a zero `.grad`); a value used more than once says which shares it sums (the first
    `SHOWN_SHARES` of them). Values are called by the names the pictures give them (`params`,
    `inputs`: as `draw_graph`'s, a parameter by its name in the model, say).

    >>> from tinygrad_edu import Value
    >>> a = Value(2.0, label="a")
    >>> steps = backprop_steps(a * a + 1)
    >>> [s.number for s in steps], steps[-1].grads[a], a.grad
    ([0, 1, 2, 3], 4.0, 0.0)
    >>> steps[2].text[:36]
    'n1 = a * a: gradient 1.0000 arrives.'
    """
    visits = _engine_backward(root, gradient)
    graph = build_graph(root, params, inputs)

    def who(node: Value) -> str:
        return graph.titles[id(node)] or graph.names[id(node)]

    steps = [BackpropStep(0, None, None, "forward pass: every gradient is 0", {})]
    known: dict[Value, Any] = {}
    for node, g, shares in visits:
        known[node] = g
        summed = _summed(shares, who)
        if node.op is None:
            text = (f"{who(node)} is a leaf: its gradient {summarize(g)} is final (added to "
                    f".grad){summed}")
        else:
            operands = _expression(node.op.describe(node.params), [who(p) for p in node.parents])
            # the rule's own letters (out, a, b) stand for the boxes, named in quotes
            letters = ", ".join(f"{operand_letter(i)} is “{who(p)}”"
                                for i, p in enumerate(node.parents))
            text = (f"{who(node)} = {operands}: gradient {summarize(g)} arrives{summed}. "
                    f"Local rule (out is “{who(node)}”, {letters}): "
                    f"{local_rule(node.op, node.params)}")
        steps.append(BackpropStep(len(steps), node, g, text, dict(known)))
    return steps


SHOWN_SHARES = 6
"""A gradient summed from more uses than this lists the first ones and counts the others."""


def _summed(shares: list[Share], who: Callable[[Value], str]) -> str:
    """How a node's gradient adds up, when more than one use sends it a share: the
    multivariable chain rule, as the engine sums them (empty for one use).

    >>> from tinygrad_edu import Value
    >>> x = Value(2.0, label="x")
    >>> y = x * x
    >>> _summed([(y, 0, 2.0), (y, 1, 2.0)], lambda v: "y")
    ', summed over 2 uses: 2.0000 from y (as a) + 2.0000 from y (as b)'
    """
    if len(shares) < 2:
        return ""
    parts = [f"{summarize(share)} from {who(user)}"
             + (f" (as {operand_letter(position)})" if len(user.parents) > 1 else "")
             for user, position, share in shares[:SHOWN_SHARES]]
    more = len(shares) - SHOWN_SHARES
    return (f", summed over {len(shares)} uses: " + " + ".join(parts)
            + (f" + {more} more" if more > 0 else ""))


def _expression(op: str, operands: list[str]) -> str:
    """An op (as the picture labels it) applied to its operands' names, as one writes it.

    >>> _expression("*", ["a", "b"]), _expression("tanh", ["n"]), _expression("**2", ["x"])
    ('a * b', 'tanh(n)', 'x**2')
    >>> _expression("[0:2]", ["x"]), _expression("stack(axis=1)", ["a", "b"])
    ('x[0:2]', 'stack(axis=1)(a, b)')
    """
    if op[:1].isalpha() or op[:1] == "_" or not operands:  # a name: tanh(n), where(a, b)
        return f"{op}({', '.join(operands)})"
    if len(operands) > 1:  # an operator: a * b, a @ b
        return f" {op} ".join(operands)
    if op.startswith(("**", "[")):  # x**2, x[0:2]
        return operands[0] + op
    return f"{op}({operands[0]})"  # -(x)


# --------------------------------------------------------------------------------------------
# The stepper: in a notebook cell, and as a page of its own
# --------------------------------------------------------------------------------------------


@functools.cache
def _template(name: str) -> Template:
    """A template of package data: ``stepper.html`` (``$id``, ``$title``, ``$last``, ``$keys``,
    ``$frames``: the stepper, its script scoped to its own ids) or ``backprop.html`` (``$title``,
    ``$stepper``: the page around one)."""
    text = resources.files("tinygrad_edu.viz").joinpath(name).read_text("utf-8")
    return Template(text)


SHRINK = 0.75
"""A frame narrower than the window shrinks to fit it, but only to this fraction of its
natural size (Graphviz's smallest text, 9 points, stays 9 pixels); beyond, it scrolls."""


def _inline_svg(svg: str, prefix: str) -> str:
    """Dot's SVG without its XML prolog, with ids made unique within the page, and a least
    width (`SHRINK`)."""
    svg = svg[svg.index("<svg"):]
    width = re.match(r'<svg width="([\d.]+)pt"', svg)
    if width is not None:
        svg = f'<svg style="min-width: {float(width[1]) * SHRINK:.0f}pt"' + svg[4:]
    svg = re.sub(r'\bid="', f'id="{prefix}', svg)
    return re.sub(r'(href|xlink:href)="#', rf'\1="#{prefix}', svg)


@dataclass(frozen=True)
class _Frame:
    number: int
    node: str  # the highlighted value's name in the picture ("" on frame 0)
    caption: str
    svg: str  # dot's SVG, ids not yet made unique


class BackpropStepper:
    """Backpropagation step by step, one frame per node the engine visits, shown inline in
    Jupyter (`_repr_html_`) or saved as a page of its own (`page`, `save`).

    Frame k highlights the k-th node of the engine's backward pass, shows the gradients of
    the first k nodes and the local rule of the node's op. The pictures are rendered once,
    when the stepper is made (needs Graphviz's `dot`); no `.grad` changes. Each HTML rendering
    gets ids of its own, so several steppers (or one shown twice) share a page; everything is
    inline (SVG, style, script: no network). Without JavaScript (a notebook rendered
    statically) the first and the last frame are shown. Keys: ← →, Home, End.

    >>> from tinygrad_edu import Value
    >>> x = Value(2.0, label="x")
    >>> stepper = BackpropStepper(x.tanh())
    >>> stepper, len(stepper.steps)
    (BackpropStepper(3 frames: forward pass, then 2 nodes), 3)
    >>> html = stepper._repr_html_()
    >>> html.count('<section class="frame"'), "<script>" in html, html == stepper._repr_html_()
    (3, True, False)
    """

    def __init__(
        self,
        root: Value,
        gradient: Any = None,
        *,
        title: str = "Backpropagation, step by step",
        rankdir: str = "LR",
        show_data: bool = True,
        max_nodes: int = 150,
        max_steps: int = MAX_STEPS,
        params: Any = None,
        inputs: Iterable[Value | str] | Value | str | None = None,
        fit_screen: bool = True,
    ) -> None:
        check_switches("backprop_html", show_data=show_data, fit_screen=fit_screen)
        if not isinstance(title, str):
            raise TypeError(f"backprop_html: title must be a str; got {describe(title)}")
        if isinstance(max_steps, bool) or not isinstance(max_steps, int | np.integer):
            raise TypeError(f"backprop_html: max_steps must be a whole number; got "
                            f"{describe(max_steps)}")
        if max_steps < 1:
            raise ValueError(f"backprop_html: max_steps must be at least 1; got {max_steps}")
        self.title = title
        self.steps = backprop_steps(root, gradient, params=params, inputs=inputs)
        if len(self.steps) - 1 > max_steps:
            raise ValueError(f"backprop_html: the graph has {len(self.steps) - 1} steps, more "
                             f"than max_steps={max_steps}; step through a smaller graph")

        def picture(graph: Graph, step: BackpropStep | None = None) -> GraphPicture:
            grads = {} if step is None else {id(node): g for node, g in step.grads.items()}
            return render_graph(graph, rankdir=rankdir, show_data=show_data, show_grad=True,
                                legend=False, grads=grads, dim_zero=True,
                                highlight=None if step is None else step.node)

        def fits(graph: Graph) -> bool:
            return fits_screen(graph, picture, rankdir)

        graph = build_graph(root, params, inputs, max_nodes, fits if fit_screen else None,
                            always_fit=fit_screen)

        def box(node: Value | None) -> str:  # the highlighted box: the node's, or its fold's
            if node is None:
                return ""
            unit = graph.units.get(id(node))
            return graph.names[id(node)] if unit is None else unit.key

        self._frames = [
            _Frame(step.number, box(step.node), f"step {step.number}: {step.text}",
                   picture(graph, step).pipe(format="svg", encoding="utf-8"))
            for step in self.steps
        ]

    def __repr__(self) -> str:
        return (f"BackpropStepper({len(self._frames)} frames: forward pass, then "
                f"{len(self._frames) - 1} nodes)")

    def html(self, *, page_keys: bool = False) -> str:
        """The stepper as an HTML fragment, with ids of its own (``tg-`` and 12 hex digits);
        `page_keys`: the arrow keys work anywhere on the page (its own page), else once the
        stepper has the focus (a notebook, where the page has other uses for them)."""
        uid = f"tg-{uuid.uuid4().hex[:12]}"
        last = len(self._frames) - 1
        frames = []
        for frame in self._frames:
            hidden = "" if frame.number in (0, last) else " hidden"  # seen without JavaScript
            svg = _inline_svg(frame.svg, f"{uid}-f{frame.number}-")
            frames.append(
                f'<section class="frame" id="{uid}-frame-{frame.number}" '
                f'data-step="{frame.number}" data-node="{html.escape(frame.node)}" '
                f'aria-label="step {frame.number} of {last}"{hidden}>\n'
                f'<p class="text">{html.escape(printable(frame.caption))}</p>\n{svg}\n'
                '</section>')
        return _template("stepper.html").substitute(
            id=uid, title=html.escape(printable(self.title)), last=last,
            keys="page" if page_keys else "focus", frames="\n".join(frames))

    def _repr_html_(self) -> str:
        """What Jupyter shows: the stepper, inline."""
        return self.html()

    def page(self) -> str:
        """A whole HTML page (UTF-8) holding the stepper, for a browser."""
        return _template("backprop.html").substitute(title=html.escape(printable(self.title)),
                                                     stepper=self.html(page_keys=True))

    def save(self, path: str | Path) -> Path:
        """Write `page()` to `path` and return the path; a folder, or a file in a folder that
        does not exist, is refused."""
        path = file_to_write(path, "BackpropStepper.save", "backprop.html")
        path.write_text(self.page(), encoding="utf-8")
        return path


def step_through(root: Value, gradient: Any = None, **options: Any) -> BackpropStepper:
    """Backpropagation from `root`, step by step, to show in a notebook cell: a
    `BackpropStepper` (`options` as for `backprop_html`).

    >>> from tinygrad_edu import Value
    >>> x = Value(3.0, label="x")
    >>> step_through(x * x, title="x squared").steps[-1].grads[x]
    6.0
    """
    return BackpropStepper(root, gradient, **options)


def backprop_html(
    root: Value,
    gradient: Any = None,
    *,
    title: str = "Backpropagation, step by step",
    rankdir: str = "LR",
    show_data: bool = True,
    max_nodes: int = 150,
    max_steps: int = MAX_STEPS,
    params: Any = None,
    inputs: Iterable[Value | str] | Value | str | None = None,
    fit_screen: bool = True,
) -> str:
    """One self-contained HTML page (inline SVGs and script) stepping through backprop.

    Frame i shows the gradients of the first i nodes the engine processed, the current node
    highlighted and its local rule written above the picture. Needs Graphviz's `dot`. A graph
    of more than `max_nodes` values is collapsed, and so is a smaller one until a frame fits
    a screen (see `draw_graph`; ``fit_screen=False``: `max_nodes` only, the picture as large
    as it is); more than `max_steps` steps is refused.

    >>> from tinygrad_edu import Value
    >>> x = Value(2.0, label="x")
    >>> page = backprop_html(x.tanh())
    >>> page.count('<section class="frame"'), page.count("<svg")
    (3, 3)
    """
    return BackpropStepper(root, gradient, title=title, rankdir=rankdir, show_data=show_data,
                           max_nodes=max_nodes, max_steps=max_steps, params=params,
                           inputs=inputs, fit_screen=fit_screen).page()


def write_backprop_html(root: Value, path: str | Path, gradient: Any = None,
                        **options: Any) -> Path:
    """Save `backprop_html(root, gradient, **options)` to `path` (UTF-8) and return the path.

    `path` is checked before anything is rendered: a folder, or a file in a folder that does
    not exist, is refused (no folder is created).

    >>> import tempfile
    >>> from tinygrad_edu import Value
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = write_backprop_html(Value(2.0).tanh(), Path(folder) / "tanh.html")
    ...     path.read_text(encoding="utf-8").count('<section class="frame"')
    3
    """
    _check_root(root)
    path = file_to_write(path, "write_backprop_html", "backprop.html")  # (before the
    # pictures are rendered)
    return BackpropStepper(root, gradient, **options).save(path)
