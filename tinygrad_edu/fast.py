"""The fast executor: what a training loop runs, made fast. Not required reading.

`backward(root, seed, sum_to_shape)` is `Value.backward()`'s first-order pass. It computes
exactly what the engine's reference pass, ``backpropagate(root, seed, accumulate)``,
computes (tests/test_fast.py proves it, rule by rule and on random graphs), and differs only
in how:

* the graph walk marks visited nodes in a slot of the node (`Value._mark`) instead of a set,
  and that slot then holds the node's gradient for this pass instead of a dict entry;
* on a scalar node, the float rules of the frequent primitives (add, mul, sub, div, neg,
  relu, tanh, exp, sigmoid, log, sqrt, pow_const) are inlined: the table's own operations,
  without a call, a tuple or a type check (mul and add, most nodes of a scalar network,
  without even a lookup); so are, on plain arrays, the rules of matmul (two
  matrices), add, relu and cross_entropy (reduced to a number: the onehot is subtracted from
  the softmax in place, and the softmax is the exp of the log_softmax `apply` kept from the
  forward pass, when it did); the other binary operators are unrolled;
* the pass is two loops, `_run` over the nodes of scalars and `_run_arrays` over those of
  arrays, each handing the rest of the pass to the other at a node of the other kind (a
  network's loss starts with the second): each loop small, which a training step of a
  small network feels, its code out of the cache after the rest of the step;
* a rule that can skip work (matmul) is told which inputs need a gradient at all;
* a tensor's first gradient is kept without a copy when no other node holds the same array
  (a shared one is made read-only instead, so that nothing changes it behind the other's
  back; `.grad` gives an intermediate node a copy of its own when read), decided when it is
  sent (`_own`), where the sender knows whether it passes on an array it keeps, not by a
  set of every array kept (a node that sends its own gradient on and whose receiver then
  gets another share too keeps it read-only, unshared);
* the garbage collector is paused: the pass makes no reference cycles for it to find;
* one pass at a time holds the marks: a pass begun while another is under way (by a rule
  that calls backward(); `Value.backward` runs one thread's passes at a time) is the
  reference pass.

`Unrolled` makes the forward's copies: `engine.apply` and the arithmetic operators are
decorated with versions that build the common nodes without the general machinery (and
multiply two matrices that align without matmul's general checks); and `Value`'s arithmetic
operators (``__mul__``, ...) and the named operations relu, tanh, sigmoid, exp and log are
replaced by fused copies that do a float operation and build its node in one Python call
instead of two (relu's inline when the table's forward is `kernels.relu`: a forward replaced,
a mutant's say, is called as given). The other forwards are called, not spelt out: a float
operation in the bytecode may give another nan than the same operation called
(``operator.mul(nan, -nan)`` is -nan, ``nan * -nan`` nan once specialised). Two arrays
added and relu of a computed array take the same shortcut: in a network of large arrays a
Python call costs more than it seems, as each large array operation leaves the next one's
code and data out of the cache (timed after 16 MB of array traffic, an operation of these
copies on a small array cost about 8 us more than a lean engine's before).

The collector policy (`collector_policy`, on by default): while a graph of scalars recorded
by those copies is alive, the garbage collector's youngest generation waits for
`GC_THRESHOLD` new objects instead of its usual few hundred. A graph's nodes form no
reference cycles (but after ``backward(create_graph=True)``, whose gradients are graphs that
lead back to their nodes: the collector frees those), and refcounting frees them; but every
collection while they are alive scans them, and promotes them to older generations whose
full scans cost more (most of a scalar training step's time went to them). The threshold is
raised when the first scalar node of a graph is recorded, and the previous thresholds come
back when that node is freed (with its graph, as a rule), unless the program set others
meanwhile; `collector_policy(False)` switches it off.

* A graph freed at once, a single node say, pays about 0.7 µs for the raise and the return.
* A node kept alive, a loss kept in a list say, keeps the threshold raised, and collections
  140x rarer: reference cycles of other code, a plot's figures say, then wait 140x as long
  to be freed, and the memory they hold grows with that (a notebook that keeps a small graph
  alive in an early cell, and makes much cyclic garbage later, may want
  `collector_policy(False)`).
* While it is raised, ``gc.get_threshold()`` reports the raised threshold: a program that
  saves the thresholds then, to set them back later, should switch the policy off first. A
  threshold of 0, automatic collection off, is left as it is.
* A tensor node starts no watch: a network of tensors makes a few nodes a step, too few for
  collections to matter, and would pay the raise and the return at every step.

This module and `tinygrad_edu.engine` are friends: the engine calls it, and it reads and
writes Value's slots. It imports nothing from the package at run time but `kernels` and
`grad_mode` (whose `grad_mode.enabled`, True while no thread is inside `no_grad`, the forward
copies read without a call; only when it is False do they ask for this thread's switch).
"""

from __future__ import annotations

import functools
import gc
import itertools
import weakref
from collections.abc import Callable, Iterable, Mapping
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_edu import grad_mode
from tinygrad_edu.kernels import (
    FLOAT_ERRORS,
    NUMPY_ALARMS,
    GradientShapeError,
    check_share_count,
    cross_entropy,
    ignore_float_errors,
    log_softmax,
    nll,
    relu,
    restore_float_errors,
    run_rule,
    set_writeable,
    vjp_in_ieee,
    where,
)

_recording = grad_mode.is_grad_enabled  # (this thread's switch, when some thread's is off)

if TYPE_CHECKING:
    from tinygrad_edu.engine import Primitive, Value

_PENDING = object()  # the mark of a node collected for this pass, before a gradient reaches it
_by_creation = attrgetter("_number")

SumToShape = Callable[[Any, tuple[int, ...]], Any]
Operator = Callable[["Primitive", Any, Any], "Value"]
Method = Callable[["Value", Any], Any]
Apply = Callable[..., "Value"]
Check = Callable[[list["Value"]], None]
Seal = Callable[..., None]


