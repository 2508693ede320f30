"""Write a bench run: ``results.json``, ``results.csv``, ``results.md``, ``index.html``, PNG plots and grids.

``index.html`` is one self-contained page (images as base64 ``data:`` URIs), so it can be mailed,
attached to a CI run or opened from a laptop without the folder next to it.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch

from ..errors import InvalidInputError
from .runner import DEGRADED, REAL_DATA, BenchResult

__all__ = ["OUTPUT_FILES", "SCHEMA_VERSION", "check_output_dir", "write_report", "summarize", "result_to_json",
           "higher_is_better"]

SCHEMA_VERSION = 1
#: files a run writes at the top of its folder (plots and grids go under plots/ and samples/)
OUTPUT_FILES = ("results.json", "results.csv", "results.md", "index.html")


def check_output_dir(out: Path, *, overwrite: bool) -> None:
    """Refuse to replace a previous run's results unless ``overwrite``; other files are never touched.

    The bench only ever writes the files in :data:`OUTPUT_FILES` and the ``plots/`` and
    ``samples/`` folders, so a user's own files in ``out`` survive either way.
    """
    if out.exists() and not out.is_dir():
        raise InvalidInputError(f"-o {out} is a file, not a folder; choose a folder for the bench results")
    if overwrite or not out.exists():
        return
    taken = [name for name in (*OUTPUT_FILES, "plots", "samples") if (out / name).exists()]
    if taken:
        raise InvalidInputError(
            f"{out} already holds bench results ({', '.join(taken)}); choose another -o folder, or pass "
            "--overwrite to replace them (other files in the folder are left alone)"
        )


# -- aggregation ------------------------------------------------------------------------------------------
def higher_is_better(metric: str, settings: dict[str, dict[str, Any]]) -> bool:
    entry = settings.get(metric) or settings.get(metric.split(".")[0]) or {}
    return bool(entry.get("higher_is_better", True))


def summarize(records: Iterable[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """task -> component -> {metrics (mean over images), seconds (mean), peak MB (max), n, failures}."""
    groups: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for rec in records:
        groups[rec["task"]][rec["component"]].append(rec)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for task, comps in groups.items():
        out[task] = {}
        for comp, recs in comps.items():
            ok = [r for r in recs if r["status"] == "ok"]
            metrics: dict[str, float] = {}
            for key in sorted({k for r in ok for k in r["metrics"]}):
                vals = [r["metrics"][key] for r in ok if key in r["metrics"] and _finite(r["metrics"][key])]
                if vals:
                    metrics[key] = float(np.mean(vals))
            secs = [r["seconds"] for r in ok if r.get("seconds") is not None]
            mems = [r["peak_memory_mb"] for r in ok if r.get("peak_memory_mb") is not None]
            out[task][comp] = {
                "metrics": metrics,
                "seconds": float(np.mean(secs)) if secs else None,
                "peak_memory_mb": float(max(mems)) if mems else None,
                "n_ok": len(ok),
                "n": len(recs),
                "statuses": sorted({r["status"] for r in recs}),
                "errors": sorted({r["error"] for r in recs if r.get("error")}),
                "kind": recs[0]["kind"],
                "suite": recs[0]["suite"],
                "in_domain": recs[0].get("in_domain"),
                "level": recs[0].get("level"),
                "family": recs[0].get("family"),
                "plugin": recs[0].get("plugin"),
            }
    return out


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def _metric_columns(rows: dict[str, dict[str, Any]], settings: dict[str, dict[str, Any]]) -> list[str]:
    present = {k for row in rows.values() for k in row["metrics"]}
    ordered = [m for m in settings if m in present]
    ordered += sorted(k for k in present if k not in ordered)
    return ordered


def _ranked(rows: dict[str, dict[str, Any]], columns: list[str],
            settings: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Rows with results first, ranked by the first metric; failed and skipped rows after."""
    def key(item: tuple[str, dict[str, Any]]) -> tuple:
        _, row = item
        if not columns or columns[0] not in row["metrics"]:
            return (1, 0.0)
        v = row["metrics"][columns[0]]
        return (0, -v if higher_is_better(columns[0], settings) else v)
    return sorted(rows.items(), key=lambda item: (*key(item), item[0]))


