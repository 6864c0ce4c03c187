"""Pictures of computation graphs: Graphviz drawings, and backpropagation step by step.

`draw_graph(root)` returns a `graphviz.Digraph` (it shows inline in Jupyter, and renders to
SVG, PNG or PDF with Graphviz's `dot` program). Building it, and its DOT text `.source`, needs
no Graphviz program; rendering without one raises `GraphvizNotFoundError`, which says how to
install it.

`backprop_steps(root)` records the engine's real backward pass, one step per node;
`step_through(root)` shows those steps in a notebook cell, a picture per step with prev/next
buttons, a slider and the arrow keys, and `write_backprop_html(root, path)` saves the same
stepper as one self-contained HTML page (inline SVG pictures, a few lines of inline
JavaScript, nothing fetched from the network).

The package: `graph` (which values to draw: names, roles, collapsing big graphs), `dot` (the
Graphviz drawing, saving pictures), `steps` (backpropagation step by step, the HTML page);
`plot_activations` and `plot_decision_boundary` come from `tinygrad_edu.plots`, which imports
matplotlib only when a plot is drawn, so this package imports without it.

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

from tinygrad_edu.plots import plot_activations, plot_decision_boundary
from tinygrad_edu.viz.dot import ALARM as ALARM
from tinygrad_edu.viz.dot import DIM_BORDER as DIM_BORDER
from tinygrad_edu.viz.dot import DIM_TEXT as DIM_TEXT
from tinygrad_edu.viz.dot import FONT as FONT
from tinygrad_edu.viz.dot import FORMATS as FORMATS
from tinygrad_edu.viz.dot import GROUP_COLOR as GROUP_COLOR
from tinygrad_edu.viz.dot import HIGHLIGHT as HIGHLIGHT
from tinygrad_edu.viz.dot import INSTALL_HINT as INSTALL_HINT
from tinygrad_edu.viz.dot import OP_COLOR as OP_COLOR
from tinygrad_edu.viz.dot import RENDER_TIMEOUT as RENDER_TIMEOUT
from tinygrad_edu.viz.dot import (
    ROLE_COLORS,
    GraphPicture,
    GraphvizNotFoundError,
    RenderTimeoutError,
    draw_graph,
    local_rule,
    save_graph,
)
from tinygrad_edu.viz.graph import SMALL_TENSOR as SMALL_TENSOR
from tinygrad_edu.viz.steps import MAX_STEPS as MAX_STEPS
from tinygrad_edu.viz.steps import (
    BackpropStep,
    BackpropStepper,
    backprop_html,
    backprop_steps,
    count_steps,
    step_through,
    write_backprop_html,
)

__all__ = [
    "ROLE_COLORS",
    "BackpropStep",
    "BackpropStepper",
    "GraphPicture",
    "GraphvizNotFoundError",
    "RenderTimeoutError",
    "backprop_html",
    "backprop_steps",
    "count_steps",
    "draw_graph",
    "local_rule",
    "plot_activations",
    "plot_decision_boundary",
    "save_graph",
    "step_through",
    "write_backprop_html",
]
