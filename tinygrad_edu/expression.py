"""Safe expressions for the `graph` command: parsed with `ast`, checked, never given to `eval`.

`parse_expression` accepts numbers, names, ``+ - * / **``, unary minus, parentheses and calls
of the functions in `FUNCTIONS` (every activation, and ``exp log sqrt abs sin cos log1p
expm1``), within the limits `MAX_EXPRESSION_LENGTH` and `MAX_DEPTH`; anything else is a
`UsageError` saying what is not allowed. `build_expression` then computes the checked tree
with Values, so it can be differentiated; `parse_assignments` reads the ``--set NAME=NUMBER``
values of its names.

>>> tree = parse_expression("tanh(x * w + 1)")
>>> names_in(tree)
['x', 'w']
>>> values = parse_assignments(["x=2", "w=-0.5"])
>>> variables = {name: Value(values[name], label=name) for name in names_in(tree)}
>>> out = build_expression(tree, variables)
>>> out.backward()
>>> out.data, variables["w"].grad
(0.0, 2.0)
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_edu.activations import ACTIVATIONS
from tinygrad_edu.engine import Value

__all__ = [
    "EXTRA_NUMBER_ARGUMENT",
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_EXPRESSION_LENGTH",
    "MAX_NAMES",
    "UsageError",
    "build_expression",
    "names_in",
    "parse_assignments",
    "parse_expression",
]

MAX_EXPRESSION_LENGTH = 1000
"""Longest expression the `graph` command accepts, in characters."""
MAX_DEPTH = 100
"""Deepest nesting of the expression's syntax tree the `graph` command accepts."""
MAX_NAMES = 100
"""Most names ``--set`` accepts."""


class UsageError(Exception):
    """Bad input on the command line (an expression, a ``--set``, an option): the command
    prints it as one line and exits with status 2."""


def _value_method(name: str) -> Callable[[Value], Value]:
    def call(x: Value) -> Value:
        result: Value = getattr(x, name)()
        return result

    return call


FUNCTIONS: dict[str, Callable[..., Value]] = {
    **{name: activation.function for name, activation in ACTIVATIONS.items()},
    **{name: _value_method(name) for name in ("exp", "log", "sqrt", "abs", "sin", "cos",
                                              "log1p", "expm1")},
}
"""The functions an expression may call: every activation, and exp, log, sqrt, abs, sin, cos,
log1p, expm1."""

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
    tinygrad_edu.expression.UsageError: unknown function '__import__'...
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
