"""Values as Python objects: a graph pickles (and deep-copies) as one flat table.

Pickling each node with its operands would recurse once per step of the graph; instead the
nodes behind a Value are written as a flat list of rows, oldest first, each naming its
operands by their place in the list, so a graph of any depth works. Primitives pickle by
their registry name (their rules are code). A gradient that is a Value (after
``backward(create_graph=True)``) is a node of the same table, so its graph, which leads back
to the node it is the gradient of, pickles too. Registered with `copyreg` for `Value` (a
subclass registers `reduce_value` itself, as `tinygrad_edu.micrograd` does; its instances come
back of their class), so `pickle` and `copy.deepcopy` use it. A graph whose data changed after
it was recorded (`tinygrad_edu.changes`) comes back changed in the same place: the copy
refuses `backward()` where the original does; copies of Values that hold one array (a
`detach()`, a `copy.copy`) hold one array again, and an edit through one is seen by both; and
a recorded view (``x.T``, ``x.reshape(4)``, ``x[0]``) is a view of the copy of x again, so
that a change of the copy of x (an optimizer's step) is one of its numbers, as in the
original.

>>> import copy, pickle
>>> from tinygrad_edu import Value
>>> x = Value(3.0)
>>> y = pickle.loads(pickle.dumps(x * x + x))  # a new graph, with a new x
>>> y.backward()
>>> y.data, y.parents[1].grad, x.grad
(12.0, 7.0, 0.0)
>>> deep = x
>>> for _ in range(20_000):
...     deep = deep * 1.0
>>> copy.deepcopy(deep).data
3.0
"""

from __future__ import annotations

import bisect
import copyreg
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_edu.changes import (
    UNREAD,
    changed,
    is_read,
    note_holder,
    seal_or_watch,
    share,
    stale_reads,
    view_stamp,
)
from tinygrad_edu.engine import NO_PARAMS, Value, init_slots
from tinygrad_edu.kernels import set_writeable
from tinygrad_edu.storage import NO_GRADIENT_YET

__all__ = ["reduce_value"]


class _GraphTable:
    """The nodes behind a Value, oldest first, for one `pickle.dumps` or `copy.deepcopy`.

    A node already in another table in use (a shared leaf pickled with an earlier Value) is
    named as that Value, so sharing survives.
    """

    __slots__ = ("__weakref__", "arrays", "index", "nodes")

    def __init__(self, value: Value) -> None:
        self.nodes = [node for node in _reachable(value)
                      if node is value or id(node) not in _tables_in_use]
        self.index = {id(node): i for i, node in enumerate(self.nodes)}
        self.arrays: dict[int, Value] = {}  # the first node here to hold each array, by its id
        for node in self.nodes:
            _tables_in_use[id(node)] = self
            if type(node._data) is np.ndarray:
                self.arrays.setdefault(id(node._data), node)
        first = [key for key, node in self.arrays.items() if _holder_in_use(node._data) is None]
        me = weakref.ref(self, lambda gone: _forget(gone, first))  # (held by _arrays_in_use)
        _arrays_in_use.update(dict.fromkeys(first, me))

    def __reduce__(self) -> Any:
        index = self.index
        # a gradient that is a node here is named by its place (it may lead back to its node)
        grads = [(i, index[id(node._grad)]) for i, node in enumerate(self.nodes)
                 if isinstance(node._grad, Value) and id(node._grad) in index]
        linked = {i for i, _ in grads}
        # (a gradient None: none yet, or linked below)
        rows = [(node._data, None if i in linked or node._grad is NO_GRADIENT_YET
                 else node._grad, node.label, node._requires_grad, node.op, dict(node.params),
                 tuple(index.get(id(p), p) for p in node.parents),
                 is_read(node),  # (whether a rule may read it: changes.py)
                 *(() if type(node) is Value else (type(node),)))  # (a subclass's leaf)
                for i, node in enumerate(self.nodes)]
        # data changed after a node here that reads it was made: the copy is stamped so that
        # it refuses backward() as the original does (changes.py). A node of this table is
        # stamped where its change falls among the nodes, an operand from another table (its
        # place among these is not known) through the nodes here that read it
        numbers = [node._number for node in self.nodes]
        views = [place for place, node in enumerate(self.nodes) if _views_its_operand(node)]
        viewing = set(views)
        changes: set[tuple[int, int]] = set()
        for value, reader in stale_reads(self.nodes):
            if id(value) not in index:
                changes.add((index[id(reader)], len(numbers)))
                continue
            place = bisect.bisect_left(numbers, value._changed)
            changes.add((index[id(value)], place))
            # a recorded view of `value` that the reader reads, and that the copy makes an
            # array of its own (``x.T`` after x was rebound: no view of x's array now), does
            # not see the change through `value`: it is stamped there too
            changes.update((index[id(operand)], place) for operand in reader.parents
                           if operand is not value and id(operand) in index
                           and index[id(operand)] not in viewing
                           and view_stamp(operand)[1] is value)
        return _rebuild_graph, (rows, sorted(changes), grads, self._shared_arrays(), views)

    def _shared_arrays(self) -> list[tuple[int, int | Value]]:
        """(a node's place, the node it shares its array with: a place here, or a node of
        another table) for each node holding an array an older holder holds (a `detach()`, a
        `copy.copy`, a numpy constant used twice): the copies are watched together, as the
        originals are (`changes.share`), so an edit through one stamps both."""
        shared: list[tuple[int, int | Value]] = []
        for place, node in enumerate(self.nodes):
            data = node._data
            if type(data) is not np.ndarray:
                continue
            holder = _holder_in_use(data)
            if holder is not None and _tables_in_use.get(id(holder)) is not self:
                shared.append((place, holder))  # (pickled earlier, with another Value)
                continue
            first = self.arrays[id(data)]
            if first is not node:
                shared.append((place, self.index[id(first)]))
        return shared


