"""The backprop stepper in a real browser (headless Chromium, Playwright), as a learner uses it.

The standalone page (`write_backprop_html`, opened from a ``file://`` URL, offline) and the
notebook output (`step_through(...)._repr_html_()`, as stored in notebook 01 and as Jupyter
inserts it) are checked for: no console or page error and no network request; prev/next, the
slider and the keys moving exactly one frame and stopping at both ends; frame k showing the
k-th node of the engine's own backward pass, its gradient and its op's rule; the last frame
showing the gradients `backward()` stores; keyboard-only use and accessible names; what is
left without JavaScript. The `browser` and `visit` fixtures are in conftest.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tinygrad_edu import Value, engine
from tinygrad_edu.viz import HIGHLIGHT, local_rule, step_through, write_backprop_html
from tinygrad_edu.viz.graph import build_graph, summarize

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "01_neuron_and_its_graph.ipynb"

Visitor = Callable[..., Any]  # conftest's `visit`: a URL in, a Visit (page, problems) out


def neuron() -> tuple[Value, list[Value]]:
    """micrograd's neuron, o = tanh(x1*w1 + x2*w2 + b), without backward()."""
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    o = (x1 * w1 + x2 * w2 + b).tanh()
    o.label = "o"
    return o, [x1, x2, w1, w2, b]


def small_tensor_net() -> Value:
    """A tensor graph with a dead ReLU unit and a constant: (relu(W @ x + c) * 2).sum()."""
    W = Value([[1.0, -2.0], [0.5, 3.0]], label="W")
    x = Value([1.0, 2.0], label="x")
    return ((W @ x + Value([0.0, -1.0], requires_grad=False)).relu() * 2.0).sum()


def engine_pass(root: Value) -> list[tuple[Value, Any]]:
    """The nodes the engine's backward pass visits, in its order, with the gradient each gets."""
    visits: list[tuple[Value, Any]] = []
    seed = engine.initial_gradient(root, None)
    engine.backpropagate(root, seed, lambda node, g: visits.append((node, np.copy(g))))
    return visits


# ---- reading the page as it is shown ---------------------------------------------------------

READ_FRAME = """(stepper) => {
  const shown = [...stepper.querySelectorAll('.frame')].filter(f => f.checkVisibility());
  return shown.map(frame => ({
    step: Number(frame.dataset.step),
    caption: frame.querySelector('.text').innerText,
    boxes: Object.fromEntries([...frame.querySelectorAll('g.node')].map(g => [
      g.querySelector('title').textContent,
      {texts: [...g.querySelectorAll('text')].map(t => t.textContent.replace(/\\u00a0/g, ' ')),
       strokes: [...g.querySelectorAll('path, polygon, ellipse')]
         .map(shape => shape.getAttribute('stroke'))}])),
  }));
}"""


def shown_frames(stepper: Any) -> list[dict[str, Any]]:
    """The frames of a stepper (a Playwright locator) the learner sees, read from the page."""
    return list(stepper.evaluate(READ_FRAME))


def shown_step(stepper: Any) -> int:
    """The one frame shown; the counter and the slider must agree with it."""
    frames = shown_frames(stepper)
    assert len(frames) == 1, [f["step"] for f in frames]
    step = frames[0]["step"]
    assert stepper.locator(".tg-counter").inner_text().startswith(f"step {step} / ")
    assert stepper.get_by_role("slider", name="step").input_value() == str(step)
    return int(step)


def highlighted(frame: dict[str, Any]) -> set[str]:
    """The value boxes (not op ellipses) drawn in the highlight colour."""
    return {title for title, box in frame["boxes"].items()
            if HIGHLIGHT in box["strokes"] and not title.endswith("_op")}


def grad_text(box: dict[str, Any]) -> str:
    texts: list[str] = box["texts"]
    return next(t for t in texts if t.startswith("grad "))


@pytest.fixture(scope="module")
def neuron_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Value, list[Value]]:
    o, leaves = neuron()
    path = write_backprop_html(o, tmp_path_factory.mktemp("page") / "neuron.html")
    return path, o, leaves


# ---- the standalone page ---------------------------------------------------------------------


def test_the_page_opens_from_a_file_url_offline_without_errors(
        visit: Visitor, neuron_page: tuple[Path, Value, list[Value]]) -> None:
    opened = visit(neuron_page[0].as_uri())
    page = opened.page
    stepper = page.locator(".tg-stepper")
    assert stepper.count() == 1 and page.locator(".tg-controls").is_visible()
    assert shown_step(stepper) == 0
    page.get_by_role("button", name="next step").click()
    assert shown_step(stepper) == 1
    assert opened.problems == []


