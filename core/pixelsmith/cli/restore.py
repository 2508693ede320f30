"""``pixelsmith restore NAME INPUT... -o OUTDIR``: restore files and folders of images.

The guarantees, and why they hold:

- inputs are never written: OUTDIR may not be (or lie inside) an input folder, nor be the folder
  of an input file, and no output path may be an input path;
- existing outputs are kept unless ``--overwrite``, which also makes an interrupted run resume:
  outputs already written are skipped;
- every write is atomic (temporary file + rename), so a kill never leaves half an image;
- everything that can be refused is refused before any image is restored (exit 2): unknown or
  missing parameters and impossible values, an OUTDIR that is a file or cannot be written, inputs
  with no image in them;
- one file that cannot be read or restored (corrupt, over the pixel budget, out of memory) is
  named on stderr and makes the exit code 1; the others are still restored;
- one image at a time goes through the pipeline (bounded memory for folders of any size).

Under ``torchrun`` (``WORLD_SIZE`` > 1) the inputs are sharded by rank: every process plans the
same sorted job list from the inputs alone (never from which outputs exist, which changes while
the others write), takes every WORLD_SIZE-th job starting at its RANK, runs on its own device
(``cuda:LOCAL_RANK``, or the CPU) and skips its own existing outputs; rank 0 prints the one
summary, with the counts summed over all processes (gloo).
"""

from __future__ import annotations

import argparse
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from .. import api
from ..errors import InvalidInputError
from ..io import IMAGE_EXTENSIONS, iter_image_files, write_image
from ..pipeline import Pipeline
from ._common import (
    EXIT_FAILURE,
    EXIT_OK,
    add_max_pixels,
    check_output_folder,
    debug_requested,
    describe_exception,
    error,
    info,
    interrupted_exit_code,
    parse_params,
    progress,
    report_exception,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "restore", help="restore image files or folders into an output folder",
        description="Restore every image of the INPUT files and folders with the restorer NAME. Outputs "
                    "keep their relative names under OUTDIR (PNG by default; 16-bit input stays 16-bit). "
                    "Inputs are never modified; existing outputs are skipped (so an interrupted run "
                    "resumes) unless --overwrite. Under torchrun the inputs are shared out among the "
                    "processes (see docs/distributed.md).",
        epilog="example: pixelsmith restore unet-denoise photos/ -o restored/ sigma=0.1; "
               "pixelsmith restore deblur blurred/ -o sharp/ --option kernel_shape=family")
    p.add_argument("name", help="restorer name, e.g. unet-denoise")
    p.add_argument("inputs", nargs="+", metavar="INPUT|param=value",
                   help="image files or folders, then restore() parameters such as sigma=0.1")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUTDIR", help="output folder")
    p.add_argument("--ext", choices=("png", "tif", "same"), default="png",
                   help="output format: png (default), tif, or the same as each input")
    p.add_argument("--overwrite", action="store_true", help="replace outputs that already exist")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: CUDA when available; "
                                                  "under torchrun cuda:LOCAL_RANK)")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="an option the restorer is built with (repeatable), e.g. --option method=network; "
                        "restore() parameters go after the inputs")
    add_max_pixels(p)
    p.set_defaults(run=run, kv_dest="inputs")


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def plan(inputs: list[Path], outdir: Path, ext: str) -> list[tuple[Path, str, Path]]:
    """(input path, relative name, output path) for every image; refuses unsafe or clashing outputs,
    and inputs without any image."""
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
    if not jobs:
        names = ", ".join(str(p) for p in inputs)
        raise InvalidInputError(
            f"no image files in {names}: folders are searched (recursively) for "
            f"{' '.join(IMAGE_EXTENSIONS)} files; give image files or folders that hold some")
    for _, _, out in jobs:
        if out.resolve() in input_files:
            raise InvalidInputError(f"output {out} would replace an input; choose another -o folder")
    return jobs