def _views_its_operand(node: Value) -> bool:
    """Whether `node` is a recorded view whose array is a view of its operand's memory (a
    fancy index's, a copy, is not)."""
    data = node._data
    if node.op is None or node.op.reads_data or type(data) is not np.ndarray or \
            data.base is None:
        return False
    operand = node.parents[0]._data
    return type(operand) is np.ndarray and np.may_share_memory(data, operand)


def _reachable(value: Value) -> list[Value]:
    """Every node `value` depends on, constants too, and the nodes of their gradients that
    are Values; oldest first (an operand is older than its result), walked without recursion."""
    found = {id(value): value}
    stack = [value]
    while stack:
        node = stack.pop()
        grad = node._grad
        for other in (*node.parents, grad) if isinstance(grad, Value) else node.parents:
            if id(other) not in found:
                found[id(other)] = other
                stack.append(other)
    return sorted(found.values(), key=lambda node: node._number)


# a table lives as long as the pickler (or deepcopy) using it holds it
_tables_in_use: weakref.WeakValueDictionary[int, _GraphTable] = weakref.WeakValueDictionary()
# the table in use whose node first held each array, by the array's id (a plain dict of
# weak references: a WeakValueDictionary costs a training graph's pickling 10% more)
_arrays_in_use: dict[int, weakref.ref[_GraphTable]] = {}


def _forget(table: weakref.ref[_GraphTable], keys: list[int]) -> None:
    """A table is gone: so are its entries in `_arrays_in_use`."""
    for key in keys:
        if _arrays_in_use.get(key) is table:
            del _arrays_in_use[key]


def _holder_in_use(data: Any) -> Value | None:
    """The node of a table in use that first held the array `data`, if any."""
    ref = _arrays_in_use.get(id(data))
    table = None if ref is None else ref()
    holder = None if table is None else table.arrays.get(id(data))
    return holder if holder is not None and holder._data is data else None


def reduce_value(value: Value) -> tuple[Any, ...]:
    """How `value` pickles: its place in the table of its graph (made once per pickling)."""
    table = _tables_in_use.get(id(value))
    if table is None:
        table = _GraphTable(value)
    return _node_of, (table, table.index[id(value)])


def _rebuild_graph(rows: list[tuple[Any, ...]], changes: Sequence[tuple[int, int]] = (),
                   grads: Sequence[tuple[int, int]] = (),
                   shared: Sequence[tuple[int, int | Value]] = (),
                   views: Sequence[int] = ()) -> list[Value]:
    """The nodes of a pickled table, new, in the same order (so their creation numbers are);
    each of `changes`, (a node's place, a place among the nodes), is stamped changed there;
    each of `grads`, (a node's place, its gradient's place), links a gradient that is a Value;
    each of `shared`, (a node's place, a holder of its array), is watched with its holder;
    each node of `views` (a place) views its operand's array, made again by its forward."""
    nodes: list[Value] = []
    stamps: dict[int, list[int]] = {}
    for node_place, place in changes:
        stamps.setdefault(place, []).append(node_place)
    view_places = set(views)

    def stamp_at(place: int) -> None:
        for node_place in stamps.pop(place, []):
            changed(nodes[node_place])

    for data, grad_, label, requires_grad, op, params, parents, *rest in rows:
        stamp_at(len(nodes))
        operands = tuple(nodes[p] if type(p) is int else p for p in parents)
        if len(nodes) in view_places:  # (the same numbers, in the copy of its operand's array)
            data = op.forward(operands[0]._data, **params)
        kind: type[Value] = rest[1] if len(rest) > 1 else Value
        node = init_slots(kind.__new__(kind), data, requires_grad, op, operands,
                          params or NO_PARAMS)
        node.label = label
        if grad_ is not None:  # (None: as init_slots left it, no gradient yet)
            node._grad = grad_
        if rest[:1] == [False]:  # no rule read it: nor does one in the copy (a row of 7: read)
            node._changed = UNREAD
            note_holder(node)  # (its array is handed out as it is)
        elif op is None and requires_grad:  # a read leaf's array (a parameter's): unpickled
            # with it (a checkpoint of a model and its arrays) it may be held elsewhere, so it
            # is watched, as a kept `.data` of the original is, until nothing else holds it
            seal_or_watch(node, held=True)
        nodes.append(node)
    stamp_at(len(nodes))
    _seal_shared_gradients(nodes)
    for node_place, grad_place in grads:
        nodes[node_place]._grad = nodes[grad_place]
    for node_place, holder in shared:
        share(nodes[holder] if isinstance(holder, int) else holder, nodes[node_place])
    return nodes


def _seal_shared_gradients(nodes: list[Value]) -> None:
    """A gradient array several nodes hold (the fast pass sends one array on, read-only, so
    that no edit leaks: `fast._own`; `.grad` gives a node its own copy when read) is
    read-only in the copy too: the copy's array was writeable, and an edit through one
    node's `.grad` changed the others'."""
    holders: dict[int, int] = {}
    for node in nodes:
        if type(node._grad) is np.ndarray:
            holders[id(node._grad)] = holders.get(id(node._grad), 0) + 1
    for node in nodes:
        if type(node._grad) is np.ndarray and holders[id(node._grad)] > 1:
            set_writeable(node._grad, False)


def _node_of(table: list[Value] | _GraphTable, i: int) -> Value:
    return table.nodes[i] if isinstance(table, _GraphTable) else table[i]


copyreg.pickle(Value, reduce_value)
