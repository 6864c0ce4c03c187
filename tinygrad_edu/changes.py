"""Changed data: a graph refuses to backpropagate through data changed after it was recorded.

A rule computes gradients from the data its node and operands held in the forward pass (the
gradient of ``x * w`` for `w` is `x`). Change that data before `backward()` and the
gradients would be silently wrong, so `backward()` raises instead (as PyTorch's version
counters do), naming the Value. The rule: change data between steps (after `backward()`,
before the next forward pass), as optimizers do, or run the forward pass again after it.

How each change is seen, at no cost to a training step:

* **Rebinding** (``x.data = 10.0``, ``x.data -= lr * x.grad``): `Value.data`'s setter calls
  `changed`, which stamps the Value with the clock (the counter that numbers new Values).
  A node's operand stamped after the node was made is stale.
* **Editing an array in place** (``x.data[0] = 100``, ``np.add(x.data, 1, out=x.data)``):
  the getter hands the array out (`hand_out`) with a copy of its content; `check` (at
  `backward()`) and `seal` (when the Value is used again) compare the two, and stamp the
  Value if they differ. `seal` then makes the array read-only, so that nothing changes it
  behind the engine's back, unless something still holds it (a reference kept, `viewed`):
  then it stays writeable, as PyTorch's ``w.data`` does (an update between steps through a
  kept reference is legal), and is compared at each use and at `backward()`; the getter
  makes it writeable again.
* **Shared arrays**: ``x.detach()`` and ``copy.copy(x)`` hold x's array; `share` links
  them, so that a change stamped on one is stamped on every Value holding that array. A
  detached view (``x.T.detach()``) holds a view of x's array: a change stamped on x is
  stamped on it too. Rebinding one (``x.data = new``) leaves the others the old array, its
  hand-out theirs now (`hand_over`): an edit through a reference to it still counts.
* **Views of a Value** (``v = x.T``, ``x[0]``, ``x.reshape(4)``, recorded): v's array is a
  view of x's, so an edit through ``v.data`` is an edit of x. The getter hands out the Value
  that owns the memory (`_owner`) with the view, and the edit is stamped on both. A change
  of x is one of v's numbers (or, x rebound, leaves v showing an array no longer watched):
  `check` names x for a node made before the change that reads v (`view_stamp`). The
  view's own node reads no number (`Primitive.reads_data`), so a view made once, and read
  by each step's graph while an optimizer changes x between steps, is no stale read.
* **A Value's array given back** (``w * x.data``, ``w * x.data[0]``): the constant gets a
  copy (`operand`), or an edit of x (an optimizer's step) would change its numbers unseen.
  (A user's own array is used as it is, as `torch.as_tensor` does: its edits are the user's.)
* **Constants are not views**: an operation that records nothing (``c = x.reshape(4)`` with x
  needing no gradient, or in no_grad) gives a constant whose array is its own (`unaliased`:
  numpy's view of x's array is copied), since a change is stamped on the Values that hold an
  array, and c is no operand of x in any graph that reads c. (A recorded view is an operand's
  result: a change of that operand is seen as any other.)
* **Arrays held elsewhere** (``a = x.data`` kept; ``row = x.data[0]``, a view, which numpy's
  read-only flag would not reach): where the engine would seal an array that something else
  still holds (`viewed`: its reference count says so), it keeps the array's hand-out,
  writeable, and compares it at each use and at `backward()` until nothing else holds it.
* **Data no rule reads** is not watched: no gradient depends on it, so a graph may use it
  and still backpropagate after it changed (as PyTorch, which saves for backward only what a
  rule reads). The engine knows it only for a tensor Value the user made (``Value(...)``)
  that no recorded operation has used in a way that may read its data, such as `W` in
  ``X @ W`` with a numpy batch `X` (data, not a Value), or a bias only added
  (`Primitive.reads_operands` says which operands a rule reads); its array
  stays writeable and is handed out as it is, untracked, and neither its in-place edits nor
  its rebinding are stamped (its `Value._changed` is UNREAD, or below it: a rebinding or an
  optimizer's step is noted for pictures, `unread_changed`). The first recorded operation
  whose rule may read it marks it (`first_read`) for good, and makes its array read-only, so
  that a reference handed out before cannot change it unseen. A deep copy (pickling.py)
  keeps the mark, and so does sharing the array. Everything else is watched: results,
  constants, `detach()` and `copy.copy`, and every scalar (a scalar's changes are always
  stamped).

`check` costs one comparison when nothing changed after the graph's oldest node was made.

>>> from tinygrad_edu import Value
>>> x, w = Value([1.0, 2.0], label="x"), Value([3.0, 4.0])
>>> y = (x * w).sum()
>>> x.data[0] = 100.0
>>> y.backward()  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
RuntimeError: backward(): the data of x (shape (2,)) changed after the graph was recorded, ...
"""

