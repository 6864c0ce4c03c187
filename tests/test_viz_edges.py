"""Edge cases of the graph pictures: labels that DOT, HTML or SVG would misread, special
numbers, arguments given in a form the code did not expect, data changed after use, and the
step texts. Each test here failed before the fix it pins."""

from __future__ import annotations

import random
import re
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tinygrad_edu import Value, stack
from tinygrad_edu.engine import Primitive
from tinygrad_edu.micrograd import nn as micrograd_nn
from tinygrad_edu.micrograd.engine import Value as MicrogradValue
from tinygrad_edu.viz import (
    ALARM,
    ROLE_COLORS,
    backprop_steps,
    draw_graph,
    save_graph,
    step_through,
    write_backprop_html,
)
from tinygrad_edu.viz.dot import GraphPicture
from tinygrad_edu.viz.graph import format_number, summarize

SVG = "{http://www.w3.org/2000/svg}"
STALE_NOTE = "changed after use (!)"  # (viz.dot.STALE_NOTE)


def node_texts(picture: GraphPicture) -> dict[str, list[str]]:
    """The lines of text dot draws in each node of `picture`, by node id (SVG)."""
    root = ET.fromstring(picture.pipe(format="svg", encoding="utf-8"))
    texts: dict[str, list[str]] = {}
    for g in root.iter(f"{SVG}g"):
        title = g.find(f"{SVG}title")
        if g.get("class") == "node" and title is not None and title.text is not None:
            texts[title.text] = [(t.text or "").replace("\xa0", " ") for t in g.iter(f"{SVG}text")]
    return texts


def used_often(label: str) -> Value:
    """x + x + x + x + x + x: the value x drawn once, and again as a copy (SHARED_USES)."""
    x = Value(2.0, label=label)
    return x + x + x + x + x + x


# ---- labels: what the learner typed is what the picture shows -------------------------------

# dot reads backslash escapes in HTML labels too (\N: the node's id, \G: the graph's name,
# \\: one backslash); a plain label ending in a backslash was a DOT syntax error, and one
# written <x> was taken for an HTML label
@pytest.mark.parametrize("label", ["a\\\\b", "\\N", "\\G", "x\\", "<x>", "<<x>>", 'q"\\'])
def test_labels_with_backslashes_and_brackets_show_as_written(label: str) -> None:
    texts = node_texts(draw_graph(used_often(label)))
    assert texts["n0"][0] == label  # the value's box
    copies = [lines for node, lines in texts.items() if "_use" in node]
    assert copies and all(lines == [label] for lines in copies)  # its copies


def test_a_newline_in_a_label_is_a_line_break_and_a_tab_a_space() -> None:
    texts = node_texts(draw_graph(Value(1.0, label="first\nsecond\tthird").tanh()))
    assert texts["n0"][:2] == ["first", "second third"]


@pytest.mark.parametrize("char, shown", [("\x00", "\\x00"), ("\x1b", "\\x1b"),
                                         ("\ud800", "\\ud800"), ("\ufffe", "\\ufffe")])
def test_characters_svg_cannot_hold_are_written_out(char: str, shown: str,
                                                    tmp_path: Path) -> None:
    # (dot failed on them, or the SVG was not XML, or encoding to UTF-8 raised)
    y = Value(1.0, label=f"a{char}b").tanh()
    assert node_texts(draw_graph(y))["n0"][0] == f"a{shown}b"
    page = write_backprop_html(y, tmp_path / "steps.html").read_text(encoding="utf-8")
    assert f"a{shown}b is a leaf" in page


def test_an_op_named_like_html_or_with_backslashes_shows_its_name() -> None:
    for name in ("<f>", "f\\N"):
        op = Primitive(name, lambda x: x, lambda g, out, x: (g,))
        assert node_texts(draw_graph(op(Value(1.0))))["n1_op"] == [name]


def test_module_names_in_collapsed_boxes_show_as_written() -> None:
    x = Value(1.0)
    y = x
    for k in range(12):
        y = y * Value(0.5, label=f"block\\N{k // 6}.w{k}")
    texts = node_texts(draw_graph(y, max_nodes=6, fit_screen=False))
    titles = sorted(lines[0] for node, lines in texts.items() if node.startswith("g"))
    assert titles == ["block\\N0", "block\\N1"]


# ---- numbers ----------------------------------------------------------------------------------


