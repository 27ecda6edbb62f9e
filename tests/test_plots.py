"""The leaderboard's plots for a reader, on real stored runs (leaderboard/runs, the golden
records): a distinct style per series up to 20, legends outside every axes, one small-multiples
figure of all envs' curves with the main rows only, the SYNTHETIC and reduced-budget rows drawn
apart, the "does the prior help?" forest plot with its labels whole, and the same bytes from
the same rows."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from priorbench.bench import schema
from priorbench.bench.leaderboard import collect, improvements, make_rows, overall, plots
from priorbench.bench.leaderboard.stats import prior_effects
from priorbench.core.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
LAKE, COOKING = "priorbench/FrozenLake-4x4-v0", "priorbench/TextWorld-Cooking-1-v0"


@pytest.fixture(scope="module")
def rows():
    """Two envs' rows of the committed leaderboard: main rows, SYNTHETIC priors (oracle,
    controls) and reduced-budget rows (" @500 steps") among them."""
    groups, refused = collect(ROOT / "leaderboard" / "runs", envs={LAKE, COOKING})
    assert not refused
    found = make_rows(groups)
    assert {r.env for r in found} == {LAKE, COOKING}
    assert any(schema.is_synthetic(r.agent) for r in found)
    assert any(schema.is_reduced(r.agent) for r in found)
    return found


@pytest.fixture(scope="module")
def golden_rows():
    """The golden records' rows: main rows only (random, expert, tabular-q on two lakes)."""
    return make_rows(collect(ROOT / "tests" / "golden" / "records")[0])


def styles_of(rows):
    return plots.agent_styles([r.agent for r in rows])


def legend_texts(fig) -> list[str]:
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def test_twenty_labels_get_twenty_distinct_styles(rows):
    labels = sorted({r.agent for r in rows})[:20]
    assert len(labels) == 20
    styles = plots.agent_styles(labels)
    assert len({(repr(s["color"]), s["marker"]) for s in styles.values()}) == 20
    assert len({repr(s["color"]) for s in styles.values()}) == 20  # tab10 repeated after 10
    assert plots.agent_styles(labels[::-1] + labels[:3]) == styles  # from the label set alone
    assert plots.agent_colours(labels) == {a: s["color"] for a, s in styles.items()}


def test_each_figures_series_differ_in_colour(rows):
    """Main labels take the first slots and the apart ones the next, so the main figures and
    the figure drawn apart each show distinct colours (21 labels here, over 20 colours)."""
    styles = styles_of(rows)
    assert len(styles) > 20
    main = [s["color"] for a, s in styles.items() if plots.is_main(a)]
    apart = [s["color"] for a, s in styles.items() if not plots.is_main(a)]
    assert main and apart
    assert len(set(main)) == len(main) and len(set(apart)) == len(apart)
    assert len({(s["color"], s["marker"]) for s in styles.values()}) == len(styles)


def assert_legends_outside(fig) -> None:
    fig.draw_without_rendering()
    assert fig.legends, "the figure has no legend"
    assert all(ax.get_legend() is None for ax in fig.axes)
    for legend in fig.legends:
        box = legend.get_window_extent()
        assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1, "legend cut off"
        assert fig.bbox.y0 <= box.y0 and box.y1 <= fig.bbox.y1, "legend cut off"
        for ax in fig.axes:
            assert not box.overlaps(ax.get_window_extent()), f"legend over {ax.get_title()}"


def test_legends_lie_outside_every_axes(rows):
    styles = styles_of(rows)
    with plots.plot_style():
        assert_legends_outside(plots.curves_figure(rows, LAKE, styles))
        assert_legends_outside(plots.curves_grid_figure(rows, styles))
        assert_legends_outside(plots.curves_apart_figure(rows, styles))
        assert_legends_outside(plots.prior_effects_figure(prior_effects(rows)))


def test_grid_has_a_panel_per_env_with_the_main_rows_only(rows):
    with plots.plot_style():
        fig = plots.curves_grid_figure(rows, styles_of(rows))
    assert [ax.get_title() for ax in fig.axes] == [LAKE, COOKING]
    shown = legend_texts(fig)
    assert shown == sorted({r.agent for r in rows if plots.is_main(r.agent)})
    assert not any(schema.is_synthetic(t) or schema.is_reduced(t) for t in shown)
    with plots.plot_style():
        lake = plots.curves_figure(rows, LAKE, styles_of(rows))
    assert len(lake.axes) == 1
    assert [t.split(" (n=")[0] for t in legend_texts(lake)] == sorted(
        r.agent for r in rows if r.env == LAKE and plots.is_main(r.agent))


