"""tinygrad_edu.losses at the edges: labels that are not class indices, PyTorch's layouts and
conventions the contract does not follow, and gradients (of the targets too, and second ones)
against PyTorch in float64."""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_edu import Value
from tinygrad_edu.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    l1_loss,
    mse_loss,
    nll_loss,
)

torch = importlib.import_module("torch")
F = torch.nn.functional

CLASS_LOSSES = {"cross_entropy": cross_entropy, "nll_loss": nll_loss}


# ---- labels that are not class indices: a short message that names the label


@pytest.mark.parametrize("name", sorted(CLASS_LOSSES))
def test_a_ragged_list_of_labels_is_named_not_numpys_message(name: str) -> None:
    # before: numpy's "setting an array element with a sequence. The requested array has an
    # inhomogeneous shape after 1 dimensions..."
    with pytest.raises(ValueError, match=rf"^{name}: labels must be integer class indices in a "
                                         r"flat list or array; got \[\[1\], \[0, 1\]\].*ragged"):
        CLASS_LOSSES[name](Value(np.zeros((2, 3))), [[1], [0, 1]])


@pytest.mark.parametrize("name", sorted(CLASS_LOSSES))
def test_a_fractional_label_is_named_with_its_index_not_the_whole_list(name: str) -> None:
    labels = [1.0] * 1000 + [2.5] + [0.0] * 999
    with pytest.raises(ValueError) as error:
        CLASS_LOSSES[name](Value(np.zeros((2000, 3))), labels)
    # before: the repr of all 2,000 labels (a message of 12 kB)
    assert str(error.value) == (f"{name}: labels must be integer class indices; "
                                "got 2.5 at index 1000")
    with pytest.raises(ValueError, match=r"got 0\.5 at index \(1, 0\)$"):
        CLASS_LOSSES[name](Value(np.zeros((2, 3))), [[1.0], [0.5]])


@pytest.mark.parametrize("name", sorted(CLASS_LOSSES))
def test_boolean_labels_are_refused_with_the_conversion(name: str) -> None:
    for labels in ([True, False], np.array([True, False])):
        with pytest.raises(ValueError, match=rf"^{name}: labels must be integer class indices, "
                                             r"not booleans \(give 0 and 1: "
                                             r"np\.asarray\(labels, dtype=int\)\)"):
            CLASS_LOSSES[name](Value(np.zeros((2, 3))), labels)


@pytest.mark.parametrize("name", sorted(CLASS_LOSSES))
@pytest.mark.parametrize("label", [-100, -1])
def test_negative_labels_are_refused_not_ignored(name: str, label: int) -> None:
    """PyTorch skips the label -100 (ignore_index) and counts the rest; here every label is a
    class, and the error says that no label is ignored (the array path too)."""
    for labels in ([0, label], np.array([0, label])):
        with pytest.raises(ValueError, match=rf"^{name}: label {label} is outside the 3 classes "
                                             r"0\.\.2 \(there is no ignore_index"):
            CLASS_LOSSES[name](Value(np.zeros((2, 3))), labels)


def test_a_huge_label_is_shown_as_a_number_not_300_digits() -> None:
    with pytest.raises(ValueError, match=r"^cross_entropy: label 1e\+300 is outside the 3 "
                                         r"classes 0\.\.2$"):
        cross_entropy(Value(np.zeros((2, 3))), [1e300, 0.0])


@pytest.mark.parametrize("name", sorted(CLASS_LOSSES))
def test_pytorchs_batch_classes_d_layout_is_refused_with_the_way_to_ours(name: str) -> None:
    z = np.random.default_rng(0).normal(size=(2, 3, 4))  # PyTorch's (N, C, d): C on axis 1
    labels = np.array([[0, 1, 2, 0], [1, 1, 1, 2]])
    what = "logits" if name == "cross_entropy" else "log_probs"
    with pytest.raises(ValueError) as error:
        CLASS_LOSSES[name](Value(z), labels)
    recipe = f"{what}.transpose(0, 2, 1).reshape(-1, 3)"
    assert str(error.value) == (
        f"{name}: {what} must have shape (classes,) or (batch, classes); got shape (2, 3, 4) "
        f"(the classes are the last axis, not axis 1 as in PyTorch: pass {recipe} and the "
        "labels flattened, labels.reshape(-1))")
    # the recipe gives PyTorch's number
    ours = CLASS_LOSSES[name](Value(z).transpose(0, 2, 1).reshape(-1, 3), labels.reshape(-1))
    theirs = getattr(F, name)(torch.tensor(z), torch.tensor(labels))
    assert ours.data == pytest.approx(theirs.item(), rel=1e-13)
    with pytest.raises(ValueError, match=r"got shape \(2, 3, 4, 5\) \(the classes are the "
                                         r"last axis, not axis 1 as in PyTorch\)$"):
        CLASS_LOSSES[name](Value(np.zeros((2, 3, 4, 5))), np.zeros((2, 4, 5), dtype=int))