def test_negative_zero_keeps_its_sign() -> None:
    assert format_number(-0.0) == "-0.0000" and format_number(0.0) == "0.0000"
    a = Value(-0.0, label="a")
    source = draw_graph(1.0 / a).source  # 1/-0.0 is -inf: the box says why
    assert "data -0.0000" in source and "data -inf" in source


def test_a_number_rounding_up_to_1e5_is_written_as_the_others_that_size() -> None:
    assert format_number(99999.99999) == format_number(100000.0) == "1.000e+05"


def test_large_tensors_count_minus_and_plus_infinity_apart() -> None:
    grad = np.array([-np.inf] * 3 + [np.inf] * 7 + [np.nan] + [1.0])
    assert summarize(grad) == "mean 1.0000, min 1.0000, max 1.0000, 1 nan, 3 -inf, 7 inf"


def test_the_mean_of_huge_finite_values_is_finite_and_silent() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (numpy's overflow warning, and "mean inf", before)
        text = summarize(np.full(10, 1.7e308))
        assert text == "mean 1.700e+308, min 1.700e+308, max 1.700e+308"
        assert summarize(np.array([1.7e308, -1.7e308] * 5)).startswith("mean 0.0000")


# ---- arguments --------------------------------------------------------------------------------


def test_inputs_may_be_one_label_or_one_value() -> None:
    x1, w1 = Value(2.0, label="x1"), Value(-3.0, label="w1")
    y = x1 * w1
    for inputs in ("x1", x1, ["x1"], [x1]):  # "x1" was the labels "x" and "1": no input
        source = draw_graph(y, inputs=inputs).source
        (x_box,) = [line for line in source.splitlines() if "<B>x1</B>" in line]
        assert ROLE_COLORS["input"] in x_box, inputs
    t = Value([1.0, 2.0], label="t")
    assert ROLE_COLORS["input"] in draw_graph(t.sum(), inputs=t).source  # (a ValueError)


def test_arguments_of_the_wrong_kind_are_refused_naming_them() -> None:
    y = Value(2.0, label="x") * 3.0
    with pytest.raises(TypeError, match=r"inputs must be Values or their labels.*1\.5"):
        draw_graph(y, inputs=[1.5])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"inputs must be .*7"):
        draw_graph(y, inputs=7)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"max_nodes must be a whole number.*'10'"):
        draw_graph(y, max_nodes="10")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"max_nodes must be a whole number.*2\.5"):
        draw_graph(y, max_nodes=2.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"params must be a model .*; it held 1\.0 \(type float\)"):
        draw_graph(y, params=[1.0])
    with pytest.raises(TypeError, match=r"params must be a model"):
        draw_graph(y, params=[("w", y, 3)])


def test_inputs_not_in_the_graph_are_refused_naming_them() -> None:
    """(A typo, "x1 ", or a Value from another graph drew nothing blue, silently.)"""
    x1, w = Value(2.0, label="x1"), Value(3.0, label="w")
    y = x1 * w
    y.backward()
    cases: list[tuple[list[Value | str] | str, str]] = [
        (["x1 "], r"'x1 '"), ([Value(9.0)], r"Value\(data=9\.0, grad=0\.0\)"),
        (["x1", "b", w], r"'b'"), ("w1", r"'w1'")]
    for inputs, named in cases:
        with pytest.raises(ValueError, match=rf"^draw_graph: inputs {named} not in the graph "
                           r"\(its labels: 'x1', 'w'\)$"):
            draw_graph(y, inputs=inputs)
    with pytest.raises(ValueError, match=r"inputs 'w1' not in the graph"):
        step_through(y, inputs=["w1"])  # (before any picture is rendered)
    y = x1
    for k in range(30):
        y = y * Value(1.0, label=f"p{k}")
    with pytest.raises(ValueError, match=r"inputs 'q' not in the graph \(its labels: 'x1', "
                       r"'p0', .*'p8' and 21 more\)$"):
        draw_graph(y, inputs="q")
    with pytest.raises(ValueError, match=r"\(no value in it has a label\)"):
        draw_graph(Value(1.0) * Value(2.0), inputs="q")


def test_params_may_be_one_value() -> None:
    w, x = Value(1.5), Value(2.0)
    source = draw_graph(w * x, params=w).source
    assert source.count(ROLE_COLORS["parameter"]) == 1
    assert source.count(ROLE_COLORS["input"]) == 1


