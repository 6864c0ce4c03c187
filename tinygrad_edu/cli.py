"""The `tinygrad-edu` command (also `python -m tinygrad_edu`).

Subcommands (``tinygrad-edu COMMAND --help`` for the options of each):

* ``demo``: the lecture tour, every example of `tinygrad_edu.lecture` into one folder
  (``--out DIR``, ``--quick``), then a table of what was written and the accuracies reached.
* ``perceptron``: Rosenblatt's rule on the logic gates, printed epoch by epoch.
* ``boundaries``: the lecture's grid of decision boundaries (m hidden layers x n units).
* ``activations``: every activation and its derivative, plotted and checked numerically.
* ``graph``: draw the computation graph of an expression, with its gradients::

    tinygrad-edu graph "tanh(x1*w1 + x2*w2 + b)" --set x1=2 x2=0 w1=-3 w2=1 \\
        b=6.8813735870195432 -o neuron.svg --html backprop.html

The expression is parsed with `ast` and checked against a whitelist (numbers, names,
``+ - * / **``, unary minus, calls of the activations and of ``exp log sqrt abs``); it is never
given to `eval`. Bad usage prints one line on stderr and exits with status 2; a failure
(Graphviz or matplotlib missing, a file that cannot be written) exits with status 1.
Progress bars (tqdm) appear on stderr for training that takes more than a second, unless
``--quiet`` is given or stderr is not a terminal.

Adding a subcommand: write ``_configure_x(parser)`` and ``_run_x(args) -> int``, and add a
`Command` to `COMMANDS`.

>>> main(["graph", "x*x + 1", "--set", "x=3"]) == 0  # doctest: +ELLIPSIS
digraph tinygrad_edu {
...
True
"""

from __future__ import annotations

import argparse
import ast
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_edu import Value, lecture
from tinygrad_edu.activations import ACTIVATIONS

PROG = "tinygrad-edu"
MAX_EXPRESSION_LENGTH = 1000
"""Longest expression the `graph` command accepts, in characters."""
MAX_DEPTH = 100
"""Deepest nesting of the expression's syntax tree the `graph` command accepts."""
MAX_NAMES = 100


class UsageError(Exception):
    """Bad input on the command line: printed as one line, exit status 2."""


# --------------------------------------------------------------------------------------------
# Safe expressions
# --------------------------------------------------------------------------------------------


def _value_method(name: str) -> Callable[[Value], Value]:
    def call(x: Value) -> Value:
        result: Value = getattr(x, name)()
        return result

    return call


FUNCTIONS: dict[str, Callable[..., Value]] = {
    **{name: activation.function for name, activation in ACTIVATIONS.items()},
    **{name: _value_method(name) for name in ("exp", "log", "sqrt", "abs")},
}
"""The functions an expression may call: every activation, and exp, log, sqrt, abs."""

EXTRA_NUMBER_ARGUMENT = {"leaky_relu": "negative_slope", "elu": "alpha"}
"""Functions that take a second argument, a number: ``leaky_relu(x, 0.2)``."""

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
}


def _refuse(node: ast.AST, what: str) -> UsageError:
    where = f" (column {node.col_offset + 1})" if hasattr(node, "col_offset") else ""
    return UsageError(
        f"{what}{where} is not allowed; an expression may only use numbers, names, "
        f"+ - * / **, unary minus, parentheses and calls of: {', '.join(sorted(FUNCTIONS))}"
    )


def _describe(node: ast.AST) -> str:
    kinds = {
        ast.Attribute: "attribute access", ast.Subscript: "subscripting", ast.Lambda: "a lambda",
        ast.ListComp: "a comprehension", ast.SetComp: "a comprehension",
        ast.DictComp: "a comprehension", ast.GeneratorExp: "a comprehension",
        ast.Compare: "a comparison", ast.BoolOp: "and/or", ast.IfExp: "an if-expression",
        ast.NamedExpr: "an assignment (:=)", ast.Starred: "unpacking (*)",
        ast.JoinedStr: "an f-string", ast.List: "a list", ast.Tuple: "a tuple",
        ast.Dict: "a dict", ast.Set: "a set", ast.Await: "await", ast.Yield: "yield",
    }
    return kinds.get(type(node), f"{type(node).__name__} syntax")


