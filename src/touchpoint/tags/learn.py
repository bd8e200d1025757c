"""Model tags: a scikit-learn classifier of a label condition, trained on the day's data, banded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from touchpoint.core.errors import ValidationError
from touchpoint.tags.evaluate import Labels, mask
from touchpoint.tags.model import TagDef

SEED = 20_17
MAX_TRAIN_ROWS = 200_000
# Training and scoring run on one thread. The gradient-boosting trees synchronise their OpenMP threads many
# times per tree, and when another job holds a core those threads spin instead of working: at a million
# customers on two cores shared with one other process, a model took 26-33 s with two threads and 3-4 s
# with one. A computation shares its machine with the API and the workers, so one thread is the safe speed.
MODEL_THREADS = 1


MODEL_SAMPLE_ROWS = 1_000_000
"""A model tag is trained (and its hold-out scored) on at most this many customers drawn at random; past a
million, a bigger sample adds time, not accuracy (training itself is capped at MAX_TRAIN_ROWS)."""


@dataclass
class FittedModel:
    """A model tag's classifier trained on the day's data (None when it could not be) and its metrics."""

    tag: TagDef
    model: Any | None
    metrics: dict[str, Any]

    def bands(self, frame: pd.DataFrame) -> Labels:
        """Each row's band by the model's probability of the label (none for every row without a model)."""
        spec = self.tag.model
        assert spec is not None
        if self.model is None:
            return Labels.none(len(frame))
        features = _features(self.tag, frame)
        with threadpool_limits(limits=MODEL_THREADS):
            probability = self.model.predict_proba(features)[:, 1]
        return Labels.chosen(np.searchsorted(np.array(spec.cutoffs), probability, side="right"), spec.bands)


def fit_model_tag(tag: TagDef, frame: pd.DataFrame, *, population: int | None = None) -> FittedModel:
    """Train on a stratified 75 % of `frame`'s rows and report the AUC on the rest.

    `frame` is every customer, or a random sample of the `population` customers there are (recorded in
    the metrics).
    """
    spec = tag.model
    assert spec is not None
    label = mask(spec.label, frame, tag.params, f"tag {tag.name}")
    features = _features(tag, frame)
    positives = int(label.sum())
    if positives < 10 or positives > len(label) - 10:
        metrics = {
            "error": f"too few examples of each class ({positives} of {len(label)})",
            "positives": positives,
        }
        return FittedModel(tag=tag, model=None, metrics=metrics)
    train, test = holdout_rows(label)
    with threadpool_limits(limits=MODEL_THREADS):
        model = _estimator(spec.algorithm).fit(features[train], label[train])
        probability = model.predict_proba(features[test])[:, 1]
    metrics = {
        "algorithm": spec.algorithm,
        "auc_holdout": round(holdout_auc(label[test], probability), 4),
        "train_rows": len(train),
        "holdout_rows": len(test),
        "positive_rate": round(positives / len(label), 4),
        "features": list(spec.features),
    }
    if population is not None and population > len(frame):
        metrics["sampled_from"] = population
    return FittedModel(tag=tag, model=model, metrics=metrics)


def _features(tag: TagDef, frame: pd.DataFrame) -> np.ndarray:
    spec = tag.model
    assert spec is not None
    missing = [f for f in spec.features if f not in frame.columns]
    if missing:
        raise ValidationError(f"tag {tag.name}: unknown feature indicator(s) {missing}")
    features: np.ndarray = frame[spec.features].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    return features


def sample_positions(population: int, size: int | None = None) -> np.ndarray:
    """Sorted row positions of a uniform random sample of `size` (default MODEL_SAMPLE_ROWS), the same
    each run: all rows when there are no more."""
    size = MODEL_SAMPLE_ROWS if size is None else size
    if population <= size:
        return np.arange(population)
    chosen: np.ndarray = np.sort(np.random.default_rng(SEED).choice(population, size, replace=False))
    return chosen


def holdout_split(features: np.ndarray, label: np.ndarray) -> tuple[Any, Any, Any, Any]:
    """Train and hold-out rows' features and labels, stratified 75/25, training capped at MAX_TRAIN_ROWS."""
    train, test = holdout_rows(label)
    return features[train], features[test], label[train], label[test]


def holdout_rows(label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the training and hold-out rows, stratified 75/25, training capped at MAX_TRAIN_ROWS."""
    from sklearn.model_selection import train_test_split  # see _estimator

    rows = np.arange(len(label))
    train, test = train_test_split(rows, test_size=0.25, stratify=label, random_state=SEED)
    if len(train) > MAX_TRAIN_ROWS:
        # Past a few hundred thousand rows a bigger training set adds time, not accuracy.
        train, _ = train_test_split(
            train, train_size=MAX_TRAIN_ROWS, stratify=label[train], random_state=SEED
        )
    return train, test


def _estimator(algorithm: str) -> Any:
    # scikit-learn is imported where a model is trained, not with the module: importing it (and SciPy)
    # took 1.1 s of the 3 s every worker, CLI command and API process spent starting, none of which
    # trains a model unless it computes tags.
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if algorithm == "logistic_regression":
        return make_pipeline(
            SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(max_iter=500)
        )
    return gradient_boosting(SEED, learning_rate=0.1)


def gradient_boosting(seed: int, **options: Any) -> Any:
    """scikit-learn's histogram gradient boosting, 150 rounds, seeded (imported when first used)."""
    from sklearn.ensemble import HistGradientBoostingClassifier  # see _estimator

    return HistGradientBoostingClassifier(max_iter=150, random_state=seed, **options)


def holdout_auc(label: np.ndarray, probability: np.ndarray) -> float:
    """The area under the ROC curve of `probability` against the true `label`s."""
    from sklearn.metrics import roc_auc_score  # see _estimator

    return float(roc_auc_score(label, probability))
