"""Restorer throughput (megapixels / s) of every registered restorer, side by side with the classical baselines.

    python benchmarks/bench_restorers.py [--size 256] [--rounds 3] [--device cpu]

Each restorer runs on the same noisy (or blurred) gray crop with its true parameters; the
ratio column is throughput relative to the fastest classical baseline that ran on the same task.
"""

from __future__ import annotations

import argparse

import torch

import pixelsmith

from _common import interleaved


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    from pixelsmith.data import test_photos

    clean = test_photos(channels=1, size=args.size)["camera"]
    distribution = {c["name"]: p["distribution"] for p in pixelsmith.list_plugins()["plugins"]
                    for c in p["components"] if c["kind"] == "restorer"}
    noisy = pixelsmith.degradation("gaussian-noise", sigma=25 / 255).apply(clean, seed=0)
    blurred = pixelsmith.degradation("gaussian-blur", sigma=2.0, noise=0.01).apply(clean, seed=0)
    impulse = pixelsmith.degradation("salt-and-pepper", amount=0.3).apply(clean, seed=0)
    inputs = {"denoise": noisy, "deblur": blurred, "impulse": impulse}
    fns, task_of, plugin_of = {}, {}, {}
    for name in pixelsmith.list_components("restorer"):
        spec = pixelsmith.spec("restorer", name)
        task = next((t for t in spec.tasks if t in inputs), None)
        if task is None:
            continue
        try:
            r = pixelsmith.restorer(name, device=args.device)
        except pixelsmith.PixelsmithError as exc:
            print(f"  {name}: not built ({exc})"[:150])
            continue
        d = inputs[task]
        params = {"sigma": d.info.get("noise", d.info.get("sigma")), "kernel": d.info.get("kernel")}
        wanted = set(spec.requires) | set(spec.accepts)
        p = {k: v for k, v in params.items() if k in wanted and v is not None}
        if task == "deblur" and "sigma" in p:
            p["sigma"] = d.info["noise"]
        fns[name] = (lambda r=r, x=d.image, p=p: r.restore(x, **p))
        task_of[name], plugin_of[name] = task, distribution.get(name, "?")
    with torch.inference_mode():
        secs = interleaved(fns, rounds=args.rounds)
    mp = args.size * args.size / 1e6
    print(f"\nrestorer throughput on a {args.size}² gray crop, {torch.get_num_threads()} threads, {args.device}")
    print(f"{'restorer':<18}{'task':<9}{'plugin':<24}{'ms':>9}{'MP/s':>9}{'vs fastest classical':>22}")
    for task in ("denoise", "deblur", "impulse"):
        names = sorted((n for n in secs if task_of[n] == task), key=lambda n: secs[n])
        classical = [secs[n] for n in names if plugin_of[n] == "pixelsmith-classical"]
        ref = min(classical) if classical else None
        for n in names:
            ratio = f"{ref / secs[n]:.2f}x" if ref else "–"
            print(f"{n:<18}{task:<9}{plugin_of[n]:<24}{secs[n] * 1000:>9.1f}{mp / secs[n]:>9.2f}{ratio:>22}")


if __name__ == "__main__":
    main()
