"""The leaderboard's static site: one self-contained site/index.html (sortable tables, each
row's provenance, the plots embedded as PNG data). Its style and sorting script are package
data beside this module (site.css, site.js)."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from importlib import resources
from typing import Any

import numpy as np

from priorbench.bench import schema
from priorbench.bench.leaderboard import quality
from priorbench.bench.leaderboard.stats import Row, row_cost, total_cost
from priorbench.bench.leaderboard.tables import (
    COST_FORMATS,
    COST_HEADERS,
    COST_TEXT,
    KNOWLEDGE_HEADERS,
    KNOWLEDGE_TITLE,
    QUALITY_FORMATS,
    QUALITY_PLOT_TITLE,
    REDUCED_TITLE,
    REPRODUCE_TEXT,
    SYNTHETIC_TITLE,
    THRESHOLD_LABEL,
    TIE_TEXT,
    VERIFIED_HEADERS,
    agent_cell,
    ci_text,
    cost_cells,
    episodes_cell,
    knowledge_cells,
    knowledge_text,
    provenance,
    reduced_text,
    reproduce_command,
    split_pairs,
    split_sections,
    steps_cell,
    synthetic_text,
    tie_or,
    total_text,
    verified_cells,
)
from priorbench.bench.leaderboard.verified import VERIFIED_TEXT


def _asset(name: str) -> str:
    """site.css or site.js, as the page embeds it."""
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


Cell = tuple[str, str | None]  # (html, sort key or None)


def _cells_html(cells: Sequence[Cell], headers: Sequence[tuple[str, str | None]]) -> str:
    out = []
    for (content, sort_key), (_, kind) in zip(cells, headers, strict=True):
        attrs = f' data-sort="{html.escape(sort_key)}"' if sort_key is not None else ""
        attrs += ' class="num"' if kind == "num" else ""
        out.append(f"<td{attrs}>{content}</td>")
    return "".join(out)


def _html_table(headers: Sequence[tuple[str, str | None]], body: Sequence[Sequence[Cell]],
                table_id: str, row_attrs: Sequence[dict[str, str]] | None = None,
                foot: Sequence[Cell] | None = None) -> str:
    """headers: (label, data-type 'num'/'text'/None); cells: (html, sort key or None). With
    `row_attrs` (data-env, data-family, data-prior per row) the filters apply to the table;
    `foot` is a row that neither sorts nor filters. Wrapped so that a wide table scrolls."""
    classes = "sortable filterable" if row_attrs is not None else "sortable"
    out = [f'<div class="table-wrap"><table class="{classes}" id="{table_id}"><thead><tr>']
    for label, kind in headers:
        attrs = f' data-type="{kind}"' if kind else ""
        attrs += ' class="num"' if kind == "num" else ""
        out.append(f"<th{attrs}>{html.escape(label)}</th>")
    out.append("</tr></thead><tbody>")
    for i, cells in enumerate(body):
        attrs = "".join(f' data-{k}="{html.escape(v)}"' for k, v in (row_attrs or [{}] * len(body))[i].items())
        out.append(f"<tr{attrs}>{_cells_html(cells, headers)}</tr>")
    out.append("</tbody>")
    if foot is not None:
        out.append(f"<tfoot><tr>{_cells_html(foot, headers)}</tr></tfoot>")
    out.append("</table></div>")
    return "".join(out)


NO_PRIOR = "—"


def _filter_attrs(env: str, agent: str) -> dict[str, str]:
    """What the filters match a row on: env, agent family (the registry name), prior label."""
    return {"env": env, "family": schema.base_agent(agent), "prior": schema.prior_part(agent) or NO_PRIOR}


def _filters_html(rows: Sequence[Row]) -> str:
    """Select boxes by env, agent family and prior; site.js hides the rows that do not match."""
    attrs = [_filter_attrs(r.env, r.agent) for r in rows]
    out = ['<div class="filters" id="filters">']
    for key, label in (("env", "env"), ("family", "agent"), ("prior", "prior")):
        options = "".join(f'<option value="{html.escape(v)}">{html.escape(v)}</option>'
                          for v in sorted({a[key] for a in attrs}))
        out.append(f'<label>{label} <select data-filter="{key}"><option value="">all</option>'
                   f"{options}</select></label>")
    out.append('<span id="filter-count" aria-live="polite"></span></div>')
    return "".join(out)


def _num_cell(value: float | int | None, fmt: str = ".3f") -> tuple[str, str]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—", ""
    return html.escape(format(value, fmt)), repr(float(value))


def _provenance_html(row: Row, command: str) -> str:
    p = provenance(row)
    items = [
        ("reproduce", f'<code class="command">{html.escape(command)}</code>'),
        ("runs", "<br>".join(html.escape(x) for x in p["runs"])),
        ("seeds", html.escape(" ".join(map(str, p["seeds"])))),
        ("spec hashes", "<br>".join(f"seed {k}: {html.escape(h)}" for k, h in zip(p["seeds"], p["spec_hashes"], strict=True))),
        ("git commit", html.escape(", ".join(p["git_commits"]))),
        ("env version", html.escape(", ".join(p["env_version"]))),
        ("env kwargs", html.escape(json.dumps(p["env_kwargs"], sort_keys=True))),
        ("agent params", html.escape(json.dumps(p["agent_params"], sort_keys=True))),
        ("budget", html.escape(json.dumps(p["budget"], sort_keys=True))),
        ("packages", "<br>".join(f"{html.escape(k)} {html.escape(v)}" for k, v in p["packages"].items())),
        ("machine", "<br>".join(html.escape(m) for m in p["machines"])),
    ]
    body = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items)
    return f"<details><summary>seeds {html.escape(' '.join(map(str, p['seeds'])))}</summary><dl>{body}</dl></details>"


def _row_cells(row: Row, command: str) -> list[Cell]:
    s = row.stats
    steps = s["steps_to_threshold"]
    return [
        _num_cell(row.index, "d"), (html.escape(row.env), None), (html.escape(s["split"]), None),
        (html.escape(agent_cell(row)), None), _num_cell(s["seeds"], "d"), _num_cell(s["iqm"]),
        (html.escape(ci_text(s["iqm_lo"], s["iqm_hi"])), None),
        (html.escape(episodes_cell(row)), repr(s["wins"] / s["episodes"]) if s["episodes"] else ""),
        (html.escape(ci_text(s["exact_lo"], s["exact_hi"])), None), _num_cell(s["success"]),
        _num_cell(s["success_se"]), _num_cell(s["normalised_return"]), _num_cell(s["auc"]),
        (html.escape(steps_cell(row)), "" if steps is None else str(steps)),
        _num_cell(s["env_steps"], ".0f"), _num_cell(s["llm_calls"], ".1f"),
        _num_cell(s["llm_tokens"], ".0f"), _num_cell(s["wall_s"], ".2f"),
        (_provenance_html(row, command), None),
    ]


def _pairs_html(pairs: Sequence[dict[str, Any]], table_id: str) -> str:
    return _html_table([("X", "text"), ("Y", "text"), ("envs", "num"), ("P(X > Y)", "num"), ("95% CI", None)],
                       [[(html.escape(p["x"]), None), (html.escape(p["y"]), None),
                         _num_cell(p["envs"], "d"),
                         (html.escape(TIE_TEXT), "0.5") if p.get("tie") else _num_cell(p["p"]),
                         (html.escape(tie_or(p, ci_text(p["p_lo"], p["p_hi"]))), None)] for p in pairs],
                       table_id)


def _plain(markdown: str) -> str:
    """A legend written in Markdown as the page's escaped text."""
    return html.escape(markdown.replace("**", "").replace("`", ""))