def _best(rows: dict[str, dict[str, Any]], column: str, settings: dict[str, dict[str, Any]]) -> float | None:
    """The best value in a column among real methods (the degraded input and real data don't compete)."""
    vals = [r["metrics"][column] for c, r in rows.items()
            if column in r["metrics"] and c not in (DEGRADED, REAL_DATA)]
    if not vals:
        return None
    return max(vals) if higher_is_better(column, settings) else min(vals)


def _fmt(v: float | None, column: str = "") -> str:
    if v is None:
        return "–"
    if column.startswith("psnr"):
        return f"{v:.2f}"
    if abs(v) >= 100:
        return f"{v:.1f}"
    return f"{v:.4f}" if abs(v) < 10 else f"{v:.3f}"


def _secs(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v * 1000:.1f} ms" if v < 1 else f"{v:.2f} s"


def _status(row: dict[str, Any]) -> str:
    if row["n_ok"] == row["n"]:
        return "" if row["in_domain"] is not False else "off-domain"
    parts = []
    if row["n_ok"]:
        parts.append(f"{row['n_ok']}/{row['n']} ok")
    parts += [e for e in row["errors"]]
    text = "; ".join(parts) or ", ".join(row["statuses"])
    return text if len(text) < 160 else text[:157] + "..."


def _table_rows(task: str, rows: dict[str, dict[str, Any]], settings: dict[str, dict[str, Any]]
                ) -> tuple[list[str], list[list[tuple[str, bool]]]]:
    """Header and cells (text, is_best) of one task's ranked table."""
    columns = _metric_columns(rows, settings)
    best = {c: _best(rows, c, settings) for c in columns}
    header = ["#", "method", *[_label(c, settings) for c in columns], "time / image", "peak MB", "note"]
    body = []
    rank = 0
    for comp, row in _ranked(rows, columns, settings):
        baseline = comp in (DEGRADED, REAL_DATA)
        if not baseline and row["metrics"]:
            rank += 1
        cells: list[tuple[str, bool]] = [("" if baseline or not row["metrics"] else str(rank), False), (comp, False)]
        for c in columns:
            v = row["metrics"].get(c)
            cells.append((_fmt(v, c), v is not None and best[c] is not None and math.isclose(v, best[c])
                          and not baseline))
        cells.append((_secs(row["seconds"]) if not baseline else "", False))
        cells.append((f"{row['peak_memory_mb']:.0f}" if row["peak_memory_mb"] is not None and not baseline else "",
                      False))
        cells.append((_status(row), False))
        body.append(cells)
    return header, body


def _label(column: str, settings: dict[str, dict[str, Any]]) -> str:
    arrow = "↑" if higher_is_better(column, settings) else "↓"
    return f"{column} {arrow}"


# -- JSON / CSV / Markdown ---------------------------------------------------------------------------------
def result_to_json(result: BenchResult) -> dict[str, Any]:
    return {
        "schema": SCHEMA_VERSION,
        "provenance": result.provenance,
        "metric_settings": result.metric_settings,
        "tasks": [t.to_dict() for t in result.plan.tasks],
        "notes": result.notes,
        "records": result.records,
    }


def _write_csv(path: Path, records: list[dict[str, Any]]) -> None:
    metric_keys = sorted({k for r in records for k in r["metrics"]})
    fields = ["suite", "task", "component", "kind", "plugin", "plugin_version", "image", "seed", "status",
              "error", "seconds", "peak_memory_mb", "in_domain", "params_given", "degradation",
              "degradation_params", "level"]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(fields + metric_keys)
        for r in records:
            row = [r.get(f) for f in fields]
            row[fields.index("params_given")] = " ".join(r.get("params_given") or [])
            row[fields.index("degradation_params")] = json.dumps(r.get("degradation_params") or {}, sort_keys=True)
            writer.writerow(row + [r["metrics"].get(k) for k in metric_keys])


def _task_titles(result: BenchResult) -> dict[str, str]:
    titles = {}
    for t in result.plan.tasks:
        params = ", ".join(f"{k}={v * 255:.0f}/255" if k == "sigma" and t.degradation == "gaussian-noise"
                           else f"{k}={v}" for k, v in t.params.items())
        space = "gray" if t.channels == 1 else "RGB"
        titles[t.name] = f"{t.name}: {t.degradation}({params}), {space}, {len(t.images)} image(s) " \
                         f"({', '.join(t.images)})"
    titles["mnist"] = "generation (MNIST): samples vs real digits"
    return titles


