"""``pixelsmith restore NAME INPUT... -o OUTDIR``: restore files and folders of images.

The guarantees, and why they hold:

- inputs are never written: OUTDIR may not be (or lie inside) an input folder, nor be the folder
  of an input file, and no output path may be an input path;
- existing outputs are kept unless ``--overwrite``, which also makes an interrupted run resume:
  outputs already written are skipped;
- every write is atomic (temporary file + rename), so a kill never leaves half an image;
- one unreadable file is named on stderr and makes the exit code 1, the others are still restored;
- one image at a time goes through the pipeline (bounded memory for folders of any size).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import api
from ..errors import InvalidInputError
from ..io import iter_image_files, write_image
from ..pipeline import Pipeline
from ._common import EXIT_FAILURE, EXIT_OK, error, info, parse_params, progress


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "restore", help="restore image files or folders into an output folder",
        description="Restore every image of the INPUT files and folders with the restorer NAME. Outputs "
                    "keep their relative names under OUTDIR (PNG by default; 16-bit input stays 16-bit). "
                    "Inputs are never modified; existing outputs are skipped (so an interrupted run "
                    "resumes) unless --overwrite.",
        epilog="example: pixelsmith restore unet-denoise photos/ -o restored/ sigma=0.1")
    p.add_argument("name", help="restorer name, e.g. unet-denoise")
    p.add_argument("inputs", nargs="+", metavar="INPUT|param=value",
                   help="image files or folders, then restore() parameters such as sigma=0.1")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUTDIR", help="output folder")
    p.add_argument("--ext", choices=("png", "tif", "same"), default="png",
                   help="output format: png (default), tif, or the same as each input")
    p.add_argument("--overwrite", action="store_true", help="replace outputs that already exist")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: CUDA when available)")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    p.set_defaults(run=run, kv_dest="inputs")


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def plan(inputs: list[Path], outdir: Path, ext: str) -> list[tuple[Path, str, Path]]:
    """(input path, relative name, output path) for every image; refuses unsafe or clashing outputs."""
    out_resolved = outdir.resolve()
    for item in inputs:
        if not item.exists():
            raise InvalidInputError(f"input {item} does not exist; give image files or folders")
        folder = item.resolve() if item.is_dir() else item.resolve().parent
        if _inside(out_resolved, folder):
            what = "input folder" if item.is_dir() else f"folder of input {item}"
            raise InvalidInputError(
                f"output folder {outdir} is inside or equal to the {what} {folder}; restore never writes "
                "into its inputs: choose an -o folder elsewhere")
    jobs: list[tuple[Path, str, Path]] = []
    seen: dict[Path, Path] = {}
    input_files = set()
    for path, rel in iter_image_files(inputs):
        suffix = rel.suffix if ext == "same" else "." + ext
        out = outdir / rel.with_suffix(suffix)
        if out in seen:
            raise InvalidInputError(
                f"{seen[out]} and {path} would both be written to {out}; use --ext same or restore them "
                "into separate folders")
        seen[out] = path
        input_files.add(path.resolve())
        jobs.append((path, rel.as_posix(), out))
    for _, _, out in jobs:
        if out.resolve() in input_files:
            raise InvalidInputError(f"output {out} would replace an input; choose another -o folder")
    return jobs


def run(args: argparse.Namespace) -> int:
    paths = [Path(a) for a in args.inputs if "=" not in a or Path(a).exists()]
    params = parse_params([a for a in args.inputs if "=" in a and not Path(a).exists()])
    if not paths:
        raise InvalidInputError("give at least one image file or folder to restore")
    jobs = plan(paths, args.output, args.ext)
    todo = [job for job in jobs if args.overwrite or not job[2].exists()]
    skipped = len(jobs) - len(todo)
    restorer = api.restorer(args.name, device=args.device)
    pipe = Pipeline(restorer=restorer, params=params, device=restorer.device, on_error="record")
    outputs = {rel: out for _, rel, out in todo}
    done = failed = 0
    records = pipe.run((rel, path) for path, rel, _ in todo)
    try:
        for record in progress(records, total=len(todo), desc=f"restore {args.name}", quiet=args.quiet):
            if not record.ok:
                failed += 1
                error(record.error or f"{record.name}: failed")
                continue
            out = outputs[record.name]
            sixteen = (record.source is not None and record.source.bit_depth > 8
                       and out.suffix.lower() in (".png", ".tif", ".tiff"))
            write_image(out, record.restored, bit_depth=16 if sixteen else 8)
            done += 1
    except KeyboardInterrupt:
        error(f"interrupted after {done} image(s); run the same command again to resume "
              "(outputs already written are skipped)")
        return 130
    summary = f"restored {done} image(s) into {args.output}"
    if skipped:
        summary += f"; skipped {skipped} existing output(s) (pass --overwrite to redo them)"
    if failed:
        summary += f"; {failed} file(s) could not be restored (named above)"
    info(summary, quiet=args.quiet and not failed)
    return EXIT_FAILURE if failed else EXIT_OK


__all__ = ["add_parser", "run", "plan"]
