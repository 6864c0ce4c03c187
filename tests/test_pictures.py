"""Every picture `make demo` writes is readable at its natural size, checked as a picture.

The full tour (`lecture.run_tour`, as `make demo` runs it) is run once for this module into a
temporary folder. PNGs and the GIF are opened with Pillow; SVGs, and the frames of the
backprop page, are rendered by headless Chromium (the `visit` fixture, conftest.py). Readable
means: no side longer than `MAX_SIDE` pixels, no text smaller than `MIN_TEXT` pixels (the
em size as drawn), not empty nor all one colour; a GIF has its frames, and they move. The
collapsed graphs of micrograd's demo (scalar and tensor) are drawn and checked too.
"""

from __future__ import annotations

import io
import itertools
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tinygrad_edu import Value
from tinygrad_edu.datasets import make_moons
from tinygrad_edu.nn import MLP
from tinygrad_edu.viz import draw_graph, save_graph, step_through
from tinygrad_edu.viz.graph import SCREEN

ROOT = Path(__file__).resolve().parent.parent
MAX_SIDE = 4000
"""Pixels: a picture longer than this on either side cannot be read on a screen whole."""
MIN_TEXT = 9.0
"""Pixels of em size (about 7 points on a 96-per-inch screen): the smallest readable text."""
MIN_INK = 0.02
"""The smallest fraction of pixels not of the background colour: not an empty picture."""

Visitor = Callable[..., Any]  # conftest's `visit`


@pytest.fixture(scope="module")
def demo(full_tour: dict[str, Any]) -> dict[str, Any]:
    """The full tour's pictures and smallest texts (conftest's `full_tour`)."""
    return full_tour


def pictures(kind: str) -> list[str]:
    """The pictures of one kind the demo writes (the tests fail if the list is out of date)."""
    return {"png": ["activations.png", "perceptron_gates.png", "sigmoid_neuron_frames.png",
                    "xor_mlp.png", "decision_boundaries.png", "micrograd_moons.png"],
            "gif": ["sigmoid_neuron.gif"], "svg": ["neuron_graph.svg"],
            "html": ["neuron_backprop.html"]}[kind]


def test_every_picture_of_the_demo_is_checked_here(demo: dict[str, Any]) -> None:
    checked = [name for kind in ("png", "gif", "svg", "html") for name in pictures(kind)]
    assert sorted(demo["files"]) == sorted(checked)


# ---- pixels ----------------------------------------------------------------------------------


def colours(pixels: np.ndarray) -> np.ndarray:
    """How many pixels of each colour an RGB picture has (one count per colour present)."""
    rgb = pixels.astype(np.int64)
    packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    counts = np.bincount(packed.ravel(), minlength=1 << 24)
    return counts[counts > 0]


def ink(pixels: np.ndarray) -> float:
    """The fraction of pixels that differ from the most common colour (the background)."""
    counts = colours(pixels)
    return float(1.0 - counts.max() / counts.sum())


def check_pixels(name: str, pixels: np.ndarray) -> None:
    height, width = pixels.shape[:2]
    assert max(width, height) <= MAX_SIDE, f"{name}: {width} × {height} pixels"
    assert min(width, height) >= 200, f"{name}: {width} × {height} pixels, too small to read"
    assert ink(pixels) >= MIN_INK, f"{name}: {ink(pixels):.1%} of it drawn: empty"
    assert len(colours(pixels)) >= 8, f"{name}: {len(colours(pixels))} colours: flat"


@pytest.mark.parametrize("name", pictures("png"))
def test_png_is_readable_at_its_natural_size(demo: dict[str, Any], name: str) -> None:
    from PIL import Image

    example, path = demo["files"][name]
    with Image.open(path) as image:
        assert image.format == "PNG"
        check_pixels(name, np.asarray(image.convert("RGB")))
    assert demo["smallest_text"][example] >= MIN_TEXT, (
        f"{example}: text drawn at {demo['smallest_text'][example]:.1f} pixels")


def test_the_gif_has_its_frames_and_they_move(demo: dict[str, Any]) -> None:
    from PIL import Image, ImageSequence

    example, path = demo["files"]["sigmoid_neuron.gif"]
    with Image.open(path) as image:
        assert image.format == "GIF" and image.info.get("loop") == 0
        frames = [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(image)]
    assert len(frames) >= 8  # the full tour: steps 0, 1, 2, 4, 8, 16, 30, 60, 120
    for k, frame in enumerate(frames):
        check_pixels(f"sigmoid_neuron.gif frame {k}", frame)
    moved = [np.mean(a != b) for a, b in itertools.pairwise(frames)]
    assert min(moved) > 0.001, moved  # every frame shows something new
    assert demo["smallest_text"][example] >= MIN_TEXT


# ---- SVG, rendered by the browser --------------------------------------------------------------

MEASURE_SVG = """(svg) => {
  const box = svg.getBoundingClientRect();
  const texts = [...svg.querySelectorAll('text')].filter(t => t.textContent.trim())
    .map(t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a);
  return {width: box.width, height: box.height, texts: texts.length,
          smallest: Math.min(...texts)};
}"""