def _figure(title: str, data: bytes) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return (f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,{encoded}">'
            f"<figcaption>{html.escape(title)}</figcaption></figure>")


def _cost_html(rows: Sequence[Row]) -> list[str]:
    headers = [(h, "num" if f else "text") for h, f in zip(COST_HEADERS, COST_FORMATS, strict=True)]

    def cells(values: Sequence[Any]) -> list[Cell]:
        return [_num_cell(v, f) if f else (html.escape(str(v)), None)
                for v, f in zip(values, COST_FORMATS, strict=True)]

    body = [cells(cost_cells(r.index, r.env, r.agent, row_cost(r.runs))) for r in rows]
    foot = cells(cost_cells("all", "(the whole build)", "", total_cost(rows)))
    return ['<h2 id="cost">Cost</h2>', f"<p>{_plain(COST_TEXT)}</p>", f"<p>{_plain(total_text(rows))}</p>",
            _html_table(headers, body, "cost-table", [_filter_attrs(r.env, r.agent) for r in rows], foot)]


def _quality_html(data: dict[str, Any] | None, image: bytes | None) -> list[str]:
    parts = ['<h2 id="prior-quality">Prior quality</h2>']
    if data is None:
        return parts + [f'<p class="missing">{_plain(quality.MISSING)}</p>']
    parts.append(f"<p>{_plain(quality.TEXT + ' ' + quality.caption(data))}</p>")
    headers = [(h, "num" if f else "text") for h, f in zip(quality.HEADERS, QUALITY_FORMATS, strict=True)]
    for synthetic, table_id in ((False, "prior-quality-table"), (True, "prior-quality-synthetic")):
        body = quality.table_rows(data, synthetic=synthetic)
        if not body:
            continue
        if synthetic:
            parts.append(f"<p>{_plain(quality.SYNTHETIC_NOTE)}</p>")
        cells = [[_num_cell(v, f) if f else (html.escape(str(v)), None)
                  for v, f in zip(values, QUALITY_FORMATS, strict=True)] for values in body]
        parts.append(_html_table(headers, cells, table_id,
                                 [{"env": v[0], "prior": v[1]} for v in body]))
        if not synthetic and image is not None:
            parts.append(_figure(QUALITY_PLOT_TITLE, image))
    return parts