def backward(root: Value, gradient: Any, initial_gradient: Callable[[Value, Any], Any],
             sum_to_shape: SumToShape, registry: Mapping[str, Primitive],
             check: Check, recorded_gradients: bool = False) -> bool:
    """Backpropagate `gradient` (None: 1 for a scalar) from `root`, adding each node's
    gradient to its `.grad`, with recording off, as `no_grad()` would; True.

    `initial_gradient`, `sum_to_shape`: the engine's own (the gradient the pass starts from,
    checked; how a broadcast gradient is summed back); `check` raises if data the graph needs
    changed since it was recorded (`changes.check`). `recorded_gradients`: whether a `.grad`
    may hold a Value (a recorded pass's gradient). Nothing is done, and False says so, if a
    node of the graph does (the reference pass adds to it recorded), or if another pass holds
    the marks (the reference pass keeps its state apart).
    """
    if _interrupted:
        _raise_interrupted()
    if gradient is None and type(root._data) is float and root._requires_grad:
        seed: Any = 1.0  # (what initial_gradient gives, without the call)
    else:
        seed = initial_gradient(root, gradient)
    global _passing
    if _passing:
        return False
    nodes: list[Value] = []
    quiet, recording, collecting = None, None, False
    try:
        _passing = True
        recording, collecting = grad_mode.switch(False), gc.isenabled()
        gc.disable()
        nodes = _collect(root)
        if recorded_gradients and any(type(node._grad) not in _PLAIN for node in nodes):
            for node in nodes:
                node._mark = None
            return False
        check(nodes)
        root._mark = seed
        quiet = ignore_float_errors()  # IEEE results (inf, nan), silently, as floats give
        _pass(nodes, sum_to_shape, registry)  # (it leaves every mark None)
    except BaseException:
        for node in nodes or [root]:
            node._mark = None
        raise
    finally:
        if quiet is not None:
            restore_float_errors(quiet)
        if recording is not None:
            grad_mode.switch(recording)
        if collecting:
            gc.enable()
        _passing = False
    return True


_passing = False  # whether a pass uses the marks now
_PLAIN = (float, np.ndarray, type(None))  # a gradient not recorded (a float, an array, none)


def _collect(root: Value) -> list[Value]:
    """`engine.topological_order(root)`, each node marked _PENDING (the mark is the seen-set);
    interrupted (a Ctrl-C, a MemoryError), it leaves no node marked."""
    root._mark = pending = _PENDING
    order = [root]
    stack = [root]
    pop, push, add = stack.pop, stack.append, order.append
    try:
        while stack:  # depth first: the order comes out nearly sorted already
            node = pop()
            a = node._first
            b: Any = node._second  # (the newer operand, as a rule: listed first, walked last)
            if a is None:  # a leaf, or three operands or more, all of them in _second
                if b is not None:
                    for parent in b:
                        if parent._mark is None and parent._requires_grad:
                            parent._mark = pending
                            push(parent)
                            add(parent)
                continue
            if b is not None and b._mark is None and b._requires_grad:
                b._mark = pending
                push(b)
                add(b)
            if a._mark is None and a._requires_grad:
                a._mark = pending
                push(a)
                add(a)
        order.sort(key=_by_creation, reverse=True)
    except BaseException:
        for node in order:
            node._mark = None
        raise
    return order


def _pass(nodes: list[Value], sum_to_shape: SumToShape,
          registry: Mapping[str, Primitive]) -> None:
    """Each node of `nodes` (newest first) adds its gradient to its `.grad`, and its rule
    sends each operand its share: `_run` takes the nodes of scalars, `_run_arrays` those of
    arrays, each handing the rest of the pass to the other at a node of the other kind."""
    root = nodes[0]
    first = root._first  # (a loss of arrays begins with the pass over arrays)
    arrays = type(root._data) is not float or (
        first is not None and type(first._data) is not float)
    base = iter(nodes)
    rest: Iterable[Value] = base
    while True:
        handed = _run_arrays(rest, sum_to_shape) if arrays else \
            _run(rest, sum_to_shape, registry)
        if handed is None:
            return
        rest, arrays = itertools.chain((handed,), base), not arrays


def _run(nodes: Iterable[Value], sum_to_shape: SumToShape,
         registry: Mapping[str, Primitive]) -> Value | None:
    """`_pass` over scalars; it returns the first node whose gradient is an array, or that
    is a cross_entropy (a loss of arrays), as it found it, or None at the end."""
    pending = _PENDING
    inline = _INLINE_RULES or _inline_rules(registry)
    sigmoid, power_const = _FORWARDS["sigmoid"], _FORWARDS["pow_const"]
    mul, add = registry["mul"], registry["add"]
    for node in nodes:
        g = node._mark
        node._mark = None
        if type(g) is not float:
            if g is pending:
                continue  # no gradient reached this node (it lies behind a step, say)
            node._mark = g  # (an array)
            return node
        current = node._grad
        node._grad = current + g  # (a float's .grad is a number: −0.0 before any, exact)
        prim = node.op
        if prim is None:
            continue
        a: Any = node._first
        b: Any = node._second
        if prim is mul or prim is add:
            # the most frequent scalar nodes, before any lookup: the table's float rules
            # (the operands are floats too; a float product or sum never raises)
            if prim is mul:
                sa, sb = g * b._data, g * a._data
            else:
                sa = sb = g
            q = a._mark
            if q is not None:
                a._mark = sa if q is pending else q + sa
            q = b._mark
            if q is not None:
                b._mark = sb if q is pending else q + sb
            continue
        rule = inline.get(prim)
        if rule is not None and rule < _MATMUL:
            # A scalar node of a frequent primitive: its rule, inlined (the table's rule, the
            # same float operations in the same order). Every operand is a float here (a
            # float result of these primitives has float operands); a rule whose float
            # arithmetic raises goes the general way (its IEEE retry).
            try:
                da: Any
                if rule == _RELU:
                    da = 0.0 if a._data <= 0.0 else g
                elif rule == _TANH:
                    x = a._data
                    da = g * (4.0 * sigmoid(2.0 * x) * sigmoid(-2.0 * x))
                elif rule == _SUB:
                    da, db = g, -g
                elif rule == _NEG:
                    da = -g
                elif rule == _EXP:
                    da = g * node._data
                elif rule == _SIGMOID:
                    da = g * (node._data * sigmoid(-a._data))  # (σ′ = σ(a)·σ(−a), then g)
                elif rule == _POW_CONST:
                    exponent = float(node.params["exponent"])  # (a numpy scalar given to apply)
                    if exponent == 0:
                        continue  # (the rule gives no gradient)
                    da = g * (exponent * power_const(a._data, exponent=exponent - 1.0))
                elif rule == _DIV:
                    x = b._data
                    da, db = g / x, -g * node._data / x
                elif rule == _LOG:
                    da = g / a._data
                else:  # sqrt
                    da = g / (2.0 * node._data)
            except FLOAT_ERRORS:
                da = _NOT_INLINED
            if da is not _NOT_INLINED:
                q = a._mark
                if q is not None:
                    a._mark = da if q is pending else q + da
                if b is not None:
                    q = b._mark
                    if q is not None:
                        b._mark = db if q is pending else q + db
                continue
        elif rule == _CROSS_ENTROPY and _TENSOR_RULES.get(prim.vjp) == rule:
            node._grad, node._mark = current, g  # (a loss of arrays, as it was)
            return node
        try:
            _general(node, g, sum_to_shape)
        except GradientShapeError as error:  # (a rule's share of a shape that fits no operand)
            raise GradientShapeError(f"{prim.name}: {error}") from None
    return None


