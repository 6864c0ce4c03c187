"""Floors for the speed targets: the least an engine with tinygrad_edu's semantics can cost.

`bench_engine.py --floors` times these beside the engine, in the same rounds:

* `LeanScalar`: micrograd's demo with what the engine must do and nothing more. One node per
  operation, each with its `.grad`, built inline (no constructor call), as the engine's
  operators build theirs; backward walks the graph, sorts it by creation number (newest
  first) and sends every share on, zeros included (a dead relu sends its operand 0.0, which
  reaches the parameters behind it: 0 · inf is nan there, as in the reference pass).
  Left out: every check, change tracking, the collector policy, higher-order gradients.
* `TapeScalar`: `LeanScalar` on a tape, the design that trades prompt freeing for a backward
  pass without a graph walk: each node joins its operands' tape (a list of the nodes of one
  connected graph; two tapes met by an operation become one), and backward runs down the
  root's tape, sorted by creation number, sending shares only from nodes a share reached.
  Not the engine's semantics: each node holds its tape and the tape holds the node, so a
  graph is made of reference cycles, as micrograd's is, freed by the collector, not when its
  last name goes (with the collector off, the untimed `gc.collect()` after each step frees
  it); a value kept alive keeps every node ever joined to its tape. It shows how far the
  collector-off row could go with that design.
* `LeanTensor`: the tensor step (`bench_engine.engine_step`) with the same four operations,
  kernels and rules as the fast executor's (matmul, add, relu, cross_entropy with the
  log_softmax kept from the forward pass), every node's data and gradient kept until the step
  ends.
* `numpy_kept_step`: the hand-written numpy step that keeps what the engine keeps (each
  matrix product apart from its sum with the bias, each gradient), and updates after the
  backward pass: no engine at all.

Each gives exactly the engine's loss and gradients (`bench_engine` checks it before timing).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from operator import add as _add
from operator import attrgetter
from operator import mul as _mul
from typing import Any

import numpy as np

from tinygrad_edu.kernels import log_softmax, nll

_PENDING = object()  # a node the walk found, before a gradient reaches it
_by_number = attrgetter("number")
_count = itertools.count().__next__  # creation numbers
_new = object.__new__  # a node without its constructor (its slots filled by the caller)


def _walk(root: Any) -> list[Any]:
    """The nodes `root` depends on that need a gradient, newest first, each marked pending."""
    root.mark = pending = _PENDING
    order, stack = [root], [root]
    pop, push, add = stack.pop, stack.append, order.append
    while stack:
        node = pop()
        a, b = node.first, node.second
        if b is not None and b.mark is None and b.requires_grad:
            b.mark = pending
            push(b)
            add(b)
        if a is not None and a.mark is None and a.requires_grad:
            a.mark = pending
            push(a)
            add(a)
    order.sort(key=_by_number, reverse=True)
    return order


# ---- scalars ---------------------------------------------------------------------------------

_ADD, _MUL, _RELU, _MATMUL, _CROSS_ENTROPY = 1, 2, 3, 4, 5


def _binary(forward: Callable[[float, float], float],
            op: int) -> Callable[[LeanScalar, Any], LeanScalar]:
    """A `LeanScalar` operator: `forward` on the operands' data (called, as the engine calls its
    table's: `operator.add`, ...), and the result's node built inline, as the engine's fused
    operators build theirs (`fast.Unrolled.fused`): a constructor call would cost each node
    more than the engine pays."""

    def operator(self: LeanScalar, other: Any) -> LeanScalar:
        if type(other) is not LeanScalar:
            other = LeanScalar(float(other), requires_grad=False)
        out = _new(LeanScalar)
        out.data = forward(self.data, other.data)
        out.grad = 0.0
        out.first = self
        out.second = other
        out.op = op
        out.number = _count()
        out.mark = None
        out.requires_grad = True
        return out

    return operator


class LeanScalar:
    """A scalar Value reduced to what micrograd's demo step needs (``+``, ``*``, relu)."""

    __slots__ = ("data", "first", "grad", "mark", "number", "op", "requires_grad", "second")

    def __init__(self, data: float, first: Any = None, second: Any = None, op: int = 0,
                 requires_grad: bool = True) -> None:
        self.data = data
        self.grad = 0.0
        self.first = first
        self.second = second
        self.op = op
        self.number = _count()
        self.mark: Any = None  # None, _PENDING, or the gradient summed so far
        self.requires_grad = requires_grad

    __add__ = _binary(_add, _ADD)
    __mul__ = _binary(_mul, _MUL)

    def __radd__(self, other: Any) -> LeanScalar:  # (`1 + x`: a few nodes a step)
        return LeanScalar(float(other), requires_grad=False) + self

    def __rmul__(self, other: Any) -> LeanScalar:
        return LeanScalar(float(other), requires_grad=False) * self

    def relu(self) -> LeanScalar:
        x = self.data
        out = _new(LeanScalar)
        out.data = 0.0 if x <= 0.0 else x
        out.grad = 0.0
        out.first = self
        out.second = None
        out.op = _RELU
        out.number = _count()
        out.mark = None
        out.requires_grad = True
        return out

    def backward(self) -> None:
        """Each node's gradient into its `.grad`; its rule's shares into its operands' marks
        (the engine's rules, in its order: the first operand's share, then the second's)."""
        pending = _PENDING
        order = _walk(self)
        self.mark = 1.0
        for node in order:
            g = node.mark
            node.mark = None
            if g is pending:
                continue
            node.grad += g
            op = node.op
            if not op:
                continue
            a, b = node.first, node.second
            if op == _MUL:
                sa, sb = g * b.data, g * a.data
            elif op == _ADD:
                sa = sb = g
            else:  # relu: 0 at and below the kink, sent on like any share
                sa = 0.0 if a.data <= 0.0 else g
                q = a.mark
                if q is not None:
                    a.mark = sa if q is pending else q + sa
                continue
            q = a.mark
            if q is not None:
                a.mark = sa if q is pending else q + sa
            q = b.mark
            if q is not None:
                b.mark = sb if q is pending else q + sb


