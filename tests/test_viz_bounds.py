"""Rendering is bounded: every graph shape lays out in seconds, or stops with a clear message;
a collapsed picture fits a screen.

`dot` used to take minutes on a value used by many ops far apart (``x + x + ... + x``; a weight
shared by 40 steps of ``(y*w + 1).tanh()``): each long edge is a chain of hidden nodes, n² in
all, and an edge label doubles every rank. These tests draw such shapes, check the structure
that keeps `dot` fast, and time real renders (the bound is generous, for a busy machine).
"""

from __future__ import annotations

import random
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinygrad_edu import Value
from tinygrad_edu.datasets import make_moons
from tinygrad_edu.nn import MLP
from tinygrad_edu.viz import RenderTimeoutError, draw_graph, save_graph
from tinygrad_edu.viz.dot import GraphPicture
from tinygrad_edu.viz.graph import SCREEN, SHARED_USES, build_graph, estimated_size

BOUND = 10.0
"""Seconds one render may take here (they take well under one on an idle machine)."""


def reused_sum(n: int) -> Value:
    """x + x + ... + x, n terms: the same value used by n - 1 ops."""
    x = Value(1.0, label="x")
    y = x
    for _ in range(n - 1):
        y = y + x
    return y


def shared_weight(n: int) -> Value:
    """y = (y*w + 1).tanh(), n times, with one w."""
    w, y = Value(0.5, label="w"), Value(1.0, label="x")
    for _ in range(n):
        y = (y * w + 1).tanh()
    return y


def chain(n: int) -> Value:
    y = Value(0.5, label="x")
    for _ in range(n):
        y = y.tanh()
    return y


def fan_in(n: int) -> Value:
    """The sum of n different leaves."""
    y = Value(0.0, label="b")
    for i in range(n):
        y = y + Value(0.1 * i, label=f"x{i}")
    return y


def residual(n: int) -> Value:
    """A deep residual stack: y = y + tanh(y * w_k), one module per layer."""
    y = Value(0.3, label="x")
    for k in range(n):
        y = y + (y * Value(0.1, label=f"layers.{k}.w")).tanh()
    return y


def random_dag(n: int, seed: int) -> Value:
    """n ops on random earlier values (much reuse, at random distances), summed at the end."""
    rng = random.Random(seed)
    pool = [Value(rng.uniform(-1.0, 1.0), label=f"p{i}") for i in range(3)]
    for _ in range(n):
        a, b = rng.choice(pool), rng.choice(pool)
        pool.append(rng.choice([a + b, a * b, a - b, a.tanh()]))
    y = pool[-1]
    for v in pool[-10:]:
        y = y + v
    return y


SHAPES: dict[str, Callable[[int], Value]] = {
    "reused_sum": reused_sum,
    "shared_weight": shared_weight,
    "chain": chain,
    "fan_in": fan_in,
    "residual": residual,
    "random_dag": lambda n: random_dag(n, n),
}


def out_degrees(source: str) -> dict[str, int]:
    """How many nodes each node of a DOT text has edges to."""
    heads: dict[str, set[str]] = {}
    for line in source.splitlines():
        if " -> " in line:
            tail, head = line.strip().split(" -> ")
            heads.setdefault(tail, set()).add(head.split(" ")[0])
    return {tail: len(found) for tail, found in heads.items()}


def timed_svg(picture: GraphPicture) -> float:
    start = time.perf_counter()
    svg = picture.pipe(format="svg")
    assert svg.startswith(b"<?xml")
    return time.perf_counter() - start


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_no_value_sends_long_edges_to_many_ops(shape: str) -> None:
    # the cause of dot's slowness, removed: a value feeds at most SHARED_USES ops by an edge
    # (more uses get a copy beside them), so the hidden nodes of long edges grow linearly
    root = SHAPES[shape](120)
    for max_nodes in (150, 10_000):
        source = draw_graph(root, max_nodes=max_nodes).source
        assert max(out_degrees(source).values()) <= SHARED_USES
        assert "label=" not in "".join(line for line in source.splitlines() if "->" in line
                                       and "headlabel=" not in line)


def test_a_much_used_value_is_copied_beside_its_later_uses() -> None:
    source = draw_graph(reused_sum(10)).source
    copies = [line for line in source.splitlines() if "_use" in line and "label=x" in line]
    assert len(copies) == 9 - SHARED_USES  # 9 ops use x: the first ones by an edge
    assert "the same value as n0" in source


def test_many_parallel_edges_are_one_edge_with_a_count() -> None:
    x = Value(2.0, label="x")
    y = x * x * x  # two ops: x*x has two edges, as before
    assert draw_graph(y).source.count("n0 -> n1_op") == 2
    from tinygrad_edu.arrays import concatenate
    z = concatenate([Value([1.0], label="v")] * 5)
    source = draw_graph(z).source
    assert source.count("n0 -> n1_op") == 1 and "headlabel=\"×5 (a,b,c,d,e)\"" in source


