"""The leaderboard's static site: one self-contained site/index.html. It opens on what a reader
needs first — the headline ranking and "Does the prior help?" — and folds the rest (methods,
the maintainers' notes, every row per env, the other tables, plots, reproduce) under their
titles; tables sort, filter, link row by row (`row_anchor`) and keep their first columns on a
phone. Its style and script are package data beside this module (site.css, site.js)."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any
from urllib.parse import quote

import numpy as np
from markdown_it import MarkdownIt

from priorbench.bench import schema
from priorbench.bench.leaderboard import quality
from priorbench.bench.leaderboard.claims import (
    CLAIM_HEADERS,
    CLAIMS_TEXT,
    CLAIMS_TITLE,
    Verdict,
    anchor,
    claim_cells,
    count_text,
)
from priorbench.bench.leaderboard.stats import Row, headline, prior_effects, row_cost, total_cost
from priorbench.bench.leaderboard.tables import (
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
    verified_cells,
)
from priorbench.bench.leaderboard.verified import NOT_VERIFIED_TEXT, VERIFIED_TEXT
from priorbench.bench.leaderboard.views import (
    ALL_ROWS_TITLE,
    COST_FORMATS,
    COST_HEADERS,
    COST_TEXT,
    EFFECT_HEADERS,
    EFFECTS_PLOT,
    EFFECTS_TEXT,
    EFFECTS_TITLE,
    HEADLINE_TITLE,
    NO_EFFECTS_TEXT,
    ci_text,
    cost_cells,
    effect_cells,
    effects_count_text,
    headline_cells,
    headline_header,
    headline_text,
    total_text,
)


def _asset(name: str) -> str:
    """site.css or site.js, as the page embeds it."""
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _markdown() -> MarkdownIt:
    """CommonMark with tables, as LEADERBOARD.md is written. NOTES.md is the maintainers' file
    and may be hostile: raw HTML is shown as text, images are not rendered (the page loads
    nothing from outside itself), and links keep markdown-it's check (no javascript: or data:)."""
    return MarkdownIt("commonmark", {"html": False}).enable("table").disable("image")


_MARKDOWN = _markdown()


def markdown_html(text: str, shift: int = 0) -> str:
    """Markdown as the page's HTML, its headings moved `shift` levels down (under the page's own)."""
    tokens = _MARKDOWN.parse(text)
    for token in tokens:
        if shift and token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1:]) + shift)}"
    return _MARKDOWN.renderer.render(tokens, _MARKDOWN.options, {})


def row_anchor(row_id: str) -> str:
    """The id of a row's <tr> (every row is in one of the per-env, reduced and SYNTHETIC tables)."""
    return "row-" + row_id


def _link(row_id: str, content: str) -> str:
    """`content` (HTML) as a link to a row; the fragment is percent-encoded ([ ] are not URL
    characters) and browsers decode it to find the id."""
    return f'<a href="#{html.escape(quote(row_anchor(row_id), safe=":@!$&()*+,;=/?-._~"))}">{content}</a>'


Cell = tuple[str, str | None]  # (html, sort key or None)


def _classes(kind: str | None, column: str) -> str:
    names = " ".join(c for c in ("num" if kind == "num" else "", column) if c)
    return f' class="{names}"' if names else ""


def _cells_html(cells: Sequence[Cell], headers: Sequence[tuple[str, str | None]], columns: Sequence[str]) -> str:
    out = []
    for (content, sort_key), (_, kind), column in zip(cells, headers, columns, strict=True):
        attrs = f' data-sort="{html.escape(sort_key)}"' if sort_key is not None else ""
        out.append(f"<td{attrs}{_classes(kind, column)}>{content}</td>")
    return "".join(out)


