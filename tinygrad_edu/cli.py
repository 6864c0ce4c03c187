"""The `tinygrad-edu` command (also `python -m tinygrad_edu`).

Subcommands:

* ``demo``: a tour of the lecture.
* ``graph``: draw the computation graph of an expression, with its gradients::

    tinygrad-edu graph "tanh(x1*w1 + x2*w2 + b)" --set x1=2 x2=0 w1=-3 w2=1 \\
        b=6.8813735870195432 -o neuron.svg --html backprop.html

The expression is parsed with `ast` and checked against a whitelist (numbers, names,
``+ - * / **``, unary minus, calls of the activations and of ``exp log sqrt abs``); it is never
given to `eval`. Bad usage prints one line on stderr and exits with status 2.

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

from tinygrad_edu import Value
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


def _configure_demo(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="out", help="folder for the pictures")


def _run_demo(args: argparse.Namespace) -> int:
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    out = (x1 * w1 + x2 * w2 + b).tanh()
    out.backward()
    print(f"neuron: tanh(x1*w1 + x2*w2 + b) = {out.data:.4f}")
    for v in (x1, x2, w1, w2, b):
        print(f"  d out / d {v.label} = {v.grad:+.4f}")
    return 0


def _configure_graph(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("expression", help='an expression, e.g. "tanh(x1*w1 + x2*w2 + b)"')
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
    Command("demo", "a tour of the lecture", _configure_demo, _run_demo),
    Command("graph", "draw an expression's computation graph with its gradients",
            _configure_graph, _run_graph),
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
    except (RuntimeError, OSError, ValueError) as error:
        print(f"{PROG} {args.command_name}: error: {error}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
