"""The kernels ``benchmarks/deblur_quality.py`` judges deblurring on: seeded, normalised, and for
``--levin-like`` of the sides the benchmark's table claims (Levin et al.'s 8 kernels, 13 to 27 px)."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import deblur_quality  # noqa: E402


def test_levin_like_kernels_have_levins_sides_and_are_valid_blur_kernels():
    kernels = deblur_quality.levin_like_kernels()["levin-like"]
    assert [k.shape for _, k in kernels] == [(s, s) for s in deblur_quality.LEVIN_SIDES]
    assert sorted(set(deblur_quality.LEVIN_SIDES)) == [13, 15, 17, 19, 21, 23, 27]
    for desc, k in kernels:
        assert float(k.min()) >= 0
        assert abs(float(k.sum()) - 1) < 1e-5
        assert desc.startswith(f"{k.shape[0]}×{k.shape[0]}")
        # a camera shake is a thin path, not a filled square: most of the support is empty
        assert int((k > 1e-3 * float(k.max())).sum()) < 0.5 * k.numel()


def test_the_benchmark_kernels_are_the_same_on_every_run():
    first, second = deblur_quality.levin_like_kernels(), deblur_quality.levin_like_kernels()
    assert all(torch.equal(a, b) for (_, a), (_, b) in zip(first["levin-like"], second["levin-like"]))
    drawn_a, drawn_b = deblur_quality.draw_kernels(2), deblur_quality.draw_kernels(2)
    assert list(drawn_a) == ["gaussian", "kornia-motion", "line", "anisotropic", "shake"]
    for family in drawn_a:
        assert [d for d, _ in drawn_a[family]] == [d for d, _ in drawn_b[family]]
        assert all(torch.equal(a, b) for (_, a), (_, b) in zip(drawn_a[family], drawn_b[family]))


def test_the_search_choice_shakes_are_seeded_and_big_ones_have_the_claimed_sides():
    import deblur_search_choice

    small, again = deblur_search_choice.shakes(3, big=False), deblur_search_choice.shakes(3, big=False)
    assert all(torch.equal(a, b) for a, b in zip(small, again))
    big = deblur_search_choice.shakes(3, big=True)
    assert all(19 <= k.shape[0] <= 27 and k.shape[0] == k.shape[1] for k in big)
    for k in small + big:
        assert float(k.min()) >= 0 and abs(float(k.sum()) - 1) < 1e-5
    assert not any(torch.equal(a, b) for a in small for b in big if a.shape == b.shape)
    # the cases the choice scripts score: the same on every run, each image blurred by its shake, noise per case
    from pixelsmith.plugin import blur_with_kernel

    images = {"a": torch.full((1, 1, 48, 48), 0.5),
              "b": torch.rand(1, 1, 48, 48, generator=torch.Generator().manual_seed(0))}
    first = list(deblur_search_choice.shaken_cases(2, False, images))
    second = list(deblur_search_choice.shaken_cases(2, False, images))
    assert [(si, name) for si, name, *_ in first] == [(0, "a"), (0, "b"), (1, "a"), (1, "b")]
    for (si, name, clean, k, y), (*_, y2) in zip(first, second):
        assert torch.equal(y, y2) and torch.equal(k, small[si]) and y.min() >= 0 and y.max() <= 1
        noise = y - blur_with_kernel(clean, k, "reflect")
        assert 0.005 < float(noise.std()) < 0.015   # NOISE = 0.01, a little lost to clipping
    assert not torch.equal(first[0][4] - 0.5, first[2][4] - 0.5)   # another seed per case


def test_the_line_projection_finds_a_line_kernel_from_a_rough_reading():
    # deblur_line_projection.py projects a refined kernel onto each line family; given a member of the family
    # and a reading off by about a pixel and a degree, the projection must come back to that member
    import deblur_line_projection as projection
    from pixelsmith.plugin import line_kernel, motion_kernel

    continuous = line_kernel(8.3, 20.0)
    d, found = projection.nearest_continuous(continuous, 9.0, 19.0)
    assert d < 1e-8 and found.shape == continuous.shape and torch.allclose(found, continuous, atol=1e-6)
    kornia = motion_kernel(9, 30.0)
    d, found = projection.nearest_kornia(kornia, 10.2, 29.0)
    assert d < 1e-8 and torch.equal(found, kornia)
    # the two families differ: each is far from the other's nearest member
    assert projection.nearest_kornia(continuous, 9.0, 19.0)[0] > 1e-3
    assert projection.nearest_continuous(kornia, 10.2, 29.0)[0] > 1e-3


def test_the_shake_check_benchmark_scores_the_rule_deblur_ships():
    import deblur_shake_check_choice as choice
    from pixelsmith_deblur import COLLAPSED_SPREAD, SHAKE_CHECK_MAX_NOISE, SHAKE_CHECK_RESIDUAL, SHAKE_CHECK_SPREAD

    line = {"line_spread": 3.0, "line_residual": 1e-4, "level": 0.01}
    near, far = 3.0 - 0.9 * SHAKE_CHECK_SPREAD, 3.0 + 1.1 * SHAKE_CHECK_SPREAD
    worse, better = 1.01 * SHAKE_CHECK_RESIDUAL * 1e-4, 0.99 * SHAKE_CHECK_RESIDUAL * 1e-4
    assert choice.takes_search({**line, "searched_spread": near, "searched_residual": 1e-4})
    assert choice.takes_search({**line, "searched_spread": near, "searched_residual": better})
    assert not choice.takes_search({**line, "searched_spread": near, "searched_residual": worse})
    assert not choice.takes_search({**line, "searched_spread": far, "searched_residual": 1e-5})
    collapsed = {"line_spread": 0.9 * COLLAPSED_SPREAD, "line_residual": 1e-4, "level": 0.01}
    assert not choice.takes_search({**collapsed, "searched_spread": 0.5 * COLLAPSED_SPREAD, "searched_residual": 1e-5})
    noisy = {**line, "level": 1.1 * SHAKE_CHECK_MAX_NOISE}  # not asked above the noise it was chosen at
    assert not choice.takes_search({**noisy, "searched_spread": near, "searched_residual": 1e-5})


def test_the_constructions_choice_scores_the_rule_deblur_ships():
    """benchmarks/deblur_constructions_choice.py: a shake reading takes its search unless that collapsed (then the
    runner-up's kernel); other readings the candidate the rule names, Gaussians their own kernel."""
    import deblur_constructions_choice as choice
    from pixelsmith_deblur import COLLAPSED_SPREAD

    shipped = choice.rule("refined", "param", "param")
    shake = {"read": "shake", "searched": -1.0, "second": 2.0, "searched_spread": COLLAPSED_SPREAD + 0.5}
    assert shipped(shake) == -1.0
    assert shipped({**shake, "searched_spread": COLLAPSED_SPREAD - 0.5}) == 2.0
    assert choice.rule("refined", "param", "param", collapse=False)({**shake, "searched_spread": 0.0}) == -1.0
    reading = {"param": 1.0, "refined": 3.0, "searched": 5.0}
    assert shipped({**reading, "read": "motion"}) == 3.0 and shipped({**reading, "read": "line"}) == 1.0
    assert shipped({**reading, "read": "gaussian"}) == 1.0 and shipped({**reading, "read": "anisotropic"}) == 1.0
    assert choice.rule("param", "refined", "refined")({**reading, "read": "anisotropic"}) == 3.0
    names = [kname for kname, *_ in choice.cases({"a": torch.rand(1, 1, 40, 40), "b": torch.rand(1, 1, 40, 40)})]
    assert len(names) == 2 * (11 + 3 + len(choice.GAUSSIANS))
    assert {n.split()[0] for n in names} == set(choice.FAMILIES)