def _sections(result: BenchResult) -> list[tuple[str, list[str]]]:
    """(suite, task names) in run order."""
    order: dict[str, list[str]] = {}
    for r in result.records:
        names = order.setdefault(r["suite"], [])
        if r["task"] not in names:
            names.append(r["task"])
    return list(order.items())


def _markdown(result: BenchResult, summary: dict[str, Any]) -> str:
    prov = result.provenance
    lines = ["# pixelsmith bench results", "",
             f"{'Quick' if prov.get('quick') else 'Full'} run on {prov.get('device_name')} ({prov.get('device')}), "
             f"{prov.get('torch_threads')} torch threads; pixelsmith {prov.get('pixelsmith')}, "
             f"torch {prov['versions'].get('torch')}, {prov.get('elapsed_s', 0):.0f} s in all. "
             "Values are means over images; best per column in **bold**; "
             f"`{DEGRADED}` is the degraded input itself (the bar to clear). Restorers got the true σ / kernel "
             + ("only when they require it (`--blind`)." if prov.get("blind") else "when they require or accept it."),
             ""]
    titles = _task_titles(result)
    for suite, tasks in _sections(result):
        lines += [f"## {suite}", ""]
        for task in tasks:
            header, body = _table_rows(task, summary[task], result.metric_settings)
            lines += [f"### {titles.get(task, task)}", "", "| " + " | ".join(header) + " |",
                      "|" + "|".join("---:" if i not in (1, len(header) - 1) else "---" for i in range(len(header)))
                      + "|"]
            for cells in body:
                lines.append("| " + " | ".join(f"**{t}**" if b else t.replace("|", "\\|") for t, b in cells) + " |")
            lines.append("")
    if result.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in result.notes] + [""]
    settings = result.metric_settings
    if settings:
        lines += ["## Metric settings", ""] + [f"- **{k}**: {json.dumps(v, sort_keys=True, default=str)}"
                                               for k, v in settings.items()] + [""]
    return "\n".join(lines)


# -- images and plots -------------------------------------------------------------------------------------------
def _png_bytes(x: torch.Tensor) -> bytes:
    import imageio.v3 as iio

    if x.ndim == 4:
        x = x[0]
    arr = (x.detach().float().clamp(0, 1).cpu().numpy() * 255.0).round().astype(np.uint8).transpose(1, 2, 0)
    if arr.shape[2] == 1:
        arr = arr[:, :, 0]
    return iio.imwrite("<bytes>", arr, extension=".png")


