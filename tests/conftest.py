"""Hypothesis profiles: `dev` (quick, the default), `ci` (more examples, derandomised) and
`thorough` (many random examples: a search for bugs, run by hand);
`hide_package`, for the tests of a missing optional extra; a headless Chromium for the
tests that look at pages and pictures as a learner does; and the full tour, run once for the
tests of its pictures and of the figures the README quotes from it.

CI sets CI=true, which selects `ci`; HYPOTHESIS_PROFILE overrides either.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci",
    max_examples=80,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=1500,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
_default = "ci" if os.environ.get("CI", "").lower() in {"1", "true", "yes"} else "dev"
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", _default))


@pytest.fixture
def hide_package(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """`hide_package("matplotlib")`: for this test, importing it or any of its submodules
    raises ImportError, as when the extra is not installed."""

    def hide(name: str) -> None:
        for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            monkeypatch.delitem(sys.modules, module)
        monkeypatch.setitem(sys.modules, name, None)

    return hide


# ---- a real browser, for the tests that look at pages and pictures as a learner does --------
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
"""Headless Chromium as the tests run it: no sandbox (root in a container), and none of the
background connections a closed network refuses."""


def chromium_path() -> str | None:
    """The Chromium the browser tests drive: $CHROMIUM, else `chromium` on PATH (Debian's
    package, which `make chromium` installs)."""
    return (os.environ.get("CHROMIUM") or shutil.which("chromium")
            or shutil.which("chromium-browser"))


@pytest.fixture(scope="session")
def full_tour(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The full tour (`lecture.run_tour`, as `make demo` runs it), once: its results by
    example, the files it wrote (name: (example, path)), and, per example, the smallest text
    matplotlib drew (every text Agg draws, for a file or for a GIF frame, at its dpi)."""
    from matplotlib.backends.backend_agg import RendererAgg

    from tinygrad_edu import lecture

    sizes: list[float] = []
    smallest: dict[str, float] = {}
    original: Callable[..., Any] = RendererAgg.draw_text  # (untyped in matplotlib)

    def draw_text(self: Any, gc: Any, x: float, y: float, s: str, prop: Any, *args: Any,
                  **kwargs: Any) -> Any:
        if s.strip():
            sizes.append(prop.get_size_in_points() * self.dpi / 72.0)
        return original(self, gc, x, y, s, prop, *args, **kwargs)

    def done(result: lecture.ExampleResult) -> None:
        smallest[result.name] = min(sizes, default=float("inf"))
        sizes.clear()

    out = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RendererAgg, "draw_text", draw_text)
        results = lecture.run_tour(out, on_result=done)
    return {"results": {result.name: result for result in results},
            "files": {path.name: (result.name, path) for result in results
                      for path in result.files},
            "smallest_text": smallest}


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole session, driven by Playwright (never skipped: a
    missing browser fails with what to install)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the browser tests need Playwright: pip install -e '.[dev]' (make test "
                    "does it)", pytrace=False)
    path = chromium_path()
    if path is None:
        pytest.fail("the browser tests need Chromium, which was not found: run `make chromium` "
                    "(as root it runs apt-get install chromium), install it with your package "
                    "manager, or set CHROMIUM=/path/to/chromium", pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Visit:
    """A page opened in its own browser context, and what went wrong while it was open:
    console errors, uncaught exceptions, any request that is not for a local file."""

    page: Any
    problems: list[str] = field(default_factory=list)


@pytest.fixture
def visit(browser: Any) -> Iterator[Callable[..., Visit]]:
    """Open a URL in a fresh, offline browser context: ``visit(url, javascript=True,
    width=1280, height=900)``."""
    contexts: list[Any] = []

    def open_url(url: str, *, javascript: bool = True, width: int = 1280,
                 height: int = 900) -> Visit:
        context = browser.new_context(offline=True, java_script_enabled=javascript,
                                      viewport={"width": width, "height": height})
        context.set_default_timeout(5_000)  # fail fast: every action here takes milliseconds
        contexts.append(context)
        opened = Visit(context.new_page())
        problems = opened.problems
        opened.page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                       if m.type == "error" else None)
        opened.page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        opened.page.on("request", lambda r: problems.append(f"network request: {r.url}")
                       if not r.url.startswith(("file:", "data:", "about:")) else None)
        opened.page.goto(url)
        return opened

    yield open_url
    for context in contexts:
        context.close()
