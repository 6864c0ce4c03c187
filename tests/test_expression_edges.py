"""Edge cases of the `graph` command's expression parser: the same text means what Python says
it means (precedence, associativity, numbers, the sign of zero), `--set` reads numbers and
names as Python does, and refusals say where and what to write instead."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from tinygrad_edu import Value
from tinygrad_edu.engine import topological_order
from tinygrad_edu.expression import (
    UsageError,
    build_expression,
    names_in,
    parse_assignments,
    parse_expression,
)

POINT = {"x": 1.5, "y": -2.0, "z": -0.0}


def python_value(text: str, point: dict[str, float]) -> float:
    """What Python computes for `text` (the oracle: test-generated text only; the command
    itself never evaluates)."""
    result = eval(text, {"__builtins__": {}}, dict(point))
    assert not isinstance(result, complex)
    return float(result)


def our_value(text: str, point: dict[str, float]) -> float:
    """What the `graph` command computes for `text`."""
    tree = parse_expression(text)
    result = build_expression(tree, {name: Value(point[name], label=name)
                                     for name in names_in(tree)})
    return float(result.data) if isinstance(result, Value) else float(result)


def same_float(a: float, b: float) -> bool:
    """Equal as IEEE numbers: nan equals nan, and 0.0 differs from -0.0."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


@pytest.mark.parametrize("text", [
    # precedence and associativity (guards: ast gives Python's, a hand-written parser would not)
    "-x**2", "x*2**-1", "x**2**3", "x**-y**2", "x-1-2", "x/2/4", "x - y - x / y / 3",
    "--x", "-+-x", "+-+-x", "- - - x", "x*-y", "2 * x ** 2 / y - -x",
    # numbers as Python writes them
    "x*1e-3", "x*.5", "x*1_000", "x*0x10", "x*0o17 + 0b101", "x*1E3", "x * 5.",
    # the sign of zero and exact integers: these were computed in float64 (-0 was -0.0)
    "x*-0", "x*(0*-1)", "-0 + z", "z + (-0) * +-0.5", "-0 * x ** 3",
    "x + (9007199254740993 - 9007199254740992)", "x * (2**53 + 1 - 2**53)",
    "x * (10**400 - 10**400 + 1)", "x + 9007199254740993 * 3 - 27021597764222979",
    "x * (-3) ** 2", "x * 7 / 2", "x * 2 ** -2",
])
def test_expressions_mean_what_python_says(text: str) -> None:
    assert same_float(our_value(text, POINT), python_value(text, POINT)), text


def test_where_python_raises_the_ieee_result_is_kept() -> None:
    """1/0 and 9**9**9 raise or take forever in Python; the command gives inf at once."""
    assert our_value("x * (1/0)", POINT) == math.inf
    assert our_value("x * 9**9**9", POINT) == math.inf
    assert our_value("x * (-9)**9**9", POINT) == -math.inf  # (an odd power)
    assert math.isnan(our_value("x * (-8) ** (1/3)", POINT))  # Python: a complex number
    assert our_value("x * 0 ** -1", POINT) == math.inf
    assert our_value("x * (1 ** 10**300)", POINT) == 1.5  # exact, and fast


@st.composite
def python_expressions(draw: st.DrawFn, depth: int = 3, in_exponent: bool = False) -> str:
    """Text over + - * / **, unary minus and plus, names, ints and floats, parenthesised at
    random (so precedence decides the rest). An exponent holds no integer but a bare one, so
    that Python's exact integers stay small."""
    numbers = ["0.5", "1.5", "2.0", "0.0", "3.0"] if in_exponent else [
        "0", "1", "2", "3", "9", "9007199254740993", "0.5", "1e-3", ".5", "1_0", "0x1f", "0.0"]
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(["x", "y", "z", *numbers]))
    kind = draw(st.sampled_from(["unary", "+", "-", "*", "/", "**"]))
    if kind == "unary":
        return draw(st.sampled_from(["-", "+", "- "])) + draw(
            python_expressions(depth - 1, in_exponent))
    left = draw(python_expressions(depth - 1, in_exponent))
    if kind == "**" and draw(st.booleans()):
        right = draw(st.sampled_from(["2", "3", "-1", "-2"]))
    else:
        right = draw(python_expressions(depth - 1, in_exponent or kind == "**"))
    wrap = draw(st.lists(st.booleans(), min_size=2, max_size=2))
    left, right = (f"({s})" if w else s for s, w in zip((left, right), wrap, strict=True))
    return f"{left} {kind} {right}"


@given(python_expressions(), st.sampled_from([1.5, -2.0, 0.0, -0.0, 3.0, 0.25]),
       st.sampled_from([2.0, -1.0, 0.5]), st.sampled_from([-0.0, 7.0, 1e-3]))
