"""Real installed distributions for discovery tests: ``.dist-info`` folders on ``sys.path``.

``importlib.metadata`` finds them exactly as it finds a pip-installed plugin, so the registry is
tested through real entry-point discovery rather than a mock.
"""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

GOOD_PLUGIN = '''
import torch
import pixelsmith

class Identity(pixelsmith.Restorer):
    def _restore(self, x, **params):
        return x.clone()

@pixelsmith.hookimpl
def pixelsmith_register_restorers():
    return [pixelsmith.RestorerSpec(name="{name}", factory=Identity, summary="identity", tasks=("generic",))]
'''

IMPORT_FAILS = '''
raise ImportError("this plugin needs a library that is not installed")
'''

HOOK_RAISES = '''
import pixelsmith

@pixelsmith.hookimpl
def pixelsmith_register_metrics():
    raise RuntimeError("metric registration exploded")
'''

MALFORMED_SPEC = '''
import pixelsmith

@pixelsmith.hookimpl
def pixelsmith_register_degradations():
    return [pixelsmith.DegradationSpec(name="bad name!", factory=None, summary="", task="nonsense")]

@pixelsmith.hookimpl
def pixelsmith_register_generators():
    return ["not a spec"]
'''


def make_dist(root: Path, dist: str, source: str, *, version: str = "1.2.3", ep_name: str | None = None) -> str:
    """Install a one-module distribution ``dist`` into ``root`` (to be put on sys.path); returns the module name."""
    module = f"{dist.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[pixelsmith]\n{ep_name or dist} = {module}\n")
    (info / "RECORD").write_text("")
    return module