def _run_arrays(nodes: Iterable[Value], sum_to_shape: SumToShape) -> Value | None:
    """`_pass` over arrays; it returns the first node whose gradient is a float, but for a
    cross_entropy, as it found it, or None at the end. The rules of matmul (two matrices),
    add, relu and cross_entropy (reduced to a number) are inlined: the table's rule, the
    same array operations in the same order, for plain arrays; anything else goes the
    general way (`_general`), and so does a rule replaced since the table was read (a
    mutant's, say), which runs as it is given."""
    global _saved_log_softmax
    pending = _PENDING
    tensor_rules = _TENSOR_RULES
    array = np.ndarray
    for node in nodes:
        g = node._mark
        node._mark = None
        if g is pending:
            continue  # no gradient reached this node (it lies behind a step, say)
        current = node._grad
        prim = node.op
        if current is None:  # a tensor's first gradient: an array of its own, or one it
            node._grad = g  # shares read-only (sent so: see _own)
        else:
            node._grad = current + g
        if prim is None:
            continue
        a: Any = node._first
        b: Any = node._second
        rule = tensor_rules.get(prim.vjp)
        if rule == _MATMUL:
            x, y = a._data, b._data
            if type(x) is array and type(y) is array and x.ndim == 2 and y.ndim == 2:
                # the rule's common case, spelt out: a share only for an operand that needs
                # one, each of its operand's shape
                q = a._mark
                if q is not None:
                    s = g @ y.T
                    a._mark = s if q is pending else q + s
                q = b._mark
                if q is not None:
                    s = x.T @ g
                    b._mark = s if q is pending else q + s
                continue
        elif rule == _ADD:
            if type(g) is array:  # g to each operand, summed to its shape (a bias's)
                q = a._mark
                if q is not None:
                    x = a._data
                    if type(x) is array and x.shape == g.shape and q is pending:
                        # g itself, which this node keeps: shared (_own, inlined)
                        if a.op is None:
                            a._mark = g.copy()  # (a leaf's gradient is its own)
                        else:
                            set_writeable(g, False)
                            a._mark = g
                    else:
                        s = _sum_to_shape_of(a, g, sum_to_shape)
                        a._mark = _own(s, a, (g,)) if q is pending else q + s
                q = b._mark
                if q is not None:
                    y = b._data
                    if type(y) is array and g.shape[1:] == y.shape:  # a bias's share:
                        s = np.add.reduce(g, axis=0)  # (_sum_to_shape_of, inlined)
                        b._mark = s if q is pending else q + s
                    else:
                        s = _sum_to_shape_of(b, g, sum_to_shape)
                        b._mark = _own(s, b, (g, a._mark)) if q is pending else q + s
                continue
        elif rule == _RELU:
            x = a._data
            if type(x) is array and type(g) is array:  # g where a > 0 (and at nan)
                q = a._mark
                if q is not None:
                    out = node._data
                    if prim.forward is relu and type(out) is array and \
                            g.dtype is _FLOAT64 and g.shape == out.shape:
                        # where(0.0, g, cond=x <= 0.0), without the ~cond: not x <= 0 is
                        # out != 0 (out = max(x, 0): x > 0, or x nan); kept_or_zero's
                        # product of g's bits, left a float64 view of the int64 product,
                        # which no other array shares (its own array costs 1 us more)
                        keep = out != 0.0
                        s = (g.view(_INT64) * keep).view(_FLOAT64)
                    else:
                        s = where(0.0, g, cond=x <= 0.0)
                    a._mark = s if q is pending else q + s
                continue
        elif rule == _CROSS_ENTROPY and type(g) is float:  # reduced to a number
            z = a._data
            params = node.params
            if type(z) is array and params["reduction"] != "none":
                # (softmax(z) − onehot(label)) · g, g/batch for the mean: the onehot
                # subtracted in place, at each row's label
                labels = params["labels"]
                rows = len(labels)
                if params["reduction"] == "mean":
                    g = g * (1.0 / rows)
                saved = _saved_log_softmax  # the forward's, if `apply` kept it
                if saved[0]() is node:
                    log_probs = saved[1]
                    _saved_log_softmax = _NOTHING_SAVED  # (used: let go)
                else:
                    log_probs = log_softmax(z, axis=(1,))
                s = np.exp(log_probs)
                np.subtract.at(s, (np.arange(rows), labels), 1.0)  # (one label a row)
                s = np.multiply(g, s, out=s)
                q = a._mark
                if q is not None:
                    a._mark = s if q is pending else q + s
                continue
        if type(g) is float and rule != _CROSS_ENTROPY:
            node._grad, node._mark = current, g  # (a scalar, as it was)
            return node
        try:
            _general(node, g, sum_to_shape)
        except GradientShapeError as error:  # (a rule's share of a shape that fits no operand)
            raise GradientShapeError(f"{prim.name}: {error}") from None
    return None


