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

from priorbench.bench.leaderboard.stats import Row
from priorbench.bench.leaderboard.tables import (
    SYNTHETIC_TITLE,
    THRESHOLD_LABEL,
    VERIFIED_HEADERS,
    ci_text,
    provenance,
    split_pairs,
    split_synthetic,
    steps_cell,
    synthetic_text,
    verified_cells,
)
from priorbench.bench.leaderboard.verified import VERIFIED_TEXT


def _asset(name: str) -> str:
    """site.css or site.js, as the page embeds it."""
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _html_table(headers: Sequence[tuple[str, str | None]], body: Sequence[Sequence[tuple[str, str | None]]],
                table_id: str) -> str:
    """headers: (label, data-type 'num'/'text'/None); cells: (html, sort key or None)."""
    out = [f'<table class="sortable" id="{table_id}"><thead><tr>']
    for label, kind in headers:
        attrs = f' data-type="{kind}"' if kind else ""
        attrs += ' class="num"' if kind == "num" else ""
        out.append(f"<th{attrs}>{html.escape(label)}</th>")
    out.append("</tr></thead><tbody>")
    for cells in body:
        out.append("<tr>")
        for (content, sort_key), (_, kind) in zip(cells, headers, strict=True):
            attrs = f' data-sort="{html.escape(sort_key)}"' if sort_key is not None else ""
            attrs += ' class="num"' if kind == "num" else ""
            out.append(f"<td{attrs}>{content}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _num_cell(value: float | int | None, fmt: str = ".3f") -> tuple[str, str]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—", ""
    return html.escape(format(value, fmt)), repr(float(value))


def _provenance_html(row: Row) -> str:
    p = provenance(row)
    items = [
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


def _row_cells(row: Row) -> list[tuple[str, str | None]]:
    s = row.stats
    steps = s["steps_to_threshold"]
    return [
        _num_cell(row.index, "d"), (html.escape(row.env), None), (html.escape(row.agent), None),
        _num_cell(s["seeds"], "d"), _num_cell(s["iqm"]),
        (html.escape(ci_text(s["iqm_lo"], s["iqm_hi"])), None), _num_cell(s["success"]),
        _num_cell(s["success_se"]), _num_cell(s["normalised_return"]), _num_cell(s["auc"]),
        (html.escape(steps_cell(row)), "" if steps is None else str(steps)),
        _num_cell(s["env_steps"], ".0f"), _num_cell(s["llm_calls"], ".1f"),
        _num_cell(s["llm_tokens"], ".0f"), _num_cell(s["wall_s"], ".2f"),
        (_provenance_html(row), None),
    ]


def _pairs_html(pairs: Sequence[dict[str, Any]], table_id: str) -> str:
    return _html_table([("X", "text"), ("Y", "text"), ("envs", "num"), ("P(X > Y)", "num"), ("95% CI", None)],
                       [[(html.escape(p["x"]), None), (html.escape(p["y"]), None),
                         _num_cell(p["envs"], "d"), _num_cell(p["p"]),
                         (html.escape(ci_text(p["p_lo"], p["p_hi"])), None)] for p in pairs],
                       table_id)


def index_html(rows: Sequence[Row], envs: Sequence[str], overall_rows: Sequence[dict[str, Any]],
               pairs: Sequence[dict[str, Any]], images: Sequence[tuple[str, str, bytes]],
               refused: Sequence[tuple[str, str]], legend: str,
               verified: Sequence[tuple[Row, dict[str, Any]]] = ()) -> str:
    headers: list[tuple[str, str | None]] = [
        ("row", "num"), ("env", "text"), ("agent", "text"), ("seeds", "num"), ("IQM success", "num"),
        ("95% CI", None), ("mean success", "num"), ("± SE", "num"), ("norm. return", "num"),
        ("AUC", "num"), (THRESHOLD_LABEL, "num"), ("env steps", "num"), ("LLM calls", "num"),
        ("LLM tokens", "num"), ("wall s", "num"), ("provenance", None),
    ]
    real, synthetic = split_synthetic(rows)
    real_pairs, synthetic_pairs = split_pairs(pairs)
    body = [_row_cells(row) for row in real]
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>priorbench leaderboard</title>", "<style>\n" + _asset("site.css") + "</style></head><body>",
        "<h1>priorbench leaderboard</h1>", f"<p>{html.escape(legend)}</p>",
        "<p>Click a column header to sort; click again to reverse. "
        "Open “provenance” for what a row was built from.</p>",
        _html_table(headers, body, "leaderboard"),
    ]
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
    if synthetic:
        parts += [f"<h2>{SYNTHETIC_TITLE}</h2>", f"<p>{html.escape(synthetic_text().replace('`', ''))}</p>",
                  _html_table(headers, [_row_cells(row) for row in synthetic], "synthetic")]
        if synthetic_pairs:
            parts.append(_pairs_html(synthetic_pairs, "synthetic-improvement"))
    parts += ['<h2 id="verified">Verified rows</h2>', f"<p>{html.escape(VERIFIED_TEXT.replace('`', ''))}</p>"]
    if verified:
        parts.append(_html_table([(h, "text") for h in VERIFIED_HEADERS],
                                 [[(html.escape(str(c)), None) for c in cells] for cells in verified_cells(verified)],
                                 "verified-rows"))
    else:
        parts.append("<p>No row is verified yet (priorbench leaderboard verify --write).</p>")
    parts.append("<h2>Plots</h2>")
    for _, title, data in images:
        encoded = base64.b64encode(data).decode("ascii")
        parts.append(f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,{encoded}">'
                     f"<figcaption>{html.escape(title)}</figcaption></figure>")
    if refused:
        parts.append('<h2>Refused runs</h2><ul class="refused">')
        parts += [f"<li><code>{html.escape(p)}</code>: {html.escape(why)}</li>" for p, why in refused]
        parts.append("</ul>")
    parts += ["<script>\n" + _asset("site.js") + "</script>", "</body></html>", ""]
    return "\n".join(parts)