def _taped(forward: Callable[[float, float], float],
           op: int) -> Callable[[TapeScalar, Any], TapeScalar]:
    """A `TapeScalar` operator: `_binary`'s, the result joined to its operands' tape."""

    def operator(self: TapeScalar, other: Any) -> TapeScalar:
        if type(other) is not TapeScalar:
            other = TapeScalar(float(other), requires_grad=False)
        out = _new(TapeScalar)
        out.data = forward(self.data, other.data)
        out.grad = 0.0
        out.first = self
        out.second = other
        out.op = op
        out.number = _count()
        out.mark = None
        out.requires_grad = True
        tape, theirs = self.tape, other.tape
        if tape is None:
            tape = theirs
        elif theirs is not None and theirs is not tape:
            # two graphs become one: the shorter tape's nodes move to the longer
            if len(tape) < len(theirs):
                tape, theirs = theirs, tape
            tape += theirs
            for node in theirs:
                node.tape = tape
        if tape is None:  # (both operands are leaves)
            out.tape = [out]
        else:
            tape.append(out)
            out.tape = tape
        return out

    return operator


class TapeScalar:
    """`LeanScalar` recorded on tapes (see the module's docstring): no walk at backward."""

    __slots__ = ("data", "first", "grad", "mark", "number", "op", "requires_grad", "second",
                 "tape")

    def __init__(self, data: float, requires_grad: bool = True) -> None:
        self.data = data
        self.grad = 0.0
        self.first: Any = None
        self.second: Any = None
        self.op = 0
        self.number = _count()
        self.mark: Any = None  # None (no share reached it yet), or the gradient summed so far
        self.requires_grad = requires_grad
        self.tape: list[TapeScalar] | None = None  # a leaf's: none

    __add__ = _taped(_add, _ADD)
    __mul__ = _taped(_mul, _MUL)

    def __radd__(self, other: Any) -> TapeScalar:
        return TapeScalar(float(other), requires_grad=False) + self

    def __rmul__(self, other: Any) -> TapeScalar:
        return TapeScalar(float(other), requires_grad=False) * self

    def relu(self) -> TapeScalar:
        x = self.data
        out = _new(TapeScalar)
        out.data = 0.0 if x <= 0.0 else x
        out.grad = 0.0
        out.first = self
        out.second = None
        out.op = _RELU
        out.number = _count()
        out.mark = None
        out.requires_grad = True
        tape = self.tape
        if tape is None:
            out.tape = [out]
        else:
            tape.append(out)
            out.tape = tape
        return out

    def backward(self) -> None:
        """`LeanScalar.backward`, down the root's tape instead of a walked graph: a node no
        share reached is skipped; the leaves a share reached take theirs at the end."""
        tape = self.tape
        if tape is None:
            raise ValueError("the tape floor backpropagates from a computed node only")
        tape.sort(key=_by_number)  # (the runs of the graphs it joined, merged)
        leaves: list[TapeScalar] = []
        reached = leaves.append
        self.mark = 1.0
        for k in range(tape.index(self), -1, -1):
            node = tape[k]
            g = node.mark
            if g is None:
                continue
            node.mark = None
            node.grad += g
            a, b, op = node.first, node.second, node.op
            if op == _MUL:
                sa, sb = g * b.data, g * a.data
            elif op == _ADD:
                sa = sb = g
            else:  # relu: 0 at and below the kink, sent on like any share
                sa, b = (0.0 if a.data <= 0.0 else g), None
            if a.requires_grad:
                q = a.mark
                if q is None:
                    a.mark = sa
                    if a.tape is None:
                        reached(a)
                else:
                    a.mark = q + sa
            if b is not None and b.requires_grad:
                q = b.mark
                if q is None:
                    b.mark = sb
                    if b.tape is None:
                        reached(b)
                else:
                    b.mark = q + sb
        for leaf in leaves:
            leaf.grad += leaf.mark
            leaf.mark = None