def _general(node: Value, g: Any, sum_to_shape: SumToShape) -> None:
    """A node's rule the general way: the table's `vjp`, called (a binary operator's
    unrolled), its float arithmetic retried in IEEE when it raises; each share sent. A rule
    of one's own runs as the reference pass runs it (`kernels.run_rule`: g read-only), its
    shares checked and copied."""
    prim = node.op
    assert prim is not None
    a: Any = node._first
    b: Any = node._second
    params = node.params
    if prim.needs_mask:  # (then params are a dict: the general branch below)
        params = {**params, "needs": tuple(p._mark is not None for p in node.parents)}
    parents: tuple[Value, ...]
    if prim not in _TABLE:  # a rule of one's own (its shares sent below, as the general's)
        parents = node.parents
        shares = run_rule(prim.name, prim.vjp, g, node._data, [p._data for p in parents],
                          params)
        shares = _shares_of_ones_own(prim, shares, len(parents))
    # (an op without params shares the engine's read-only NO_PARAMS, which is no dict)
    elif (b is not None and type(params) is not dict and not prim.needs_mask
            and type(b) is not tuple):  # a binary op
        try:
            pair = prim.vjp(g, node._data, a._data, b._data)
        except FLOAT_ERRORS:
            pair = _rule_in_ieee(prim, g, node)
        ga, gb = pair
        q = a._mark
        if q is not None and ga is not None:
            if type(ga) is not float or type(a._data) is not float:
                ga = _sum_to_shape_of(a, ga, sum_to_shape)
            a._mark = _own(ga, a, (g, gb)) if q is _PENDING else q + ga
        q = b._mark
        if q is not None and gb is not None:
            if type(gb) is not float or type(b._data) is not float:
                gb = _sum_to_shape_of(b, gb, sum_to_shape)
            b._mark = _own(gb, b, (g, ga, a._mark)) if q is _PENDING else q + gb
        return
    elif b is None:  # one operand: a function, a reduction, ...
        try:
            if type(params) is dict:
                single = prim.vjp(g, node._data, a._data, **params)
            else:
                single = prim.vjp(g, node._data, a._data)
        except FLOAT_ERRORS:
            single = _rule_in_ieee(prim, g, node)
        (ga,) = single
        _send(ga, a, (g,), sum_to_shape)
        return
    else:  # three operands or more, or params and two
        parents = node.parents
        try:
            shares = prim.vjp(g, node._data, *[p._data for p in parents], **params)
        except FLOAT_ERRORS:
            shares = _rule_in_ieee(prim, g, node)
    for k, (parent, share) in enumerate(zip(parents, shares, strict=True)):
        _send(share, parent, (g, *shares[:k]), sum_to_shape)


def _shares_of_ones_own(prim: Primitive, shares: Any, count: int) -> tuple[Any, ...]:
    """The shares of a rule not in the table (a primitive of one's own), checked as the
    reference pass checks them (one per operand), each array a float64 copy: such a rule may
    return an array it keeps (a constant's, or its result's own), which `_own` would keep as
    a fresh one, and a leaf's .grad would be that array."""
    check_share_count(prim.name, shares, count)
    return tuple(np.array(s, dtype=np.float64) if type(s) is np.ndarray else s for s in shares)


def _send(share: Any, parent: Value, held: tuple[Any, ...], sum_to_shape: SumToShape) -> None:
    """Add a node's share to `parent`'s gradient for this pass (`held`: arrays other nodes
    keep, the sender's gradient first)."""
    q = parent._mark
    if q is None or share is None:
        return  # the parent needs no gradient, or the rule gives it none
    if type(share) is not float or type(parent._data) is not float:
        share = _sum_to_shape_of(parent, share, sum_to_shape)
    parent._mark = _own(share, parent, held) if q is _PENDING else q + share


# The primitives whose float rules `_run` inlines, by the code it dispatches on (most frequent
# first; mul and add, the most frequent of all, come before the lookup); the table's own
# primitives only, found in the engine's registry at the first pass (a primitive of another
# name, or an unregistered one of the same name, is not inlined). Then those whose array
# rules `_run_arrays` inlines, which it finds by their rule (`_TENSOR_RULES`).
# (the float rules, then matmul: its float case, a dot product, is not inlined)
(_MUL, _ADD, _RELU, _TANH, _SUB, _NEG, _EXP, _SIGMOID, _POW_CONST, _DIV, _LOG, _SQRT,
 _MATMUL, _CROSS_ENTROPY) = range(14)
_INLINED = {"mul": _MUL, "add": _ADD, "relu": _RELU, "tanh": _TANH, "sub": _SUB, "neg": _NEG,
            "exp": _EXP, "sigmoid": _SIGMOID, "pow_const": _POW_CONST, "div": _DIV, "log": _LOG,
            "sqrt": _SQRT, "matmul": _MATMUL, "cross_entropy": _CROSS_ENTROPY}
_INLINE_RULES: dict[Primitive, int] = {}
_TENSOR_RULES: dict[Callable[..., Any], int] = {}  # the same codes by rule, for array nodes
_FORWARDS: dict[str, Callable[..., Any]] = {}  # forwards the inlined rules call (sigmoid, ...)
_NOT_INLINED = object()  # a share the inlined rule leaves to the general path

# The log_softmax of the newest recorded cross_entropy node, computed by `Unrolled.apply` in
# the forward pass, for its rule (a softmax, as exp(log_softmax)): (a weak reference to the
# node, its log_softmax), let go when the rule has used it, or when the next one is kept
# (a rule that finds no log_softmax kept for its node computes it again). Its operand cannot
# have changed by the backward pass, which refuses changed data first. (Let go by a callback
# of the weak reference, when the node is freed, it cost a training step 2%: a Python call
# while the graph is freed.)
_NOTHING_SAVED: tuple[Callable[[], Any], Any] = (lambda: None, None)
_saved_log_softmax = _NOTHING_SAVED