# ---- gradients against PyTorch: of the targets, and second derivatives (regression tests)

TARGET_LOSSES: dict[str, Callable[..., Value]] = {
    "mse_loss": mse_loss, "l1_loss": l1_loss, "huber_loss": huber_loss,
    "binary_cross_entropy": binary_cross_entropy,
    "binary_cross_entropy_with_logits": binary_cross_entropy_with_logits,
}


@st.composite
def pred_and_target(draw: st.DrawFn, name: str) -> tuple[Any, Any]:
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=2, max_side=4))
    unit = st.floats(0.01, 0.99)  # away from the kinks and the clamps
    if name == "binary_cross_entropy":
        return draw(hnp.arrays(np.float64, shape, elements=unit)), draw(
            hnp.arrays(np.float64, shape, elements=unit))
    pred = draw(hnp.arrays(np.float64, shape, elements=st.floats(-5.0, 5.0)))
    if name == "binary_cross_entropy_with_logits":
        return pred, draw(hnp.arrays(np.float64, shape, elements=unit))
    offsets = draw(hnp.arrays(np.float64, shape, elements=st.floats(0.05, 3.0)))
    signs = draw(hnp.arrays(np.float64, shape, elements=st.sampled_from([-1.0, 1.0])))
    return pred, pred + signs * offsets  # (|pred − target| is never 0 or huber's delta)


def close(ours: Any, theirs: Any) -> None:
    np.testing.assert_allclose(np.asarray(ours), theirs.detach().numpy(force=True), rtol=1e-10,
                               atol=1e-13)


@settings(max_examples=15, deadline=None)
@pytest.mark.parametrize("name", sorted(TARGET_LOSSES))
@given(data=st.data(), reduction=st.sampled_from(["mean", "sum", "none"]))
def test_first_and_second_derivatives_in_both_arguments_match_pytorch(
        name: str, data: st.DataObject, reduction: str) -> None:
    pred, target = data.draw(pred_and_target(name), label="pred, target")
    p, t = Value(pred), Value(target)
    tp = torch.tensor(pred, requires_grad=True)
    tt = torch.tensor(target, requires_grad=True)
    ours = TARGET_LOSSES[name](p, t, reduction=reduction)
    theirs = getattr(F, name)(tp, tt, reduction=reduction)
    close(ours.data, theirs)
    upstream = data.draw(hnp.arrays(np.float64, ours.shape, elements=st.floats(-2.0, 2.0)),
                         label="upstream")
    (ours * Value(upstream, requires_grad=False)).sum().backward(create_graph=True)
    first = torch.autograd.grad((theirs * torch.tensor(upstream)).sum(), [tp, tt],
                                create_graph=True)
    close(p.grad.data, first[0])
    close(t.grad.data, first[1])
    # the second derivatives: d/d(pred, target) of <w, d loss/d pred>
    w = data.draw(hnp.arrays(np.float64, pred.shape, elements=st.floats(-2.0, 2.0)), label="w")
    grad_p = p.grad
    p.zero_grad()
    t.zero_grad()
    (grad_p * Value(w, requires_grad=False)).sum().backward()
    second = torch.autograd.grad((first[0] * torch.tensor(w)).sum(), [tp, tt],
                                 allow_unused=True, materialize_grads=True)
    if name == "binary_cross_entropy":
        # PyTorch's second derivative adds 1e-12 to p(1 − p) (1e-10 off at p = 1/64); ours is
        # the closed form: d²/dp² = y/p² + (1 − y)/(1 − p)², d²/dp dy = −1/(p(1 − p))
        scale = w * upstream / (pred.size if reduction == "mean" else 1.0)
        second = (torch.tensor(scale * (target / pred**2 + (1 - target) / (1 - pred)**2)),
                  torch.tensor(-scale / (pred * (1 - pred))))
    close(p.grad, second[0])
    close(t.grad, second[1])


