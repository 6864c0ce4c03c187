"""Edges of backpropagation step by step (`backprop_steps`, `step_through`,
`write_backprop_html`): the steps' numbers against what `backward()` stores, a value used
more than once, roots and graphs the stepper cannot step through, output paths and options,
and labels that could break the page in a browser (the `visit` fixture is in conftest.py)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import Value, no_grad
from tinygrad_edu.viz import backprop_steps, step_through, write_backprop_html
from tinygrad_edu.viz.graph import summarize

Visitor = Callable[..., Any]  # conftest's `visit`


def same_as_printed(step_grad: Any, stored: Any) -> bool:
    """Equal bit for bit where it shows: the same numbers, the same signs of zeros, the
    same text (the sign of a nan is never shown)."""
    a, b = np.asarray(step_grad, dtype=np.float64), np.asarray(stored, dtype=np.float64)
    signs = np.isnan(a) | (np.signbit(a) == np.signbit(b))
    return (np.array_equal(a, b, equal_nan=True) and bool(signs.all())
            and summarize(step_grad) == summarize(stored))


# ---- the steps' numbers are the ones backward() stores ------------------------------------------


def test_a_gradient_of_minus_zero_is_shown_as_grad_holds_it() -> None:
    # (a scalar's .grad held 0.0 after backward(), 0.0 + -0.0, where the steps said -0.0;
    # it keeps the sign now, as a tensor's and PyTorch's)
    x = Value(-0.0, label="x")
    y = x * x
    steps = backprop_steps(y)
    y.backward()
    assert summarize(x.grad) == "-0.0000"
    assert "its gradient -0.0000 is final" in steps[-1].text, steps[-1].text
    assert same_as_printed(steps[-1].grads[x], x.grad)


OPS: dict[str, Callable[[Value, Value], Value]] = {
    "add": lambda a, b: a + b, "mul": lambda a, b: a * b, "sub": lambda a, b: a - b,
    "div": lambda a, b: a / b, "tanh": lambda a, b: a.tanh(), "relu": lambda a, b: a.relu(),
    "neg": lambda a, b: -a, "square": lambda a, b: a ** 2, "abs": lambda a, b: a.abs(),
}
NUMBERS = st.sampled_from([-0.0, 0.0, 1.5, -2.0, 1e-320, 1e300, math.inf, math.nan])


@given(data=st.data(), tensors=st.booleans())
def test_every_step_has_the_gradient_backward_stores_bit_for_bit(data: st.DataObject,
                                                                  tensors: bool) -> None:
    def leaf(i: int) -> Value:
        if tensors:
            return Value(data.draw(st.lists(NUMBERS, min_size=3, max_size=3)), label=f"x{i}")
        return Value(data.draw(NUMBERS), label=f"x{i}")

    pool = [leaf(i) for i in range(3)]
    for _ in range(data.draw(st.integers(1, 7))):
        op = OPS[data.draw(st.sampled_from(sorted(OPS)))]
        pool.append(op(data.draw(st.sampled_from(pool)), data.draw(st.sampled_from(pool))))
    root = pool[-1].sum() if tensors else pool[-1]
    steps = backprop_steps(root)
    root.backward()
    for node, grad in steps[-1].grads.items():
        assert same_as_printed(grad, node.grad), (node, grad, node.grad)
    for step in steps[1:]:  # each step's own gradient: its node's, as stored
        assert same_as_printed(step.grad, step.node.grad if step.node is not None else None)


# ---- a value used more than once: its gradient is a sum ------------------------------------------


def test_a_value_used_twice_says_its_gradient_is_the_sum_of_both_uses() -> None:
    a = Value(2.0, label="a")
    b = a * 3.0
    b.label = "b"
    out = b * b + a  # b used twice by one op, a by two ops
    out.label = "out"
    steps = {step.node.label: step for step in backprop_steps(out)[1:] if step.node is not None}
    assert ("b = a * n1: gradient 12.0000 arrives, summed over 2 uses: 6.0000 from n3 (as a) "
            "+ 6.0000 from n3 (as b). Local rule") in steps["b"].text, steps["b"].text
    assert steps["a"].text == ("a is a leaf: its gradient 37.0000 is final (added to .grad), "
                               "summed over 2 uses: 1.0000 from out (as b) + 36.0000 from b "
                               "(as a)")
    assert "summed" not in steps["out"].text  # one use (the seed): nothing to add up
    out.backward()
    assert (a.grad, b.grad) == (37.0, 12.0)


def test_a_value_used_many_times_lists_the_first_uses_and_counts_the_rest() -> None:
    x = Value([1.0, 2.0], label="x")
    y = x.tanh()
    total = y
    for _ in range(9):
        total = total + y  # y used 10 times
    steps = backprop_steps(total.sum())
    (y_step,) = [step for step in steps if step.node is y]
    assert "gradient [10.0000, 10.0000] arrives, summed over 10 uses: [1.0000, 1.0000] from " \
        in y_step.text
    assert y_step.text.count("[1.0000, 1.0000] from ") == 6 and "+ 4 more. Local" in y_step.text


# ---- roots and graphs that cannot be stepped through ------------------------------------------


def test_a_root_that_needs_no_gradient_is_refused_by_the_stepper_in_its_own_words() -> None:
    with no_grad():
        y = Value(2.0) * 3.0
    for call in (lambda: backprop_steps(y), lambda: step_through(y)):
        with pytest.raises(ValueError, match=r"^backprop_steps: the root does not require "
                                             r"grad"):
            call()


def test_data_changed_after_use_is_refused_naming_the_stepper_and_the_value(
        tmp_path: Path) -> None:
    w, x = Value(2.0, label="w"), Value(3.0, label="x")
    y = w * x
    y.backward()
    w.data -= 0.1 * w.grad  # an optimizer step: y was computed from the old w
    with pytest.raises(RuntimeError, match=r"^backprop_steps: the data of w \(a scalar\) "
                                           r"changed after the graph was recorded"):
        write_backprop_html(y, tmp_path / "steps.html")
    assert not list(tmp_path.iterdir())


def test_a_wrong_gradient_is_refused_naming_the_stepper_and_the_shapes() -> None:
    y = Value([1.0, 2.0]) * 2.0
    with pytest.raises(ValueError, match=r"^backprop_steps: gradient has shape \(3,\), but the "
                                         r"root has shape \(2,\)"):
        backprop_steps(y, np.ones(3))


def test_the_gradients_backward_stored_are_left_alone(tmp_path: Path) -> None:
    # a regression test: the stepper runs its own pass, .grad (numbers or Values) is untouched
    x = Value(3.0, label="x")
    y = x * x * x
    y.backward(create_graph=True)
    first = x.grad
    write_backprop_html(x.grad, tmp_path / "second.html")  # d²y/dx², step by step
    write_backprop_html(y, tmp_path / "first.html")
    assert x.grad is first and first.data == 27.0 and first.grad == 0.0
    w = Value([1.0, -2.0], label="w")
    loss = (w * w).sum()
    loss.backward()
    stored = w.grad
    step_through(loss)
    assert w.grad is stored and stored.tolist() == [2.0, -4.0]


# ---- where the page goes, and the options --------------------------------------------------------


def test_a_folder_as_the_path_is_refused_before_anything_is_rendered(tmp_path: Path) -> None:
    y = Value(2.0, label="x").tanh()
    for path in (tmp_path, str(tmp_path), f"{tmp_path}/"):
        with pytest.raises(ValueError, match=r"is a folder; give the name of a file in it, e\.g\."
                                             r" '.*backprop\.html'"):
            write_backprop_html(y, path)
    assert not list(tmp_path.iterdir())


def test_a_missing_folder_is_named(tmp_path: Path) -> None:
    y = Value(2.0, label="x").tanh()
    target = tmp_path / "missing" / "steps.html"
    with pytest.raises(FileNotFoundError, match=r"^write_backprop_html: cannot write '.*steps"
                                                r"\.html': the folder '.*missing' does not "
                                                r"exist \(create it first\)"):
        write_backprop_html(y, target)
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match=r"the folder '.*file' is not a folder"):
        write_backprop_html(y, tmp_path / "file" / "steps.html")
    assert write_backprop_html(y, str(tmp_path / "steps.html")) == tmp_path / "steps.html"


@pytest.mark.parametrize("path", [None, 3, b"steps.html", ""])
def test_a_path_that_is_no_file_name_is_refused_saying_what_was_given(path: Any) -> None:
    with pytest.raises((TypeError, ValueError), match=r"^write_backprop_html: the path "):
        write_backprop_html(Value(2.0).tanh(), path)


@pytest.mark.parametrize("options, error, message", [
    ({"title": 3}, TypeError, r"title must be a str; got 3 \(type int\)"),
    ({"max_steps": "5"}, TypeError, r"max_steps must be a whole number; got '5'"),
    ({"max_steps": 2.5}, TypeError, r"max_steps must be a whole number; got 2\.5"),
    ({"max_steps": True}, TypeError, r"max_steps must be a whole number; got True"),
    ({"max_steps": 0}, ValueError, r"max_steps must be at least 1; got 0"),
])
def test_options_of_the_wrong_kind_are_refused_naming_them(
        options: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        step_through(Value(2.0).tanh(), **options)


# ---- in a browser: labels that could break the page ---------------------------------------------

NASTY = ["</script><script>alert(1)</script>", "<!-- x", "<img src=x onerror=alert(1)>",
         "'\"", "a\\b\\", "${id}", "$title", "x\u2028y\u2029z", "\U0001f9e0e\u0301", "]]>"]


def test_labels_that_look_like_markup_or_script_show_as_typed(visit: Visitor,
                                                              tmp_path: Path) -> None:
    # a regression test: every label is text, nothing it holds runs or breaks the script
    leaves = [Value(float(k + 1), label=label) for k, label in enumerate(NASTY)]
    root = leaves[0]
    for leaf in leaves[1:]:
        root = root * leaf
    root.label = NASTY[0]
    path = write_backprop_html(root, tmp_path / "nasty.html", title=NASTY[0])
    opened = visit(path.as_uri())
    page = opened.page
    dialogs: list[str] = []

    def dismiss(dialog: Any) -> None:  # (an alert() that ran)
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    assert page.title() == NASTY[0] and page.locator("h1").inner_text() == NASTY[0]
    assert page.locator("img").count() == 0
    last = 2 * len(leaves) - 1
    page.get_by_role("button", name="next step").click()
    page.keyboard.press("End")
    page.get_by_role("button", name="next step").click(force=True)  # past the end: stays
    assert page.locator(".tg-counter").inner_text() == f"step {last} / {last}"
    captions = page.locator(".frame .text").all_text_contents()
    assert len(captions) == last + 1
    for label in NASTY:
        assert any(f"{label} is a leaf" in caption for caption in captions), label
    assert opened.problems == [] and dialogs == []


def test_a_very_long_label_wraps_inside_the_window(visit: Visitor, tmp_path: Path) -> None:
    # (a 2,000-character label made the caption 10 times as wide as the window)
    x = Value(2.0, label="L" * 2000)
    path = write_backprop_html((x * x).tanh(), tmp_path / "long.html")
    opened = visit(path.as_uri(), width=800)
    page = opened.page
    page.keyboard.press("End")
    caption = page.locator(".frame:not([hidden]) .text")
    assert "L" * 2000 in caption.inner_text()
    wide, room = caption.evaluate("p => [p.scrollWidth, p.clientWidth]")
    assert wide <= room <= 800, (wide, room)
    assert opened.problems == []


def test_a_leaf_alone_steps_once_and_stops_at_both_ends(visit: Visitor, tmp_path: Path) -> None:
    # a regression test: the smallest graph, two frames
    x = Value(2.0, label="x")
    steps = backprop_steps(x)
    assert [s.text for s in steps] == ["forward pass: every gradient is 0",
                                       "x is a leaf: its gradient 1.0000 is final (added to "
                                       ".grad)"]
    opened = visit(write_backprop_html(x, tmp_path / "leaf.html").as_uri())
    page = opened.page
    counter = page.locator(".tg-counter")
    page.keyboard.press("ArrowLeft")
    page.get_by_role("button", name="previous step").click(force=True)
    assert counter.inner_text() == "step 0 / 1"
    for _ in range(3):
        page.get_by_role("button", name="next step").click(force=True)
        page.keyboard.press("ArrowRight")
    assert counter.inner_text() == "step 1 / 1"
    assert page.locator(".frame:not([hidden])").count() == 1
    assert opened.problems == []