@pytest.mark.parametrize("build, n, max_nodes", [
    (reused_sum, 100, 150),  # tinygrad-edu graph "x+x+...+x": over 100 s before
    (reused_sum, 499, 150),  # over 10 minutes before
    (shared_weight, 40, 150),  # the collapsed picture: over 60 s before
    (shared_weight, 40, 10_000),
])
def test_the_issue_graphs_render_in_seconds(build: Callable[[int], Value], n: int,
                                            max_nodes: int) -> None:
    root = build(n)
    root.backward()
    assert timed_svg(draw_graph(root, max_nodes=max_nodes, legend=True)) < BOUND


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=st.sampled_from(sorted(SHAPES)), n=st.integers(1, 250),
       max_nodes=st.sampled_from([20, 150, 10_000]), legend=st.booleans())
def test_every_shape_renders_within_the_bound(shape: str, n: int, max_nodes: int,
                                              legend: bool) -> None:
    root = SHAPES[shape](n)
    root.backward()
    picture = draw_graph(root, max_nodes=max_nodes, legend=legend)
    assert timed_svg(picture) < BOUND


def test_a_render_that_takes_too_long_is_stopped_with_advice(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    slow = tmp_path / "bin" / "dot"
    slow.parent.mkdir()
    slow.write_text(f"#!/bin/sh\nexec {shutil.which('sleep')} 30\n")
    slow.chmod(0o755)
    monkeypatch.setenv("PATH", str(slow.parent))
    picture = draw_graph(chain(3))
    picture.timeout = 0.5
    start = time.perf_counter()
    for attempt in (lambda: picture.pipe(format="svg"),
                    lambda: picture._repr_mimebundle_(),
                    lambda: save_graph(picture, tmp_path / "chain.svg")):
        with pytest.raises(RenderTimeoutError) as caught:
            attempt()
        message = str(caught.value)
        assert "0.5 s" in message and "max_nodes" in message and "sfdp" in message
        assert "params=" in message
    assert time.perf_counter() - start < 3 * BOUND
    assert not (tmp_path / "chain.svg").exists()


# ---- a collapsed picture fits a screen ---------------------------------------------------------


def plain_size(picture: GraphPicture) -> tuple[float, float]:
    """The size in inches `dot` lays a picture out at (its natural size)."""
    first = picture.pipe(format="plain").split(b"\n", 1)[0].split()
    return float(first[2]), float(first[3])


def scalar_moons_loss(samples: int) -> tuple[Value, MLP]:
    """micrograd's demo on the scalar path: a loss over samples, one MLP call each."""
    X, y = make_moons(samples, noise=0.1, seed=0)
    model = MLP(2, [16, 16, 1], seed=0)
    terms = [(1.0 - (2.0 * float(y[i]) - 1.0) * model(X[i])).relu() for i in range(samples)]
    loss = sum(terms, Value(0.0)) * (1.0 / samples)
    loss.backward()
    return loss, model


def test_the_collapsed_demo_loss_graph_fits_a_screen() -> None:
    loss, model = scalar_moons_loss(40)
    for params in (None, model):
        picture = draw_graph(loss, params=params)
        width, height = plain_size(picture)
        assert width <= SCREEN[0] and height <= SCREEN[1]
        assert "folded further to fit a screen" in picture.source
        # what was hidden: how many values, and of which roles
        hidden = re.search(r"\d+ values hidden\n\((\d+ [a-z]+, )*\d+ [a-z]+\)", picture.source)
        assert hidden is not None and "intermediate, " in hidden.group(0)
    # without fitting, it is several screens wide (7245 pixels for 100 samples before)
    assert plain_size(draw_graph(loss, fit_screen=False))[0] > 2 * SCREEN[0]


def test_without_dot_the_fit_uses_the_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    loss, _ = scalar_moons_loss(30)
    monkeypatch.setenv("PATH", "")
    picture = draw_graph(loss)
    assert "folded further to fit a screen" in picture.source
    graph = build_graph(loss, max_nodes=150)
    assert estimated_size(graph)[0] > SCREEN[0]  # the unfitted picture is estimated too wide


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=st.sampled_from(sorted(SHAPES)), n=st.integers(40, 200),
       max_nodes=st.sampled_from([30, 150]), rankdir=st.sampled_from(["LR", "TB"]))
def test_every_collapsed_picture_fits_a_screen(shape: str, n: int, max_nodes: int,
                                               rankdir: str) -> None:
    root = SHAPES[shape](n)
    picture = draw_graph(root, max_nodes=max_nodes, rankdir=rankdir)
    if "collapsed:" in picture.source:
        width, height = plain_size(picture)
        assert width <= SCREEN[0] and height <= SCREEN[1]