from __future__ import annotations

import itertools
import sys
import weakref
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_edu.kernels import set_writeable

if TYPE_CHECKING:
    from tinygrad_edu.engine import Value

_ref = weakref.ref
tick = itertools.count(1).__next__
"""The clock: it numbers new Values (an operand precedes its result) and stamps changes."""

_last_change = 0  # the stamp of the latest change to any Value's data

HANDED_OUT: dict[int, tuple[weakref.ref[Value], np.ndarray[Any, Any], bool]] = {}
"""Arrays the `data` getter handed out, by id of their Value: (the Value, a copy of the array
as it was then, whether it is `viewed`). Emptied as the Values are used again, and at
`backward()` of those that nothing else holds now (the array sealed: `_stamp_if_edited`),
but for viewed arrays; pruned of Values gone as it grows."""
_prune_handed_out_at = 64


UNREAD = -1
"""`Value._changed` of a leaf whose data no recorded rule reads yet (or below: UNREAD minus the
time of its latest change, which only pictures look at: `changed_after_use`); a Value whose
data a rule may read has no stamp (0) until its data changes, then the time of the change.
(A scalar leaf is stamped at any change: from then on it counts as read, which only watches
more.)"""


_SHARED: dict[int, list[weakref.ref[Value]]] = {}
"""Values that hold one array (`detach()` and `copy.copy` share it), by id of the array: a
change of it in place is stamped on each of them. Pruned as it grows."""
_SHARED_VIEWS: dict[int, list[weakref.ref[Value]]] = {}
"""Values that hold a view of another Value's array (``x.T.detach()``: x.T's array, a view of
x's), by id of the array viewed: a change of that array is one of theirs. Pruned with
`_SHARED`."""
_prune_shared_at = 64


def share(value: Value, other: Value) -> None:
    """`other` holds `value`'s array now (a detached or copied Value): watch them together,
    so that an edit through either is seen by a graph that read the other; and, when that
    array is a view of another Value's (``x.T.detach()``), a change of x is one of other's."""
    global _prune_shared_at
    if type(value._data) is not np.ndarray:
        return  # (a float cannot change in place)
    array = value._data
    refs = _SHARED.setdefault(id(array), [])
    refs[:] = [ref for ref in refs if getattr(ref(), "_data", None) is array]
    held = {id(ref()) for ref in refs}
    refs.extend(_ref(v) for v in (value, other) if id(v) not in held)
    if array.base is not None:  # (a view made each step: the list keeps the living ones)
        viewers = _SHARED_VIEWS.setdefault(id(_memory(array)), [])
        viewers[:] = [ref for ref in viewers if ref() is not None]
        viewers.append(_ref(other))
    del array  # (this frame's reference: see `viewed`)
    first_read(value)  # (a rule may read the array through `other` now)
    if len(_SHARED) + len(_SHARED_VIEWS) > _prune_shared_at:  # (arrays gone, or not held)
        for table, least in ((_SHARED, 2), (_SHARED_VIEWS, 1)):
            for key, holders in list(table.items()):
                if sum(ref() is not None for ref in holders) < least:
                    del table[key]
        _prune_shared_at = max(64, 2 * (len(_SHARED) + len(_SHARED_VIEWS)))


def _sharers(value: Value) -> list[Value]:
    """The other Values that hold `value`'s array (see `share`)."""
    array = value._data
    return [other for ref in _SHARED.get(id(array), ())
            if (other := ref()) is not None and other is not value and other._data is array]


def _stamp(value: Value) -> None:
    """Stamp `value`, and the Values that share its array: its data changed now."""
    global _last_change
    value._changed = _last_change = tick()
    if _SHARED:
        for other in _sharers(value):
            other._changed = _last_change
    if _SHARED_VIEWS and type(value._data) is np.ndarray:  # (and those holding a view of it)
        memory = _memory(value._data)
        for ref in _SHARED_VIEWS.get(id(memory), ()):
            viewer = ref()
            if viewer is not None and type(viewer._data) is np.ndarray and \
                    _memory(viewer._data) is memory:
                viewer._changed = _last_change