def _grid(images: torch.Tensor, nrow: int | None = None, pad: int = 2) -> torch.Tensor:
    n, c, h, w = images.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    grid = torch.ones(c, rows * (h + pad) + pad, nrow * (w + pad) + pad)
    for i in range(n):
        r, col = divmod(i, nrow)
        grid[:, pad + r * (h + pad):pad + r * (h + pad) + h, pad + col * (w + pad):pad + col * (w + pad) + w] = images[i]
    return grid


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _plots(result: BenchResult, summary: dict[str, Any], folder: Path) -> dict[str, Path]:
    """PSNR vs σ, quality vs seconds and robustness curves, as PNGs (matplotlib, Agg backend)."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
    except ImportError:
        result.notes.append("plots skipped: matplotlib is not installed (pip install 'pixelsmith[plots]')")
        return {}
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    metric = "psnr" if "psnr" in result.metric_settings else next(
        (m for m, s in result.metric_settings.items() if s.get("reference") == "full-reference"), None)
    if metric is None:
        return written
    tasks = {t.name: t for t in result.plan.tasks}

    def curves(ax, task_names: list[str], title: str) -> bool:
        series: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for name in task_names:
            for comp, row in summary.get(name, {}).items():
                if metric in row["metrics"]:
                    series[comp].append((tasks[name].level, row["metrics"][metric]))
        if not series:
            return False
        for comp, pts in sorted(series.items()):
            pts.sort()
            style = {"color": "black", "linestyle": "--"} if comp == DEGRADED else {}
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=comp, **style)
        ax.set_xlabel("noise σ (8-bit scale)")
        ax.set_ylabel(f"{metric} (dB)" if metric == "psnr" else metric)
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
        return True

    # PSNR vs σ per method (restoration denoising, gray and RGB)
    families = sorted({t.family for t in tasks.values() if t.suite == "restoration" and t.level_name == "sigma"})
    if families:
        fig, axes = plt.subplots(1, len(families), figsize=(6 * len(families), 4.2), squeeze=False)
        drew = False
        for ax, fam in zip(axes[0], families):
            drew |= curves(ax, [n for n, t in tasks.items() if t.family == fam and t.suite == "restoration"],
                           f"{metric} vs σ: {fam}")
        if drew:
            fig.tight_layout()
            written["psnr_vs_sigma"] = folder / "psnr_vs_sigma.png"
            fig.savefig(written["psnr_vs_sigma"], dpi=110)
        plt.close(fig)

    # quality vs seconds: each method's gain over the degraded input against its time per image
    pts: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for name, rows in summary.items():
        if name not in tasks or tasks[name].suite != "restoration" or DEGRADED not in rows:
            continue
        base = rows[DEGRADED]["metrics"].get(metric)
        for comp, row in rows.items():
            if comp != DEGRADED and metric in row["metrics"] and row["seconds"] and base is not None:
                pts[comp].append((row["seconds"], row["metrics"][metric] - base))
    if pts:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for comp, p in sorted(pts.items()):
            ax.scatter([float(np.mean([q[0] for q in p]))], [float(np.mean([q[1] for q in p]))], s=40, label=comp)
            ax.annotate(comp, (float(np.mean([q[0] for q in p])), float(np.mean([q[1] for q in p]))), fontsize=7,
                        xytext=(4, 3), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel("seconds per image (mean over the tasks it ran, log scale)")
        ax.set_ylabel(f"{metric} gain over the degraded input")
        ax.set_title("quality vs time (restoration suite)")
        ax.grid(alpha=0.3, which="both")
        fig.tight_layout()
        written["quality_vs_seconds"] = folder / "quality_vs_seconds.png"
        fig.savefig(written["quality_vs_seconds"], dpi=110)
        plt.close(fig)

    # robustness: curves across the noise sweep, bars across the other degradation types
    robust = [n for n, t in tasks.items() if t.suite == "robustness"]
    if robust and any(n in summary for n in robust):
        sweep = [n for n in robust if tasks[n].level_name == "sigma"]
        others = [n for n in robust if n not in sweep and n in summary]
        fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
        curves(axes[0], sweep, f"robustness: {metric} across noise levels (all restorers)")
        comps = sorted({c for n in others for c in summary[n] if c != DEGRADED})
        width = 0.8 / max(1, len(others))
        for i, name in enumerate(others):
            base = summary[name].get(DEGRADED, {}).get("metrics", {}).get(metric)
            vals = [summary[name].get(c, {}).get("metrics", {}).get(metric, np.nan) - (base or 0) for c in comps]
            axes[1].bar(np.arange(len(comps)) + i * width, vals, width, label=name)
        axes[1].axhline(0, color="black", lw=0.8)
        axes[1].set_xticks(np.arange(len(comps)) + width * (len(others) - 1) / 2)
        axes[1].set_xticklabels(comps, rotation=45, ha="right", fontsize=8)
        axes[1].set_ylabel(f"{metric} gain over the degraded input")
        axes[1].set_title("robustness: other degradation types (missing bar: skipped or failed)")
        if others:
            axes[1].legend(fontsize=7)
        axes[1].grid(alpha=0.3, axis="y")
        fig.tight_layout()
        written["robustness"] = folder / "robustness.png"
        fig.savefig(written["robustness"], dpi=110)
        plt.close(fig)
    return written


# -- HTML -------------------------------------------------------------------------------------------------------
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:14px}
th,td{border-bottom:1px solid #ddd;padding:4px 10px;text-align:right}
th:nth-child(2),td:nth-child(2),td:last-child{text-align:left}
td:last-child{color:#a33;font-size:12px;max-width:420px}
tr.baseline td{color:#777;font-style:italic}
td.best{font-weight:bold;background:#eaf6ea}
.crops{display:flex;flex-wrap:wrap;gap:8px;margin-bottom:1.5em}
figure{margin:0;text-align:center;font-size:12px}
figure img{width:160px;height:160px;image-rendering:pixelated;border:1px solid #ccc}
img.plot{max-width:100%} img.grid{image-rendering:pixelated;width:300px}
details{margin:1em 0} pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:12px}
"""


