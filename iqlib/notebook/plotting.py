"""The project's few figure kinds, so that every notebook looks alike.

  grid_heatmaps       side-by-side heatmaps of tabular maps (e.g. true vs recovered reward,
                      IQ-Learn poster Fig. 4), one colorbar each
  policy_arrows       arrows for the greedy action of a GridWorld policy, over a heatmap
  curves_with_bands   mean ± 1 std over seeds, one line per method (learning curves)
  bar_table           one bar per method, with optional error bars
  line_plot           plain lines, one per method

Matplotlib only. The look is set once in `STYLE` and applied with `plt.rc_context` inside
each function; importing this module changes no global rcParams. Each function returns the
`matplotlib.figure.Figure` (save it with `fig.savefig(path)`).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["STYLE", "PANEL_SIZE", "grid_heatmaps", "policy_arrows", "curves_with_bands", "bar_table", "line_plot",
           "mean_with_range"]

STYLE = {
    "figure.figsize": (5.0, 3.5),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
"""rcParams applied (via `plt.rc_context`) by every function of this module."""

PANEL_SIZE = 3.6
"""Width and height in inches of one `grid_heatmaps` panel (plus room for its colorbar)."""

# (dx, dy) in image coordinates (row 0 at the top, so "up" is dy = −1), per GridWorld action.
_ARROWS = {0: (0.0, -1.0), 1: (0.0, 1.0), 2: (-1.0, 0.0), 3: (1.0, 0.0)}
_STAY = 4


def grid_heatmaps(maps: dict, title: str | None = None, cmap: str = "viridis", annotate: bool = False):
    """Side-by-side heatmaps, one panel (with its own colorbar) per entry of `maps`.

    Args:
      maps: {panel title: (size, size) array}; row 0 is drawn at the top.
      title: optional figure title.
      cmap: matplotlib colormap name.
      annotate: write each cell's value (2 decimals) in the cell.

    Returns:
      Figure with 2 * len(maps) axes: `fig.axes[:len(maps)]` are the panels in the order
      of `maps`, then their colorbars.

    Raises:
      ValueError: if `maps` is empty or an entry is not 2-D.
    """
    if not maps:
        raise ValueError("maps must have at least one entry")
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(maps), figsize=(PANEL_SIZE * 1.25 * len(maps), PANEL_SIZE), squeeze=False)
        for ax, (name, values) in zip(axes[0], maps.items()):
            values = np.asarray(values, dtype=float)
            if values.ndim != 2:
                raise ValueError(f"maps[{name!r}] must be 2-D (size, size), got shape {values.shape}")
            im = ax.imshow(values, cmap=cmap, origin="upper")
            ax.set_title(name)
            ax.set_xticks(range(values.shape[1]))
            ax.set_yticks(range(values.shape[0]))
            ax.grid(False)
            if annotate:
                mid = 0.5 * (np.nanmin(values) + np.nanmax(values))
                for (i, j), v in np.ndenumerate(values):
                    ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                            color="white" if v < mid else "black")
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    return fig


def policy_arrows(ax, policy, size: int, color: str = "white"):
    """Draw the greedy action argmax_a π(a|s) of each cell on `ax`: an arrow, or a dot for stay.

    Meant to overlay an `imshow` of a (size, size) map (row 0 at the top), e.g. a panel of
    `grid_heatmaps`. Actions follow `iqlib.problems.gridworld.ACTIONS` (up, down, left, right, stay).

    Args:
      ax: matplotlib Axes to draw on.
      policy: (S, 5) action probabilities (or Q-values: only the argmax is used), S = size².
      size: grid side length.
      color: arrow and dot colour.

    Returns:
      The Figure that holds `ax`.

    Raises:
      ValueError: if policy's shape is not (size², 5).
    """
    policy = np.asarray(policy)
    if policy.shape != (size * size, 5):
        raise ValueError(f"policy must have shape (size**2, 5) = ({size * size}, 5), got {policy.shape}")
    greedy = policy.argmax(axis=1)
    rows, cols = np.divmod(np.arange(size * size), size)
    dx = np.array([_ARROWS.get(a, (0.0, 0.0))[0] for a in greedy])
    dy = np.array([_ARROWS.get(a, (0.0, 0.0))[1] for a in greedy])
    inside = (cols + dx >= 0) & (cols + dx < size) & (rows + dy >= 0) & (rows + dy < size)
    move = (greedy != _STAY) & inside
    ylim = ax.get_ylim() if ax.images else None
    with plt.rc_context(STYLE):
        if move.any():
            ax.quiver(cols[move], rows[move], 0.6 * dx[move], 0.6 * dy[move], color=color,
                      angles="xy", scale_units="xy", scale=1, pivot="middle", width=0.012)
        if (~move).any():
            ax.plot(cols[~move], rows[~move], "o", color=color, markersize=4, linestyle="none")
    if ylim is not None:
        ax.set_ylim(ylim)  # keep the image's orientation (row 0 at the top)
    else:
        ax.set_xlim(-0.5, size - 0.5)
        ax.set_ylim(size - 0.5, -0.5)
    return ax.figure


def curves_with_bands(x, ys: dict, xlabel: str, ylabel: str, title: str | None = None):
    """Mean over seeds with a ±1 standard-deviation band, one line per method.

    Args:
      x: (T,) x values (e.g. update steps).
      ys: {method: (n_seeds, T) array}; a (T,) array is treated as one seed (no band).
      xlabel, ylabel: axis labels (include units).
      title: optional axes title.

    Returns:
      Figure with one axes.

    Raises:
      ValueError: if an entry's last axis length differs from len(x).
    """
    x = np.asarray(x)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots()
        for name, y in ys.items():
            y = np.atleast_2d(np.asarray(y, dtype=float))
            if y.ndim != 2 or y.shape[1] != x.shape[0]:
                raise ValueError(f"ys[{name!r}] must have shape (n_seeds, {x.shape[0]}), got {y.shape}")
            mean, std = y.mean(axis=0), y.std(axis=0)
            (line,) = ax.plot(x, mean, label=f"{name} (n={y.shape[0]})")
            ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.2, linewidth=0)
        _finish(ax, xlabel, ylabel, title, legend=bool(ys))
        fig.tight_layout()
    return fig


def mean_with_range(ax, x, y, label: str):
    """Draw the seed mean of ``y: (n_seeds, T)`` over ``x: (T,)`` on ``ax`` with a min–max band; returns the line.

    Raises:
      ValueError: if ``y`` is not (n_seeds, len(x)).
    """
    x, y = np.asarray(x), np.atleast_2d(np.asarray(y, dtype=float))
    if y.ndim != 2 or y.shape[1] != x.shape[0]:
        raise ValueError(f"y must have shape (n_seeds, {x.shape[0]}), got {y.shape}")
    (line,) = ax.plot(x, y.mean(axis=0), label=label)
    ax.fill_between(x, y.min(axis=0), y.max(axis=0), color=line.get_color(), alpha=0.2, linewidth=0)
    return line


def bar_table(values: dict, errors: dict | None = None, ylabel: str = "", title: str | None = None):
    """One bar per entry, labelled with its value, with optional error bars.

    Args:
      values: {label: number}.
      errors: optional {label: half-width of the error bar}; missing labels get none.
      ylabel: y-axis label (include units).
      title: optional axes title.

    Returns:
      Figure with one axes.
    """
    labels = list(values)
    heights = np.array([float(values[k]) for k in labels])
    err = None if errors is None else np.array([float(errors.get(k, 0.0)) for k in labels])
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(max(3.0, 0.9 * len(labels) + 1.5), STYLE["figure.figsize"][1]))
        colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        bars = ax.bar(range(len(labels)), heights, yerr=err, capsize=4,
                      color=[colors[i % len(colors)] for i in range(len(labels))])
        ax.bar_label(bars, fmt="%.3g", fontsize=8)
        ax.set_xticks(range(len(labels)), labels, rotation=20 if len(labels) > 4 else 0)
        ax.grid(axis="x", visible=False)
        _finish(ax, None, ylabel, title, legend=False)
        fig.tight_layout()
    return fig


def line_plot(x, ys: dict, xlabel: str, ylabel: str, title: str | None = None, logx: bool = False):
    """Plain lines, one per entry of `ys`, with markers.

    Args:
      x: (T,) x values.
      ys: {label: (T,) array}.
      xlabel, ylabel: axis labels (include units).
      title: optional axes title.
      logx: log-scale x axis (e.g. number of demonstrations).

    Returns:
      Figure with one axes.

    Raises:
      ValueError: if an entry's shape is not (len(x),).
    """
    x = np.asarray(x)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots()
        for name, y in ys.items():
            y = np.asarray(y, dtype=float)
            if y.shape != x.shape:
                raise ValueError(f"ys[{name!r}] must have shape {x.shape}, got {y.shape}")
            ax.plot(x, y, marker="o", markersize=3, label=name)
        if logx:
            ax.set_xscale("log")
        _finish(ax, xlabel, ylabel, title, legend=bool(ys))
        fig.tight_layout()
    return fig


def _finish(ax, xlabel, ylabel, title, legend: bool):
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if legend:
        ax.legend(frameon=False)
