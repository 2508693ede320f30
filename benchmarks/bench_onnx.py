"""onnxruntime vs PyTorch on the CPU, one thread: the exported restorers at 256² and 1024², the generators
on a batch of 64, and how far the outputs are apart.

Times are the CPU seconds of this process (``time.process_time``), median of interleaved rounds: with
one thread that is the compute time whatever else the machine runs (wall time on a shared machine
measures the other jobs). Three timings per row:

- ``restore()``: what a PyTorch user calls (at 1024² the U-Nets tile: 512² tiles, 192 px overlap);
- ``torch graph``: the exported graph's module run eagerly by PyTorch (the same computation as the file);
- ``onnxruntime``: the ONNX file (opset 18) in onnxruntime's CPU provider.

Inputs are the test photographs ``camera`` (gray) and ``chelsea`` (RGB, through unet-denoise's colour
network), bundled with scikit-image, resized to the size, with the task's degradation (seed 0);
``unet-denoise`` gets a known σ, ``deblur`` the true kernel (the graphs with parameter inputs).

``deblur``'s graph is its ``method="network"`` (one U-Net call on a Wiener estimate), so its
``restore()`` column is ``pixelsmith.restorer("deblur", method="network")``; the default
``method="pnp"`` (plug-and-play, 8 denoiser calls and CG solves) has no graph and is not timed here.

    OMP_NUM_THREADS=1 python benchmarks/bench_onnx.py                 # table on stdout
    OMP_NUM_THREADS=1 python benchmarks/bench_onnx.py --sizes 256 --rounds 5 --json out/onnx.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from _common import interleaved as _interleaved


def interleaved(fns: dict, *, rounds: int, warmup: int = 1) -> dict[str, float]:
    """Median CPU seconds of this process per function, alternating them round by round (robust on a
    shared machine where wall time measures the other jobs)."""
    return _interleaved(fns, rounds=rounds, warmup=warmup, clock=time.process_time)


#: row label -> (component, degradation, parameter input, channels, restorer options: the PyTorch
#: call the exported graph reproduces)
RESTORERS = {"unet-denoise": ("unet-denoise", "gaussian-noise", "sigma", 1, {}),
             "unet-denoise rgb": ("unet-denoise", "gaussian-noise", "sigma", 3, {}),
             "deblur": ("deblur", "gaussian-blur", "kernel", 1, {"method": "network"})}
GENERATORS = ("dcgan", "dcgan-cond", "mlp-gan", "mlp-gan-cond")


#: The scikit-image test photograph of each channel count.
PHOTOS = {1: "camera", 3: "chelsea"}


def photo(size: int, channels: int = 1) -> torch.Tensor:
    from pixelsmith.data import load_photo

    img = load_photo(PHOTOS[channels], channels=channels)  # test split
    return F.interpolate(img, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)


def session(path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def bench_restorer(label: str, sizes: list[int], rounds: int, folder: Path) -> list[dict]:
    import pixelsmith
    from pixelsmith.export import export

    name, degradation, param, channels, options = RESTORERS[label]
    restorer = pixelsmith.restorer(name, device="cpu", **options)
    path = folder / f"{name}-{channels}.onnx"
    graph = export(name, path, inputs=(param,), channels=channels, component=restorer).graph
    sess = session(path)
    rows = []
    for size in sizes:
        degraded = pixelsmith.degradation(degradation).apply(photo(size, channels), seed=0)
        x = degraded.image
        value = degraded.info["noise_sigma"] if param == "sigma" else degraded.info["kernel"]
        extra = torch.tensor([float(value)]) if param == "sigma" else torch.as_tensor(value)[None].float()
        feeds = {"image": x.numpy(), param: extra.numpy()}

        def run_restore():
            return restorer.restore(x, **{param: value})

        def run_module():
            with torch.no_grad():
                return graph.module(x, extra)

        def run_onnx():
            return sess.run(None, feeds)[0]

        times = interleaved({"restore": run_restore, "module": run_module, "onnx": run_onnx}, rounds=rounds)
        ort_out = torch.from_numpy(run_onnx())
        rows.append({
            "component": label + "".join(f" ({k}={v})" for k, v in options.items()),
            "input": f"{PHOTOS[channels]} 1×{channels}×{size}×{size} + {param}", "restore_s": times["restore"],
            "torch_graph_s": times["module"], "onnxruntime_s": times["onnx"],
            "max_abs_diff_vs_torch_graph": float((ort_out - run_module()).abs().max()),
            "max_abs_diff_vs_restore": float((ort_out - run_restore()).abs().max()),
        })
        print(_row(rows[-1]), flush=True)
    return rows


def bench_generator(name: str, rounds: int, folder: Path, n: int = 64) -> dict:
    import pixelsmith
    from pixelsmith.export import export

    gen = pixelsmith.generator(name, device="cpu")
    path = folder / f"{name}.onnx"
    graph = export(name, path, component=gen).graph
    sess = session(path)
    z = gen.latents(n, seed=0)
    labels = torch.arange(n) % max(1, int(getattr(gen, "num_classes", 0) or 1)) if gen.conditional else None
    feeds = {"z": z.numpy(), **({"labels": labels.numpy()} if labels is not None else {})}
    args = (z,) if labels is None else (z, labels)

    def run_decode():
        return gen.decode(z, labels=labels)

    def run_module():
        with torch.no_grad():
            return graph.module(*args)

    def run_onnx():
        return sess.run(None, feeds)[0]

    times = interleaved({"restore": run_decode, "module": run_module, "onnx": run_onnx}, rounds=rounds)
    ort_out = torch.from_numpy(run_onnx())
    row = {"component": name, "input": f"z {n}×{gen.latent_dim}", "restore_s": times["restore"],
           "torch_graph_s": times["module"], "onnxruntime_s": times["onnx"],
           "max_abs_diff_vs_torch_graph": float((ort_out - run_module()).abs().max()),
           "max_abs_diff_vs_restore": float((ort_out - run_decode()).abs().max())}
    print(_row(row), flush=True)
    return row


HEADER = ("| component | input | PyTorch restore()/decode() | PyTorch graph | onnxruntime | ORT / graph "
          "| max abs diff ORT vs graph | vs restore() |\n|---|---|---|---|---|---|---|---|")


def _row(r: dict) -> str:
    return (f"| {r['component']} | {r['input']} | {r['restore_s'] * 1e3:.1f} ms | {r['torch_graph_s'] * 1e3:.1f} ms "
            f"| {r['onnxruntime_s'] * 1e3:.1f} ms | {r['onnxruntime_s'] / r['torch_graph_s']:.2f} "
            f"| {r['max_abs_diff_vs_torch_graph']:.1e} | {r['max_abs_diff_vs_restore']:.1e} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per function (median)")
    parser.add_argument("--only", nargs="+", help="components to run (default: all)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    import onnxruntime

    print(f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, 1 thread, "
          f"CPU time, median of {args.rounds} rounds")
    print(HEADER, flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in RESTORERS:
            if not args.only or name in args.only:
                rows += bench_restorer(name, args.sizes, args.rounds, Path(tmp))
        for name in GENERATORS:
            if not args.only or name in args.only:
                rows.append(bench_generator(name, max(args.rounds, 5), Path(tmp)))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
