"""Safe expressions for the `graph` command: parsed with `ast`, checked, never given to `eval`.

`parse_expression` accepts numbers, names, ``+ - * / **``, unary minus, parentheses and calls
of the functions in `FUNCTIONS` (every activation, and ``exp log sqrt abs sin cos log1p
expm1``), within the limits `MAX_EXPRESSION_LENGTH` and `MAX_DEPTH`; anything else is a
`UsageError` saying what is not allowed and where. `build_expression` then computes the
checked tree with Values, so it can be differentiated; the same text means what it means in
Python (precedence, ``-0`` is 0, integer constants exact), with IEEE inf and nan where Python
would raise (``1/0``). `parse_assignments` reads the ``--set NAME=NUMBER`` values of its names.

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
import math
import unicodedata
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


def _where(text: str, lineno: int, byte_offset: int) -> str:
    """Line and column (in characters, counted in `text` as given) of a place `ast` reports
    in ``text.strip()`` as a line and a UTF-8 byte offset."""
    lead = text[:len(text) - len(text.lstrip())]
    lines = text.strip().splitlines() or [""]
    line = lines[min(lineno, len(lines)) - 1]
    column = len(line.encode("utf-8")[:byte_offset].decode("utf-8", "replace")) + 1
    if lineno == 1:  # the first line starts after the stripped whitespace
        column += len(lead.rpartition("\n")[2])
    lineno += lead.count("\n")
    return f"line {lineno}, column {column}" if "\n" in text.strip() else f"column {column}"


def _refuse(node: ast.AST, what: str, text: str) -> UsageError:
    lineno, offset = getattr(node, "lineno", None), getattr(node, "col_offset", None)
    where = f" ({_where(text, lineno, offset)})" if lineno and offset is not None else ""
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
    if "#" in text:  # (Python would read the rest of the line as a comment, dropped unseen)
        ahead = text.strip().partition("#")[0]
        where = _where(text, ahead.count("\n") + 1, len(ahead.rpartition("\n")[2].encode()))
        raise UsageError(f"'#' ({where}) starts a comment, which would leave the rest of the "
                         "expression out; an expression has no comments")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        detail = getattr(error, "msg", None) or str(error) or type(error).__name__
        if isinstance(error, SyntaxError) and error.lineno and error.offset and error.text:
            # (offset counts characters of error.text, 1-based; as bytes for _where)
            before = error.text[:error.offset - 1].encode("utf-8")
            detail += f" ({_where(text, error.lineno, len(before))})"
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
                raise _refuse(node, f"the constant {node.value!r:.40}", text)
        elif isinstance(node, ast.Name):
            if node.id.startswith("_"):
                raise _refuse(node, f"the name {node.id!r} (names may not start with _)",
                              text)
            if node.id in FUNCTIONS:
                raise UsageError(f"{node.id} is a function: call it, as in {node.id}(x)")
        elif isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.BitXor):  # (x^2 is Python's exclusive or)
                lineno = node.left.end_lineno or node.lineno
                line = text.strip().splitlines()[lineno - 1].encode()
                where = _where(text, lineno, line.index(b"^", node.left.end_col_offset or 0))
                raise UsageError(f"^ ({where}) is not a power here (Python reads it as "
                                 "exclusive or); write a power with **, as in x**2")
            if type(node.op) not in _BINARY:
                raise _refuse(node, f"the operator {type(node.op).__name__}", text)
            stack.append((node.left, depth))  # a chain a + b + c counts as one level
            children = [node.right]
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, ast.USub | ast.UAdd):
                raise _refuse(node, f"the operator {type(node.op).__name__}", text)
            children = [node.operand]
        elif isinstance(node, ast.Call):
            children = _check_call(node, text)
        else:
            raise _refuse(node, _describe(node), text)
        stack.extend((child, depth + 1) for child in children)
    return tree.body


def _check_call(node: ast.Call, text: str) -> list[ast.AST]:
    if isinstance(node.func, ast.Constant | ast.BinOp | ast.UnaryOp | ast.Call):
        # 2(x), (x + 1)(y): a product written without its *
        shown = ast.unparse(node.func)
        shown = f"({shown})" if not isinstance(node.func, ast.Constant | ast.Call) else shown
        raise UsageError(f"{shown:.40}(...) ({_where(text, node.lineno, node.col_offset)}) "
                         f"calls something that is not a function; to multiply, write "
                         f"{shown:.40}*(...)")
    if not isinstance(node.func, ast.Name):
        raise _refuse(node, "calling " + _describe(node.func), text)
    name = node.func.id
    if name not in FUNCTIONS:
        hint = f"; to multiply, write {name}*(...)" if not name.startswith("_") else ""
        raise UsageError(f"unknown function {name!r}; known functions: "
                         f"{', '.join(sorted(FUNCTIONS))}{hint}")
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


def _number(node: ast.AST) -> int | float | None:
    """The value of a number literal, possibly negated, as Python reads it (``-0`` is the
    integer 0, ``-0.0`` the float -0.0); None for anything else."""
    signs: list[ast.unaryop] = []
    while isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        signs.append(node.op)
        node = node.operand
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        value: int | float = node.value  # type: ignore[assignment]
        try:
            float(value)
        except OverflowError:
            raise UsageError(f"the number {str(node.value)[:20]}... is too large") from None
        for op in reversed(signs):
            value = -value if isinstance(op, ast.USub) else +value
        return value
    return None


_MAX_EXACT_BITS = 4096
"""Integer constants are computed exactly, as Python does, up to this many bits; past it (say
``9**9**9``) in float64."""


def _as_float(number: int | float) -> float:
    """A number as a float; an integer too large for one is ±inf."""
    try:
        return float(number)
    except OverflowError:
        return math.inf if number > 0 else -math.inf  # (copysign would convert it again)


def _fold(op: ast.operator, a: int | float, b: int | float) -> int | float:
    """A number-only operation as Python computes it (integers exactly, so ``0*-1`` is 0, not
    -0.0); where Python would raise (``1/0``) or give a complex number, the IEEE float64
    result (inf, nan)."""
    compute = _BINARY[type(op)]
    huge_power = (isinstance(op, ast.Pow) and type(a) is int and type(b) is int and b > 0
                  and abs(a) > 1 and a.bit_length() * b > _MAX_EXACT_BITS)
    if not huge_power:
        try:
            result = compute(a, b)
        except (ZeroDivisionError, OverflowError):
            pass
        else:
            if type(result) is int:
                return result if result.bit_length() <= _MAX_EXACT_BITS else _as_float(result)
            if type(result) is float:
                return result
    with np.errstate(all="ignore"):
        return float(compute(np.float64(_as_float(a)), np.float64(_as_float(b))))


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
            stack.extend((kid, False) for kid in reversed(kids))  # (left first, as Python)
            continue
        args = [results[id(kid)] for kid in kids]
        if isinstance(node, ast.BinOp):
            if not any(isinstance(arg, Value) for arg in args):  # numbers only, as Python
                results[id(node)] = _fold(node.op, *args)
                continue
            args = [arg if isinstance(arg, Value) else _as_float(arg) for arg in args]
            results[id(node)] = _BINARY[type(node.op)](*args)
        elif isinstance(node, ast.UnaryOp):
            results[id(node)] = -args[0] if isinstance(node.op, ast.USub) else +args[0]
        else:
            assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            name = node.func.id
            if not isinstance(args[0], Value):
                args[0] = Value(_as_float(args[0]), requires_grad=False)
            if len(node.args) == 2:
                extra = _number(node.args[1])
                assert extra is not None  # parse_expression checked it
                results[id(node)] = FUNCTIONS[name](args[0], _as_float(extra))
            else:
                results[id(node)] = FUNCTIONS[name](args[0])
    result = results[id(tree)]
    return result if isinstance(result, Value) else _as_float(result)


def parse_assignments(items: Sequence[str]) -> dict[str, float]:
    """``["x=2", "w=-3"]`` as ``{"x": 2.0, "w": -3.0}``.

    A NUMBER is read as Python reads one (``2``, ``-0.5``, ``1e-3``, ``1_000``, ``0x10``,
    ``inf``, ``nan``); one that does not fit a float64 (``1e400``, ``1e-400``) is refused rather
    than read as inf or 0. NAME is normalised as Python normalises names in the expression
    (NFKC: ``ｘ`` is ``x``).

    >>> parse_assignments(["x1=2", "b=6.88", "n=0x10"])
    {'x1': 2.0, 'b': 6.88, 'n': 16.0}
    """
    values: dict[str, float] = {}
    if len(items) > MAX_NAMES:
        raise UsageError(f"--set: at most {MAX_NAMES} names")
    for item in items:
        given, sep, text = item.partition("=")
        name = unicodedata.normalize("NFKC", given.strip())
        if not sep or not name.isidentifier() or name.startswith("_"):
            raise UsageError(f"--set expects NAME=NUMBER (NAME a plain identifier); got {item!r}")
        if name in FUNCTIONS:
            raise UsageError(f"--set: {name!r} is a function name, not a variable")
        if name in values:
            raise UsageError(f"--set: {name!r} is given twice")
        values[name] = _read_number(name, text)
    return values


def _read_number(name: str, text: str) -> float:
    """The value of ``--set NAME=TEXT``, or a `UsageError` saying why TEXT is not one."""
    too_large = UsageError(f"--set {name}={text.strip():.40}: too large for a float64 (the "
                           f"largest is about 1.8e308); write {name}=inf or {name}=-inf for "
                           "infinity")
    try:
        value = float(text)
    except ValueError:
        literal: int | float | None = None
        if len(text) <= MAX_EXPRESSION_LENGTH:  # 0x10, 0o17, 0b101: Python's other literals
            try:
                literal = _number(ast.parse(text.strip(), mode="eval").body)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                literal = None
            except UsageError:  # an integer past float64's range
                raise too_large from None
        if literal is None:
            raise UsageError(f"--set: the value of {name!r} must be a number; got "
                             f"{text!r:.40}") from None
        return float(literal)
    mantissa = text.strip().lower().partition("e")[0]
    if math.isinf(value) and mantissa.lstrip("+-") not in ("inf", "infinity"):
        raise too_large
    if value == 0 and any(unicodedata.digit(c, 0) for c in mantissa):
        raise UsageError(f"--set {name}={text.strip():.40}: too small for a float64 (the smallest "
                         f"is about 5e-324), it would be read as 0; write {name}=0 for zero")
    return value
