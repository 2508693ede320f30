"""``pixelsmith new-plugin NAME``: write a ready plugin package from the templates."""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import keyword
import re
from importlib import resources
from pathlib import Path

from .. import __version__
from ..errors import InvalidInputError
from ._common import check_output_folder, info

_NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
#: a distribution name longer than this is a mistake (and near the 255-byte limit of file names
#: once the package folders and files are added)
MAX_NAME_LENGTH = 64


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "new-plugin", help="write a new plugin package (restorer skeleton, conformance test, README)",
        description="Create the folder DIR/NAME with a plugin distribution called NAME: pyproject.toml "
                    "with the pixelsmith entry point, a working restorer, its conformance test and a README. "
                    "An existing folder is never touched.",
        epilog="example: pixelsmith new-plugin pixelsmith-median && pip install -e pixelsmith-median")
    p.add_argument("name", help="distribution name, e.g. pixelsmith-median (lower case, digits, '-')")
    p.add_argument("-o", "--output", type=Path, default=Path("."), metavar="DIR",
                   help="folder in which to create NAME (default: current folder)")
    p.add_argument("--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(run=run)


def template_values(name: str) -> dict[str, str]:
    """Names derived from the distribution name, used in the templates."""
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInputError(f"plugin name {name[:30]!r}... is {len(name)} characters long; use at most "
                                f"{MAX_NAME_LENGTH}, e.g. pixelsmith-median")
    if not _NAME_RE.match(name):
        raise InvalidInputError(
            f"plugin name {name!r} must be lower-case letters and digits separated by '-', "
            "starting with a letter, e.g. pixelsmith-median")
    if name == "pixelsmith":
        raise InvalidInputError("plugin name 'pixelsmith' is the core distribution itself (installing the plugin "
                                "would replace it); choose another name, e.g. pixelsmith-median")
    package = name.replace("-", "_")
    if keyword.iskeyword(package):
        raise InvalidInputError(f"plugin name {name!r} gives the package {package!r}, a Python keyword that "
                                "cannot be imported; choose another name, e.g. pixelsmith-" + name)
    component = name.removeprefix("pixelsmith-") or name
    return {
        "dist": name,
        "package": name.replace("-", "_"),
        "component": component,
        "entry_point": component.replace("-", "_"),
        "class_name": "".join(part.capitalize() for part in component.split("-")) + "Restorer",
        "pixelsmith_version": __version__,
    }


def render(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    leftover = re.search(r"\{\{\s*\w+\s*\}\}", text)
    if leftover:  # a template bug, not a user error: fail loudly rather than write a broken package
        raise RuntimeError(f"template placeholder {leftover.group(0)} has no value")
    return text


def check_name_is_free(name: str) -> None:
    """Refuse a name an installed distribution has (installing the plugin would replace or shadow
    it), or whose package name some importable module already has (``json``, ``numpy``...)."""
    try:
        installed = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        pass
    else:
        raise InvalidInputError(
            f"a distribution named {name!r} is already installed (version {installed.version}); a plugin of "
            "that name would replace it when installed: choose another name")
    package = name.replace("-", "_")
    try:
        found = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        found = None
    if found is not None:
        where = found.origin or (list(found.submodule_search_locations or []) or ["?"])[0]
        raise InvalidInputError(f"a Python module named {package!r} already exists ({where}); a plugin package "
                                "of that name would shadow it or be shadowed: choose another name")


def create_plugin(name: str, parent: Path) -> Path:
    """Write the plugin package ``parent/name``; refuses if that folder exists. Returns its path."""
    values = template_values(name)
    check_name_is_free(name)
    check_output_folder(parent, what="folder (-o)")
    target = parent / name
    if target.exists():
        raise InvalidInputError(f"{target} already exists; new-plugin never overwrites, choose another name or -o")
    root = resources.files("pixelsmith") / "templates" / "plugin"
    files: dict[Path, str] = {}

    def walk(node, rel: Path) -> None:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            if child.name == "__pycache__":
                continue
            name_part = child.name.replace("__package__", values["package"])
            if child.is_dir():
                walk(child, rel / name_part)
            elif child.name.endswith(".tmpl"):
                files[rel / name_part.removesuffix(".tmpl")] = render(child.read_text(encoding="utf-8"), values)

    walk(root, Path())
    if not files:
        raise RuntimeError(f"no templates found in {root}; the pixelsmith installation is incomplete")
    target.mkdir(parents=True)  # exist_ok=False: a folder created meanwhile is not overwritten either
    for rel, text in files.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target


def run(args: argparse.Namespace) -> int:
    target = create_plugin(args.name, args.output)
    values = template_values(args.name)
    info(f"created {target}: restorer {values['component']!r} in src/{values['package']}/plugin.py\n"
         f"next: pip install -e '{target}[test]' && python -m pytest {target}", quiet=args.quiet)
    return 0