def test_buttons_slider_and_keys_move_one_frame_and_stop_at_the_ends(
        visit: Visitor, neuron_page: tuple[Path, Value, list[Value]]) -> None:
    opened = visit(neuron_page[0].as_uri())
    page = opened.page
    stepper = page.locator(".tg-stepper")
    prev = page.get_by_role("button", name="previous step")
    next_ = page.get_by_role("button", name="next step")
    slider = page.get_by_role("slider", name="step")
    last = 10
    prev.click(force=True)  # force: Playwright does not click what says aria-disabled
    assert shown_step(stepper) == 0  # stops at the first frame
    for k in range(1, last + 1):
        next_.click()
        assert shown_step(stepper) == k
    next_.click(force=True)
    assert shown_step(stepper) == last  # stops at the last frame
    assert next_.get_attribute("aria-disabled") == "true"
    for k in range(last - 1, last - 4, -1):
        prev.click()
        assert shown_step(stepper) == k
    page.locator("h1").click()  # focus on the page itself: the keys still step
    page.keyboard.press("ArrowRight")
    assert shown_step(stepper) == last - 2
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    assert shown_step(stepper) == last - 4
    page.keyboard.press("Home")
    page.keyboard.press("ArrowLeft")
    assert shown_step(stepper) == 0
    page.keyboard.press("End")
    page.keyboard.press("ArrowRight")
    assert shown_step(stepper) == last
    slider.fill("4")  # a drag to 4
    assert shown_step(stepper) == 4
    slider.focus()  # the slider's own keys, one frame each (not two: one key, one step)
    page.keyboard.press("ArrowRight")
    assert shown_step(stepper) == 5
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowDown")
    assert shown_step(stepper) == 3
    assert opened.problems == []


@pytest.mark.parametrize("graph", ["neuron", "tensors"])
def test_frame_k_shows_the_engines_kth_node_its_gradient_and_rule(
        visit: Visitor, tmp_path: Path, graph: str) -> None:
    root = neuron()[0] if graph == "neuron" else small_tensor_net()
    path = write_backprop_html(root, tmp_path / "page.html")
    visits = engine_pass(root)
    names = build_graph(root).names
    opened = visit(path.as_uri())
    stepper = opened.page.locator(".tg-stepper")
    next_ = opened.page.get_by_role("button", name="next step")
    (frame,) = shown_frames(stepper)
    assert frame["step"] == 0 and highlighted(frame) == set()
    assert all(grad_text(box).split(" ", 1)[1] == summarize(np.zeros(node.shape))
               for node in engine.topological_order(root)
               for title, box in frame["boxes"].items() if title == names[id(node)])
    for k, (node, grad) in enumerate(visits, start=1):
        next_.click()
        (frame,) = shown_frames(stepper)
        assert frame["step"] == k
        name = names[id(node)]
        assert highlighted(frame) == {name}, (k, name)
        assert grad_text(frame["boxes"][name]) == f"grad {summarize(grad)}"
        if node.op is None:
            assert "is a leaf" in frame["caption"]
        else:
            rule = " ".join(local_rule(node.op, node.params).split())  # as HTML shows it
            assert rule in frame["caption"], frame["caption"]
    # the last frame: every gradient as backward() stores it
    root.backward()
    for node in engine.topological_order(root):
        box = frame["boxes"][names[id(node)]]
        assert grad_text(box) == f"grad {summarize(node.grad)}", names[id(node)]
    assert len(visits) == {"neuron": 10, "tensors": 7}[graph]  # every node that needs a grad
    assert opened.problems == []


def test_keyboard_only_use_and_accessible_names(
        visit: Visitor, neuron_page: tuple[Path, Value, list[Value]]) -> None:
    opened = visit(neuron_page[0].as_uri())
    page = opened.page
    stepper = page.locator(".tg-stepper")
    assert stepper.get_attribute("role") == "group"
    assert stepper.get_attribute("aria-label") == "Backpropagation, step by step"
    focused = []
    for _ in range(3):  # Tab goes through the controls in order
        page.keyboard.press("Tab")
        focused.append(page.evaluate(
            "() => document.activeElement.getAttribute('aria-label')"))
    assert focused == ["previous step", "step", "next step"]
    page.keyboard.press("Enter")  # on "next step"
    page.keyboard.press("Space")
    assert shown_step(stepper) == 2
    for _ in range(12):  # past the end: the button keeps the focus (not disabled, so not lost)
        page.keyboard.press("Enter")
    assert shown_step(stepper) == 10
    assert page.evaluate("() => document.activeElement.getAttribute('aria-label')") \
        == "next step"
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("ArrowLeft")  # the slider: one frame back
    assert shown_step(stepper) == 9
    status = page.get_by_role("status")
    assert status.inner_text() == "step 9 / 10" and status.get_attribute("aria-live") == "polite"
    assert page.get_by_role("slider", name="step").get_attribute("aria-valuetext") \
        == "step 9 of 10"
    assert opened.problems == []