def _html(result: BenchResult, summary: dict[str, Any], plots: dict[str, Path]) -> str:
    esc = html.escape
    prov = result.provenance
    titles = _task_titles(result)
    parts = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
             "<title>pixelsmith bench</title>", f"<style>{_CSS}</style></head><body>",
             "<h1>pixelsmith bench</h1>",
             f"<p>{'Quick' if prov.get('quick') else 'Full'} run on <b>{esc(str(prov.get('device_name')))}</b> "
             f"({esc(str(prov.get('device')))}, {prov.get('torch_threads')} torch threads), "
             f"{prov.get('elapsed_s', 0):.0f} s. Means over images; best per column in bold. "
             f"<i>{esc(DEGRADED)}</i> is the degraded input. Restorers were given the true σ / kernel when they "
             "require or accept it.</p>"]
    if result.notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{esc(n)}</li>" for n in result.notes) + "</ul>")
    for suite, tasks in _sections(result):
        parts.append(f"<h2 id='{esc(suite)}'>{esc(suite)}</h2>")
        for task in tasks:
            header, body = _table_rows(task, summary[task], result.metric_settings)
            parts.append(f"<h3>{esc(titles.get(task, task))}</h3>")
            parts.append(f"<table class='results' data-task='{esc(task)}'><thead><tr>"
                         + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr></thead><tbody>")
            for cells in body:
                cls = " class='baseline'" if cells[1][0] in (DEGRADED, REAL_DATA) else ""
                parts.append(f"<tr{cls}>" + "".join(
                    f"<td class='best'>{esc(t)}</td>" if b else f"<td>{esc(t)}</td>" for t, b in cells) + "</tr>")
            parts.append("</tbody></table>")
            crop = result.crops.get(task)
            if crop:
                scores = summary[task]
                parts.append(f"<div class='crops' data-task='{esc(task)}'>")
                for label, img in crop["panels"]:
                    key = DEGRADED if label == "degraded" else label
                    metric_txt = ""
                    psnr = [r for r in result.records if r["task"] == task and r["component"] == key
                            and r["image"] == crop["image"] and "psnr" in r["metrics"]]
                    if psnr:
                        metric_txt = f" {psnr[0]['metrics']['psnr']:.2f} dB"
                    parts.append(f"<figure><img alt='{esc(label)}' src='{_data_uri(_png_bytes(img))}'>"
                                 f"<figcaption>{esc(label)}{metric_txt}</figcaption></figure>")
                parts.append(f"</div><p><small>central crop of {esc(crop['image'])}</small></p>")
                del scores
    if plots:
        parts.append("<h2 id='plots'>Plots</h2>")
        for name, path in plots.items():
            parts.append(f"<h3>{esc(name.replace('_', ' '))}</h3>"
                         f"<img class='plot' alt='{esc(name)}' src='{_data_uri(path.read_bytes())}'>")
    if result.grids:
        parts.append("<h2 id='samples'>Generator samples</h2><div class='crops'>")
        for name, imgs in result.grids.items():
            parts.append(f"<figure><img class='grid' alt='{esc(name)} samples' "
                         f"src='{_data_uri(_png_bytes(_grid(imgs)))}'><figcaption>{esc(name)}</figcaption></figure>")
        parts.append("</div>")
    parts.append("<h2>Provenance</h2><details open><summary>versions, hardware, seeds, metric settings</summary><pre>"
                 + esc(json.dumps({"provenance": prov, "metric_settings": result.metric_settings},
                                  indent=2, default=str)) + "</pre></details>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(result: BenchResult, out: str | Path, *, overwrite: bool = False) -> dict[str, Path]:
    """Write every output file of a run into ``out``; returns name -> path."""
    out = Path(out).expanduser()
    check_output_dir(out, overwrite=overwrite)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(result.records)
    written: dict[str, Path] = {}
    plots = _plots(result, summary, out / "plots")
    written.update({f"plots/{k}": v for k, v in plots.items()})
    if result.grids:
        (out / "samples").mkdir(exist_ok=True)
        for name, imgs in result.grids.items():
            safe = name.strip("()").replace(" ", "-")
            p = out / "samples" / f"{safe}.png"
            p.write_bytes(_png_bytes(_grid(imgs)))
            written[f"samples/{safe}"] = p
    (out / "results.json").write_text(json.dumps(result_to_json(result), indent=1, default=str), encoding="utf-8")
    _write_csv(out / "results.csv", result.records)
    (out / "results.md").write_text(_markdown(result, summary), encoding="utf-8")
    (out / "index.html").write_text(_html(result, summary, plots), encoding="utf-8")
    for name in OUTPUT_FILES:
        written[name] = out / name
    return written
