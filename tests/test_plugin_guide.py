"""The contract examples of docs/plugin-guide.md run, register and pass the conformance kit as written."""

from __future__ import annotations

import re
import types
from pathlib import Path

import pytest
import torch

import pixelsmith
from pixelsmith.testing import check, registered

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "plugin-guide.md"
KINDS = {"Metric": "metric", "Restorer": "restorer", "Generator": "generator", "Degradation": "degradation"}


def _contract_examples() -> dict[str, str]:
    """kind -> the python block of its '### Kind: `_method...`' section."""
    text = GUIDE.read_text(encoding="utf-8")
    found = {}
    for title, kind in KINDS.items():
        section = re.search(rf"^### {title}: `_.*?$(.*?)(?=^### |^## )", text, re.S | re.M)
        assert section, f"the guide has no '### {title}: `_...`' section"
        blocks = re.findall(r"```python\n(.*?)```", section.group(1), re.S)
        assert len(blocks) == 1, f"the {title} section should hold one complete example"
        found[kind] = blocks[0]
    return found


EXAMPLES = _contract_examples()


def _module(kind: str) -> types.ModuleType:
    module = types.ModuleType(f"guide_{kind}")
    exec(compile(EXAMPLES[kind], f"plugin-guide.md ({kind})", "exec"), module.__dict__)  # noqa: S102
    return module


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_each_contract_example_passes_the_kit(kind):
    module = _module(kind)
    with registered(module):
        check(kind, module.SPEC.name)


def test_the_examples_do_what_the_guide_says():
    x = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    with registered(*(_module(k) for k in sorted(EXAMPLES))):
        m = pixelsmith.metric("my-mae")
        assert m.name == "my-mae" and m.higher_is_better is False and m(x, x).tolist() == [0.0, 0.0]
        r = pixelsmith.restorer("shrink-to-mean", device="cpu")
        per_image = r.restore(x, sigma=torch.tensor([0.0, 0.2]))   # sigma as a float or one per image
        assert torch.equal(per_image[0], x[0]) and not torch.equal(per_image[1], x[1])
        assert torch.allclose(r.restore(x, sigma=0.2)[1], per_image[1])
        g = pixelsmith.generator("my-linear-gen", device="cpu")
        assert torch.equal(g.sample(8, seed=0), g.sample(8, seed=0)) and g.sample(8, seed=0).shape == (8, 1, 16, 16)
        d = pixelsmith.degradation("dust", amount=0.1).apply(x, seed=0)
        assert {k: v for k, v in d.info.items() if k != "mask"} == {"degradation": "dust", "amount": 0.1,
                                                                    "darkness": 0.7}
        assert d.info["mask"].shape == (2, 1, 16, 16) and 0 < float(d.info["mask"].mean()) < 0.3