def test_params_may_be_a_micrograd_model() -> None:
    """(micrograd's MLP has parameters() but no named_parameters(): 'MLP' object is not
    iterable.)"""
    random.seed(0)
    model = micrograd_nn.MLP(2, [2, 1])
    loss = model([MicrogradValue(0.1), MicrogradValue(0.2)]).relu()
    loss.backward()
    expected = draw_graph(loss, params=model.parameters()).source
    source = draw_graph(loss, params=model).source
    assert source == expected
    assert source.count(ROLE_COLORS["parameter"]) == len(model.parameters()) == 9
    assert source.count(ROLE_COLORS["input"]) == 2  # the two numbers fed to the model


@pytest.mark.parametrize("params", [5, "w", 2.5, object()])
def test_params_of_another_kind_are_refused_saying_what_is_accepted(params: object) -> None:
    y = Value(2.0, label="w") * 3.0
    with pytest.raises(TypeError, match=r"params must be a model \(with named_parameters\(\) "
                       r"or parameters\(\)\), a name -> Value mapping, \(name, Value\) pairs "
                       r"or Values; got .*\(type " + type(params).__name__):
        draw_graph(y, params=params)


def test_saving_a_value_instead_of_its_picture_says_what_to_do(tmp_path: Path) -> None:
    y = Value(2.0).tanh()
    with pytest.raises(TypeError, match=r"got Value \(draw it first: save_graph\(draw_graph"):
        save_graph(y, tmp_path / "y.svg")
    assert not list(tmp_path.iterdir())


# ---- what the picture shows -------------------------------------------------------------------


def test_the_copy_of_an_unlabelled_value_shows_the_name_its_box_shows() -> None:
    # (it showed "value 2.0000", which another unlabelled 2.0 shows too)
    texts = node_texts(draw_graph(used_often("")))
    assert texts["n0"][0] == "n0"
    copies = [lines for node, lines in texts.items() if "_use" in node]
    assert copies and all(lines == ["n0"] for lines in copies)


def test_data_changed_after_use_is_flagged() -> None:
    w, x = Value(2.0, label="w"), Value(3.0, label="x")
    y = w * x
    y.backward()
    assert STALE_NOTE not in draw_graph(y).source
    w.data -= 0.1 * w.grad  # an optimizer step: y still shows 6.0, computed from w = 2.0
    texts = node_texts(draw_graph(y))
    assert [line.strip() for line in texts["n0"][1:3]] == ["data 1.7000", STALE_NOTE]
    assert all(STALE_NOTE not in lines for node, lines in texts.items() if node != "n0")
    box = next(line for line in draw_graph(y).source.splitlines() if "<B>w</B>" in line)
    assert ALARM in box
    v = Value([1.0, 2.0], label="v")
    z = (v * v).sum()
    np.asarray(v.data)[0] = 7.0  # in place
    assert STALE_NOTE in node_texts(draw_graph(z))["n0"]


def subtract_in_place(b: Value) -> None:
    b.data -= 0.1 * b.grad


def test_a_step_is_flagged_on_parameters_no_rule_reads() -> None:
    """An optimizer step changes every parameter; the picture flagged only those a rule reads
    (here the second layer's W), not the first layer's W in ``X @ W`` with a numpy batch nor
    the biases (only added), whose results drawn beside them are as stale; a scalar bias was
    flagged, a tensor one was not. A graph recorded after the step flags nothing."""
    from tinygrad_edu.nn import MLP, mse_loss
    from tinygrad_edu.optim import SGD

    X, y = np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([[1.0], [0.0]])
    model = MLP(2, [3, 1], seed=0)
    loss = mse_loss(model(X), y)
    loss.backward()
    assert draw_graph(loss).source.count(STALE_NOTE) == 0
    SGD(model.parameters(), lr=0.1).step()
    assert draw_graph(loss).source.count(STALE_NOTE) == len(model.parameters()) == 4
    assert STALE_NOTE not in draw_graph(mse_loss(model(X), y)).source
    updates: dict[str, Callable[[Value], None]] = {
        "rebound": lambda b: setattr(b, "data", b.data - 0.1 * b.grad),
        "-=": subtract_in_place,
        # edited in place (its array is handed out as it is, unwatched: the picture showed
        # b = [9, 2] beside b + 1 = [2, 3], unflagged)
        "an element set": lambda b: np.asarray(b.data).__setitem__(0, 9.0),
        "every element set": lambda b: np.asarray(b.data).__setitem__(slice(None), 7.0),
        "np.copyto": lambda b: np.copyto(np.asarray(b.data), 3.0)}
    for update, change in updates.items():
        b = Value(np.array([1.0, 2.0]), label="b")
        total = (b + 1.0).sum()
        total.backward()
        change(b)
        assert STALE_NOTE in node_texts(draw_graph(total))["n0"], update
    W = model.layers[0].W
    loss = mse_loss(model(X), y)
    np.asarray(W.data)[0, 0] += 1.0  # (the first layer's W in X @ W, edited in place)
    assert draw_graph(loss).source.count(STALE_NOTE) == 1