def test_synthetic_and_reduced_rows_are_drawn_apart(rows, golden_rows, tmp_path):
    with plots.plot_style():
        apart = plots.curves_apart_figure(rows, styles_of(rows))
    assert apart is not None and "SYNTHETIC" in apart.get_suptitle()
    assert legend_texts(apart) == sorted({r.agent for r in rows if not plots.is_main(r.agent)})
    assert [ax.get_title() for ax in apart.axes] == sorted(
        {r.env for r in rows if not plots.is_main(r.agent)})
    # a main row relabelled SYNTHETIC, or reduced, moves from the main grid to the apart one
    main = next(r for r in rows if r.env == LAKE and r.agent == "dqn")
    moved = [dataclasses.replace(main, agent="dqn-prior [SYNTHETIC oracle (q=0.5)]"),
             dataclasses.replace(main, agent="dqn @1000 steps")]
    relabelled = [r for r in rows if r is not main] + moved
    styles = styles_of(relabelled)
    with plots.plot_style():
        grid = plots.curves_grid_figure(relabelled, styles)
        apart = plots.curves_apart_figure(relabelled, styles)
    lake = next(ax for ax in grid.axes if ax.get_title() == LAKE)
    assert "dqn" not in [line.get_label() for line in lake.get_lines()]
    assert {m.agent for m in moved} <= set(legend_texts(apart))
    assert not set(legend_texts(grid)) & {m.agent for m in moved}
    # none apart: no figure and no file
    with plots.plot_style():
        assert plots.plot_curves_apart(golden_rows, tmp_path / "apart.png",
                                       styles_of(golden_rows)) is None
    assert not (tmp_path / "apart.png").exists()


def test_final_leaves_synthetic_and_reduced_rows_out(rows):
    _, over = overall(rows)
    assert over
    apart_label = next(r.agent for r in rows if schema.is_synthetic(r.agent))
    over = [*over, {**over[0], "agent": apart_label}]
    with plots.plot_style():
        fig = plots.final_figure(rows, over, styles_of(rows))
    fig.draw_without_rendering()
    ticks = [t.get_text() for ax in fig.axes for t in ax.get_yticklabels()]
    assert set(ticks) == {r.agent for r in rows if plots.is_main(r.agent)}
    assert not any(schema.is_synthetic(t) or schema.is_reduced(t) for t in ticks)
    assert [ax.get_title() for ax in fig.axes] == [LAKE, COOKING, "all envs (tasks = envs)"]


def test_same_rows_give_the_same_bytes(rows, tmp_path):
    effects = prior_effects(rows)
    drawn = {}
    for n in (1, 2):
        styles = styles_of(rows[::-1] if n == 2 else rows)
        out = tmp_path / str(n)
        out.mkdir()
        with plots.plot_style():
            drawn[n] = [plots.plot_curves_grid(rows, out / plots.CURVES_GRID, styles),
                        plots.plot_curves_apart(rows, out / plots.CURVES_APART, styles),
                        plots.plot_curves(rows, LAKE, out / "lake.png", styles),
                        plots.plot_final(rows, overall(rows)[1], out / "final.png", styles),
                        plots.plot_prior_effects(effects, out / plots.PRIOR_EFFECTS)]
    assert drawn[1] == drawn[2]
    assert all(d.startswith(b"\x89PNG") for d in drawn[1])
    assert (tmp_path / "1" / plots.CURVES_GRID).read_bytes() == drawn[1][0]
    assert {plots.CURVES_GRID, plots.PRIOR_EFFECTS} <= set(plots.PLOT_PATTERNS)


def test_styles_and_bare_colours_draw_alike(rows, tmp_path):
    """Callers that still pass `agent_colours` get the same colours (a solid line and dots)."""
    labels = [r.agent for r in rows]
    pairs = improvements(rows)
    assert pairs
    with plots.plot_style():
        by_style = plots.plot_improvement(pairs, tmp_path / "a.png", plots.agent_styles(labels))
        by_colour = plots.plot_improvement(pairs, tmp_path / "b.png", plots.agent_colours(labels))
        lake = plots.curves_figure(rows, LAKE, plots.agent_colours(labels))
    assert by_style == by_colour
    colours = plots.agent_colours(labels)
    assert {line.get_color() for line in lake.axes[0].get_lines()} == {
        colours[r.agent] for r in rows if r.env == LAKE and plots.is_main(r.agent)}


def test_prior_effects_forest_draws_every_comparison_with_whole_labels(rows):
    effects = prior_effects(rows)
    assert len(effects) > 10 and {e["vs"] for e in effects} == {"control", "plain", "llm", "llm-sample", "counterpart"}
    with plots.plot_style():
        fig = plots.prior_effects_figure(effects)
    fig.draw_without_rendering()
    points = [line for ax in fig.axes for line in ax.get_lines()
              if line.get_gid() == "prior-effect"]
    assert len(points) == len(effects)
    assert sorted(float(p.get_xdata()[0]) for p in points) == sorted(e["delta"] for e in effects)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == [LAKE, COOKING]
    assert all(ax.get_xlim()[0] <= -1 and ax.get_xlim()[1] >= 1 for ax in panels)
    ticks = [t for ax in fig.axes for t in ax.get_yticklabels() if t.get_text()]
    texts = [t.get_text() for t in ticks]
    for e in effects:  # the prior row heads its lines; each line names what it is compared with
        assert e["agent"] in texts and f"vs {e['other']} · {e['pairs']} pairs" in texts
    for tick in ticks:
        box = tick.get_window_extent()
        assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1, f"cut off: {tick.get_text()}"
        assert fig.bbox.y0 <= box.y0 and box.y1 <= fig.bbox.y1, f"cut off: {tick.get_text()}"
    with pytest.raises(UserError, match="no prior effects"):
        plots.prior_effects_figure([])
