"""Tests for tinygrad_edu.viz: DOT structure, rendering with `dot`, backprop step by step."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import graphviz
import numpy as np
import pytest

from tinygrad_edu import Value, concatenate, engine, ops, stack, where
from tinygrad_edu.engine import Primitive
from tinygrad_edu.losses import binary_cross_entropy
from tinygrad_edu.testing.op_info import OP_INFO
from tinygrad_edu.viz import (
    ALARM,
    DIM_TEXT,
    HIGHLIGHT,
    ROLE_COLORS,
    GraphvizNotFoundError,
    backprop_html,
    backprop_steps,
    draw_graph,
    local_rule,
    save_graph,
    step_through,
    write_backprop_html,
)
from tinygrad_edu.viz.dot import COMMUTATIVE
from tinygrad_edu.viz.graph import SCREEN

SVG = "{http://www.w3.org/2000/svg}"


def neuron(backward: bool = True) -> tuple[Value, dict[str, Value]]:
    """micrograd's neuron: tanh(x1*w1 + x2*w2 + b)."""
    v = {
        "x1": Value(2.0, label="x1"),
        "x2": Value(0.0, label="x2"),
        "w1": Value(-3.0, label="w1"),
        "w2": Value(1.0, label="w2"),
        "b": Value(6.8813735870195432, label="b"),
    }
    n = v["x1"] * v["w1"] + v["x2"] * v["w2"] + v["b"]
    n.label = "n"
    out = n.tanh()
    out.label = "out"
    if backward:
        out.backward()
    return out, v


def value_nodes(source: str) -> dict[str, str]:
    """DOT node statements of value boxes, by node id."""
    return dict(re.findall(r"^\t(n\d+) (\[.*\])$", source, flags=re.M))


def op_nodes(source: str) -> dict[str, str]:
    return dict(re.findall(r"^\t(n\d+_op) (\[.*\])$", source, flags=re.M))


def edges(source: str) -> list[tuple[str, str]]:
    return re.findall(r"^\t(\w+) -> (\w+)", source, flags=re.M)


def node_by_label(source: str, label: str) -> str:
    (attrs,) = [a for a in value_nodes(source).values() if f"<B>{label}</B>" in a]
    return attrs


# ---- DOT structure ---------------------------------------------------------------------------


def test_neuron_graph_structure() -> None:
    out, _ = neuron()
    source = draw_graph(out).source
    assert len(value_nodes(source)) == 10  # 5 leaves, 2 products, 2 sums, tanh
    assert sorted(re.sub(r"\s+", " ", a) for a in op_nodes(source).values()).__len__() == 5
    ops_shown = sorted(re.search(r"label=(\S+)", a).group(1)  # type: ignore[union-attr]
                       for a in op_nodes(source).values())
    assert ops_shown == ['"*"', '"*"', '"+"', '"+"', "tanh"]
    assert len(edges(source)) == 14  # 9 operand edges + 5 op -> result
    x1 = node_by_label(source, "x1")
    assert "data 2.0000" in x1 and "grad -1.5000" in x1
    assert "data 0.7071" in node_by_label(source, "out")
    assert "grad 0.5000" in node_by_label(source, "b")


def test_roles_are_coloured() -> None:
    out, _ = neuron()
    source = draw_graph(out, inputs=["x1", "x2"]).source
    assert ROLE_COLORS["output"] in node_by_label(source, "out")
    assert "peripheries=2" in node_by_label(source, "out")
    for name in ("w1", "w2", "b"):
        assert ROLE_COLORS["parameter"] in node_by_label(source, name)
    for name in ("x1", "x2"):
        assert ROLE_COLORS["input"] in node_by_label(source, name)
    assert ROLE_COLORS["intermediate"] in node_by_label(source, "n")


