"""Values as Python objects: a graph pickles (and deep-copies) as one flat table.

Pickling each node with its operands would recurse once per step of the graph; instead the
nodes behind a Value are written as a flat list of rows, oldest first, each naming its
operands by their place in the list, so a graph of any depth works. Primitives pickle by
their registry name (their rules are code). Registered with `copyreg` for `Value`, so
`pickle` and `copy.deepcopy` use it. A graph whose data changed after it was recorded
(`tinygrad_edu.changes`) comes back changed in the same place: the copy refuses `backward()`
where the original does.

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

from tinygrad_edu.changes import UNREAD, changed, is_read, stale_reads
from tinygrad_edu.engine import NO_PARAMS, Value, init_slots, topological_order

__all__ = ["reduce_value"]


class _GraphTable:
    """The nodes behind a Value, oldest first, for one `pickle.dumps` or `copy.deepcopy`.

    A node already in another table in use (a shared leaf pickled with an earlier Value) is
    named as that Value, so sharing survives.
    """

    __slots__ = ("__weakref__", "index", "nodes")

    def __init__(self, value: Value) -> None:
        self.nodes = [node for node in reversed(topological_order(value, constants=True))
                      if node is value or id(node) not in _tables_in_use]
        self.index = {id(node): i for i, node in enumerate(self.nodes)}
        for node in self.nodes:
            _tables_in_use[id(node)] = self

    def __reduce__(self) -> Any:
        index = self.index
        rows = [(node._data, node._grad, node.label, node.requires_grad, node.op,
                 dict(node.params), tuple(index.get(id(p), p) for p in node.parents),
                 is_read(node))  # (whether a rule may read it: changes.py)
                for node in self.nodes]
        # data changed after a node here that reads it was made: the copy is stamped so that
        # it refuses backward() as the original does (changes.py). A node of this table is
        # stamped where its change falls among the nodes, an operand from another table (its
        # place among these is not known) through the nodes here that read it
        numbers = [node._number for node in self.nodes]
        changes = {(index[id(value)], bisect.bisect_left(numbers, value._changed))
                   if id(value) in index else (index[id(reader)], len(numbers))
                   for value, reader in stale_reads(self.nodes)}
        return _rebuild_graph, (rows, sorted(changes))


# a table lives as long as the pickler (or deepcopy) using it holds it
_tables_in_use: weakref.WeakValueDictionary[int, _GraphTable] = weakref.WeakValueDictionary()


def reduce_value(value: Value) -> tuple[Any, ...]:
    """How `value` pickles: its place in the table of its graph (made once per pickling)."""
    table = _tables_in_use.get(id(value))
    if table is None:
        table = _GraphTable(value)
    return _node_of, (table, table.index[id(value)])


def _rebuild_graph(rows: list[tuple[Any, ...]],
                   changes: Sequence[tuple[int, int]] = ()) -> list[Value]:
    """The nodes of a pickled table, new, in the same order (so their creation numbers are);
    each of `changes`, (a node's place, a place among the nodes), is stamped changed there."""
    nodes: list[Value] = []
    stamps: dict[int, list[int]] = {}
    for node_place, place in changes:
        stamps.setdefault(place, []).append(node_place)

    def stamp_at(place: int) -> None:
        for node_place in stamps.pop(place, []):
            changed(nodes[node_place])

    for data, grad_, label, requires_grad, op, params, parents, *read in rows:
        stamp_at(len(nodes))
        operands = tuple(nodes[p] if type(p) is int else p for p in parents)
        node = init_slots(Value.__new__(Value), data, requires_grad, op, operands,
                          params or NO_PARAMS)
        node.label, node._grad = label, grad_
        if read == [False]:  # no rule read it: nor does one in the copy (a table of 7: read)
            node._changed = UNREAD
        nodes.append(node)
    stamp_at(len(nodes))
    return nodes


def _node_of(table: list[Value] | _GraphTable, i: int) -> Value:
    return table.nodes[i] if isinstance(table, _GraphTable) else table[i]


copyreg.pickle(Value, reduce_value)