def is_read(value: Value) -> bool:
    """Whether a recorded rule may read `value`'s data (everything but an UNREAD leaf)."""
    return getattr(value, "_changed", 0) > UNREAD


def changed(value: Value, calling: int = 0) -> bool:
    """Stamp `value`: its data changed now (the setter of `Value.data` calls this, but not
    for an array no recorded rule reads, `is_read` False: no gradient depends on it, nor
    was it handed out with a copy: `hand_out`). Its hand-out is settled: sealed, or, held
    elsewhere at its last use or now (`viewed`: a view made since it was handed out, say,
    ``v = x.data[0]`` before an optimizer's step), watched still with a copy, writeable;
    True then. `calling`: the references the caller holds to the array, not counted
    (`ASSIGNMENT_REFERENCES` for the setter of `Value.data`)."""
    _stamp(value)
    entry = HANDED_OUT.pop(id(value), None)
    if entry is None:
        return False
    if entry[0]() is value and type(value._data) is np.ndarray and (entry[2] or (
            value._data.base is None and sys.getrefcount(value._data) > _HELD_BY_ITS_VALUE
            + calling + (len(_sharers(value)) if _SHARED else 0))):  # (`viewed`, inlined:
        # an optimizer's step runs this for each parameter handed out)
        HANDED_OUT[id(value)] = (entry[0], value._data.copy(), True)  # (still `viewed`? the
        return True  # next use tells)
    _make_read_only(value._data)
    return False


def seal_or_watch(value: Value, held: bool | None = None) -> None:
    """`value`'s array, which a rule may read from now on (`first_read`) or made anew (a
    copy's, unpickled): sealed (read-only), or, where something else may hold it (`held`,
    else `viewed` tells), watched with a copy, writeable (see `seal`)."""
    if type(value._data) is not np.ndarray:
        return  # (no local name for the array: `viewed` counts its references)
    if held if held is not None else viewed(value):
        HANDED_OUT[id(value)] = (_ref(value), value._data.copy(), True)
    else:
        _make_read_only(value._data)


def unread_changed(value: Value) -> None:
    """`value`'s data, which no recorded rule reads, changed now (a rebinding, an optimizer's
    step): not watched, but noted for pictures (`changed_after_use`)."""
    value._changed = UNREAD - tick()


def hand_out(value: Value, array: np.ndarray[Any, Any]) -> None:
    """`value.data` (`array`) is leaving the engine: let it be written, and keep a copy to
    compare with (an array no recorded rule reads is handed out as it is: it is writeable).
    A recorded view's array is its owner's memory: the owner is handed out too, so that an
    edit through the view is stamped on the Value whose data the graph reads."""
    holders = HOLDERS.get(id(array) if array.base is None else id(_memory(array)))
    if holders is None or holders[-1]() is not value:
        note_holder(value)
    if array.base is not None:  # a view: of its operand's array, or (detached) a sharer's
        view = value if value.op is not None else \
            next((other for other in _sharers(value) if other.op is not None), None)
        owner = value if view is None else _owner(view)
        if owner is not value and is_read(owner):
            hand_out(owner, owner._data)  # type: ignore[arg-type]
    key = id(value)
    entry = HANDED_OUT.get(key)
    held = entry is not None and entry[0]() is value  # (a copy kept already)
    if held and array.flags.writeable:
        return
    try:
        set_writeable(array, True)  # (sealed by `seal`)
    except ValueError:  # a view of a sealed array: it stays read-only, and cannot change,
        if not array.flags.writeable:  # unless it was made before its base was sealed
            return
    if not held:
        global _prune_handed_out_at
        if len(HANDED_OUT) > _prune_handed_out_at:  # (Values gone: their copies let go)
            for gone in [k for k, (ref, _, _) in list(HANDED_OUT.items()) if ref() is None]:
                HANDED_OUT.pop(gone, None)  # (another thread's prune may be first)
            _prune_handed_out_at = max(64, 2 * len(HANDED_OUT))
        HANDED_OUT[key] = (_ref(value), array.copy(), False)


