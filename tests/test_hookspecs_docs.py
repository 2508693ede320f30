"""Every hook is documented with an example, in the docs, and exercised by a test (as datasette does)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from pixelsmith import hookspecs

ROOT = Path(__file__).resolve().parents[1]
HOOKS = sorted(name for name, _ in inspect.getmembers(hookspecs.PixelsmithSpec, inspect.isfunction)
               if name.startswith("pixelsmith_"))


def test_there_are_hooks():
    assert HOOKS == ["pixelsmith_register_degradations", "pixelsmith_register_generators",
                     "pixelsmith_register_metrics", "pixelsmith_register_restorers"]


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_docstring_with_an_example(hook):
    doc = inspect.getdoc(getattr(hookspecs.PixelsmithSpec, hook)) or ""
    assert doc.strip(), f"{hook} has no docstring"
    assert "Example" in doc and "@pixelsmith.hookimpl" in doc and f"def {hook}(" in doc, (
        f"{hook}'s docstring needs an example implementation")


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented_in_the_docs(hook):
    docs = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "docs").rglob("*.md"))
    assert re.search(rf"\b{hook}\b", docs), f"{hook} is not mentioned in docs/"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_exercised_by_a_test(hook):
    this = Path(__file__).resolve()
    sources = [p for p in (ROOT / "tests").glob("*.py") if p.resolve() != this]
    users = [p.name for p in sources if re.search(rf"\b{hook}\b", p.read_text(encoding="utf-8"))]
    assert users, f"no test under tests/ implements or calls {hook}"
