"""The pull-request report: what this change does to the metrics, params and plots.

``demandcast pr-report --base origin/main`` (``make pr-report BASE=origin/main``) compares
the workspace with a base revision through DVC itself and writes ``report.md`` and
``plots/*.png`` into ``--out``:

* metrics: ``dvc metrics diff`` (every metric that moved: base, this change, change, %);
* params: ``dvc params diff`` (every parameter that changed);
* experiments: ``dvc exp show`` (the workspace, its commit and their experiments, with the
  headline metrics and the params that differ between them);
* plots: ``dvc plots diff`` rendered from Vega-Lite to PNG offline by ``vl-convert``,
  base and change in one figure.

The report starts with :data:`MARKER`, so the pull-request workflow finds and edits its one
comment instead of adding a new one per push. GitHub comments hold at most 65,536
characters: a longer report is cut at a section boundary and says so.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from demandcast.errors import UserError

MARKER = "<!-- demandcast-pr-report -->"
MAX_CHARS = 60_000
HEADLINE = ("test.wape", "test.rmse", "test.bias", "test.coverage_0.80", "test.coverage_0.95",
            "backtest.wape")


def dvc(*args: str, cwd: Path) -> str:
    done = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)
    if done.returncode != 0:
        raise UserError(f"dvc {' '.join(args)} failed in {cwd}:\n{done.stderr.strip()[-2000:]}")
    return done.stdout


def _number(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if abs(value) < 1e-3 or abs(value) >= 1e5:
            return f"{value:.4g}"
        return f"{value:.4f}".rstrip("0").rstrip(".")
    return f"`{value}`" if isinstance(value, str | list | dict) else str(value)


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def metrics_section(diff: dict, base: str) -> str:
    rows = []
    for path, metrics in sorted(diff.items()):
        for name, change in sorted(metrics.items()):
            old, new, delta = change.get("old"), change.get("new"), change.get("diff")
            pct = f"{delta / old:+.1%}" if isinstance(delta, int | float) and old else "—"
            shown = f"{delta:+.4g}" if isinstance(delta, int | float) else _number(delta)
            rows.append([f"`{path}`", f"`{name}`", _number(old), _number(new), shown, pct])
    if not rows:
        return f"### Metrics\n\nNo metric changed against `{base}`."
    header = ["file", "metric", base, "this change", "change", "%"]
    if len(diff) == 1:  # one metrics file: say it once
        header, rows = header[1:], [row[1:] for row in rows]
        return f"### Metrics (`{next(iter(diff))}`)\n\n{_table(header, rows)}"
    return f"### Metrics\n\n{_table(header, rows)}"


def params_section(diff: dict, base: str) -> str:
    rows = [[f"`{name}`", _number(change.get("old")), _number(change.get("new"))]
            for path, params in sorted(diff.items()) for name, change in sorted(params.items())]
    if not rows:
        return f"### Params\n\nNo parameter changed against `{base}`."
    return f"### Params\n\n{_table(['param', base, 'this change'], rows)}"


def _flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    flat = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _row_values(data: dict) -> tuple[dict, dict]:
    metrics, params = {}, {}
    for file in (data.get("metrics") or {}).values():
        metrics.update(_flatten(file.get("data") or {}))
    for file in (data.get("params") or {}).values():
        params.update(_flatten(file.get("data") or {}))
    return metrics, params


def experiments_section(shown: list[dict], limit: int = 20) -> str:
    """The workspace, its commit and their experiments: headline metrics, differing params."""
    rows = []
    for entry in shown:
        rev = entry.get("rev", "")
        label = "workspace (this change)" if rev == "workspace" else entry.get("name") or rev[:7]
        if entry.get("data"):
            rows.append((label, entry["data"]))
        for exp in entry.get("experiments") or []:
            for run in exp.get("revs") or []:
                if run.get("data"):
                    label = exp.get("name") or run.get("name") or run.get("rev", "")[:7]
                    rows.append((f"↳ {label}", run["data"]))
    rows = rows[:limit]
    if not rows:
        return "### Experiments\n\nNo experiments."
    values = [_row_values(data) for _, data in rows]
    metric_names = [m for m in HEADLINE if any(m in v[0] for v in values)]
    keys = sorted({k for _, p in values for k in p})
    changing = [k for k in keys if len({json.dumps(p.get(k), sort_keys=True) for _, p in values}) > 1]
    header = ["experiment", *metric_names, *changing]
    table = [[f"`{label}`", *(_number(m.get(n)) for n in metric_names),
              *(_number(p.get(k)) for k in changing)]
             for (label, _), (m, p) in zip(rows, values, strict=True)]
    return f"### Experiments\n\n{_table(header, table)}"


def _slug(plot_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", plot_id.removeprefix("reports/plots/")).strip("_.")


def render_plots(plots: dict, out: Path, scale: float = 1.5) -> list[tuple[str, Path]]:
    """Each ``dvc plots diff --json`` Vega-Lite plot as a PNG in ``out``; ``(plot id, file)``."""
    import vl_convert

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for plot_id, renders in sorted(plots.items()):
        for i, render in enumerate(r for r in renders if r.get("type") == "vega"):
            path = out / f"{_slug(plot_id)}{f'_{i}' if i else ''}.png"
            path.write_bytes(vl_convert.vegalite_to_png(render["content"], scale=scale))
            written.append((plot_id, path))
    return written


def plots_section(rendered: list[tuple[str, Path]], report_dir: Path, image_url: str | None,
                  plots_link: str | None) -> str:
    if not rendered:
        return "### Plots\n\nNo plots."
    lines = ["### Plots", ""]
    if plots_link:
        names = ", ".join(f"`{pid}`" for pid, _ in rendered)
        return "\n".join([*lines, f"{len(rendered)} plots ({names}): "
                                   f"[download them with the report]({plots_link})."])
    for plot_id, path in rendered:
        rel = path.relative_to(report_dir).as_posix()
        src = f"{image_url.rstrip('/')}/{path.name}" if image_url else rel
        lines += [f"**`{plot_id}`**", "", f"![{plot_id}]({src})", ""]
    return "\n".join(lines).rstrip()


def build(base: str, out: Path, repo: Path, image_url: str | None = None,
          plots_link: str | None = None) -> Path:
    """Write ``out/report.md`` and ``out/plots/*.png`` comparing ``repo``'s workspace with ``base``."""
    out.mkdir(parents=True, exist_ok=True)
    metrics = json.loads(dvc("metrics", "diff", base, "--json", cwd=repo) or "{}")
    params = json.loads(dvc("params", "diff", base, "--json", cwd=repo) or "{}")
    shown = json.loads(dvc("exp", "show", "--json", cwd=repo) or "[]")
    plots = json.loads(dvc("plots", "diff", base, "--json", cwd=repo) or "{}").get("data", {})
    rendered = render_plots(plots, out / "plots")
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True)
    sections = [f"{MARKER}\n## demandcast: this change against `{base}`"
                f"{f' (at `{head.stdout.strip()}`)' if head.returncode == 0 else ''}",
                metrics_section(metrics, base), params_section(params, base), experiments_section(shown),
                plots_section(rendered, out, image_url, plots_link)]
    text = ""
    for i, section in enumerate(sections):
        if len(text) + len(section) > MAX_CHARS:
            text += (f"\n\n_{len(sections) - i} section(s) cut: the full report is in the workflow's "
                     "artifacts._")
            break
        text += ("\n\n" if text else "") + section
    report = out / "report.md"
    report.write_text(text + "\n")
    return report
