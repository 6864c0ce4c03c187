"""The fast executor: `Value.backward()`'s first-order pass, made fast. Not required reading.

It computes exactly what the reference pass, ``engine.backpropagate(root, seed,
engine.accumulate)``, computes (tests/test_fast.py proves it, rule by rule and on random
graphs), and differs only in how:

* the graph walk marks visited nodes in a slot of the node (`Value._mark`) instead of a set,
  and that slot then holds the node's gradient for this pass instead of a dict entry;
* the binary operators, most of the nodes of a scalar network, are unrolled, and relu's rule
  is inlined for floats;
* a rule that can skip work (matmul) is told which inputs need a gradient at all;
* a tensor's first gradient is kept without a copy when no other node holds the same array
  (a shared one is made read-only instead, so an edit raises rather than leaks);
* the garbage collector is paused: the pass makes no reference cycles for it to find.

This module and `tinygrad_edu.engine` are friends: the engine calls `backward`, and this
module reads and writes Value's slots (`_grad`, `_mark`, `_number`). It imports nothing from
the package at run time.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Mapping
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from tinygrad_edu.engine import Primitive, Value

_FLOAT_ERRORS = (ZeroDivisionError, OverflowError, ValueError)
_PENDING = object()  # the mark of a node collected for this pass, before a gradient reaches it
_by_creation = attrgetter("_number")

SumToShape = Callable[[Any, tuple[int, ...]], Any]
Operator = Callable[["Primitive", Any, Any], "Value"]


def backward(root: Value, seed: Any, sum_to_shape: SumToShape) -> None:
    """Backpropagate `seed` from `root`, adding each node's gradient to its `.grad`.

    `sum_to_shape` is the engine's own: how a broadcast gradient is summed back.
    """
    collecting = gc.isenabled()
    nodes: list[Value] = []
    try:
        gc.disable()
        nodes = _collect(root)
        root._mark = seed
        with np.errstate(all="ignore"):  # IEEE results (inf, nan), silently, as floats give
            _run(nodes, sum_to_shape)
    finally:
        for node in nodes or [root]:
            node._mark = None
        if collecting:
            gc.enable()


def _collect(root: Value) -> list[Value]:
    """`engine.topological_order(root)`, each node marked _PENDING (the mark is the seen-set)."""
    root._mark = pending = _PENDING
    order = [root]
    stack = [root]
    pop, push, add = stack.pop, stack.append, order.append
    while stack:  # depth first: the order comes out nearly sorted already
        node = pop()
        a = node._first
        if a is None:
            continue
        if node._all is not None:
            for parent in node._all:
                if parent._mark is None and parent.requires_grad:
                    parent._mark = pending
                    push(parent)
                    add(parent)
            continue
        if a._mark is None and a.requires_grad:
            a._mark = pending
            push(a)
            add(a)
        b = node._second
        if b is not None and b._mark is None and b.requires_grad:
            b._mark = pending
            push(b)
            add(b)
    order.sort(key=_by_creation, reverse=True)
    return order


def _run(nodes: list[Value], sum_to_shape: SumToShape) -> None:
    pending = _PENDING
    owned: set[int] = set()  # ids of the arrays kept as some node's .grad in this pass

    def send(share: Any, parent: Value) -> None:
        """Add a node's share to `parent`'s gradient for this pass."""
        q = parent._mark
        if q is None or share is None:
            return  # the parent needs no gradient, or the rule gives it none
        if type(share) is not float or type(parent.data) is not float:
            share = _fit(share, parent, sum_to_shape)
        parent._mark = share if q is pending else q + share

    for node in nodes:
        g = node._mark
        if g is pending:
            continue  # no gradient reached this node (it lies behind a step, say)
        node._mark = None
        current = node._grad
        if current is None:  # a tensor's first gradient
            node._grad = _keep(g, owned, node)
        else:
            node._grad = current + g
        prim = node.op
        if prim is None:
            continue
        params = node.params
        a: Any = node._first
        b = node._second
        # (an op without params shares the engine's read-only NO_PARAMS, which is no dict)
        if b is not None and type(params) is not dict and not prim.needs_mask:  # a binary op
            try:
                ga, gb = prim.vjp(g, node.data, a.data, b.data)
            except _FLOAT_ERRORS:
                ga, gb = _rule_in_ieee(prim, g, node)
            q = a._mark
            if q is not None and ga is not None:
                if type(ga) is not float or type(a.data) is not float:
                    ga = _fit(ga, a, sum_to_shape)
                a._mark = ga if q is pending else q + ga
            q = b._mark
            if q is not None and gb is not None:
                if type(gb) is not float or type(b.data) is not float:
                    gb = _fit(gb, b, sum_to_shape)
                b._mark = gb if q is pending else q + gb
            continue
        if b is None and node._all is None:  # one operand: a function, a reduction, ...
            if type(g) is float and prim.name == "relu":  # the rule, inlined for a float
                send(g if a.data > 0.0 else 0.0, a)
                continue
            try:
                if type(params) is dict:
                    (ga,) = prim.vjp(g, node.data, a.data, **params)
                else:
                    (ga,) = prim.vjp(g, node.data, a.data)
            except _FLOAT_ERRORS:
                (ga,) = _rule_in_ieee(prim, g, node)
            send(ga, a)
            continue
        parents = node.parents
        if prim.needs_mask:
            params = {**params, "needs": tuple(p._mark is not None for p in parents)}
        try:
            shares = prim.vjp(g, node.data, *[p.data for p in parents], **params)
        except _FLOAT_ERRORS:
            shares = _rule_in_ieee(prim, g, node)
        for parent, share in zip(parents, shares, strict=True):
            send(share, parent)


def _fit(share: Any, node: Value, sum_to_shape: SumToShape) -> Any:
    data = node.data
    if type(share) is np.ndarray and type(data) is np.ndarray and share.shape == data.shape:
        return share
    return sum_to_shape(share, np.shape(data))


def _rule_in_ieee(prim: Primitive, g: Any, node: Value) -> tuple[Any, ...]:
    """Rerun a rule whose Python-float arithmetic raised, in numpy floats (inf/nan)."""
    datas = [np.float64(p.data) for p in node.parents]
    shares = prim.vjp(np.float64(g), np.float64(node.data), *datas, **node.params)
    return tuple(None if share is None else float(share) for share in shares)


def _keep(g: Any, owned: set[int], node: Value) -> Any:
    """A tensor's first gradient as its `.grad`, owned by it alone (or read-only if shared).

    A fresh array no other node of this pass has kept is kept as it is. Otherwise a leaf (a
    parameter, whose gradient an optimizer or a learner may edit) gets a copy, and an
    intermediate node shares the array made read-only, so an edit raises instead of silently
    changing both (and the large arrays of a batched network are not copied for nothing).
    """
    # (a fresh array owns its memory; views, like broadcast_to's read-only ones, do not)
    if type(g) is np.ndarray and g.base is None and id(g) not in owned:
        owned.add(id(g))
        return g
    if node.op is None or type(g) is not np.ndarray or g.dtype != np.float64:
        g = np.array(g, dtype=np.float64)
        owned.add(id(g))
        return g
    g.flags.writeable = False
    return g


# --------------------------------------------------------------------------------------------
# The forward pass: the arithmetic operators, unrolled
# --------------------------------------------------------------------------------------------


def unrolled_operator(value_class: type[Value], creation_number: Callable[[], int],
                      recording: Callable[[], bool],
                      no_params: Mapping[str, Any]) -> Callable[[Operator], Operator]:
    """Decorate the engine's `_operator(prim, a, b)` with an unrolled copy of it.

    The copy builds the node itself for the common cases (two Values, or a Value and a
    number, with a float or float64-array result) and hands everything else, errors
    included, to the reference it decorates. It fills the same slots with the same values.
    """
    cls = value_class
    new = object.__new__

    def constant(x: float) -> Value:
        node: Value = new(cls)
        node.data = x
        node.label = ""
        node.requires_grad = False
        node.op = None
        node._first = node._second = node._all = None
        node.params = no_params
        node._grad = 0.0
        node._number = creation_number()
        node._mark = None
        return node

    def decorate(reference: Operator) -> Operator:
        def operator(prim: Primitive, a: Any, b: Any) -> Value:
            kind_a, kind_b = type(a), type(b)
            if kind_a is not cls:
                if kind_b is not cls or (kind_a is not float and kind_a is not int):
                    return reference(prim, a, b)
                a = constant(float(a))
            elif kind_b is not cls:
                if kind_b is not float and kind_b is not int:
                    return reference(prim, a, b)
                b = constant(float(b))
            try:
                data = prim.forward(a.data, b.data)
            except _FLOAT_ERRORS:
                return reference(prim, a, b)  # (IEEE results, or an error that says why)
            kind = type(data)
            if kind is not float and (kind is not np.ndarray or not data.ndim
                                      or data.dtype != np.float64):
                return reference(prim, a, b)
            out: Value = new(cls)
            out.data = data
            out.label = ""
            if recording() and (a.requires_grad or b.requires_grad):
                out.requires_grad = True
                out.op = prim
                out._first = a
                out._second = b
            else:
                out.requires_grad = False
                out.op = None
                out._first = out._second = None
            out._all = None
            out.params = no_params
            out._grad = 0.0 if kind is float else None
            out._number = creation_number()
            out._mark = None
            return out

        return operator

    return decorate