@example("x * -0", 1.5, 2.0, 7.0)
@example("--9007199254740993 ** 2", 1.5, 2.0, 7.0)
def test_random_expressions_agree_with_python(text: str, x: float, y: float, z: float) -> None:
    point = {"x": x, "y": y, "z": z}
    try:
        expected = python_value(text, point)
    except (ZeroDivisionError, OverflowError, AssertionError):  # (AssertionError: complex)
        assume(False)
        return
    assert same_float(our_value(text, point), expected), text


@pytest.mark.parametrize("text, where", [
    ("  x.real", "attribute access (column 3)"),  # (the leading spaces were not counted)
    ("ｘ + y.real", "attribute access (column 5)"),  # (ast counts UTF-8 bytes: was column 7)
    ("x + (y\n+ z.real)", "attribute access (line 2, column 3)"),
    ("x + é)", "unmatched ')' (column 6)"),  # (syntax errors said no place)
    ("x * * y", "(column 5)"),
    (" (x + 1) ^ 2", "^ (column 10) is not a power here"),  # (was "the operator BitXor")
    ("x*2 # + w", "'#' (column 5) starts a comment"),  # (was x*2, the rest dropped unseen)
    ("x*w\n# c", "'#' (line 2, column 1) starts a comment"),
])
def test_refusals_say_where(text: str, where: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_expression(text)
    assert where in str(caught.value), str(caught.value)


@pytest.mark.parametrize("text, hint", [
    ("2(x)", "to multiply, write 2*(...)"),  # (was "calling Constant syntax")
    ("(x + 1)(y)", "to multiply, write (x + 1)*(...)"),
    ("x(y)", "unknown function 'x'; known functions: "),
    ("x(y)", "to multiply, write x*(...)"),
])
def test_a_product_without_its_star_is_named(text: str, hint: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_expression(text)
    assert hint in str(caught.value)


@pytest.mark.parametrize("item, value", [
    ("x=0x10", 16.0), ("x=-0x10", -16.0), ("x=0b101", 5.0), ("x=0o17", 15.0),
    ("x=1_000", 1000.0), ("x=1e-3", 1e-3), ("x=.5", 0.5), ("x= 3 ", 3.0),
    ("x=-0.0", -0.0), ("x=inf", math.inf), ("x=-Infinity", -math.inf), ("x=nan", math.nan),
    ("x=1e-320", 1e-320), ("x=0e5", 0.0),
])
def test_set_reads_numbers_as_python_does(item: str, value: float) -> None:
    assert same_float(parse_assignments([item])["x"], value)


@pytest.mark.parametrize("item, message", [
    ("x=1e400", "--set x=1e400: too large for a float64"),  # (was read as inf)
    ("x=-1e400", "write x=inf or x=-inf"),
    ("x=0x" + "f" * 300, "too large for a float64"),
    ("x=1e-400", "--set x=1e-400: too small for a float64"),  # (was read as 0)
    ("x=2*3", "the value of 'x' must be a number; got '2*3'"),
    ("x=", "must be a number"),
])
def test_set_refuses_what_is_not_a_float64(item: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_assignments([item])
    assert message in str(caught.value)


def test_set_names_are_normalised_as_python_normalises_the_expression() -> None:
    """Python reads the expression's ｘ as x (NFKC); --set ｘ=3 was kept as ｘ, and the
    command said x was unset and ｘ not in the expression."""
    assert names_in(parse_expression("ｘ * 2")) == ["x"]
    assert parse_assignments(["ｘ=3"]) == {"x": 3.0}
    with pytest.raises(UsageError, match="function name"):
        parse_assignments(["ｔａｎｈ=1"])
    with pytest.raises(UsageError, match="NAME=NUMBER"):
        parse_assignments(["＿x=1"])  # (fullwidth low line: _x)


def test_an_expression_is_computed_in_pythons_order() -> None:
    """The right operand was computed first: `tinygrad-edu graph "x1*w1 + x2*w2"` numbered
    x2*w2 before x1*w1, and its stepper visited them in another order than Python's graph."""
    names = ["x1", "w1", "x2", "w2", "b"]
    variables = {name: Value(float(k + 1), label=name) for k, name in enumerate(names)}
    ours = build_expression(parse_expression("tanh(x1*w1 + x2*w2 + b)"), variables)
    x1, w1, x2, w2, b = variables.values()
    python = (x1 * w1 + x2 * w2 + b).tanh()

    def order(root: Value) -> list[str]:
        nodes = sorted(topological_order(root), key=lambda node: node._number)
        return [node.label or ", ".join(p.label for p in node.parents) for node in nodes]

    assert order(ours) == order(python)
