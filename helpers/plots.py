"""Matplotlib charts of a rated dataset: ratings per generator and chosen-minus-rejected margins."""

from __future__ import annotations

import numpy as np
from matplotlib import pyplot as plt

from helpers.pairs import MAX_RATING, MIN_RATING, is_valid_rating

MARGIN_BIN = 0.5


def count_ratings_by_model(rated_rows: list[dict]) -> dict[str, list[int]]:
    """Return, per model (or position when ``generation_models`` is missing), how many completions got each rating 1-5."""
    counts: dict[str, list[int]] = {}
    for row in rated_rows:
        ratings = row.get("ratings") if isinstance(row.get("ratings"), list) else []
        models = row.get("generation_models")
        models = models if isinstance(models, list) and len(models) == len(ratings) else [None] * len(ratings)
        for position, (rating, model) in enumerate(zip(ratings, models)):
            name = model or f"vị trí {position + 1}"
            counts.setdefault(name, [0] * (MAX_RATING - MIN_RATING + 1))
            # Float ratings (token probabilities) go to the nearest whole rating; invalid ones are not drawn.
            if is_valid_rating(rating):
                counts[name][int(round(rating)) - MIN_RATING] += 1
    return counts


def plot_rating_distribution(rated_rows: list[dict]):
    """Return a grouped bar chart of how many completions each generator got per rating (figure closed: shown once)."""
    counts = count_ratings_by_model(rated_rows)
    ratings = np.arange(MIN_RATING, MAX_RATING + 1)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    width = 0.8 / max(len(counts), 1)
    for index, (name, heights) in enumerate(counts.items()):
        ax.bar(ratings + (index - (len(counts) - 1) / 2) * width, heights, width, label=name)
    ax.set(title="Phân bố điểm theo mô hình", xlabel="Điểm của giám khảo", ylabel="Số phần hoàn thành", xticks=ratings)
    if counts:
        ax.legend(fontsize="small")
    ax.yaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    plt.close(fig)  # a notebook shows the returned figure once, not twice
    return fig


def plot_margins(pairs: list[dict]):
    """Return a histogram of score_chosen - score_rejected over the pairs (bins of 0.5; figure closed: shown once)."""
    margins = [pair["score_chosen"] - pair["score_rejected"] for pair in pairs]
    edges = np.arange(-MARGIN_BIN / 2, MAX_RATING - MIN_RATING + MARGIN_BIN, MARGIN_BIN)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.hist(margins, bins=edges, color="#4c72b0", edgecolor="white")
    ax.set(title=f"Chênh lệch điểm chosen − rejected ({len(pairs)} cặp)", xlabel="Chênh lệch điểm", ylabel="Số cặp")
    ax.set_xticks(np.arange(0, MAX_RATING - MIN_RATING + 1))
    ax.yaxis.get_major_locator().set_params(integer=True)
    if not pairs:
        ax.text(0.5, 0.5, "Không có cặp nào", transform=ax.transAxes, ha="center", va="center")
    fig.tight_layout()
    plt.close(fig)
    return fig


def plot_agreement(comparison: dict):
    """Return compare_with_judge's confusion table as a heat map and each one's first-position share as bars (closed)."""
    table = comparison["confusion"]
    names = [key for key in table[0] if key != "người \\ giám khảo"]
    counts = np.array([[row[name] for name in names] for row in table])
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [1.3, 1]})
    top = max(counts.max(), 1)
    left.imshow(counts, cmap="Greens", vmin=0, vmax=top)
    for (i, j), count in np.ndenumerate(counts):
        left.text(j, i, str(count), ha="center", va="center", fontsize=12, color="white" if count > top / 2 else "black")
    short = [name.replace(" tốt hơn", "") for name in names]  # "phần 1", "phần 2", "hoà": the axis says who chose
    left.set(title=f"Bạn và giám khảo ({comparison['labelled']} cặp đã gán nhãn)", xlabel="giám khảo chọn",
             ylabel="bạn chọn", xticks=range(len(names)), yticks=range(len(names)), xticklabels=short, yticklabels=short)
    shares = comparison["first_position"]
    heights = [shares["human"] or 0, shares["judge"] or 0]
    right.bar(["bạn (chọn A)", "giám khảo (chọn phần\nnó đọc trước)"], heights, color=["#4c72b0", "#dd8452"])
    right.axhline(0.5, color="#555", linestyle="--", linewidth=1, label="0,5: không thiên vị vị trí")
    for x, value in enumerate((shares["human"], shares["judge"])):
        right.text(x, (value or 0) + 0.02, "—" if value is None else f"{value:.2f}", ha="center")
    right.set(title="Tỉ lệ chọn vị trí đầu", ylim=(0, 1.1), ylabel="tỉ lệ")
    right.legend(fontsize="small", loc="upper right")
    fig.tight_layout()
    plt.close(fig)
    return fig