def _html_table(headers: Sequence[tuple[str, str | None]], body: Sequence[Sequence[Cell]],
                table_id: str, row_attrs: Sequence[dict[str, str]] | None = None,
                foot: Sequence[Cell] | None = None, *, columns: Sequence[str] | None = None,
                row_ids: Sequence[str] | None = None, anchor_of: Callable[[str], str] = row_anchor) -> str:
    """headers: (label, data-type 'num'/'text'/None); cells: (html, sort key or None). With
    `row_attrs` (data-env, data-family, data-prior per row) the filters apply to the table;
    `foot` is a row that neither sorts nor filters; `row_ids` give each row its id (`anchor_of`, default `row_anchor`).
    `columns`: classes per column — "agent" stays in view when a phone scrolls the table,
    "extra" hides on a phone until its "more columns" button is pressed, "ci-col" small. Wrapped:
    a table wider than the screen scrolls inside its box, never the page."""
    columns = list(columns) if columns is not None else [""] * len(headers)
    classes = "sortable filterable" if row_attrs is not None else "sortable"
    out = []
    if any("extra" in c.split() for c in columns):
        out.append(f'<button type="button" class="more-columns" aria-controls="wrap-{table_id}" '
                   'aria-expanded="false">more columns</button>')
    out.append(f'<div class="table-wrap" id="wrap-{table_id}"><table class="{classes}" id="{table_id}"><thead><tr>')
    for (label, kind), column in zip(headers, columns, strict=True):
        attrs = f' data-type="{kind}"' if kind else ""
        out.append(f"<th{attrs}{_classes(kind, column)}>{html.escape(label)}</th>")
    out.append("</tr></thead><tbody>")
    for i, cells in enumerate(body):
        attrs = f' id="{html.escape(anchor_of(row_ids[i]))}"' if row_ids is not None else ""
        attrs += "".join(f' data-{k}="{html.escape(v)}"' for k, v in (row_attrs or [{}] * len(body))[i].items())
        out.append(f"<tr{attrs}>{_cells_html(cells, headers, columns)}</tr>")
    out.append("</tbody>")
    if foot is not None:
        out.append(f"<tfoot><tr>{_cells_html(foot, headers, columns)}</tr></tfoot>")
    out.append("</table></div>")
    return "".join(out)


def _fold(fold_id: str, title: str, body: Sequence[str], note: str = "") -> str:
    """A section folded under its title, closed: the page opens on the headline, and each fold
    says in its title line what it holds."""
    extra = f' <span class="note">{html.escape(note)}</span>' if note else ""
    return "\n".join([f'<details class="fold" id="{fold_id}"><summary><h2>{html.escape(title)}</h2>{extra}</summary>',
                      *body, "</details>"])


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
        ("row id", f"<code>{html.escape(row.id)}</code>"),
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
    return (f'<details class="prov"><summary>seeds {html.escape(" ".join(map(str, p["seeds"])))}</summary>'
            f"<dl>{body}</dl></details>")


#: The per-env table's columns: (label, data-type, classes; `_html_table`). A phone shows env,
#: agent, IQM and its CI; "more columns" the rest.
ROW_COLUMNS: tuple[tuple[str, str | None, str], ...] = (
    ("row", "num", "extra"), ("env", "text", "env"), ("test tasks", "text", "extra"), ("agent", "text", "agent"),
    ("seeds", "num", "extra"), ("IQM success", "num", "score"), ("95% CI (seeds)", None, "ci-col"),
    ("wins / test episodes", "num", "extra wrap"), ("95% CI (episodes)", None, "ci-col extra"),
    ("mean success", "num", "extra"), ("± SE", "num", "extra"), ("norm. return", "num", "extra"),
    ("AUC", "num", "extra"), (THRESHOLD_LABEL, "num", "extra wrap"), ("env steps", "num", "extra"),
    ("LLM calls", "num", "extra"), ("LLM tokens", "num", "extra"), ("wall s", "num", "extra"),
    ("provenance", None, "extra prov-col"),
)


def _env_html(env: str) -> str:
    """An env id that may break after its namespace, which a phone leaves out (the cell's text
    is the whole id: the filters and sorting read it)."""
    namespace, slash, name = env.rpartition("/")
    return f'<span class="ns">{html.escape(namespace + slash)}<wbr></span>{html.escape(name)}' if slash else html.escape(env)


def _row_cells(row: Row, command: str) -> list[Cell]:
    s = row.stats
    steps = s["steps_to_threshold"]
    return [
        (_link(row.id, str(row.index)), repr(float(row.index))), (_env_html(row.env), None), (html.escape(s["split"]), None),
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
                       table_id, columns=["agent", "", "", "", "ci-col"])


def _figure(title: str, data: bytes) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return (f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,{encoded}">'
            f"<figcaption>{html.escape(title)}</figcaption></figure>")


