"""Backpropagation step by step: the engine's real backward pass, one frame per node.

`backprop_steps(root)` records the pass (no `.grad` changes), and `write_backprop_html(root,
path)` saves it as one self-contained HTML page (inline SVG pictures, a few lines of inline
JavaScript, nothing fetched from the network) where a learner steps through backpropagation.
The page's template is the package data file ``tinygrad_edu/viz/backprop.html``.

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
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import numpy as np

from tinygrad_edu import engine
from tinygrad_edu.data import data_of
from tinygrad_edu.engine import Value
from tinygrad_edu.viz.dot import local_rule, operand_letter, render_graph
from tinygrad_edu.viz.graph import build_graph, summarize

__all__ = ["BackpropStep", "backprop_html", "backprop_steps", "write_backprop_html"]


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


def _engine_backward(root: Value, gradient: Any) -> list[tuple[Value, Any]]:
    """Each node the engine's backward pass from `root` visits, in its order, with a copy of
    the gradient it gets; no `.grad` is changed. `gradient` is checked as `backward()` does."""
    visits: list[tuple[Value, Any]] = []

    def visit(node: Value, grad: Any) -> None:
        grad = data_of(grad)
        copied = np.array(grad, dtype=np.float64) if isinstance(grad, np.ndarray) else float(grad)
        visits.append((node, copied))

    seed = engine.initial_gradient(root, gradient, False)
    engine.backpropagate(root, seed, visit)
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
    names = build_graph(root).names

    def who(node: Value) -> str:
        return node.label or names[id(node)]

    steps = [BackpropStep(0, None, None, "forward pass: every gradient is 0", {})]
    known: dict[Value, Any] = {}
    for node, g in visits:
        known[node] = g
        if node.op is None:
            text = f"{who(node)} is a leaf: its gradient {summarize(g)} is final (added to .grad)"
        else:
            operands = f" {node.op.describe(node.params)} ".join(who(p) for p in node.parents)
            if len(node.parents) == 1:
                operands = f"{node.op.describe(node.params)}({who(node.parents[0])})"
            # the rule's own letters (out, a, b) stand for the boxes, named in quotes
            letters = ", ".join(f"{operand_letter(i)} is “{who(p)}”"
                                for i, p in enumerate(node.parents))
            text = (f"{who(node)} = {operands}: gradient {summarize(g)} arrives. "
                    f"Local rule (out is “{who(node)}”, {letters}): "
                    f"{local_rule(node.op, node.params)}")
        steps.append(BackpropStep(len(steps), node, g, text, dict(known)))
    return steps


# --------------------------------------------------------------------------------------------
# The HTML page
# --------------------------------------------------------------------------------------------


@functools.cache
def _page() -> Template:
    """The page template (``backprop.html``, package data): ``$title``, ``$last``, ``$frames``."""
    text = resources.files("tinygrad_edu.viz").joinpath("backprop.html").read_text("utf-8")
    return Template(text)


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
    graph = build_graph(root, params, inputs, max_nodes)
    frames = []
    for step in steps:
        grads = {id(node): g for node, g in step.grads.items()}
        caption = f"step {step.number}: {step.text}"
        picture = render_graph(graph, rankdir=rankdir, show_data=show_data, show_grad=True,
                               legend=False, grads=grads, highlight=step.node, dim_zero=True)
        svg = _inline_svg(picture.pipe(format="svg", encoding="utf-8"), f"f{step.number}-")
        hidden = " hidden" if step.number else ""
        frames.append(
            f'<section class="frame" id="frame-{step.number}"{hidden}>\n'
            f'<p class="text">{html.escape(caption)}</p>\n{svg}\n</section>'
        )
    return _page().substitute(title=html.escape(title), last=len(steps) - 1,
                              frames="\n".join(frames))


def write_backprop_html(root: Value, path: str | Path, gradient: Any = None,
                        **options: Any) -> Path:
    """Save `backprop_html(root, gradient, **options)` to `path` (UTF-8) and return the path.

    >>> import tempfile
    >>> from tinygrad_edu import Value
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = write_backprop_html(Value(2.0).tanh(), Path(folder) / "tanh.html")
    ...     path.read_text(encoding="utf-8").count('<section class="frame"')
    3
    """
    path = Path(path)
    path.write_text(backprop_html(root, gradient, **options), encoding="utf-8")
    return path