def index_html(rows: Sequence[Row], envs: Sequence[str], overall_rows: Sequence[dict[str, Any]],
               pairs: Sequence[dict[str, Any]], images: Sequence[tuple[str, str, bytes]],
               refused: Sequence[tuple[str, str]], legend: str,
               verified: Sequence[tuple[Row, dict[str, Any]]] = (), *,
               commands: dict[int, str] | None = None, prior_quality: dict[str, Any] | None = None,
               quality_image: bytes | None = None) -> str:
    """site/index.html; `legend` in Markdown (tables.legend: shown as plain text), `commands`,
    `prior_quality` as tables.leaderboard_md takes them, `quality_image` the prior-quality plot."""
    commands = commands if commands is not None else {r.index: reproduce_command(r) for r in rows}
    headers: list[tuple[str, str | None]] = [
        ("row", "num"), ("env", "text"), ("test tasks", "text"), ("agent", "text"), ("seeds", "num"),
        ("IQM success", "num"), ("95% CI (seeds)", None), ("wins / test episodes", "num"),
        ("95% CI (episodes)", None), ("mean success", "num"), ("± SE", "num"), ("norm. return", "num"),
        ("AUC", "num"), (THRESHOLD_LABEL, "num"), ("env steps", "num"), ("LLM calls", "num"),
        ("LLM tokens", "num"), ("wall s", "num"), ("provenance", None),
    ]
    real, reduced, synthetic = split_sections(rows)
    real_pairs, reduced_pairs, synthetic_pairs = split_pairs(pairs)

    def rows_table(chosen: Sequence[Row], table_id: str) -> str:
        return _html_table(headers, [_row_cells(r, commands[r.index]) for r in chosen], table_id,
                           [_filter_attrs(r.env, r.agent) for r in chosen])

    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>priorbench leaderboard</title>", "<style>\n" + _asset("site.css") + "</style></head><body>",
        "<h1>priorbench leaderboard</h1>", f"<p>{_plain(legend)}</p>",
        "<p>Click a column header to sort; click again to reverse. Choose an env, agent or prior "
        "to show only its rows (here, in the reduced-budget, SYNTHETIC and Cost tables too). "
        "Open “provenance” for what a row was built from and the command that re-runs it.</p>",
        _filters_html(rows), rows_table(real, "leaderboard"),
    ]
    knowledge = knowledge_cells(rows, pairs)
    if knowledge:
        parts += [f"<h2>{html.escape(KNOWLEDGE_TITLE)}</h2><p>{_plain(knowledge_text())}</p>",
                  _html_table([(h, "text") for h in KNOWLEDGE_HEADERS],
                              [[(html.escape(c), None) for c in line] for line in knowledge], "knowledge")]
    if overall_rows:
        parts += [f"<h2>All envs</h2><p>Per agent that ran all {len(envs)} envs: "
                  f"{html.escape(', '.join(envs))}.</p>",
                  _html_table([("agent", "text"), ("envs", "num"), ("seeds", "num"), ("IQM success", "num"),
                               ("95% CI", None), ("mean success", "num"), ("± SE", "num")],
                              [[(html.escape(o["agent"]), None), _num_cell(o["envs"], "d"),
                                _num_cell(o["seeds"], "d"), _num_cell(o["iqm"]),
                                (html.escape(ci_text(o["iqm_lo"], o["iqm_hi"])), None),
                                _num_cell(o["success"]), _num_cell(o["success_se"])]
                               for o in overall_rows], "overall")]
    if real_pairs:
        parts += ["<h2>Probability of improvement</h2>", _pairs_html(real_pairs, "improvement")]
    if reduced:
        parts += [f"<h2>{REDUCED_TITLE}</h2>", f"<p>{html.escape(reduced_text().replace('`', ''))}</p>",
                  rows_table(reduced, "reduced")]
        if reduced_pairs:
            parts.append(_pairs_html(reduced_pairs, "reduced-improvement"))
    if synthetic:
        parts += [f"<h2>{SYNTHETIC_TITLE}</h2>", f"<p>{html.escape(synthetic_text().replace('`', ''))}</p>",
                  rows_table(synthetic, "synthetic")]
        if synthetic_pairs:
            parts.append(_pairs_html(synthetic_pairs, "synthetic-improvement"))
    parts += _cost_html(rows) + _quality_html(prior_quality, quality_image)
    parts += ['<h2 id="verified">Verified rows</h2>', f"<p>{html.escape(VERIFIED_TEXT.replace('`', ''))}</p>"]
    if verified:
        parts.append(_html_table([(h, "text") for h in VERIFIED_HEADERS],
                                 [[(html.escape(str(c)), None) for c in cells] for cells in verified_cells(verified)],
                                 "verified-rows"))
    else:
        parts.append("<p>No row is verified yet (priorbench leaderboard verify --write).</p>")
    parts.append("<h2>Plots</h2>")
    parts += [_figure(title, data) for _, title, data in images]
    parts.append(f'<h2 id="reproduce">Reproduce</h2><p>{_plain(REPRODUCE_TEXT)}</p>')
    if refused:
        parts.append('<h2>Refused runs</h2><ul class="refused">')
        parts += [f"<li><code>{html.escape(p)}</code>: {html.escape(why)}</li>" for p, why in refused]
        parts.append("</ul>")
    parts += ["<script>\n" + _asset("site.js") + "</script>", "</body></html>", ""]
    return "\n".join(parts)