def _score_html(text: str, best: bool, row_id: str | None = None) -> str:
    """A headline cell "IQM [CI]": the IQM (linked to its row; bold and ★ when best) over its CI."""
    value, bracket, ci = text.partition(" [")
    inner = html.escape(value)
    if best:
        inner = f'<strong>{inner}</strong> <span class="best-mark" role="img" aria-label="best in this env">★</span>'
    if row_id is not None:
        inner = _link(row_id, inner)
    return inner + (f' <span class="ci">[{html.escape(ci)}</span>' if bracket else "")


def _headline_html(rows: Sequence[Row]) -> list[str]:
    """The ranking a reader opens on (views.headline_cells): rank, agent, all-envs IQM, per env."""
    envs, lines = headline(rows)
    parts = [f'<section id="headline"><h2>{html.escape(HEADLINE_TITLE)}</h2>', markdown_html(headline_text(envs, lines))]
    if lines:
        labels = headline_header(envs, lines)
        headers = [(labels[0], "num"), (labels[1], "text")] + [(label, "num") for label in labels[2:]]
        body = []
        for position, (line, cells) in enumerate(zip(lines, headline_cells(envs, lines), strict=True)):
            first = min(line.cells.values(), key=lambda r: r.index)
            overall_iqm = "" if line.overall is None else repr(float(line.overall["iqm"]))
            body.append([(html.escape(cells[0][0]), str(position)), (_link(first.id, html.escape(cells[1][0])), None),
                         (_score_html(*cells[2]), overall_iqm)]
                        + [(_score_html(text, best, line.cells[env].id if env in line.cells else None),
                            repr(float(line.cells[env].stats["iqm"])) if env in line.cells else "")
                           for env, (text, best) in zip(envs, cells[3:], strict=True)])
        parts += ['<p class="key"><strong>Bold</strong> and <span class="best-mark">★</span>: the env\'s top '
                  "agent and those not clearly below it. An agent links to its first row in “" + html.escape(ALL_ROWS_TITLE) + "”, a "
                  "score to its row there; a column header sorts (rank restores the ranking).</p>",
                  _html_table(headers, body, "headline-table",
                              columns=["rank", "agent"] + ["score"] * (len(labels) - 2))]
    return parts + ["</section>"]


def _effects_html(effects: Sequence[dict[str, Any]], figure: tuple[str, bytes] | None) -> list[str]:
    """"Does the prior help?": the text, each prior row against what it is compared with (both
    linked to their rows), and the forest plot when the build drew it."""
    parts = [f'<section id="effects"><h2>{html.escape(EFFECTS_TITLE)}</h2>', markdown_html(EFFECTS_TEXT)]
    if not effects:
        return parts + [markdown_html(NO_EFFECTS_TEXT), "</section>"]
    parts.append(markdown_html(effects_count_text(effects)))
    kinds = ["text", "text", "text", "num", "num", None, None, None, "num", "text"]
    body = [[(html.escape(c[0]), None), (_link(e["row"], html.escape(c[1])), None),
             (_link(e["other_row"], html.escape(c[2])), None), _num_cell(e["pairs"], "d"),
             (html.escape(c[4]), repr(float(e["delta"]))), (html.escape(c[5]), None), (html.escape(c[6]), None),
             (html.escape(c[7]), None), (html.escape(c[8]), repr(float(e["p"]))), (html.escape(c[9]), None)]
            for e, c in zip(effects, effect_cells(effects), strict=True)]
    parts.append(_html_table(list(zip(EFFECT_HEADERS, kinds, strict=True)), body, "effects-table",
                             columns=["", "agent", "", "", "score", "ci-col", "ci-col", "ci-col", "", ""]))
    if figure is not None:
        parts.append(_figure(*figure))
    return parts + ["</section>"]


def _cost_html(rows: Sequence[Row]) -> list[str]:
    headers = [(h, "num" if f else "text") for h, f in zip(COST_HEADERS, COST_FORMATS, strict=True)]

    def cells(values: Sequence[Any]) -> list[Cell]:
        return [_num_cell(v, f) if f else (html.escape(str(v)), None)
                for v, f in zip(values, COST_FORMATS, strict=True)]

    body = [cells(cost_cells(r.index, r.env, r.agent, row_cost(r.runs))) for r in rows]
    foot = cells(cost_cells("all", "(the whole build)", "", total_cost(rows)))
    return [markdown_html(COST_TEXT), markdown_html(total_text(rows)),
            _html_table(headers, body, "cost-table", [_filter_attrs(r.env, r.agent) for r in rows], foot,
                        columns=["", "env", "agent", "", "", "", "", ""])]


