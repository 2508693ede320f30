"""All the generative metrics at once, extracting the classifier features of each set only once."""

from __future__ import annotations

from typing import Any

import torch

from pixelsmith.plugin import as_image_batch

from . import functional as GF
from .classifier import load_feature_extractor

__all__ = ["generative_report"]


def generative_report(generated: Any, real: Any, *, train: Any = None, holdout: Any = None,
                      device: str | torch.device | None = None, resize: bool = False, k: int = 3,
                      kd_subsets: int = 100, kd_subset_size: int = 1000, seed: int = 0,
                      confidence_threshold: float = 0.9, coverage_threshold: float = 0.07) -> dict[str, Any]:
    """``{"fd", "kd", "kd_std", "precision", "recall", "confidence", "confident_fraction",
    "class_coverage", "class_shares", ["memorisation"], "settings"}`` for one generated set.

    Same numbers and settings as the registered metrics; ``memorisation`` (pixel space) is added
    when ``train`` (the model's training images) is given.
    """
    ext = load_feature_extractor(device, resize=resize)
    g = as_image_batch(generated, name="generated")
    r = as_image_batch(real, name="real")
    fg, pg = ext._run(g, "generated", head=True)
    fr = ext.features(r, name="real")
    assert pg is not None
    kd, kd_std = GF.kernel_distance(fg, fr, subsets=kd_subsets, subset_size=kd_subset_size, seed=seed)
    prec, rec = GF.precision_recall(fg, fr, k=k)
    maxp = pg.max(1).values
    out: dict[str, Any] = {
        "fd": GF.frechet_distance(fg, fr),
        "kd": kd,
        "kd_std": kd_std,
        "precision": prec,
        "recall": rec,
        "confidence": float(maxp.mean()),
        "confident_fraction": float((maxp >= confidence_threshold).double().mean()),
        "class_coverage": GF.class_coverage(pg, threshold=coverage_threshold),
        "class_shares": (torch.bincount(pg.argmax(1), minlength=pg.shape[1]).double() / len(pg)).tolist(),
    }
    if train is not None:
        from .metrics import Memorisation

        out["memorisation"] = float(Memorisation(holdout=holdout, device=device)(g, train)[0])
    out["settings"] = {**ext.provenance, "n_generated": len(g), "n_real": len(r), "k": k,
                       "kd_subsets": kd_subsets, "kd_subset_size": kd_subset_size, "seed": seed,
                       "confidence_threshold": confidence_threshold, "coverage_threshold": coverage_threshold}
    return out