# ---- tensors ---------------------------------------------------------------------------------


class LeanTensor:
    """A tensor Value reduced to what the MLP step needs (``@``, ``+``, relu, cross_entropy)."""

    __slots__ = ("data", "first", "grad", "mark", "number", "op", "requires_grad", "saved",
                 "second")
    __array_ufunc__ = None  # (a numpy batch @ LeanTensor comes to __rmatmul__)

    def __init__(self, data: Any, first: Any = None, second: Any = None, op: int = 0,
                 requires_grad: bool = True) -> None:
        self.data = data
        self.grad: Any = None  # its gradient (an array) after backward
        self.first = first
        self.second = second
        self.op = op
        self.number = _count()
        self.mark: Any = None  # None, _PENDING, or the gradient summed so far
        self.requires_grad = requires_grad
        self.saved: tuple[Any, Any] | None = None  # cross_entropy's (labels, log_probs)

    def __matmul__(self, other: Any) -> LeanTensor:
        return LeanTensor(self.data @ other.data, self, other, _MATMUL)

    def __rmatmul__(self, batch: Any) -> LeanTensor:
        return LeanTensor.__matmul__(LeanTensor(batch, requires_grad=False), self)

    def __add__(self, other: Any) -> LeanTensor:
        return LeanTensor(self.data + other.data, self, other, _ADD)

    def relu(self) -> LeanTensor:
        return LeanTensor(np.maximum(self.data, 0.0), self, None, _RELU)

    def zero_grad(self) -> None:
        self.grad = None

    def cross_entropy(self, labels: Any) -> LeanTensor:
        """The mean cross-entropy, its log_softmax kept for the rule."""
        log_probs = log_softmax(self.data, axis=(1,))
        out = LeanTensor(nll(log_probs, labels=labels, reduction="mean"), self, None,
                         _CROSS_ENTROPY)
        out.saved = (labels, log_probs)
        return out

    def backward(self) -> None:
        """As `LeanScalar.backward`, with the fast executor's array rules."""
        pending = _PENDING
        order = _walk(self)
        self.mark = 1.0
        with np.errstate(all="ignore"):
            for node in order:
                g = node.mark
                node.mark = None
                if g is pending:
                    continue
                node.grad = g if node.grad is None else node.grad + g
                op = node.op
                if not op:
                    continue
                a, b = node.first, node.second
                sa = sb = None
                if op == _MATMUL:
                    if a.mark is not None:
                        sa = g @ b.data.T
                    if b.mark is not None:
                        sb = a.data.T @ g
                elif op == _ADD:
                    sa, sb = g, np.add.reduce(g, axis=0)  # (the bias's share)
                elif op == _RELU:
                    sa = (g.view(np.int64) * (node.data != 0.0)).view(np.float64)
                else:
                    labels, log_probs = node.saved
                    rows = len(labels)
                    sa = np.exp(log_probs)
                    np.subtract.at(sa, (np.arange(rows), labels), 1.0)
                    sa = np.multiply(g * (1.0 / rows), sa, out=sa)
                q = a.mark
                if q is not None:
                    a.mark = sa if q is pending else q + sa
                if b is not None:
                    q = b.mark
                    if q is not None:
                        b.mark = sb if q is pending else q + sb


def numpy_kept_step(params: list[tuple[np.ndarray, np.ndarray]], X: np.ndarray,
                    labels: np.ndarray, lr: float) -> float:
    """`bench_engine.numpy_step`, keeping what the engine keeps until the step ends."""
    kept: list[np.ndarray] = []
    acts = [X]
    h = X
    for i, (W, b) in enumerate(params):
        product = h @ W
        z = product + b
        h = np.maximum(z, 0.0) if i < len(params) - 1 else z
        kept += [product, z]
        acts.append(h)
    log_probs = log_softmax(h, axis=(1,))
    loss: float = nll(log_probs, labels=labels, reduction="mean")
    n = len(labels)
    grad = np.exp(log_probs)
    np.subtract.at(grad, (np.arange(n), labels), 1.0)
    grad = np.multiply(1.0 / n, grad, out=grad)
    updates = []
    for i in range(len(params) - 1, -1, -1):
        W, b = params[i]
        updates.append((W, b, acts[i].T @ grad, np.add.reduce(grad, axis=0)))
        if i:
            kept.append(grad)
            grad = grad @ W.T
            kept.append(grad)
            grad = (grad.view(np.int64) * (acts[i] != 0.0)).view(np.float64)
    for W, b, gW, gb in updates:
        W -= lr * gW
        b -= lr * gb
    return loss