def parse_expression(text: str) -> ast.expr:
    """Parse `text` and check it against the whitelist (never evaluating anything).

    >>> ast.dump(parse_expression("-x"))
    "UnaryOp(op=USub(), operand=Name(id='x', ctx=Load()))"
    >>> parse_expression("__import__('os')")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tinygrad_edu.cli.UsageError: unknown function '__import__'...
    """
    if not isinstance(text, str) or not text.strip():
        raise UsageError("the expression is empty")
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise UsageError(f"the expression is {len(text)} characters long; the limit is "
                         f"{MAX_EXPRESSION_LENGTH}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        detail = getattr(error, "msg", None) or str(error) or type(error).__name__
        raise UsageError(f"the expression is not valid syntax: {detail}") from None
    # iterative walk, with the depth of each node
    stack: list[tuple[ast.AST, int]] = [(tree.body, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise UsageError(f"the expression is nested more than {MAX_DEPTH} levels deep")
        children: list[ast.AST] = []
        if isinstance(node, ast.Constant):
            if type(node.value) not in (int, float):
                raise _refuse(node, f"the constant {node.value!r:.40}")
        elif isinstance(node, ast.Name):
            if node.id.startswith("_"):
                raise _refuse(node, f"the name {node.id!r} (names may not start with _)")
            if node.id in FUNCTIONS:
                raise UsageError(f"{node.id} is a function: call it, as in {node.id}(x)")
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                raise _refuse(node, f"the operator {type(node.op).__name__}")
            stack.append((node.left, depth))  # a chain a + b + c counts as one level
            children = [node.right]
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, ast.USub | ast.UAdd):
                raise _refuse(node, f"the operator {type(node.op).__name__}")
            children = [node.operand]
        elif isinstance(node, ast.Call):
            children = _check_call(node)
        else:
            raise _refuse(node, _describe(node))
        stack.extend((child, depth + 1) for child in children)
    return tree.body


def _check_call(node: ast.Call) -> list[ast.AST]:
    if not isinstance(node.func, ast.Name):
        raise _refuse(node, "calling " + _describe(node.func))
    name = node.func.id
    if name not in FUNCTIONS:
        raise UsageError(f"unknown function {name!r}; known functions: "
                         f"{', '.join(sorted(FUNCTIONS))}")
    if node.keywords:
        raise UsageError(f"{name}() takes no keyword arguments in an expression")
    extra = EXTRA_NUMBER_ARGUMENT.get(name)
    if len(node.args) == 2 and extra is not None:
        if _number(node.args[1]) is None:
            raise UsageError(f"{name}(x, {extra}): {extra} must be a number")
    elif len(node.args) != 1:
        usage = f"{name}(x)" if extra is None else f"{name}(x) or {name}(x, {extra})"
        raise UsageError(f"{name} takes one argument: {usage}")
    return [node.args[0]]


def _number(node: ast.AST) -> float | None:
    """The value of a number literal, possibly negated; None for anything else."""
    sign = 1.0
    while isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        sign = -sign if isinstance(node.op, ast.USub) else sign
        node = node.operand
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        value: int | float = node.value  # type: ignore[assignment]
        try:
            return sign * float(value)
        except OverflowError:
            raise UsageError(f"the number {str(node.value)[:20]}... is too large") from None
    return None


def names_in(tree: ast.expr) -> list[str]:
    """The variable names an expression uses, in order of first appearance."""
    found: dict[str, None] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in FUNCTIONS:
            found.setdefault(node.id, None)
    return sorted(found, key=lambda name: _first_position(tree, name))


def _first_position(tree: ast.expr, name: str) -> tuple[int, int]:
    return min((n.lineno, n.col_offset) for n in ast.walk(tree)
               if isinstance(n, ast.Name) and n.id == name)


def build_expression(tree: ast.expr, variables: dict[str, Value]) -> Any:
    """Compute a checked expression with Values (iteratively, bottom-up)."""
    results: dict[int, Any] = {}
    stack: list[tuple[ast.AST, bool]] = [(tree, False)]
    while stack:
        node, ready = stack.pop()
        number = _number(node)
        if number is not None:
            results[id(node)] = number
            continue
        if isinstance(node, ast.Name):
            results[id(node)] = variables[node.id]
            continue
        if isinstance(node, ast.BinOp):
            kids: list[ast.AST] = [node.left, node.right]
        elif isinstance(node, ast.UnaryOp):
            kids = [node.operand]
        else:
            assert isinstance(node, ast.Call)  # parse_expression allows nothing else
            kids = [node.args[0]]
        if not ready:
            stack.append((node, True))
            stack.extend((kid, False) for kid in kids)
            continue
        args = [results[id(kid)] for kid in kids]
        if isinstance(node, ast.BinOp):
            if not any(isinstance(arg, Value) for arg in args):  # numbers only: IEEE results
                with np.errstate(all="ignore"):
                    args = [np.float64(arg) for arg in args]
                    results[id(node)] = float(_BINARY[type(node.op)](*args))
                continue
            results[id(node)] = _BINARY[type(node.op)](*args)
        elif isinstance(node, ast.UnaryOp):
            results[id(node)] = -args[0] if isinstance(node.op, ast.USub) else args[0]
        else:
            assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            name = node.func.id
            if not isinstance(args[0], Value):
                args[0] = Value(args[0], requires_grad=False)
            if len(node.args) == 2:
                results[id(node)] = FUNCTIONS[name](args[0], _number(node.args[1]))
            else:
                results[id(node)] = FUNCTIONS[name](args[0])
    return results[id(tree)]


def parse_assignments(items: Sequence[str]) -> dict[str, float]:
    """``["x=2", "w=-3"]`` as ``{"x": 2.0, "w": -3.0}``.

    >>> parse_assignments(["x1=2", "b=6.88"])
    {'x1': 2.0, 'b': 6.88}
    """
    values: dict[str, float] = {}
    if len(items) > MAX_NAMES:
        raise UsageError(f"--set: at most {MAX_NAMES} names")
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier() or name.startswith("_"):
            raise UsageError(f"--set expects NAME=NUMBER (NAME a plain identifier); got {item!r}")
        if name in FUNCTIONS:
            raise UsageError(f"--set: {name!r} is a function name, not a variable")
        if name in values:
            raise UsageError(f"--set: {name!r} is given twice")
        try:
            values[name] = float(text)
        except ValueError:
            raise UsageError(f"--set: the value of {name!r} must be a number; got "
                             f"{text!r:.40}") from None
    return values


# --------------------------------------------------------------------------------------------
# Subcommands
# --------------------------------------------------------------------------------------------


def _count(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer in [low, high]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r:.40}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}; got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def _configure_demo(parser: argparse.ArgumentParser) -> None:
    lecture.add_output_options(parser)
    parser.add_argument("--only", nargs="+", choices=list(lecture.EXAMPLES), metavar="EXAMPLE",
                        help=f"run only these examples ({', '.join(lecture.EXAMPLES)})")


def _run_demo(args: argparse.Namespace) -> int:
    def show(result: lecture.ExampleResult) -> None:
        lecture.print_result(result)
        print(flush=True)

    results = lecture.run_tour(args.out, quick=args.quick, progress=lecture.progress_wanted(args),
                               only=args.only, on_result=show)
    print(f"The lecture tour: {len(results)} examples, pictures in {args.out}")
    print(lecture.summary_table(results))
    return 0


def _configure_perceptron(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gate", nargs="+", choices=list(lecture.GATE_NAMES),
                        default=list(lecture.GATE_NAMES), help="the gates (default: all four)")
    parser.add_argument("--lr", type=float, default=1.0, help="learning rate (default 1)")
    parser.add_argument("--max-epochs", type=_count(1, 100_000), default=100,
                        help="stop after this many epochs (default 100)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the random initial weights (default 0)")
    parser.add_argument("--zeros", action="store_true",
                        help="start from zero weights instead (Novikoff's setting)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="also draw the gates and the sigmoid neuron into this folder")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _run_perceptron(args: argparse.Namespace) -> int:
    from tinygrad_edu.datasets import logic_gate
    from tinygrad_edu.perceptron import Perceptron

    if not (math.isfinite(args.lr) and args.lr > 0):
        raise UsageError(f"--lr must be a positive number; got {args.lr}")
    print("Rosenblatt's rule: on a mistake, w += lr·x if the answer was 0 but should be 1, "
          "w -= lr·x if it was 1 but should be 0 (x = (1, x1, x2)).")
    for gate in args.gate:
        X, y = logic_gate(gate)
        p = Perceptron(2, seed=None if args.zeros else args.seed)
        start = p.weights.copy()
        history = p.fit(X, y, lr=args.lr, max_epochs=args.max_epochs)
        print(f"\n{gate.upper()}  (targets {y.tolist()}, initial weights "
              f"{np.array2string(start, precision=3)})")
        print(f"  {'epoch':>5}  {'errors':>6}  weights (w0 = bias, w1, w2)")
        for epoch, (errors, weights) in enumerate(zip(history.errors, history.weights,
                                                      strict=True), 1):
            print(f"  {epoch:>5}  {errors:>6}  {np.array2string(weights, precision=3)}")
        correct = int(np.sum(p.predict(X) == y))
        print("  " + lecture.describe_gate_run(gate, history, correct))
    if args.out is not None:
        result = lecture.perceptron_logic_gates(args.out, progress=lecture.progress_wanted(args),
                                                seed=args.seed)
        print()
        for path in result.files:
            print(f"wrote {path}")
    return 0


def _configure_boundaries(parser: argparse.ArgumentParser) -> None:
    lecture.add_output_options(parser)
    parser.add_argument("--layers", nargs="+", type=_count(0, 8), default=None, metavar="M",
                        help="numbers of hidden layers, one row each (default 0 1 2 3)")
    parser.add_argument("--units", nargs="+", type=_count(1, 256), default=None, metavar="N",
                        help="units per hidden layer, one column each (default 2 4 8 16)")
    parser.add_argument("--steps", type=_count(1, 100_000), default=None,
                        help="Adam steps per network (default 2000, 400 with --quick)")
    parser.add_argument("--seed", type=int, default=0, help="seed of data and weights")


def _run_boundaries(args: argparse.Namespace) -> int:
    result = lecture.decision_boundaries(
        args.out, quick=args.quick, progress=lecture.progress_wanted(args), seed=args.seed,
        layers=args.layers or lecture.GRID_LAYERS, units=args.units or lecture.GRID_UNITS,
        steps=args.steps)
    lecture.print_result(result)
    return 0


def _configure_activations(parser: argparse.ArgumentParser) -> None:
    lecture.add_output_options(parser, quick=False)
    names = [name for name in ACTIVATIONS if name != "identity"]
    parser.add_argument("--names", nargs="+", choices=list(ACTIVATIONS), default=names,
                        metavar="NAME", help=f"the activations (default: {' '.join(names)})")


def _run_activations(args: argparse.Namespace) -> int:
    result = lecture.activation_functions(args.out, names=args.names)
    lecture.print_result(result)
    return 0


def _configure_graph(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("expression", help='an expression, e.g. "tanh(x1*w1 + x2*w2 + b)"; '
                        'one that starts with a minus goes after "--": graph -- "-x*y" ...')
    parser.add_argument("--set", nargs="+", default=[], metavar="NAME=NUMBER", dest="assign",
                        help="the value of every name in the expression")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="picture to write: .svg, .png, .pdf or .dot "
                             "(default: print the DOT text)")
    parser.add_argument("--html", type=Path, default=None,
                        help="also write backpropagation step by step to this HTML file")
    parser.add_argument("--inputs", nargs="+", default=[], metavar="NAME",
                        help="names to draw as inputs (the others are drawn as parameters)")
    parser.add_argument("--rankdir", choices=["LR", "TB", "RL", "BT"], default="LR",
                        help="direction of the graph (default LR: left to right)")
    parser.add_argument("--no-legend", action="store_true", help="leave the legend out")


def _run_graph(args: argparse.Namespace) -> int:
    from tinygrad_edu import viz

    tree = parse_expression(args.expression)
    values = parse_assignments(args.assign)
    used = names_in(tree)
    unset = [name for name in used if name not in values]
    if unset:
        hint = " ".join(f"{name}=..." for name in unset)
        raise UsageError(f"unset name{'s' if len(unset) > 1 else ''}: {', '.join(unset)} "
                         f"(give {'them' if len(unset) > 1 else 'it'} with --set {hint})")
    unknown_inputs = [name for name in args.inputs if name not in used]
    if unknown_inputs:
        raise UsageError(f"--inputs: {', '.join(unknown_inputs)} not in the expression")
    fmt = None
    if args.output is not None:
        fmt = args.output.suffix.lstrip(".").lower()
        if fmt not in viz.FORMATS:
            raise UsageError(f"-o {args.output}: the suffix must be one of "
                             f"{', '.join('.' + f for f in viz.FORMATS)}")
    if args.html is not None and args.html.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"--html {args.html}: the file name must end in .html")
    variables = {name: Value(values[name], label=name) for name in used}
    root = build_expression(tree, variables)
    if not isinstance(root, Value) or not root.requires_grad:
        raise UsageError("the expression uses no variable: there is nothing to differentiate")
    root.label = root.label or "out"
    root.backward()
    picture = viz.draw_graph(root, rankdir=args.rankdir, inputs=args.inputs,
                             legend=not args.no_legend)
    if args.output is None and args.html is None:
        print(picture.source)
        return 0
    if args.output is not None:
        viz.save_graph(picture, args.output)
    if args.html is not None:
        viz.write_backprop_html(root, args.html, rankdir=args.rankdir, inputs=args.inputs)
    print(f"{args.expression} = {_show(root.data)}")
    for name in used:
        print(f"  d out / d {name} = {_show(variables[name].grad)}")
    for path in (args.output, args.html):
        if path is not None:
            print(f"wrote {path}")
    return 0


def _show(x: Any) -> str:
    return repr(x) if math.isnan(x) or math.isinf(x) else f"{x:.6g}"


@dataclass(frozen=True)
class Command:
    """A subcommand: its name, one-line help, its options and what it does."""

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS = [
    Command("demo", "the lecture tour: run every example into one folder, then summarise",
            _configure_demo, _run_demo),
    Command("graph", "draw an expression's computation graph with its gradients",
            _configure_graph, _run_graph),
    Command("perceptron", "Rosenblatt's perceptron on AND, OR, NAND, XOR, epoch by epoch",
            _configure_perceptron, _run_perceptron),
    Command("boundaries", "the decision-boundary grid: m hidden layers x n units on a spiral",
            _configure_boundaries, _run_boundaries),
    Command("activations", "plot every activation and its derivative; check them numerically",
            _configure_activations, _run_activations),
]


def make_parser() -> argparse.ArgumentParser:
    """The argument parser, one subparser per `Command`."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="tinygrad_edu: an autograd engine for learning deep learning.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        sub = commands.add_parser(command.name, help=command.help, description=command.help)
        command.configure(sub)
        sub.set_defaults(run=command.run, command_name=command.name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for bad usage)."""
    parser = make_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse has printed its message (or the help)
        return exit_.code if isinstance(exit_.code, int) else 2
    try:
        code: int = args.run(args)
    except UsageError as error:
        print(f"{PROG} {args.command_name}: error: {error}", file=sys.stderr)
        return 2
    except (RuntimeError, OSError, ValueError, ImportError) as error:
        print(f"{PROG} {args.command_name}: error: {error}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