def read_table(registry: Mapping[str, Primitive]) -> None:
    """Note the rules `backward` inlines, as the table declares them (ops.py calls this at
    the end of its table). A rule replaced later, a mutant's say, is then called, not
    skipped: an array node's rule is inlined only while it is the one noted here."""
    _inline_rules(registry)
    _TABLE.update(registry.values())


_TABLE: set[Primitive] = set()
"""The table's own primitives (ops.py), whose rules give one fresh array or number per
operand; another primitive's shares are checked and copied (`_shares_of_ones_own`)."""


def _inline_rules(registry: Mapping[str, Primitive]) -> dict[Primitive, int]:
    """Fill `_INLINE_RULES`, `_TENSOR_RULES` and `_FORWARDS` from the engine's registry (at
    the first use: the table is complete by then)."""
    for name, code in _INLINED.items():
        _INLINE_RULES[registry[name]] = code
    for name in ("matmul", "add", "relu", "cross_entropy"):
        _TENSOR_RULES[registry[name].vjp] = _INLINED[name]
    for name in ("sigmoid", "pow_const"):
        _FORWARDS[name] = registry[name].forward
    return _INLINE_RULES


def _sum_to_shape_of(node: Value, share: Any, sum_to_shape: SumToShape) -> Any:
    """`sum_to_shape(share, node.shape)`, without the call when the shapes already match."""
    data = node._data
    if type(share) is np.ndarray and type(data) is np.ndarray:
        if share.shape == data.shape:
            return share
        if share.shape[1:] == data.shape:  # one axis put in front (a bias added to a batch)
            return np.add.reduce(share, axis=0)  # (what `share.sum(axis=(0,))` calls)
    return sum_to_shape(share, np.shape(data))


def _rule_in_ieee(prim: Primitive, g: Any, node: Value) -> tuple[Any, ...]:
    """Rerun a rule whose Python-float arithmetic raised, in numpy floats (inf/nan)."""
    return vjp_in_ieee(prim.vjp, g, node._data, [p._data for p in node.parents], node.params)


def _own(share: Any, parent: Value, held: tuple[Any, ...]) -> Any:
    """`share`, the first gradient `parent` gets in this pass (its `.grad`, unless another
    comes), as an array of its own, or one it shares read-only with another node.

    A fresh float64 array is kept as it is. An array another node keeps (in `held`: the
    sending node's gradient, the rule's other shares) is shared with an intermediate node,
    made read-only, so that no edit changes both (the large arrays of a batched network are
    not copied for nothing; read through `.grad`, it is copied then); a leaf (a parameter, whose
    gradient an optimizer or a learner may edit) gets a copy. So does a view (of the sender's
    gradient, say), whose base could still change, and an array of another dtype.
    """
    if type(share) is not np.ndarray or type(parent._data) is not np.ndarray:
        return share  # (a scalar's gradient: a float, added to its .grad)
    if share.base is not None or share.dtype is not _FLOAT64:
        return np.array(share, dtype=np.float64)
    if any(share is h for h in held):
        if parent.op is None:
            return share.copy()
        set_writeable(share, False)
    return share


# --------------------------------------------------------------------------------------------
# The collector policy: fewer collections while a recorded graph is alive
# --------------------------------------------------------------------------------------------

GC_THRESHOLD = 100_000
"""The youngest generation's threshold while a graph is alive (CPython's default is 700)."""

_policy_on = True
_graph: weakref.ref[Value] | None = None  # the first node of the graph being watched
_restore_to: tuple[int, ...] | None = None  # the thresholds before the policy raised them


def collector_policy(enabled: bool | None = None) -> bool:
    """Whether the collector policy is on (see the module's docstring); `enabled` switches it.

    Switched off, the thresholds the policy raised come back at once.

    >>> previous = collector_policy(False)  # the collector as the program set it
    >>> collector_policy(previous)
    False
    """
    global _policy_on
    was_on = _policy_on
    if enabled is not None:
        _policy_on = bool(enabled)
        if not _policy_on:
            _restore()
    return was_on


def _watch(first: Value) -> None:
    """A graph begins with `first`: raise the threshold until `first` is freed."""
    global _graph, _restore_to
    if _interrupted:
        _raise_interrupted()
    _graph = weakref.ref(first, _graph_freed)
    if _policy_on and _restore_to is None:
        thresholds = gc.get_threshold()
        if 0 < thresholds[0] < GC_THRESHOLD:  # (0: automatic collection off, left off)
            gc.set_threshold(GC_THRESHOLD, *thresholds[1:])
            _restore_to = thresholds


def _graph_freed(_: object) -> None:
    global _graph, _interrupted
    _graph = None
    try:
        _restore()
    except KeyboardInterrupt:  # (what a weakref callback raises is printed and dropped, and
        _interrupted = True  # a Ctrl-C with it: it is raised at the next graph or pass)


_interrupted = False  # a Ctrl-C that landed in `_graph_freed`, not raised yet


def _raise_interrupted() -> None:
    global _interrupted
    _interrupted = False
    raise KeyboardInterrupt


def _restore() -> None:
    """Give back the thresholds the policy raised, unless the program changed them since."""
    global _restore_to
    previous = _restore_to
    if previous is not None and gc.get_threshold() == (GC_THRESHOLD, *previous[1:]):
        gc.set_threshold(*previous)
    _restore_to = None  # (forgotten once given back: a Ctrl-C before leaves them to the next)


# --------------------------------------------------------------------------------------------
# The forward pass: `apply` and the arithmetic operators, unrolled
# --------------------------------------------------------------------------------------------