def test_constants_are_drawn_dashed_without_grad() -> None:
    x = Value(3.0, label="x")
    y = x * 2.0
    y.backward()
    nodes = value_nodes(draw_graph(y).source)
    assert len(nodes) == 3
    (constant,) = [a for a in nodes.values() if "dashed" in a]
    assert ROLE_COLORS["constant"] in constant
    assert "data 2.0000" in constant and "grad" not in constant


def test_params_mapping_names_parameters_and_makes_other_leaves_inputs() -> None:
    w, x = Value(1.5), Value(2.0)
    y = w * x
    source = draw_graph(y, params={"layer.w": w}).source
    assert ROLE_COLORS["parameter"] in node_by_label(source, "layer.w")
    (x_node,) = [a for a in value_nodes(source).values() if "data 2.0000" in a]
    assert ROLE_COLORS["input"] in x_node


def test_value_used_twice_has_two_edges() -> None:
    a = Value(3.0, label="a")
    y = a * a
    source = draw_graph(y).source
    assert edges(source).count(("n0", "n1_op")) == 2
    assert len(value_nodes(source)) == 2


def test_operand_order_is_labelled_for_non_commutative_ops() -> None:
    a, b = Value(3.0, label="a"), Value(1.0, label="b")
    source = draw_graph(a - b).source
    assert "n0 -> n2_op [headlabel=a]" in source and "n1 -> n2_op [headlabel=b]" in source
    assert "[label=" not in "".join(line for line in source.splitlines()
                                    if "->" in line and "n2_op ->" in line)


ORDERED: dict[str, Callable[[Value, Value], Value]] = {
    "pow": lambda a, b: a ** b,  # (its labels were missing: the set named it "power")
    "pow_exponent_slope": lambda a, b: ops.POW_EXPONENT_SLOPE(a, b),
    "div": lambda a, b: a / b,
    "matmul": lambda a, b: a.reshape(1) @ b.reshape(1),
    "binary_cross_entropy": lambda a, b: binary_cross_entropy(a.sigmoid(), b.sigmoid()),
    "bce_slope": lambda a, b: ops.BCE_SLOPE(a, b),
    "where": lambda a, b: where(np.array(True), a, b),
    "stack": lambda a, b: stack([a, b]),
}


@pytest.mark.parametrize("name", list(ORDERED))
def test_every_op_whose_operand_order_matters_is_labelled(name: str) -> None:
    out = ORDERED[name](Value(0.6, label="a"), Value(0.3, label="b"))
    node = next(n for n in engine.topological_order(out) if n.op is not None and
                n.op.name == name)
    assert len(node.parents) == 2 and name not in COMMUTATIVE
    source = draw_graph(node).source
    assert "headlabel=a" in source and "headlabel=b" in source, source


@pytest.mark.parametrize("name", sorted(COMMUTATIVE))
def test_the_unlabelled_ops_are_commutative(name: str) -> None:
    """Only ops whose operands may swap go unlabelled (every other op with several operands is
    labelled a, b, ...): a wrong entry here would hide an order that matters."""
    a, b = np.random.default_rng(0).normal(size=(2, 50))
    forward = ops.REGISTRY[name].forward
    np.testing.assert_array_equal(forward(a, b), forward(b, a))


def test_operand_letters_go_on_past_z() -> None:
    out = concatenate([Value([float(i)]) for i in range(28)])
    heads = re.findall(r"headlabel=(\w+)", draw_graph(out).source)
    assert heads[:2] == ["a", "b"] and heads[-2:] == ["aa", "ab"] and len(set(heads)) == 28


def test_op_labels_come_from_the_derivative_table() -> None:
    x = Value(np.arange(6.0).reshape(2, 3), label="x")
    w = Value(np.ones((3, 2)), label="w")
    y = ((x @ w) ** 2).sum(axis=1)[0:1].sum()
    source = draw_graph(y).source
    labels = [re.search(r'label=(?:"([^"]*)"|([^ \]]+))', a).group(1, 2)  # type: ignore[union-attr]
              for a in op_nodes(source).values()]
    labels = [quoted or bare for quoted, bare in labels]
    assert labels == ["@", "**2", "sum(axis=1)", "[0:1]", "sum"]