@dataclass(frozen=True)
class _Ranks:
    """This process's place under torchrun (world 1, rank 0 otherwise)."""

    world: int = 1
    rank: int = 0
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> "_Ranks":
        try:
            world = int(os.environ.get("WORLD_SIZE", "1"))
            rank = int(os.environ.get("RANK", "0"))
            local = int(os.environ.get("LOCAL_RANK", "0"))
        except ValueError as exc:
            raise InvalidInputError(f"WORLD_SIZE, RANK and LOCAL_RANK must be integers ({exc}); "
                                    "start several processes with torchrun") from None
        if world < 1 or not 0 <= rank < world:
            raise InvalidInputError(f"RANK {rank} does not fit WORLD_SIZE {world}; start processes with torchrun")
        return cls(world, rank, local)

    @property
    def distributed(self) -> bool:
        return self.world > 1


def _device(args: argparse.Namespace, ranks: _Ranks) -> str | None:
    if not ranks.distributed or (args.device is not None and args.device != "cuda"):
        return args.device
    import torch

    if args.device == "cuda" or (args.device is None and torch.cuda.is_available()):
        return f"cuda:{ranks.local_rank}"  # each process on its own GPU
    return args.device


def run(args: argparse.Namespace) -> int:
    ranks = _Ranks.from_env()
    if not ranks.distributed:
        restorer, params, jobs = _prepare(args, ranks)
        group = None
    else:
        # under torchrun the processes agree on the refusal before any image: rank 0 says what it
        # refused (every rank refuses alike), a process that alone failed says so itself, and only
        # rank 0 exits non-zero, so that torchrun never stops rank 0 before its line is out
        group = _join(ranks)
        try:
            restorer, params, jobs = _prepare(args, ranks)
            failure: Exception | None = None
        except Exception as exc:  # noqa: BLE001 - reported below, once every process knows
            failure = exc
        codes = _max_over_ranks(group, ranks, describe_exception(failure)[0] if failure is not None else 0)
        if any(codes):
            dist_destroy()
            # the failure's traceback holds this frame: drop the group now, or it is destroyed at
            # interpreter shutdown, which aborts the process ("terminate called ...")
            group = None
            if failure is not None and (ranks.rank == 0 or not codes[0]):
                code = report_exception(failure, command="restore", debug=_debug())
                if ranks.rank != 0:
                    return EXIT_OK
                return code
            if ranks.rank == 0:
                return max(codes)
            return EXIT_OK

    mine = jobs[ranks.rank::ranks.world]
    todo = [job for job in mine if args.overwrite or not job[2].exists()]
    skipped = len(mine) - len(todo)
    pipe = Pipeline(restorer=restorer, params=params, device=restorer.device, on_error="record")
    outputs = {rel: out for _, rel, out in todo}
    done = failed = 0
    interrupted: KeyboardInterrupt | None = None
    fatal: Exception | None = None
    quiet = args.quiet or ranks.rank != 0
    records = pipe.run((rel, path) for path, rel, _ in todo)
    try:
        for record in progress(records, total=len(todo), desc=f"restore {args.name}", quiet=quiet):
            if not record.ok:
                failed += 1
                error(record.error or f"{record.name}: failed")
                continue
            out = outputs[record.name]
            try:
                write_image(out, record.restored, bit_depth=_output_depth(record, out))
            except OSError as exc:
                # a full disk or a vanished folder fails every later file too: stop, and say where
                raise OSError(exc.errno, f"{exc.strerror or exc} (after {done} image(s) were written)",
                              str(out)) from exc
            done += 1
    except KeyboardInterrupt as exc:
        interrupted = exc
    except Exception as exc:  # noqa: BLE001 - re-raised below, once the other processes know
        fatal = exc
    # every process reaches this sum, whatever happened to it, so that none waits forever
    done_all, skipped_all, failed_all, stopped, crashed = _sum_over_ranks(
        group, [done, skipped, failed, int(interrupted is not None), int(fatal is not None)])
    if fatal is not None:
        if ranks.rank == 0:
            raise fatal
        report_exception(fatal, command="restore", debug=_debug())  # its own line; rank 0 exits 1
        return EXIT_OK
    if interrupted is not None or stopped:
        if ranks.rank == 0 or interrupted is not None:
            error(f"interrupted after {done_all} image(s); run the same command again to resume "
                  "(outputs already written are skipped)")
        return interrupted_exit_code(interrupted)
    if crashed:  # another process stopped on an error it has printed
        return EXIT_FAILURE if ranks.rank == 0 else EXIT_OK
    if ranks.rank == 0:
        summary = f"restored {done_all} image(s) into {args.output}"
        if ranks.distributed:
            summary += f" ({ranks.world} processes)"
        if skipped_all:
            summary += f"; skipped {skipped_all} existing output(s) (pass --overwrite to redo them)"
        if failed_all:
            summary += f"; {failed_all} file(s) could not be restored (named above)"
        info(summary, quiet=args.quiet and not failed_all)
    # under torchrun rank 0 alone exits non-zero for failed files (each named by the process that met it)
    return EXIT_FAILURE if failed_all and ranks.rank == 0 else EXIT_OK