@settings(max_examples=15, deadline=None)
@given(data=st.data(), reduction=st.sampled_from(["mean", "sum", "none"]),
       one=st.booleans())
def test_second_derivatives_of_cross_entropy_match_pytorch(
        data: st.DataObject, reduction: str, one: bool) -> None:
    batch, classes = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    shape = (classes,) if one else (batch, classes)
    z = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(-30.0, 30.0)), label="z")
    labels = np.array(data.draw(st.lists(st.integers(0, classes - 1), min_size=shape[0],
                                         max_size=shape[0])), dtype=np.intp)
    labels = labels[0] if one else labels
    v, tz = Value(z), torch.tensor(z, requires_grad=True)
    ours = cross_entropy(v, labels, reduction=reduction)
    theirs = F.cross_entropy(tz, torch.tensor(labels), reduction=reduction)
    upstream = data.draw(hnp.arrays(np.float64, ours.shape, elements=st.floats(-2.0, 2.0)))
    (ours * Value(upstream, requires_grad=False)).sum().backward(create_graph=True)
    (first,) = torch.autograd.grad((theirs * torch.tensor(upstream)).sum(), tz,
                                   create_graph=True)
    close(v.grad.data, first)
    w = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(-2.0, 2.0)), label="w")
    grad = v.grad
    v.zero_grad()
    (grad * Value(w, requires_grad=False)).sum().backward()
    (second,) = torch.autograd.grad((first * torch.tensor(w)).sum(), tz)
    close(v.grad, second)


@pytest.mark.parametrize("loss", [cross_entropy, lambda z, labels: nll_loss(z.log_softmax(),
                                                                            labels)],
                         ids=["cross_entropy", "nll_loss"])
def test_masked_labels_are_refused_not_read_under_the_mask(loss: Callable[..., Any]) -> None:
    """A label masked out was used as it lay under the mask (the other losses refuse a masked
    target); a masked array with nothing masked is its numbers."""
    z = Value([[2.0, 0.0, -1.0], [0.5, 3.0, 0.0]])
    with pytest.raises(ValueError, match=r"labels: got a masked array .* 1 of its 2 entries "
                                         r"masked; .*\.filled\(value\)"):
        loss(z, np.ma.array([0, 1], mask=[False, True]))
    assert loss(z, np.ma.array([0, 1])).data == loss(z, np.array([0, 1])).data


@pytest.mark.parametrize(("logits", "labels", "hint"), [
    ((4, 3), np.eye(3)[[0, 1, 2, 0]], r"labels are class indices, one per sample, not one-hot "
                                      r"rows or probabilities: labels\.argmax\(axis=-1\)$"),
    ((4, 3), [[0], [1], [2], [0]], r"a column: labels\.reshape\(-1\)$"),
    ((3,), [1], r"one sample's scores take one label, a number: labels\[0\]$")])
def test_labels_of_another_shape_get_a_hint(logits: tuple[int, ...], labels: Any,
                                            hint: str) -> None:
    """One-hot rows, a column of labels, or a list of one label for one sample's scores were
    refused with the shapes alone (PyTorch takes the first two)."""
    with pytest.raises(ValueError, match=rf"need labels of shape .*; {hint}"):
        cross_entropy(Value(np.zeros(logits)), labels)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_a_loss_of_zero_is_plus_zero_as_pytorchs(reduction: str) -> None:
    """One class, or a sure fit: every −log p is 0, and the loss is +0.0, as PyTorch's (it
    was −0.0, which a training log shows as "-0.0000")."""
    for logits in ([[1.0], [2.0]], [[0.0, -800.0], [-800.0, 0.0]]):
        loss = cross_entropy(Value(logits), np.arange(len(logits)) % len(logits[0]),
                             reduction=reduction)
        assert loss.data == 0.0 and math.copysign(1.0, loss.data) == 1.0