@pytest.mark.parametrize(("index", "label"), [
    (np.s_[1:], "[1:]"), (np.s_[1:, 0], "[1:, 0]"), (np.s_[:, 1:3], "[:, 1:3]"),
    (np.s_[:], "[:]"), (np.s_[:2], "[:2]"), (np.s_[::2], "[::2]"), (np.s_[1::-1], "[1::-1]"),
    (np.s_[1], "[1]"), (np.s_[1, 0], "[1, 0]"), (np.s_[..., 0], "[..., 0]"),
    (np.s_[[0, 2]], "[[0,2]]")])
def test_an_index_is_labelled_as_written(index: Any, label: str) -> None:
    """`x[1:]` was labelled [1], as `x[1]` (the slice's own colon stripped with the step's)."""
    x = Value(np.arange(12.0).reshape(3, 4), label="x")
    (op,) = op_nodes(draw_graph(x[index]).source).values()
    assert f'label="{label}"' in op


def test_tensors_show_shape_and_a_compact_summary() -> None:
    small = Value([1.0, 2.5, -3.0], label="small")
    big = Value(np.arange(100.0).reshape(10, 10), label="big")
    y = (small.sum() + big.sum())
    y.backward()
    source = draw_graph(y).source
    small_node = node_by_label(source, "small")
    assert "shape (3,)" in small_node
    assert "data [1.0000, 2.5000, -3.0000]" in small_node
    assert "grad [1.0000, 1.0000, 1.0000]" in small_node
    big_node = node_by_label(source, "big")
    assert "shape (10, 10)" in big_node
    assert "data mean 49.5000, min 0.0000, max 99.0000" in big_node
    assert "99.0000," not in big_node.replace("max 99.0000", "")  # no element list


def test_nan_and_inf_gradients_are_flagged() -> None:
    x = Value(0.0, label="x")
    y = x.sqrt()
    y.backward()
    node = node_by_label(draw_graph(y).source, "x")
    assert "grad inf" in node and "(!)" in node and ALARM in node
    t = Value([0.0, 1.0], label="t")
    z = t.sqrt().sum()
    z.backward()
    node = node_by_label(draw_graph(z).source, "t")
    assert "(!)" in node and ALARM in node


def test_zero_gradients_are_dimmed_only_after_backward() -> None:
    dead, alive = Value(-1.0, label="dead"), Value(2.0, label="alive")
    y = dead.relu() + alive.relu()
    assert DIM_TEXT not in draw_graph(y).source  # nothing dimmed before backward
    y.backward()
    source = draw_graph(y).source
    assert DIM_TEXT in node_by_label(source, "dead")
    assert DIM_TEXT not in node_by_label(source, "alive")


def test_show_data_and_show_grad_switches() -> None:
    out, _ = neuron()
    assert "data " not in draw_graph(out, show_data=False).source
    assert "grad " not in draw_graph(out, show_grad=False).source