def _prepare(args: argparse.Namespace, ranks: _Ranks):  # noqa: ANN202
    """Everything that can be refused, before any image: parameter names, inputs and outputs, the
    restorer and its parameter values. Returns (restorer, params, jobs)."""
    paths = [Path(a) for a in args.inputs if "=" not in a or Path(a).exists()]
    params = parse_params([a for a in args.inputs if "=" in a and not Path(a).exists()])
    if not paths:
        raise InvalidInputError("give at least one image file or folder to restore")
    api.check_params("restorer", args.name, params)
    jobs = plan(paths, args.output, args.ext)
    if args.output.exists() and not args.output.is_dir():
        raise InvalidInputError(f"output folder (-o) {args.output} is an existing file, not a folder; give a "
                                "folder path")
    options = parse_params(args.option)
    if "device" in options:
        raise InvalidInputError("give the device with --device, not --option device=...")
    restorer = api.restorer(args.name, device=_device(args, ranks), **options)
    restorer.check_params(params)
    check_output_folder(args.output, what="output folder (-o)")  # creates it: the last refusal
    return restorer, params, jobs


_float_tiff_warned = False


def _output_depth(record, out: Path) -> int:  # noqa: ANN001 - a PipelineRecord
    global _float_tiff_warned
    depth = record.source.bit_depth if record.source is not None else 8
    if depth <= 8:
        return 8
    tiff = out.suffix.lower() in (".tif", ".tiff")
    if depth == 32 and tiff:
        return 32
    if depth == 32 and not _float_tiff_warned:
        _float_tiff_warned = True
        warnings.warn(f"{record.name} is a 32-bit float image; written as 16-bit {out.suffix.lstrip('.').upper()} "
                      "(use --ext tif or --ext same to keep float)", stacklevel=2)
    return 16 if out.suffix.lower() in (".png", ".tif", ".tiff") else 8


def _join(ranks: _Ranks):  # noqa: ANN202 - a torch.distributed ProcessGroup or None
    """Join the processes torchrun started (gloo: only three counters travel, at the end)."""
    if not ranks.distributed:
        return None
    from datetime import timedelta

    import torch.distributed as dist

    if not dist.is_initialized():
        # shards take as long as their images: a long timeout, so a fast rank waits for a slow one
        dist.init_process_group(backend="gloo", timeout=timedelta(days=7))
    return dist.group.WORLD


def _debug() -> bool:
    import sys

    return debug_requested(sys.argv[1:])[1]


def dist_destroy() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def _max_over_ranks(group, ranks: _Ranks, code: int) -> list[int]:  # noqa: ANN001
    """Every process's exit code so far (index = rank), known to every process."""
    import torch
    import torch.distributed as dist

    codes = torch.zeros(ranks.world, dtype=torch.int64)
    codes[ranks.rank] = code
    dist.all_reduce(codes, op=dist.ReduceOp.MAX, group=group)
    return [int(c) for c in codes]


def _sum_over_ranks(group, values: list[int]) -> list[int]:  # noqa: ANN001
    if group is None:
        return values
    import torch
    import torch.distributed as dist

    total = torch.tensor(values, dtype=torch.int64)
    dist.all_reduce(total, group=group)
    dist.destroy_process_group()
    return [int(v) for v in total]


__all__ = ["add_parser", "run", "plan"]
