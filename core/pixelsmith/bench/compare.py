"""``pixelsmith bench compare A/results.json B/results.json``: what got better or worse, and by how much."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError
from .report import higher_is_better, summarize

__all__ = ["load_results", "compare_results", "format_comparison"]


def load_results(path: str | Path) -> dict[str, Any]:
    """A ``results.json`` (or the folder holding one), checked enough to compare."""
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / "results.json"
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InvalidInputError(f"{p} does not exist; give a bench output folder or its results.json") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"cannot read {p} as bench results: {exc}") from exc
    if not isinstance(data, dict) or "records" not in data:
        raise InvalidInputError(f"{p} is not a pixelsmith bench results.json (no 'records')")
    return data


def compare_results(a: dict[str, Any], b: dict[str, Any], *, tolerance: float = 1e-6) -> dict[str, list[dict]]:
    """Per (task, component, metric) changes from ``a`` to ``b``, split into better / worse / same.

    Also lists rows only in one run (a plugin added or removed) and status changes (newly failing).
    """
    settings = {**a.get("metric_settings", {}), **b.get("metric_settings", {})}
    sa, sb = summarize(a["records"]), summarize(b["records"])
    out: dict[str, list[dict]] = {"better": [], "worse": [], "same": [], "added": [], "removed": [],
                                  "status": [], "time": []}
    for task in sorted(set(sa) | set(sb)):
        for comp in sorted(set(sa.get(task, {})) | set(sb.get(task, {}))):
            ra, rb = sa.get(task, {}).get(comp), sb.get(task, {}).get(comp)
            if ra is None:
                out["added"].append({"task": task, "component": comp})
                continue
            if rb is None:
                out["removed"].append({"task": task, "component": comp})
                continue
            if ra["n_ok"] != rb["n_ok"]:
                out["status"].append({"task": task, "component": comp, "a": f"{ra['n_ok']}/{ra['n']} ok",
                                      "b": f"{rb['n_ok']}/{rb['n']} ok", "errors": rb["errors"]})
            for metric in sorted(set(ra["metrics"]) & set(rb["metrics"])):
                va, vb = ra["metrics"][metric], rb["metrics"][metric]
                delta = vb - va
                row = {"task": task, "component": comp, "metric": metric, "a": va, "b": vb, "delta": delta}
                if abs(delta) <= tolerance * max(1.0, abs(va)):
                    out["same"].append(row)
                elif (delta > 0) == higher_is_better(metric, settings):
                    out["better"].append(row)
                else:
                    out["worse"].append(row)
            if ra["seconds"] and rb["seconds"]:
                out["time"].append({"task": task, "component": comp, "a": ra["seconds"], "b": rb["seconds"],
                                    "ratio": rb["seconds"] / ra["seconds"]})
    for key in ("better", "worse"):
        out[key].sort(key=lambda r: -abs(r["delta"]))
    return out


def format_comparison(diff: dict[str, list[dict]], a_name: str = "A", b_name: str = "B", *,
                      time_ratio: float = 1.5) -> str:
    """Human-readable summary; timings are listed only when they changed by more than ``time_ratio``×."""
    lines = [f"comparing {a_name} -> {b_name}: {len(diff['better'])} better, {len(diff['worse'])} worse, "
             f"{len(diff['same'])} unchanged metric values"]
    for key, title in (("worse", "worse"), ("better", "better")):
        if diff[key]:
            lines.append(f"\n{title}:")
            for r in diff[key]:
                rel = f" ({r['delta'] / abs(r['a']) * 100:+.1f} %)" if r["a"] else ""
                lines.append(f"  {r['task']:<24} {r['component']:<20} {r['metric']:<12} "
                             f"{r['a']:.4f} -> {r['b']:.4f}  {r['delta']:+.4f}{rel}")
    if diff["status"]:
        lines.append("\nstatus changed:")
        lines += [f"  {r['task']:<24} {r['component']:<20} {r['a']} -> {r['b']}"
                  + (f"  ({'; '.join(r['errors'])})" if r["errors"] else "") for r in diff["status"]]
    for key, title in (("added", f"only in {b_name}"), ("removed", f"only in {a_name}")):
        if diff[key]:
            lines.append(f"\n{title}:")
            lines += [f"  {r['task']:<24} {r['component']}" for r in diff[key]]
    slow = [r for r in diff["time"] if r["ratio"] > time_ratio or r["ratio"] < 1 / time_ratio]
    if slow:
        lines.append(f"\ntime per image changed by more than {time_ratio}x:")
        lines += [f"  {r['task']:<24} {r['component']:<20} {r['a']:.4f} s -> {r['b']:.4f} s  ({r['ratio']:.2f}x)"
                  for r in sorted(slow, key=lambda r: -max(r['ratio'], 1 / r['ratio']))]
    return "\n".join(lines)
