"""The run's charts: training curves from log.csv and the held-out confusion matrix."""

from __future__ import annotations

import csv
import os
from typing import Dict, List, Sequence

import numpy as np

from keras_resnet.atomic import atomic_path


def _save_figure(fig, path: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)


def _read_log(path: str) -> List[Dict[str, float]]:
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items() if v not in (None, "")}
                for row in csv.DictReader(f)]


def logged_seconds(path: str) -> float:
    """The training time in log.csv: the sum of its `seconds` column (0 without one)."""
    return sum(row.get("seconds", 0.0) for row in _read_log(path))


def plot_training_curves(log_csv: str, path: str) -> None:
    """Loss and top-1 accuracy per epoch (train and held-out) from log.csv, as a PNG."""
    from matplotlib.figure import Figure

    rows = _read_log(log_csv)
    if not rows:
        return
    epochs = [row["epoch"] + 1 for row in rows]
    fig = Figure(figsize=(10, 4))
    for ax, key, title in ((fig.add_subplot(1, 2, 1), "loss", "loss"),
                           (fig.add_subplot(1, 2, 2), "accuracy", "top-1 accuracy")):
        for prefix, label in (("", "train"), ("val_", "held-out")):
            values = [row.get(prefix + key, float("nan")) for row in rows]
            ax.plot(epochs, values, marker="." if len(rows) < 40 else None, label=label)
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    _save_figure(fig, path)


def plot_confusion_matrix(confusion, class_names: Sequence[str], path: str) -> None:
    """The confusion matrix (rows: true class, columns: predicted) as a PNG."""
    from matplotlib.figure import Figure

    matrix = np.asarray(confusion)
    n = len(class_names)
    side = min(max(4.0, 0.45 * n + 2), 30.0)
    fig = Figure(figsize=(side, side))
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(matrix, cmap="Blues")
    if n <= 30:
        ax.set_xticks(range(n), labels=class_names, rotation=90)
        ax.set_yticks(range(n), labels=class_names)
        threshold = matrix.max() / 2 if matrix.size else 0
        for i in range(n):
            for j in range(n):
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if matrix[i, j] > threshold else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"confusion matrix ({int(matrix.sum())} images)")
    fig.tight_layout()
    _save_figure(fig, path)