def hand_over(value: Value) -> None:
    """`value` is about to hold another array (a rebinding, ``x.data = new``): the Values that
    share its array (a `detach()`, a copy) still hold it, so its hand-out becomes theirs. An
    edit made through it so far is stamped on them all; one made later, through a reference
    the user kept (``old = x.data``), is seen at their next use and at `backward()`."""
    entry = HANDED_OUT.get(id(value))
    if entry is None or entry[0]() is not value or not _SHARED:
        return
    array = value._data
    memory = _memory(array)  # type: ignore[arg-type]
    viewers = [viewer for ref in _SHARED_VIEWS.get(id(memory), ())
               if (viewer := ref()) is not None and type(viewer._data) is np.ndarray
               and _memory(viewer._data) is memory]  # (``x.T.detach()``: see `share`)
    holders = _sharers(value) + viewers
    if not holders:
        return
    copy = array.copy() if _compare(value, entry[1]) else entry[1]  # type: ignore[union-attr]
    for other in holders:
        held = HANDED_OUT.get(id(other))
        if held is None or held[0]() is not other:  # (one of its own watches already)
            HANDED_OUT[id(other)] = (_ref(other), copy if other._data is array else
                                     other._data.copy(), True)  # type: ignore[union-attr]


def _memory(array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The array that owns `array`'s memory (`array` itself, unless it is a view), through
    bases that are not arrays too: the wrapper of `as_strided` and `sliding_window_view`
    (its `base`), a memoryview (its `obj`)."""
    while True:
        base = array.base
        if isinstance(base, memoryview):
            base = base.obj
        elif base is not None and not isinstance(base, np.ndarray):
            base = getattr(base, "base", None)
        if not isinstance(base, np.ndarray):
            return array
        array = base


def _owner(view: Value) -> Value:
    """The Value whose array a recorded view's array (``x.T``, ``x[0]``, ``x.reshape(4)``)
    is a view of: up the chain of views, the furthest operand that holds the same memory."""
    memory = _memory(view._data)  # type: ignore[arg-type]
    node = view
    while node._data is not memory and node.op is not None:
        for parent in node.parents:
            data = parent._data
            if type(data) is np.ndarray and _memory(data) is memory:
                node = parent
                break
        else:
            break
    return node


HOLDERS: dict[int, list[weakref.ref[Value]]] = {}
"""The Values whose arrays the user may hold, by id of the array that owns their memory: a
tensor leaf's (handed out as it is while no rule reads it: noted when it is made or given
new data), and any array `.data` handed out. One of them (or a view of one) given back as an
operand is copied (`operand`)."""
_prune_holders_at = 256


def note_holder(value: Value) -> None:
    """`value`'s array may reach the user (see `HOLDERS`)."""
    global _prune_holders_at
    data = value._data
    if type(data) is not np.ndarray:
        return
    key = id(_memory(data))
    holders = HOLDERS.get(key)
    if holders is None:
        HOLDERS[key] = [_ref(value)]
        if len(HOLDERS) > _prune_holders_at:  # (Values gone, or holding other arrays now)
            for key, holders in list(HOLDERS.items()):
                if not any(_holds(key, ref) for ref in holders):
                    del HOLDERS[key]
            _prune_holders_at = max(256, 2 * len(HOLDERS))
    elif not any(ref() is value for ref in holders):
        holders[:] = [ref for ref in holders if _holds(key, ref)]
        holders.append(_ref(value))


def _holds(key: int, ref: weakref.ref[Value], slot: str = "_data") -> bool:
    """Whether the Value of `ref` still holds the memory of id `key` (in `slot`: its data,
    or its gradient)."""
    array = getattr(ref(), slot, None)
    return type(array) is np.ndarray and id(_memory(array)) == key


GRADIENTS: dict[int, weakref.ref[Value]] = {}
"""The Values whose gradient arrays `.grad` handed out, by id of the array that owns their
memory (noted at each read: a backward pass gives a new array). One of them (or a view of
one) given back as an operand is copied too (`operand`)."""
_prune_gradients_at = 64


def note_gradient(value: Value, grad: np.ndarray[Any, Any]) -> None:
    """`value`'s gradient array `grad` is handed out (see `GRADIENTS`)."""
    global _prune_gradients_at
    GRADIENTS[id(grad) if grad.base is None else id(_memory(grad))] = _ref(value)
    if len(GRADIENTS) > _prune_gradients_at:  # (Values gone, or holding other arrays now)
        for key, ref in list(GRADIENTS.items()):
            if not _holds(key, ref, "_grad"):
                del GRADIENTS[key]
        _prune_gradients_at = max(64, 2 * len(GRADIENTS))