def check_svg(visit: Visitor, path: Path) -> dict[str, Any]:
    """Open an SVG file in the browser at its natural size; check its size, its text and that
    something is drawn (a screenshot); return what was measured."""
    from PIL import Image

    opened = visit(path.as_uri(), width=1280, height=800)
    svg = opened.page.locator("svg").first
    measured = svg.evaluate(MEASURE_SVG)
    assert measured["texts"] > 0, f"{path.name}: no text"
    assert measured["width"] <= MAX_SIDE and measured["height"] <= MAX_SIDE, (path.name,
                                                                               measured)
    assert measured["smallest"] >= MIN_TEXT, (path.name, measured)
    shot = Image.open(io.BytesIO(svg.screenshot())).convert("RGB")
    check_pixels(path.name, np.asarray(shot))
    assert opened.problems == []
    return dict(measured)


def test_the_demo_svg_is_readable_in_a_browser(visit: Visitor, demo: dict[str, Any]) -> None:
    check_svg(visit, demo["files"]["neuron_graph.svg"][1])


def test_the_readme_picture_is_readable_in_a_browser(visit: Visitor) -> None:
    check_svg(visit, ROOT / "docs" / "neuron_graph.svg")


def micrograd_scalar_demo_loss() -> Value:
    """micrograd's own demo, written with `tinygrad_edu.micrograd`: 100 moons, MLP 2-16-16-1,
    one scalar Value per number (about 65,000 values)."""
    from tinygrad_edu.micrograd import nn as scalar_nn
    from tinygrad_edu.micrograd.engine import Value as ScalarValue

    random.seed(1337)
    X, y = make_moons(100, noise=0.1, seed=0)
    model = scalar_nn.MLP(2, [16, 16, 1])
    scores = [model([ScalarValue(float(a)) for a in row]) for row in X]
    losses = [(1 + -(2.0 * float(label) - 1.0) * score).relu()
              for label, score in zip(y, scores, strict=True)]
    data_loss = sum(losses, ScalarValue(0.0)) * (1.0 / len(losses))
    loss = data_loss + 1e-4 * sum((p * p for p in model.parameters()), ScalarValue(0.0))
    loss.backward()
    return loss


def tensor_demo_loss() -> tuple[Value, MLP]:
    """The demo's loss with `nn.MLP`, one sample at a time, so the graph is wide (about 1,600
    values)."""
    X, y = make_moons(100, noise=0.1, seed=0)
    model = MLP(2, [16, 16, 1], seed=0)
    terms = [(1.0 - (2.0 * float(y[i]) - 1.0) * model(X[i])).relu() for i in range(len(X))]
    loss = sum(terms, Value(0.0)) * (1.0 / len(X))
    loss.backward()
    return loss, model


@pytest.mark.parametrize("which", ["scalar micrograd", "tensor nn", "tensor nn by module"])
def test_the_collapsed_demo_graphs_are_readable(visit: Visitor, tmp_path: Path,
                                                 which: str) -> None:
    if which == "scalar micrograd":
        picture = draw_graph(micrograd_scalar_demo_loss())
    else:
        loss, model = tensor_demo_loss()
        picture = draw_graph(loss, params=model if which == "tensor nn by module" else None)
    assert "folded further to fit a screen" in picture.source
    measured = check_svg(visit, save_graph(picture, tmp_path / "demo_graph.svg"))
    assert measured["width"] <= SCREEN[0] * 96 and measured["height"] <= SCREEN[1] * 96


# ---- the frames of the backprop page ---------------------------------------------------------


def check_frames(visit: Visitor, path: Path) -> int:
    """Step through a backprop page on a 1280-pixel-wide screen: each frame's picture at its
    natural size fits a screen, and as the page shows it (shrunk to the window) its text is
    readable and something is drawn. Returns the number of frames."""
    from PIL import Image

    opened = visit(path.as_uri(), width=1280, height=800)
    page = opened.page
    count: int = page.locator(".frame").count()
    for k in range(count):
        svg = page.locator(".frame:visible svg")
        assert svg.count() == 1
        natural = svg.evaluate("(s) => [s.width.baseVal.value, s.height.baseVal.value]")
        assert natural[0] <= SCREEN[0] * 96 and natural[1] <= SCREEN[1] * 96, (k, natural)
        shown = svg.evaluate(MEASURE_SVG)
        assert shown["smallest"] >= MIN_TEXT, (k, shown)
        if k in (0, count - 1):  # pixels: the first and the last frame
            shot = Image.open(io.BytesIO(svg.screenshot())).convert("RGB")
            assert ink(np.asarray(shot)) >= MIN_INK, k
        if k < count - 1:
            page.keyboard.press("ArrowRight")
    assert opened.problems == []
    return count


def test_the_demo_backprop_frames_fit_a_screen(visit: Visitor, demo: dict[str, Any]) -> None:
    assert check_frames(visit, demo["files"]["neuron_backprop.html"][1]) == 11


def test_the_frames_of_a_long_chain_fit_a_screen(visit: Visitor, tmp_path: Path) -> None:
    y = Value(0.5, label="x")
    for _ in range(30):
        y = y.tanh()  # unfolded, 7,600 pixels wide
    assert check_frames(visit, step_through(y).save(tmp_path / "chain.html")) == 32