def test_rankdir_and_legend() -> None:
    out, _ = neuron()
    assert "rankdir=TB" in draw_graph(out, rankdir="TB").source
    assert "cluster_legend" in draw_graph(out, legend=True).source
    assert "cluster_legend" not in draw_graph(out).source
    with pytest.raises(ValueError, match="rankdir"):
        draw_graph(out, rankdir="diagonal")


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(TypeError, match="must be a Value"):
        draw_graph(3.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_nodes"):
        draw_graph(Value(1.0), max_nodes=0)
    steppers: list[Callable[[Any], Any]] = [
        backprop_steps, step_through, backprop_html,
        lambda root: write_backprop_html(root, "never-written.html")]
    for stepping in steppers:
        with pytest.raises(TypeError, match=r"^backpropagation step by step starts from a "
                                            r"Value \(a loss, say\); got float$"):
            stepping(3.0)  # (an AttributeError about requires_grad, before)


def test_returns_a_digraph() -> None:
    out, _ = neuron()
    assert isinstance(draw_graph(out), graphviz.Digraph)


# ---- determinism -----------------------------------------------------------------------------


def test_same_graph_gives_same_dot_text() -> None:
    first, _ = neuron()
    second, _ = neuron()  # other Value objects, other creation numbers: same text
    assert draw_graph(first).source == draw_graph(second).source
    assert draw_graph(first).source == draw_graph(first).source
    assert "id(" not in draw_graph(first).source


def test_node_ids_follow_creation_order() -> None:
    out, _ = neuron()
    ids = list(value_nodes(draw_graph(out).source))
    assert ids == [f"n{i}" for i in range(10)]


# ---- large graphs ----------------------------------------------------------------------------


def labelled_mlp(samples: int = 2) -> tuple[Value, list[Value]]:
    """A scalar MLP whose parameters carry module names, like nn's named_parameters()."""
    rng = np.random.default_rng(0)
    layers, params, nin = [], [], 3
    for li, nout in enumerate([4, 4, 1]):
        neurons = []
        for j in range(nout):
            w = [Value(float(rng.normal()), label=f"layers.{li}.neurons.{j}.w.{k}")
                 for k in range(nin)]
            b = Value(0.0, label=f"layers.{li}.neurons.{j}.b")
            params += [*w, b]
            neurons.append((w, b))
        layers.append(neurons)
        nin = nout
    loss = Value(0.0, requires_grad=False)
    for s in range(samples):
        h: list[Value] = [Value(float(s + k), requires_grad=False) for k in range(3)]
        for neurons in layers:
            h = [sum((wi * hi for wi, hi in zip(w, h, strict=True)), b).tanh()
                 for w, b in neurons]
        loss = loss + (h[0] - 1.0) ** 2
    return loss, params


def drawn_count(source: str) -> int:
    return len(re.findall(r"^\t(?:n\d+|g\d+|hidden) \[", source, flags=re.M))


def test_large_graph_collapses_into_modules() -> None:
    loss, _ = labelled_mlp()
    total = len(engine_nodes(loss))
    source = draw_graph(loss, max_nodes=40).source
    assert drawn_count(source) <= 40
    boxes = re.findall(r'^\t(g\d+) \[label="([^\n"]*)\n(\d+) values? hidden', source, re.M)
    assert [b[1] for b in boxes] == [f"layers.{li}.neurons.{j}"
                                     for li, n in enumerate([4, 4, 1]) for j in range(n)]
    hidden = sum(int(b[2]) for b in boxes)
    assert f"collapsed: {hidden} of {total} values hidden in 9 boxes" in source
    # coarser modules when the neurons do not fit
    source = draw_graph(loss, max_nodes=15).source
    boxes = re.findall(r'^\t(g\d+) \[label="([^\n"]*)\n', source, re.M)
    assert [b[1] for b in boxes] == ["layers.0", "layers.1", "layers.2"]
    assert drawn_count(source) <= 15


def test_collapsing_uses_names_from_params() -> None:
    loss, params = labelled_mlp()
    names = {p.label: p for p in params}
    for p in params:
        p.label = ""
    source = draw_graph(loss, max_nodes=40, params=names).source
    assert '"layers.0.neurons.0\n' in source


def test_collapsing_without_modules_keeps_the_nodes_nearest_the_root() -> None:
    x = Value(1.0, label="x")
    y = x
    for _ in range(100):
        y = y.tanh()
    y.label = "y"
    source = draw_graph(y, max_nodes=10, fit_screen=False).source
    assert drawn_count(source) == 10
    assert "<B>y</B>" in source and "<B>x</B>" not in source
    assert "92 values hidden" in source and "92 of 101 values hidden" in source


def test_a_graph_of_100000_nodes_is_walked_without_recursion() -> None:
    x = Value(1.0, label="x")
    y = x
    for _ in range(50_000):
        y = y * 1.0000001  # 100,001 values: a product and a constant per step
    source = draw_graph(y, max_nodes=50).source
    assert drawn_count(source) <= 50
    assert "of 100001 values hidden" in source


def engine_nodes(root: Value) -> list[Value]:
    seen, stack, found = {id(root)}, [root], [root]
    while stack:
        for p in stack.pop().parents:
            if id(p) not in seen:
                seen.add(id(p))
                stack.append(p)
                found.append(p)
    return found


# ---- rendering with dot ----------------------------------------------------------------------


@pytest.mark.parametrize("label", ["]", "]]", "]x[", "[x]", "w[0]", "<&>", "]>"])
def test_any_label_renders(label: str, tmp_path: Path) -> None:
    # (dot failed on "]": its parser took it for the end of the node's attributes)
    path = save_graph(draw_graph(Value(1.0, label=label).tanh()), tmp_path / "y.svg")
    assert label in "".join(ET.parse(path).getroot().itertext())


def test_svg_rendered_by_dot_has_the_nodes_and_texts(tmp_path: Path) -> None:
    out, _ = neuron()
    path = save_graph(draw_graph(out), tmp_path / "neuron.svg")
    root = ET.parse(path).getroot()
    nodes = {}
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "node":
            title = g.find(f"{SVG}title")
            assert title is not None
            nodes[title.text] = [t.text for t in g.iter(f"{SVG}text")]
    assert set(nodes) == {f"n{i}" for i in range(10)} | {f"n{i}_op" for i in range(5, 10)}
    assert nodes["n0"] == ["x1", "data 2.0000", "grad -1.5000"]
    assert nodes["n9"] == ["out", "data 0.7071", "grad 1.0000"]
    assert nodes["n9_op"] == ["tanh"]
    edge_titles = [g.find(f"{SVG}title").text for g in root.iter(f"{SVG}g")  # type: ignore[union-attr]
                   if g.get("class") == "edge"]
    assert len(edge_titles) == 14
    assert edge_titles.count("n0->n5_op") == 1 and edge_titles.count("n9_op->n9") == 1


def test_png_and_pdf_are_produced(tmp_path: Path) -> None:
    out, _ = neuron()
    png = save_graph(draw_graph(out), tmp_path / "neuron.png")
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 1000
    pdf = save_graph(draw_graph(out), tmp_path / "neuron.pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["neuron.pdf", "neuron.png"]


def test_dot_file_needs_no_binary_and_bad_suffix_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out, _ = neuron()
    monkeypatch.setenv("PATH", "")
    path = save_graph(draw_graph(out), tmp_path / "neuron.dot")
    assert path.read_text(encoding="utf-8") == draw_graph(out).source
    with pytest.raises(ValueError, match="jpeg"):
        save_graph(draw_graph(out), tmp_path / "neuron.jpeg")


def test_missing_dot_binary_says_how_to_install(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    out, _ = neuron()
    monkeypatch.setenv("PATH", "")
    graph = draw_graph(out)
    assert "digraph" in graph.source  # building needs no binary
    for attempt in (lambda: graph.pipe(format="svg"),
                    lambda: graph.render(outfile=tmp_path / "x.svg"),
                    lambda: graph._repr_mimebundle_(),
                    lambda: save_graph(graph, tmp_path / "y.svg")):
        with pytest.raises(GraphvizNotFoundError) as caught:
            attempt()
        message = str(caught.value)
        assert "apt-get install graphviz" in message and "brew install graphviz" in message
        assert isinstance(caught.value, RuntimeError)
        assert isinstance(caught.value, graphviz.ExecutableNotFound)
    assert not (tmp_path / "y.svg").exists()


# ---- local derivative texts ------------------------------------------------------------------


def test_every_primitive_has_a_local_rule_text() -> None:
    missing = sorted(name for name, prim in ops.REGISTRY.items() if not prim.text)
    assert not missing, f"give these primitives a text= in ops.py: {missing}"
    for name, prim in ops.REGISTRY.items():
        for params in OP_INFO[name].examples:
            text = local_rule(prim, params)
            assert text and "{" not in text, name


def test_unknown_primitive_gets_a_generic_rule() -> None:
    prim = Primitive("cube_root", lambda x: x, lambda g, out, a: (g,))
    assert "cube_root" in local_rule(prim)


# ---- backprop step by step -------------------------------------------------------------------


def test_steps_follow_the_engines_order_and_touch_no_grad() -> None:
    out, v = neuron(backward=False)
    steps = backprop_steps(out)
    order = engine.topological_order(out)
    assert len(steps) == len(order) + 1
    assert [s.node for s in steps[1:]] == order
    assert steps[0].node is None and steps[0].grads == {}
    assert all(v[name].grad == 0.0 for name in v)  # nothing accumulated
    assert steps[1].grad == 1.0 and steps[1].node is out
    for i, step in enumerate(steps):
        assert step.number == i and len(step.grads) == i


def test_last_step_has_the_engines_gradients() -> None:
    out, v = neuron(backward=False)
    steps = backprop_steps(out)
    out.backward()
    for node, grad in steps[-1].grads.items():
        assert grad == node.grad
    assert steps[-1].grads[v["x1"]] == pytest.approx(-1.5)


def test_step_texts_show_the_local_rule() -> None:
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = a * b
    c.label = "c"
    steps = backprop_steps(c)
    assert "c = a * b" in steps[1].text
    assert "∂out/∂a = b" in steps[1].text and "a is “a”, b is “b”" in steps[1].text
    assert "is a leaf" in steps[2].text


def test_steps_of_a_tensor_root_need_a_gradient() -> None:
    x = Value([1.0, 2.0], label="x")
    y = x * x
    with pytest.raises(ValueError, match="gradient"):
        backprop_steps(y)
    steps = backprop_steps(y, np.array([1.0, 0.5]))
    np.testing.assert_allclose(steps[-1].grads[x], [2.0, 2.0])


def frames_of(page: str) -> list[str]:
    return re.findall(r'<section class="frame".*?</section>', page, flags=re.S)


def svg_texts(frame: str) -> dict[str, list[str]]:
    svg = ET.fromstring(frame[frame.index("<svg"): frame.rindex("</svg>") + 6])
    texts = {}
    for g in svg.iter(f"{SVG}g"):
        if g.get("class") == "node":
            title = g.find(f"{SVG}title")
            assert title is not None and title.text is not None
            texts[title.text] = [t.text or "" for t in g.iter(f"{SVG}text")]
    return texts


def test_html_file_has_one_frame_per_node_plus_one(tmp_path: Path) -> None:
    out, _ = neuron(backward=False)
    path = write_backprop_html(out, tmp_path / "backprop.html")
    page = path.read_text(encoding="utf-8")
    frames = frames_of(page)
    assert len(frames) == len(engine.topological_order(out)) + 1 == 11
    assert all(frame.count("<svg") == 1 for frame in frames)
    # frame 0: the forward graph, every gradient zero
    assert all(t[-1] == "grad 0.0000" for t in svg_texts(frames[0]).values() if t[-1:]
               and t[-1].startswith("grad"))
    # the last frame shows the engine's gradients
    out.backward()
    last = svg_texts(frames[-1])
    names = {f"n{i}": node for i, node in enumerate(sorted(engine_nodes(out),
                                                           key=lambda n: n._number))}
    for title, node in names.items():
        assert f"grad {node.grad:.4f}" in last[title], title
    assert HIGHLIGHT in frames[3]


def test_html_is_self_contained(tmp_path: Path) -> None:
    out, _ = neuron(backward=False)
    page = backprop_html(out, title="neuron <test>")
    assert "<title>neuron &lt;test&gt;</title>" in page
    assert "<script src" not in page and "<link" not in page and "@import" not in page
    assert not re.search(r'(?:src|href)\s*=\s*"(?:https?:)?//', page)
    assert "<?xml" not in page and "<!DOCTYPE svg" not in page
    assert re.search(r'id="tg-[0-9a-f]{12}-prev"', page) and 'type="range"' in page
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))  # each frame's SVG ids made unique


def test_the_stepper_shows_inline_with_ids_of_its_own_each_time() -> None:
    out, _ = neuron(backward=False)
    stepper = step_through(out, title="a <neuron>")
    first, second = stepper._repr_html_(), stepper._repr_html_()
    assert first.startswith('<div class="tg-stepper"') and "<html" not in first
    assert 'aria-label="a &lt;neuron&gt;"' in first
    ids = re.findall(r'\bid="([^"]+)"', first + second)
    assert len(ids) == len(set(ids)) > 2 * 11  # shown twice on one page: no id shared
    assert "<script src" not in first and not re.search(r'(?:src|href)="(?:https?:)?//', first)
    # without JavaScript the first and the last frame are visible, the others hidden
    sections = re.findall(r'<section class="frame"[^>]*>', first)
    assert ["hidden" in tag for tag in sections] == [False] + [True] * 9 + [False]
    assert re.search(r'<div class="tg-controls" hidden>', first)  # useless without script
    assert [tag.split('data-node="')[1].split('"')[0] for tag in sections][:3] == ["", "n9", "n8"]
    assert repr(stepper) == "BackpropStepper(11 frames: forward pass, then 10 nodes)"


def test_html_refuses_too_many_steps() -> None:
    x = Value(1.0)
    y = x
    for _ in range(20):
        y = y.tanh()
    with pytest.raises(ValueError, match="max_steps"):
        backprop_html(y, max_steps=10)


def test_constants_and_numbers_format() -> None:
    big, tiny = Value(123456.0, label="big"), Value(1e-5, label="tiny")
    y = big + tiny
    source = draw_graph(y).source
    assert "data 1.235e+05" in source and "data 1.000e-05" in source
    assert math.isclose(y.data, 123456.00001)


def test_every_value_the_step_texts_name_is_named_in_the_picture() -> None:
    """A value without a label shows the name the backprop steps call it by (n1, ...)."""
    x = Value(2.0, label="x")
    y = (x * 3.0).tanh()
    source = draw_graph(y).source
    for step in backprop_steps(y)[1:]:
        name = step.text.split(" ")[0]
        assert re.search(rf">{re.escape(name)}<", source), f"{name} is not shown in the picture"


def test_stepper_frames_fold_to_fit_a_screen_and_highlight_the_fold() -> None:
    y = Value(0.5, label="x")
    for _ in range(60):
        y = y.tanh()  # 61 values, under max_nodes, but a picture 15,000 pixels wide
    page = backprop_html(y)
    frames = frames_of(page)
    assert len(frames) == 62
    for frame in frames:
        size = re.findall(r'<svg [^>]*\bwidth="([\d.]+)pt" height="([\d.]+)pt"', frame)[0]
        width, height = (float(v) for v in size)
        assert width / 72 <= SCREEN[0] and height / 72 <= SCREEN[1]
    assert "(folded to fit a screen)" in frames[0]
    assert 'data-node="n60"' in frames[1] and 'data-node="hidden"' in frames[-1]
    assert "x is a leaf" in frames[-1]  # the caption still names the step's node
    texts = svg_texts(frames[-1])
    assert "further values" in texts["hidden"]
    assert re.search(rf'<title>hidden</title>\s*<polygon[^>]*stroke="{HIGHLIGHT}"', frames[-1])
    assert "collapsed" not in draw_graph(y).source  # draw_graph itself: max_nodes only


# ---- plots: where a one-output model switches class -----------------------------------------


def _sigmoid_and_gate(activation: Any) -> Any:
    from tinygrad_edu.nn import MLP

    model = MLP(2, [1], output_activation=activation, seed=0)
    np.asarray(model.layers[0].W.data)[:] = [[1.0], [1.0]]
    np.asarray(model.layers[0].b.data)[:] = [-1.5]
    return model


def test_grid_predictions_knows_the_librarys_sigmoid_given_as_a_callable() -> None:
    from tinygrad_edu import activations
    from tinygrad_edu.activations import ACTIVATIONS
    from tinygrad_edu.plots import decision_threshold, grid_predictions

    X = np.array([[0.0, 0.0], [1.0, 1.0]])
    _, _, named, p_named = grid_predictions(_sigmoid_and_gate("sigmoid"), X, resolution=5)
    assert named.min() == 0 and named.max() == 1
    for form in (activations.sigmoid, Value.sigmoid, ACTIVATIONS["sigmoid"]):
        model = _sigmoid_and_gate(form)
        assert decision_threshold(model) == 0.5  # (0.0, before: every point was class 1)
        _, _, classes, probability = grid_predictions(model, X, resolution=5)
        np.testing.assert_array_equal(classes, named)
        assert probability is not None and p_named is not None
        np.testing.assert_array_equal(probability, p_named)


def test_grid_predictions_of_an_activation_of_the_users_own_needs_a_threshold() -> None:
    import matplotlib
    import matplotlib.pyplot as plt

    from tinygrad_edu.plots import grid_predictions, plot_decision_boundary

    matplotlib.use("Agg")
    X, y = np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([0, 1])
    model = _sigmoid_and_gate(lambda v: v.sigmoid())
    with pytest.raises(ValueError, match=r"^grid_predictions: the output activation of MLP is "
                                         r"<function .*lambda.*pass threshold="):
        grid_predictions(model, X, resolution=3)
    _, _, classes, probability = grid_predictions(model, X, resolution=5, threshold=0.5)
    _, _, named, _ = grid_predictions(_sigmoid_and_gate("sigmoid"), X, resolution=5)
    np.testing.assert_array_equal(classes, named)
    assert probability is None  # (its scale is the user's: no probability is made up)
    ax = plot_decision_boundary(model, X, y, threshold=0.5, resolution=5)
    plt.close(ax.figure)


def test_grid_predictions_refuses_a_threshold_no_single_score_takes() -> None:
    from tinygrad_edu.nn import MLP
    from tinygrad_edu.perceptron import Perceptron
    from tinygrad_edu.plots import grid_predictions

    X = np.array([[0.0, 0.0], [1.0, 1.0]])
    for model, why in [(MLP(2, [3], seed=0), r"this one has 3 outputs \(its class is the "
                                             r"argmax\)$"),
                       (Perceptron(2, zeros=True), r"a Perceptron gives its classes itself$")]:
        with pytest.raises(ValueError, match=r"^grid_predictions: threshold= is for a model "
                                             r"with one output score; " + why):
            grid_predictions(model, X, resolution=3, threshold=0.5)


def test_a_softplus_output_switches_class_at_a_logit_of_0() -> None:
    from tinygrad_edu.plots import decision_threshold, grid_predictions

    X = np.array([[0.0, 0.0], [1.0, 1.0]])
    model = _sigmoid_and_gate("softplus")
    assert decision_threshold(model) == pytest.approx(math.log(2.0))  # softplus(0)
    _, _, classes, probability = grid_predictions(model, X, resolution=5)
    _, _, named, _ = grid_predictions(_sigmoid_and_gate("identity"), X, resolution=5)
    np.testing.assert_array_equal(classes, named)  # (all class 1, before)
    assert probability is None  # (no logit: no probability, the picture shades the classes)