def _quality_html(data: dict[str, Any] | None, image: bytes | None) -> list[str]:
    if data is None:
        return [f'<div class="missing">{markdown_html(quality.MISSING)}</div>']
    parts = [markdown_html(quality.TEXT + " " + quality.caption(data))]
    headers = [(h, "num" if f else "text") for h, f in zip(quality.HEADERS, QUALITY_FORMATS, strict=True)]
    for synthetic, table_id in ((False, "prior-quality-table"), (True, "prior-quality-synthetic")):
        body = quality.table_rows(data, synthetic=synthetic)
        if not body:
            continue
        if synthetic:
            parts.append(markdown_html(quality.SYNTHETIC_NOTE))
        cells = [[_num_cell(v, f) if f else (html.escape(str(v)), None)
                  for v, f in zip(values, QUALITY_FORMATS, strict=True)] for values in body]
        parts.append(_html_table(headers, cells, table_id,
                                 [{"env": v[0], "prior": v[1]} for v in body]))
        if not synthetic and image is not None:
            parts.append(_figure(QUALITY_PLOT_TITLE, image))
    return parts


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def index_html(rows: Sequence[Row], envs: Sequence[str], overall_rows: Sequence[dict[str, Any]],
               pairs: Sequence[dict[str, Any]], images: Sequence[tuple[str, str, bytes]],
               refused: Sequence[tuple[str, str]], legend: str,
               verified: Sequence[tuple[Row, dict[str, Any]]] = (), *,
               commands: dict[int, str] | None = None, prior_quality: dict[str, Any] | None = None,
               quality_image: bytes | None = None, notes: str = "",
               effects: Sequence[dict[str, Any]] | None = None, claims: Sequence[Verdict] = ()) -> str:
    """site/index.html, in LEADERBOARD.md's order: the headline and "Does the prior help?" open,
    the rest folded (`claims`: the verdicts of claims.toml, each row anchored `claim-<id>`). `legend` (tables.legend) and `notes` (NOTES.md) are Markdown, rendered;
    `commands`, `prior_quality`, `effects` as tables.leaderboard_md takes them; `images`: (name,
    title, png) — EFFECTS_PLOT goes under "Does the prior help?", the others under Plots;
    `quality_image` the prior-quality plot."""
    commands = commands if commands is not None else {r.index: reproduce_command(r) for r in rows}
    effects = prior_effects(rows) if effects is None else effects
    headers = [(label, kind) for label, kind, _ in ROW_COLUMNS]
    columns = [c for _, _, c in ROW_COLUMNS]
    real, reduced, synthetic = split_sections(rows)
    real_pairs, reduced_pairs, synthetic_pairs = split_pairs(pairs)
    effects_figure = next(((title, data) for name, title, data in images if name == EFFECTS_PLOT), None)

    def rows_table(chosen: Sequence[Row], table_id: str) -> str:
        return _html_table(headers, [_row_cells(r, commands[r.index]) for r in chosen], table_id,
                           [_filter_attrs(r.env, r.agent) for r in chosen], columns=columns,
                           row_ids=[r.id for r in chosen])

    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>priorbench leaderboard</title>", "<style>\n" + _asset("site.css") + "</style></head><body>",
        "<h1>priorbench leaderboard</h1>",
    ]
    parts += _headline_html(rows) + _effects_html(effects, effects_figure)
    parts += ['<div class="controls"><p>The sections below are folded: open one by its title. Choose an '
              "env, agent or prior to show only its rows in their tables; click a column header to sort, "
              "again to reverse; open “provenance” for what a row was built from and the command that "
              "re-runs it. On a phone, “more columns” shows a table's other columns.</p>",
              _filters_html(rows), "</div>"]
    if claims:
        parts.append(_fold("claims", CLAIMS_TITLE, [markdown_html(CLAIMS_TEXT), _html_table(
            [(h, "text") for h in CLAIM_HEADERS], [[(html.escape(c), None) for c in line] for line in claim_cells(claims)],
            "claims-table", columns=["agent"] + [""] * (len(CLAIM_HEADERS) - 1),
            row_ids=[v.claim.id for v in claims], anchor_of=anchor)],
            count_text(claims)))
    parts.append(_fold("methods", "Methods: what the columns mean", [markdown_html(legend, shift=2)]))
    if notes.strip():
        parts.append(_fold("notes", "Reading these numbers", [f'<div class="notes">{markdown_html(notes, shift=1)}</div>'],
                           "the maintainers' notes (NOTES.md)"))
    parts.append(_fold("rows", ALL_ROWS_TITLE, [rows_table(real, "leaderboard")],
                       f"{_count(len(real), 'row')}, {len(headers)} columns, each row's provenance"))
    knowledge = knowledge_cells(rows, pairs)
    if knowledge:
        parts.append(_fold("knowledge-effect", KNOWLEDGE_TITLE, [
            markdown_html(knowledge_text()),
            _html_table([(h, "text") for h in KNOWLEDGE_HEADERS], [[(html.escape(c), None) for c in line] for line in knowledge],
                        "knowledge", columns=["agent"] + [""] * (len(KNOWLEDGE_HEADERS) - 1))], _count(len(knowledge), "row")))
    if overall_rows:
        parts.append(_fold("all-envs", "All envs", [
            f"<p>Per agent that ran all {len(envs)} envs: {html.escape(', '.join(envs))}.</p>",
            _html_table([("agent", "text"), ("envs", "num"), ("seeds", "num"), ("IQM success", "num"),
                         ("95% CI", None), ("mean success", "num"), ("± SE", "num")],
                        [[(html.escape(o["agent"]), None), _num_cell(o["envs"], "d"),
                          _num_cell(o["seeds"], "d"), _num_cell(o["iqm"]),
                          (html.escape(ci_text(o["iqm_lo"], o["iqm_hi"])), None),
                          _num_cell(o["success"]), _num_cell(o["success_se"])]
                         for o in overall_rows], "overall", columns=["agent", "", "", "score", "ci-col", "", ""])],
            _count(len(overall_rows), "agent")))
    if real_pairs:
        parts.append(_fold("improvements", "Probability of improvement", [_pairs_html(real_pairs, "improvement")],
                           _count(len(real_pairs), "pair")))
    if reduced:
        parts.append(_fold("reduced-rows", REDUCED_TITLE, [markdown_html(reduced_text()), rows_table(reduced, "reduced")]
                           + ([_pairs_html(reduced_pairs, "reduced-improvement")] if reduced_pairs else []),
                           _count(len(reduced), "row")))
    if synthetic:
        parts.append(_fold("synthetic-rows", SYNTHETIC_TITLE, [markdown_html(synthetic_text()), rows_table(synthetic, "synthetic")]
                           + ([_pairs_html(synthetic_pairs, "synthetic-improvement")] if synthetic_pairs else []),
                           _count(len(synthetic), "row")))
    parts.append(_fold("cost", "Cost", _cost_html(rows), "what re-running each row takes"))
    parts.append(_fold("prior-quality", "Prior quality", _quality_html(prior_quality, quality_image)))
    parts.append(_fold("verified", "Verified rows", [markdown_html(VERIFIED_TEXT)] + (
        [_html_table([(h, "text") for h in VERIFIED_HEADERS],
                     [[(_link(row.id, html.escape(str(cells[0]))), None)] + [(html.escape(str(c)), None) for c in cells[1:]]
                      for (row, _), cells in zip(verified, verified_cells(verified), strict=True)],
                     "verified-rows")] if verified else [markdown_html(NOT_VERIFIED_TEXT)]),
        _count(len(verified), "row") + " verified"))
    plots = [_figure(title, data) for name, title, data in images if name != EFFECTS_PLOT]
    parts.append(_fold("plots", "Plots", plots, _count(len(plots), "figure")))
    parts.append(_fold("reproduce", "Reproduce", [
        markdown_html(REPRODUCE_TEXT), '<ul class="commands">',
        *(f'<li>{_link(r.id, html.escape(r.id))}: <code class="command">{html.escape(commands[r.index])}</code></li>'
          for r in rows), "</ul>"], "a command per row"))
    if refused:
        parts.append(_fold("refused", "Refused runs", [
            "<p>These run records failed the integrity checks (checksum, schema, or a row mixing versions or "
            'configurations) and are not in any table:</p><ul class="refused">',
            *(f"<li><code>{html.escape(p)}</code>: {html.escape(why)}</li>" for p, why in refused), "</ul>"],
            _count(len(refused), "run")))
    parts += ["<script>\n" + _asset("site.js") + "</script>", "</body></html>", ""]
    return "\n".join(parts)