class Unrolled:
    """Faster copies of the engine's `apply` and `_operator`, used as their decorators.

    Each copy builds the node itself in the common cases (one Value with params, or two
    operands that are Values, numbers or float64 arrays; a float or float64-array result)
    and hands everything else, errors included, to the reference it decorates. It fills the
    same slots with the same values as the reference.
    """

    def __init__(self, value_class: type[Value], creation_number: Callable[[], int],
                 no_params: Mapping[str, Any], no_gradient: float,
                 registry: Mapping[str, Primitive], handed_out: Mapping[int, Any],
                 seal: Seal, first_read: Callable[[Value], None], unread: int,
                 unaliased: Callable[[Any], Any], operand: Callable[[Any], Any],
                 routes: Any) -> None:
        self.value_class = value_class
        self.creation_number = creation_number
        self.no_params = no_params
        self.no_gradient = no_gradient  # a scalar's .grad to begin with (`NO_GRADIENT_YET`)
        self.registry = registry
        self.handed_out = handed_out  # arrays the user holds (`changes.HANDED_OUT`)...
        self.seal = seal  # ...settled before their Values are used again
        self.first_read = first_read  # a leaf whose data a recorded rule may read: watched
        self.unread = unread  # `Value._changed` of a leaf not marked so yet: this or below
        # (`changes.UNREAD`)
        self.unaliased = unaliased  # a constant's data, a view copied (`changes.unaliased`)
        self.operand = operand  # an array operand's, a Value's own copied (`changes.operand`)
        self.routes = routes  # the engine module: its `apply` and `_operator` as they are now
        self.fused_operators: dict[str, Callable[..., Any]] = {}  # made by `fuse_operators`

    def node(self) -> Callable[..., Value]:
        """`node(data, prim, first, second, params)`: a new Value, recorded or constant (its
        operands marked as read already: `first_read`)."""
        cls, new, number = self.value_class, object.__new__, self.creation_number
        no_params, no_gradient = self.no_params, self.no_gradient

        def node(data: Any, prim: Primitive | None, first: Any, second: Value | None,
                 params: Mapping[str, Any] | None) -> Value:
            out: Value = new(cls)
            out._data = data
            out._label = ""
            if prim is not None and (grad_mode.enabled or _recording()) and (
                    first._requires_grad or (second is not None and second._requires_grad)):
                out._requires_grad = True
                out.op = prim
                out._first = first
                out._second = second
                out.params = params or no_params
                if _graph is None and type(data) is float and type(first._data) is float:
                    _watch(out)  # (a scalar graph: the policy; a tensor's loss starts none)
            else:
                out._requires_grad = False
                out.op = None
                out._first = out._second = None
                out.params = no_params
            out._grad = no_gradient if type(data) is float else None
            out._number = number()
            out._mark = None
            return out

        return node

    def apply(self, reference: Apply) -> Apply:
        cls, node, handed_out, seal = self.value_class, self.node(), self.handed_out, self.seal
        first_read, unread, unaliased = self.first_read, self.unread, self.unaliased
        new, number, no_params = object.__new__, self.creation_number, self.no_params
        array, no_gradient = np.ndarray, self.no_gradient

        @functools.wraps(reference)  # (the reference stays reachable as `__wrapped__`)
        def apply(prim: Primitive, *args: Any, **params: Any) -> Value:
            if len(args) != 1 or type(args[0]) is not cls:
                return reference(prim, *args, **params)
            x = args[0]
            if handed_out:
                seal(x)
            if x.op is None and x._requires_grad and (grad_mode.enabled or _recording()) and \
                    getattr(x, "_changed", 0) <= unread and prim.reads_operands == "all":
                first_read(x)  # (its rule may read its data: see `changes`; before the
                # forward, so that a view of its array, a reshape's say, is read-only too)
            z = x._data
            log_probs = None
            try:
                if (prim.forward is cross_entropy and type(z) is array and z.ndim == 2
                        and z.dtype is _FLOAT64 and params.get("reduction") != "none"):
                    # its two halves, the log_softmax kept for the rule (_run_arrays)
                    log_probs = log_softmax(z, axis=(1,))
                    data = nll(log_probs, **params)
                else:
                    data = prim.forward(z, **params)
            except (*FLOAT_ERRORS, *NUMPY_ALARMS, TypeError):
                data = log_probs = None  # (IEEE results, or why not: the reference's, below,
                # outside this handler, so not chained to this one)
            if log_probs is not None:
                kept = node(data, prim, x, None, params)
                if kept.op is not None:
                    global _saved_log_softmax
                    _saved_log_softmax = (weakref.ref(kept), log_probs)
                return kept
            if type(data) is array:  # (_is_tensor(data), inlined)
                if data.dtype is not _FLOAT64 or not data.ndim:
                    return reference(prim, *args, **params)
            elif type(data) is np.float64:  # a reduction to a number
                data = float(data)
            elif type(data) is not float:
                return reference(prim, *args, **params)
            # node(data, prim, x, None, params), inlined: relu, sum, exp, ... come here
            out: Value = new(cls)
            out._data = data
            out._label = ""
            if x._requires_grad and (grad_mode.enabled or _recording()):
                out._requires_grad = True
                out.op = prim
                out._first = x
                out.params = params or no_params
                if _graph is None and type(data) is float and type(z) is float:
                    _watch(out)  # (a scalar graph: the policy; a tensor's loss starts none)
            else:
                out._requires_grad = False
                out.op = out._first = None
                out.params = no_params
                if type(data) is array:  # a constant's array: a view copied (a reshape of
                    out._data = unaliased(data)  # a Value that needs no gradient, say)
            out._second = None
            out._grad = no_gradient if type(data) is float else None
            out._number = number()
            out._mark = None
            return out

        return apply

    def operator(self, reference: Operator) -> Operator:
        cls, new, array = self.value_class, object.__new__, np.ndarray
        number, no_params, no_gradient = self.creation_number, self.no_params, self.no_gradient
        registry, handed_out, seal = self.registry, self.handed_out, self.seal
        first_read, unread, operand = self.first_read, self.unread, self.operand

        def constant(x: Any) -> Value | None:
            """`engine.constant(x)` for a number or a float64 array; None for anything else."""
            kind = type(x)
            if kind is float or kind is int:
                try:
                    x = float(x)  # `2 * w` comes here
                except OverflowError:  # (an int too large for a float: the long way says so)
                    return None
            elif kind is not array or x.dtype is not _FLOAT64 or not x.ndim:
                return None  # (not _is_tensor(x): anything else goes the long way)
            # node(x, None, None, None, None), inlined: a batch `X @ W` comes here
            out: Value = new(cls)
            out._data = x if kind is not array else operand(x)
            out._label = ""
            out._requires_grad = False
            out.op = out._first = out._second = None
            out.params = no_params
            out._grad = no_gradient if kind is not array else None
            out._number = number()
            out._mark = None
            return out

        @functools.wraps(reference)
        def operator(prim: Primitive, a: Any, b: Any) -> Value:
            left: Value | None
            right: Value | None
            if type(a) is cls:
                left = a
                if type(b) is cls:
                    right = b
                elif (right := constant(b)) is None:
                    return reference(prim, a, b)
            elif type(b) is not cls or (left := constant(a)) is None:
                return reference(prim, a, b)
            else:
                right = b
            if handed_out:
                seal(left, right)
            if (left.op is None or right.op is None) and (
                    grad_mode.enabled or _recording()) and (
                    left._requires_grad or right._requires_grad):
                # a leaf operand whose data its rule may read: watched (`engine.operands_read`,
                # inlined: a Value given is its own operand), marked before the forward, as
                # `apply` does (a constant made here is no leaf of the user's: read already,
                # without the getattr, whose AttributeError, formatted and caught, cost a
                # training step about 1%)
                reads = prim.reads_operands
                if reads != "none":
                    if left is a and (reads == "all" or right is b) and left.op is None and \
                            getattr(left, "_changed", 0) <= unread:
                        first_read(left)
                    if right is b and (reads == "all" or left is a) and right.op is None and \
                            getattr(right, "_changed", 0) <= unread:
                        first_read(right)
            x, y = left._data, right._data
            data: Any
            if (type(x) is array and type(y) is array and x.ndim == 2 and y.ndim == 2
                    and x.shape[1] == y.shape[0]
                    and (_INLINE_RULES or _inline_rules(registry)).get(prim) == _MATMUL):
                try:
                    data = x @ y  # two matrices that align: all of matmul's checks, in one
                except NUMPY_ALARMS:
                    return reference(prim, a, b)  # (IEEE results, silently)
            else:
                try:
                    data = prim.forward(x, y)
                except (*FLOAT_ERRORS, *NUMPY_ALARMS, TypeError):
                    data = None  # (IEEE results, or an error that says why: the reference's,
                    # raised below, outside this handler, so not chained to this one)
                if type(data) is array:  # (_is_tensor(data), inlined)
                    if data.dtype is not _FLOAT64 or not data.ndim:
                        return reference(prim, a, b)
                elif type(data) is not float:
                    return reference(prim, a, b)
            # node(data, prim, left, right, None), inlined: most nodes of a network come here
            out: Value = new(cls)
            out._data = data
            out._label = ""
            if (left._requires_grad or right._requires_grad) and (
                    grad_mode.enabled or _recording()):
                out._requires_grad = True
                out.op = prim
                out._first = left
                out._second = right
                if _graph is None and type(data) is float and type(x) is float:
                    _watch(out)  # (a scalar graph: the policy; not a vector's dot product)
            else:
                out._requires_grad = False
                out.op = out._first = out._second = None
            out.params = no_params
            out._grad = no_gradient if type(data) is float else None
            out._number = number()
            out._mark = None
            return out

        return operator

    def fused(self, name: str, reflected: bool, method: Method) -> Method:
        """`method`, an arithmetic operator of Value (``__mul__`` applies the primitive `name`
        to self and the other operand; a `reflected` one, ``__rmul__``, to the other and
        self), in one call for two floats: the forward and the node inline; so for two
        arrays added (add's rule reads neither: no operand to mark as read), while no array
        is handed out. Another tensor goes to the engine's `_operator`, as `method`
        (``_operator(prim, self, other)``) would send it; anything else (an IEEE result, an
        error) to `method` itself, kept as `__wrapped__`."""
        cls, new, number = self.value_class, object.__new__, self.creation_number
        no_params, registry, routes = self.no_params, self.registry, self.routes
        handed_out, array, no_gradient = self.handed_out, np.ndarray, self.no_gradient
        # the registry's primitive and its forward, found at the first call (the table is
        # declared after Value's operators are installed)
        prim: Primitive | None = None
        forward: Callable[[Any, Any], Any] = method  # (a placeholder until then)

        @functools.wraps(method)
        def operator(self: Value, other: Any) -> Any:
            nonlocal prim, forward
            if prim is None:
                prim = registry[name]
                forward = prim.forward
            x: Any = self._data
            y: Any
            out: Value
            if type(other) is cls and type(x) is float:
                y = other._data
                if type(y) is float:  # two floats: most nodes of a scalar network, first
                    try:
                        data = forward(y, x) if reflected else forward(x, y)
                    except FLOAT_ERRORS:
                        return method(self, other)  # (IEEE results, or an error that says why)
                    # the node, as below for the other cases, with fewer questions to ask
                    out = new(cls)
                    out._data = data
                    out._label = ""
                    if (self._requires_grad or other._requires_grad) and (
                            grad_mode.enabled or _recording()):
                        out._requires_grad = True
                        out.op = prim
                        if reflected:
                            out._first = other
                            out._second = self
                        else:
                            out._first = self
                            out._second = other
                        if _graph is None:
                            _watch(out)
                    else:
                        out._requires_grad = False
                        out.op = out._first = out._second = None
                    out.params = no_params
                    out._grad = no_gradient  # (the node's .grad to begin with: a scalar's)
                    out._number = number()
                    out._mark = None
                    return out
            right: Value
            if type(other) is cls:  # a Value and an array, or two arrays
                right = other
                y = other._data
                data = grad = None  # (a tensor's .grad, until a gradient arrives)
                if type(x) is array and type(y) is array and not handed_out and \
                        _TENSOR_RULES.get(prim.vjp) == _ADD:
                    # two arrays added (a layer's bias, say): add's rule reads neither
                    # operand, so none is marked as read (see `operator`)
                    try:
                        data = forward(y, x) if reflected else forward(x, y)
                    except (*FLOAT_ERRORS, *NUMPY_ALARMS, TypeError):
                        pass  # (shapes that do not broadcast: `operator` says so)
                if type(data) is not array or data.dtype is not _FLOAT64 or not data.ndim:
                    x = y = None  # (the arrays let go: `changes.viewed` counts holders)
                    return routes._operator(prim, other, self) if reflected else \
                        routes._operator(prim, self, other)
            else:
                kind = type(other)
                if type(x) is not float or (kind is not float and kind is not int):
                    x = None  # (as above)
                    return routes._operator(prim, other, self) if reflected else \
                        routes._operator(prim, self, other)
                try:
                    c = other if kind is float else float(other)  # (what `constant` does)
                    data = forward(c, x) if reflected else forward(x, c)
                except FLOAT_ERRORS:
                    return method(self, other)
                grad = no_gradient
                # engine.constant(c), inlined: `2 * w` comes here
                right = new(cls)
                right._data = c
                right._label = ""
                right._requires_grad = False
                right.op = right._first = right._second = None
                right.params = no_params
                right._grad = no_gradient
                right._number = number()
                right._mark = None
            out = new(cls)
            out._data = data
            out._label = ""
            if (self._requires_grad or right._requires_grad) and (
                    grad_mode.enabled or _recording()):
                out._requires_grad = True
                out.op = prim
                if reflected:
                    out._first, out._second = right, self
                else:
                    out._first, out._second = self, right
                if _graph is None and type(data) is float:
                    _watch(out)
            else:
                out._requires_grad = False
                out.op = out._first = out._second = None
            out.params = no_params
            out._grad = grad
            out._number = number()
            out._mark = None
            return out

        return operator

    def fused_method(self, name: str, method: Callable[[Value], Any]) -> Callable[[Value], Any]:
        """`method`, a named operation of Value without params (``x.relu()`` applies the
        primitive `name` to x), in one call for a float: the forward and the node inline,
        instead of `Value.apply` and `apply` with their ``*args`` and ``**params``; so for
        relu of a computed array (no leaf to mark as read), while no array is handed out.
        Another tensor goes to the engine's `apply`, as `method` (``self.apply(name)``) would
        send it; anything else to `method` itself, kept as `__wrapped__`."""
        cls, new, number = self.value_class, object.__new__, self.creation_number
        no_params, registry, routes = self.no_params, self.registry, self.routes
        handed_out, array, no_gradient = self.handed_out, np.ndarray, self.no_gradient
        prim: Primitive | None = None  # (found at the first call, as in `fused`)
        forward: Callable[[Any], Any] = method
        inline = False  # whether the forward is `kernels.relu`, done inline

        @functools.wraps(method)
        def operation(self: Value) -> Any:
            nonlocal prim, forward, inline
            if prim is None:
                prim = registry[name]
                forward = prim.forward
                inline = forward is relu
            x: Any = self._data
            if type(x) is not float:
                if not (inline and type(x) is array and self.op is not None and not handed_out):
                    x = None  # (the array let go: `changes.viewed` counts its holders)
                    return routes.apply(prim, self)
                # relu of a computed array (of a layer), inline as for a float: no leaf to
                # mark as read (see `fused`'s two arrays)
                data: Any = np.maximum(x, 0.0)  # (kernels.relu of an array)
                grad = None  # (the node's .grad to begin with: a tensor's)
            else:
                if inline:
                    data = 0.0 if x <= 0.0 else x  # (kernels.relu of a float)
                else:
                    try:
                        data = forward(x)
                    except (*FLOAT_ERRORS, TypeError):
                        return method(self)  # (IEEE results, or an error that says why)
                    if type(data) is not float:
                        return method(self)
                grad = no_gradient
            out: Value = new(cls)
            out._data = data
            out._label = ""
            if self._requires_grad and (grad_mode.enabled or _recording()):
                out._requires_grad = True
                out.op = prim
                out._first = self
                if _graph is None and type(data) is float:
                    _watch(out)
            else:
                out._requires_grad = False
                out.op = out._first = None
            out._second = None
            out.params = no_params
            out._grad = grad
            out._number = number()
            out._mark = None
            return out

        return operation

    def fuse_operators(self, fused: bool = True) -> None:
        """Replace the value class's operators named in `FUSED` and methods named in
        `FUSED_METHODS` by their `fused` and `fused_method` copies (made once), or put the
        methods written in the classes back (``fused=False``)."""
        cls = self.value_class
        if not self.fused_operators:
            self.fused_operators = {method: self.fused(name, reflected, getattr(cls, method))
                                    for method, (name, reflected) in FUSED.items()}
            self.fused_operators.update({name: self.fused_method(name, getattr(cls, name))
                                         for name in FUSED_METHODS})
            for method, copy in self.fused_operators.items():  # named where pickle finds it
                # (``activation=Value.tanh`` in a model), whatever Value holds now (while
                # anomalies are detected, the methods as written): not the method written in
                # a base class, which `functools.wraps` named
                setattr(FusedCopies, method, copy)
                copy.__module__ = __name__
                copy.__qualname__ = f"{FusedCopies.__qualname__}.{method}"
        for method, copy in self.fused_operators.items():
            setattr(cls, method, copy if fused else copy.__wrapped__)  # type: ignore[attr-defined]


class FusedCopies:
    """The fast copies of Value's operators and methods (`Unrolled.fuse_operators`), by name:
    where pickle finds one a model holds (``activation=Value.tanh``) in either mode."""


FUSED = {"__add__": ("add", False), "__radd__": ("add", True), "__sub__": ("sub", False),
         "__rsub__": ("sub", True), "__mul__": ("mul", False), "__rmul__": ("mul", True),
         "__truediv__": ("div", False), "__rtruediv__": ("div", True)}
"""The operators `Unrolled.fused` makes copies of: method, (primitive, reflected); each is
``_operator(primitive, self, other)``, or ``(..., other, self)`` reflected."""

FUSED_METHODS = ("relu", "tanh", "sigmoid", "exp", "log")
"""The named operations `Unrolled.fused_method` makes copies of (each ``self.apply(name)``)."""


_FLOAT64 = np.dtype(np.float64)  # (a float64 array of another byte order goes the long way)
_INT64 = np.dtype(np.int64)


def _is_tensor(x: Any) -> bool:
    """A float64 array with at least one axis: what a tensor Value holds."""
    return type(x) is np.ndarray and x.dtype == np.float64 and x.ndim > 0