def test_without_javascript_the_first_and_last_frames_are_shown(
        visit: Visitor, neuron_page: tuple[Path, Value, list[Value]]) -> None:
    opened = visit(neuron_page[0].as_uri(), javascript=False)
    stepper = opened.page.locator(".tg-stepper")
    assert [f["step"] for f in shown_frames(stepper)] == [0, 10]
    assert not opened.page.locator(".tg-controls").is_visible()  # no dead buttons
    assert opened.problems == []


# ---- in a notebook ---------------------------------------------------------------------------

JUPYTER_INSERT = """(html) => {
  // as JupyterLab and the classic notebook show an HTML output: set it, then run its scripts
  const cell = document.createElement('div');
  cell.className = 'output';
  document.body.appendChild(cell);
  cell.innerHTML = html;
  for (const old of cell.querySelectorAll('script')) {
    const script = document.createElement('script');
    script.textContent = old.textContent;
    old.replaceWith(script);
  }
}"""


def stored_stepper_output() -> str:
    """The stepper's HTML as notebook 01 stores it (what a code host shows)."""
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    found = [output["data"]["text/html"] for cell in notebook["cells"]
             if cell["cell_type"] == "code" for output in cell["outputs"]
             if "tg-stepper" in "".join(output.get("data", {}).get("text/html", ""))]
    assert len(found) == 1, "notebook 01 shows one stepper"
    return "".join(found[0])


def notebook_page(folder: Path, outputs: list[str]) -> Path:
    """A page holding notebook outputs one after the other, as a rendered notebook does."""
    cells = "\n".join(f'<div class="output">{html}</div>' for html in outputs)
    path = folder / "notebook.html"
    path.write_text(f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
                    f"<title>notebook</title></head><body><h1>notebook</h1>\n{cells}\n"
                    f"</body></html>\n", encoding="utf-8")
    return path


def test_the_notebook_output_steps_beside_another_without_clashing(
        visit: Visitor, tmp_path: Path) -> None:
    o, _ = neuron()
    other = step_through(small_tensor_net())
    path = notebook_page(tmp_path, [stored_stepper_output(), other._repr_html_()])
    opened = visit(path.as_uri())
    page = opened.page
    opened.page.evaluate(JUPYTER_INSERT, step_through(o)._repr_html_())  # a third, inserted
    steppers = page.locator(".tg-stepper")
    assert steppers.count() == 3
    first, second, third = (steppers.nth(i) for i in range(3))
    first.get_by_role("button", name="next step").click()
    first.get_by_role("button", name="next step").click()
    assert [shown_step(s) for s in (first, second, third)] == [2, 0, 0]
    page.keyboard.press("ArrowRight")  # keys move the stepper that has the focus, only
    assert [shown_step(s) for s in (first, second, third)] == [3, 0, 0]
    third.get_by_role("slider", name="step").focus()
    page.keyboard.press("End")
    assert [shown_step(s) for s in (first, second, third)] == [3, 0, 10]
    second.get_by_role("button", name="previous step").click(force=True)
    assert [shown_step(s) for s in (first, second, third)] == [3, 0, 10]
    page.locator("h1").click()  # in a notebook the page's own keys are left alone
    page.keyboard.press("ArrowLeft")
    assert [shown_step(s) for s in (first, second, third)] == [3, 0, 10]
    second.locator(".frame svg").first.click()  # a click on the picture: its keys
    page.keyboard.press("ArrowRight")
    assert [shown_step(s) for s in (first, second, third)] == [3, 1, 10]
    assert opened.problems == []


def test_the_stored_notebook_output_shows_first_and_last_frame_statically(
        visit: Visitor, tmp_path: Path) -> None:
    path = notebook_page(tmp_path, [stored_stepper_output()])
    opened = visit(path.as_uri(), javascript=False)
    frames = shown_frames(opened.page.locator(".tg-stepper"))
    assert [f["step"] for f in frames] == [0, 10]
    assert "forward pass" in frames[0]["caption"] and "is a leaf" in frames[1]["caption"]
    assert opened.problems == []