def operand(array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """A float64 array given as an operand (``w * X``), for a constant: used as it is (as
    `torch.as_tensor` does: the user's array, whose edits are the user's), unless it is a
    Value's own array or a view of one (``w * x.data``, ``w * x.data[0]``, ``w * x.grad``):
    then a copy, since an edit of x (an optimizer's step, say, or a gradient clipped in place)
    would change the constant's numbers unseen.

    >>> from tinygrad_edu import Value
    >>> x, batch = Value([1.0, 2.0]), np.zeros(2)
    >>> operand(batch) is batch, operand(x.data) is x.data
    (True, False)
    """
    key = id(array) if array.base is None else id(_memory(array))
    holders = HOLDERS.get(key)
    if holders is not None and any(_holds(key, ref) for ref in holders):
        return array.copy()
    ref = GRADIENTS.get(key)
    if ref is not None and _holds(key, ref, "_grad"):
        return array.copy()
    return array


def first_read(value: Value) -> None:
    """A recorded rule may read `value`'s data from now on: mark it, and make its array
    read-only (unless it was marked already: then it is watched). An array handed out
    before, and held still (a view of it, say), is `viewed` from now on."""
    if getattr(value, "_changed", 0) <= UNREAD:
        value._changed = 0  # (read from now on, not changed since)
        seal_or_watch(value)


def unaliased(data: Any) -> Any:
    """The data of a constant, the result of an operation that records nothing (its operands
    need no gradient, or recording is off): a view of another array (a reshape, transpose,
    slice or broadcast) copied. A rule that reads the constant then reads its numbers as they
    were made: an edit of the viewed Value's array, through its `data` or a view of it, would
    change them unseen, since the constant is no operand of that Value in any graph, and a
    change is stamped on the Values that hold the array, not on those that hold a view.

    >>> import numpy as np
    >>> base = np.zeros((2, 2))
    >>> unaliased(base.T).base is None, unaliased(base) is base
    (True, True)
    """
    if type(data) is np.ndarray and data.base is not None:
        return data.copy()
    return data


def seal(*values: Value | None) -> None:
    """Before `values` are used in a recorded operation: settle their handed-out arrays (and,
    for a recorded view, its owner's: an edit of the owner is one of the view's numbers)."""
    for value in values:
        if value is None:
            continue
        holders = (value, *_sharers(value)) if _SHARED else (value,)
        data = value._data
        if value.op is not None and type(data) is np.ndarray and data.base is not None:
            owner = _owner(value)
            if owner is not value:
                holders = (*holders, owner)
        del data
        for holder in holders:
            entry = HANDED_OUT.pop(id(holder), None)  # (an edit through a Value that shares
            if entry is not None and entry[0]() is holder:  # the array is stamped on both)
                edited = _compare(holder, entry[1])
                if viewed(holder) or _views_writeable_memory(holder):  # compared again at
                    # its next use, and at backward()
                    HANDED_OUT[id(holder)] = (entry[0], holder._data.copy() if edited  # type: ignore[union-attr]
                                              else entry[1], True)
                else:
                    _make_read_only(holder._data)


class _Holder:
    __slots__ = ("_data",)
    _data: np.ndarray[Any, Any]


def _references(holder: Any) -> int:
    return sys.getrefcount(holder._data)


def _references_of_a_held_array() -> int:
    holder = _Holder()
    holder._data = np.empty(1)
    return _references(holder)


_HELD_BY_ITS_VALUE = _references_of_a_held_array()
"""`_references` of an array only its Value holds (2 in CPython 3.11: the slot, the call's
argument)."""


def _references_in_an_assignment() -> int:
    """The references to an array that the assignment ``v.data -= 1`` holds while it runs
    the setter of `data` (once the setter let go of its own names for it)."""

    class Assigned:
        __slots__ = ("_data", "seen")
        _data: np.ndarray[Any, Any]
        seen: int

        @property
        def data(self) -> np.ndarray[Any, Any]:
            return self._data

        @data.setter
        def data(self, value: np.ndarray[Any, Any]) -> None:
            del value
            self.seen = _references(self)

    probe = Assigned()
    probe._data = np.empty(1)
    probe.data -= 1.0
    # (at most the assignment's own: a profiler reading the setter's locals while this module
    # is imported keeps `value` alive, and a count too high would miss a view; one too low
    # only watches more)
    return min(probe.seen - _HELD_BY_ITS_VALUE, 1)


ASSIGNMENT_REFERENCES = _references_in_an_assignment()
"""What `Value.data`'s setter passes `changed` for the array it was given (1 in CPython
3.11: the caller's assignment, ``x.data -= ...``, holds it while the setter runs)."""


def viewed(value: Value) -> bool:
    """Whether anything besides `value` (and the Values that share its array) holds its
    array: a view of it, most likely, made while it was writeable, which making the array
    read-only does not reach (numpy sets the flag of one array, not of its views). Such an
    array is compared with its copy at each use and at `backward()`, until nothing else
    holds it. (A view's own views hold its base, not the view: not seen here.)"""
    data = value._data
    if type(data) is not np.ndarray or data.base is not None:
        return False
    del data  # (a reference of this frame's own)
    return _held_elsewhere(value)


def _held_elsewhere(value: Value) -> bool:
    """Whether anything holds `value`'s array (a view's too) besides `value`, the Values
    that share it (`viewed`, for an array that is no view)."""
    return _references(value) > _HELD_BY_ITS_VALUE + len(_sharers(value))


def _views_writeable_memory(value: Value) -> bool:
    """Whether `value` is a leaf that holds a view (``x.T.detach()``) of memory that can be
    written still: x's array handed out, or let go by x (`hand_over`), which stays writeable
    (a reference to it may be kept: it is watched while `value` lives, a comparison at each
    backward()). Making the view read-only would not stop an edit through that memory."""
    data = value._data
    return value.op is None and type(data) is np.ndarray and data.base is not None and \
        _memory(data).flags.writeable


def _compare(value: Value, copy: np.ndarray[Any, Any]) -> bool:
    """Stamp `value` if its array no longer holds `copy` (bit for bit: nan and -0.0 too)."""
    data = value._data
    if type(data) is np.ndarray and data.shape == copy.shape and data.dtype == copy.dtype and \
            np.array_equal(data.view(np.int64), copy.view(np.int64)):  # (the bits, no copies)
        return False
    _stamp(value)
    return True


def _make_read_only(data: Any) -> None:
    if type(data) is np.ndarray:
        set_writeable(data, False)


def _stamp_if_edited(key: int, ref: weakref.ref[Value], copy: np.ndarray[Any, Any],
                     _viewed: bool) -> None:
    """Settle the hand-out `HANDED_OUT[key]`: stamp its Value if its array was edited in place
    since; forget it if the Value is gone, or if nothing else holds its array now (sealed, as
    at its next use: kept, the copies of Values whose `.data` was read once, for a print say,
    cost each backward() a comparison, and their memory); else keep a copy of it as it is."""
    value = ref()
    if value is None:
        HANDED_OUT.pop(key, None)  # (another thread's check may be first)
        return
    edited = _compare(value, copy)
    if not _held_elsewhere(value) and not _views_writeable_memory(value):
        HANDED_OUT.pop(key, None)
        _make_read_only(value._data)
    elif edited:
        HANDED_OUT[key] = (ref, value._data.copy(), True)  # type: ignore[union-attr]


def check(nodes: Sequence[Value]) -> None:
    """Raise if the data a node's rule reads (its own, or an operand's) changed after that
    node was made.

    `nodes`: a graph, newest first (as `topological_order` gives it). Called by both backward
    passes before any gradient is computed.
    """
    _settle_hand_outs()
    oldest = None
    for node in reversed(nodes):
        if node.op is not None:
            oldest = node._number
            break
    if oldest is None or _last_change < oldest:
        return  # nothing changed since the graph was begun: the usual case, one comparison
    for value, _ in _stale(nodes):
        raise RuntimeError(_message(value))


def _stale(nodes: Sequence[Value]) -> Iterator[tuple[Value, Value]]:
    """The (value, reader) pairs of `nodes` whose value's data changed after the reader was
    made, where the reader's rule reads it: the reader itself or one of its operands, but
    none of a view's (``x.T``: its rule needs shapes only, `Primitive.reads_data`). A
    recorded view changed when the Value it views did (`view_stamp`): that Value is named."""
    for node in nodes:
        op = node.op
        if op is None or not op.reads_data:
            continue
        made = node._number
        for value in (node, *node.parents):
            stamp, named = view_stamp(value)
            if stamp > made:
                yield named, node


def view_stamp(value: Value) -> tuple[int, Value]:
    """When `value`'s numbers last changed, and the Value stamped then: its own stamp, or for
    a recorded view (``v = x.T``, ``x[0]``: a node whose rule reads no data) the latest one up
    its chain of views to the Value viewed. A change of x changed v's numbers (in place), or
    left v showing an array no longer watched (x rebound: an edit through a reference to the
    old array would go unseen): a reader of v made before it is stale either way."""
    stamp: int = getattr(value, "_changed", 0)
    named = node = value
    while node.op is not None and not node.op.reads_data and (
            type(node._data) is np.ndarray and node._data.base is not None):  # (a copy, as a
        node = node.parents[0]  # fancy index gives, has numbers of its own)
        if getattr(node, "_changed", 0) > stamp:
            stamp, named = node._changed, node
    return stamp, named


def stale_reads(nodes: Sequence[Value]) -> list[tuple[Value, Value]]:
    """The (value, reader) pairs of `nodes` (a graph, or part of one) that `check` refuses:
    the value's data changed after the reader (a node of `nodes`, or the value itself) was
    made. In-place edits since a hand-out are compared first, as `check` does (every
    hand-out: an edit through a Value outside `nodes` that shares an array with one of
    them, ``h.detach()``, is stamped on it too)."""
    _settle_hand_outs()
    return list(_stale(nodes))


def _settle_hand_outs() -> None:
    """Stamp the Values whose arrays were edited in place since they were handed out."""
    for key, entry in list(HANDED_OUT.items()):
        _stamp_if_edited(key, *entry)


def changed_after_use(nodes: Sequence[Value]) -> set[int]:
    """The ids of the Values of `nodes` (a graph) whose data changed after a node of `nodes`
    used it, for a picture: those `stale_reads` gives, and those no rule reads (`W` in
    ``X @ W``, a bias) whose data changed after the first node that used them was made,
    which backward() does not refuse (no gradient depends on their data), but whose results
    drawn beside them were computed from the old data: rebound (`unread_changed`), or edited
    in place, which a result recomputed from its operands' data shows."""
    stale = {id(value) for value, _ in stale_reads(nodes)}
    first_use: dict[int, int] = {}
    for node in nodes:
        for parent in node.parents:
            if getattr(parent, "_changed", 0) < UNREAD:
                first_use[id(parent)] = min(first_use.get(id(parent), node._number),
                                            node._number)
    for node in nodes:
        when = UNREAD - getattr(node, "_changed", 0)
        if when > 0 and when > first_use.get(id(node), when):
            stale.add(id(node))
    for node in nodes:  # (unread data edited in place is not stamped: the result recomputed
        # from the operands' data now tells, when only unread operands can have changed it)
        if node.op is not None and all(id(p) not in stale for p in node.parents):
            unread = [p for p in node.parents if not is_read(p)]
            if unread and not _same_result(node):
                stale.update(id(p) for p in unread)
    return stale


def _same_result(node: Value) -> bool:
    """Whether `node`'s forward, run again on its operands' data now, gives its data."""
    assert node.op is not None
    try:
        with np.errstate(all="ignore"):
            again = node.op.forward(*(p._data for p in node.parents), **node.params)
        return bool(np.shape(again) == np.shape(node._data) and
                    np.allclose(again, node._data, rtol=1e-12, atol=0.0, equal_nan=True))
    except Exception:  # (an operand's shape changed too: not the forward's to say)
        return False


def describe_value(value: Value) -> str:
    """A Value as an error message names it: its label, its shape and the op that made it,
    e.g. ``x (shape (2,))`` or ``an unlabelled Value (a scalar, made by mul)``."""
    name = value.label or "an unlabelled Value"
    shape = "a scalar" if value.shape == () else f"shape {value.shape}"
    made = f", made by {value.op.name}" if value.op is not None else ""
    return f"{name} ({shape}{made})"


def _message(value: Value) -> str:
    return (f"backward(): the data of {describe_value(value)} changed after the graph was "
            "recorded, and its gradients need the old data. Change data only between steps "
            "(after backward(), before the next forward pass), as optimizers do; or call "
            "zero_grad() and run the forward pass again to record a new graph.")