# ---- step texts -------------------------------------------------------------------------------


def test_step_texts_write_each_op_as_one_writes_it() -> None:
    x = Value([1.0, 2.0, 3.0], label="x")
    cases = {"x**2": x ** 2, "x[0:2]": x[0:2], "stack(axis=0)(x, x)": stack([x, x]),
             "tanh(x)": x.tanh(), "x * x": x * x}
    for expected, out in cases.items():
        out.label = "y"
        text = backprop_steps(out, np.ones(out.shape))[1].text
        assert text.startswith(f"y = {expected}: "), text  # (was **2(x), [0:2](x), x stack x)
    assert re.match(r"n\d+ = -\(x\): ", backprop_steps(-x, np.ones(3))[1].text)


def test_step_texts_call_parameters_by_the_names_the_pictures_give() -> None:
    """With `params`, the pictures named a model's parameters (layers.0.W), but the captions
    called every layer's weights by its label, W, and every bias b."""
    from tinygrad_edu.nn import MLP
    from tinygrad_edu.viz.steps import BackpropStepper

    model = MLP(2, [2, 1], seed=0)
    texts = [step.text for step in BackpropStepper(model([1.0, 2.0]), params=model).steps[1:]]
    leaves = sorted(text.split(" is a leaf")[0] for text in texts if " is a leaf" in text)
    assert leaves == sorted(name for name, _ in model.named_parameters())
    assert any(" + layers.1.b:" in text for text in texts)
    assert texts == [step.text for step in backprop_steps(model([1.0, 2.0]), params=model)[1:]]


def test_a_stepper_need_not_fold_to_fit_a_screen() -> None:
    """The lecture's XOR network stepped with its loss: 9 of its 16 values, the first
    layer's weights among them, were folded away in every frame, with no way to see them."""
    from tinygrad_edu.datasets import logic_gate
    from tinygrad_edu.nn import MLP, mse_loss
    from tinygrad_edu.viz.steps import BackpropStepper

    X, y = logic_gate("xor")
    model = MLP(2, [4, 1], activation="tanh", seed=0)
    loss = mse_loss(model(X), y.reshape(-1, 1).astype(float))
    assert "collapsed: " in BackpropStepper(loss).html()
    assert "collapsed: " not in BackpropStepper(loss, fit_screen=False).html()
    assert "collapsed: " in BackpropStepper(loss, fit_screen=False, max_nodes=10).html()


@pytest.mark.parametrize("switch", ["show_data", "show_grad", "legend", "fit_screen"])
def test_a_switch_of_the_pictures_must_be_a_bool(switch: str) -> None:
    """show_data="no" was taken for its truth: the data shown."""
    from tinygrad_edu.viz.steps import BackpropStepper

    y = Value(2.0, label="x") * 3.0
    message = rf"^(draw_graph|backprop_html): {switch} must be True or False; got 'no'"
    bad: dict[str, Any] = {switch: "no"}
    with pytest.raises(TypeError, match=message):
        draw_graph(y, **bad)
    if switch in ("show_data", "fit_screen"):
        with pytest.raises(TypeError, match=message):
            BackpropStepper(y, **bad)
    numpy_bool: dict[str, Any] = {switch: np.bool_(False)}
    draw_graph(y, **numpy_bool)


def test_bidirectional_controls_are_written_out_and_emoji_kept() -> None:
    # U+202E (right-to-left override) in a label would turn the rest of a caption around
    from tinygrad_edu.viz.dot import printable

    for control in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c":
        assert printable(f"x{control}y") == f"x\\u{ord(control):04x}y"
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # (joined by U+200D: kept)
    assert printable(family) == family
    assert "\\u202e" in draw_graph(Value(1.0, label="evil\u202eroot")).source
