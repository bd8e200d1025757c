"""Model tags: a scikit-learn classifier of a label condition, trained on the day's data, banded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
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


@dataclass
class Scored:
    """Band per row and the model's training metrics."""

    values: Labels
    metrics: dict[str, Any]


def score_model_tag(tag: TagDef, frame: pd.DataFrame) -> Scored:
    """Train on a stratified 75 % of the customers, report AUC on the rest, band everyone by probability."""
    spec = tag.model
    assert spec is not None
    where = f"tag {tag.name}"
    missing = [f for f in spec.features if f not in frame.columns]
    if missing:
        raise ValidationError(f"{where}: unknown feature indicator(s) {missing}")
    label = mask(spec.label, frame, tag.params, where)
    features = frame[spec.features].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    positives = int(label.sum())
    if positives < 10 or positives > len(label) - 10:
        metrics = {
            "error": f"too few examples of each class ({positives} of {len(label)})",
            "positives": positives,
        }
        return Scored(values=Labels.none(len(frame)), metrics=metrics)
    train, test = holdout_rows(label)
    with threadpool_limits(limits=MODEL_THREADS):
        model = _estimator(spec.algorithm).fit(features[train], label[train])
    # Everyone is scored once; the hold-out's AUC reads its rows' scores (scoring parallelises well).
    probability = model.predict_proba(features)[:, 1]
    auc = float(roc_auc_score(label[test], probability[test]))
    bands = Labels.chosen(np.searchsorted(np.array(spec.cutoffs), probability, side="right"), spec.bands)
    metrics = {
        "algorithm": spec.algorithm,
        "auc_holdout": round(auc, 4),
        "train_rows": len(train),
        "holdout_rows": len(test),
        "positive_rate": round(positives / len(label), 4),
        "features": list(spec.features),
    }
    return Scored(values=bands, metrics=metrics)


def holdout_split(features: np.ndarray, label: np.ndarray) -> tuple[Any, Any, Any, Any]:
    """Train and hold-out rows' features and labels, stratified 75/25, training capped at MAX_TRAIN_ROWS."""
    train, test = holdout_rows(label)
    return features[train], features[test], label[train], label[test]


def holdout_rows(label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the training and hold-out rows, stratified 75/25, training capped at MAX_TRAIN_ROWS."""
    rows = np.arange(len(label))
    train, test = train_test_split(rows, test_size=0.25, stratify=label, random_state=SEED)
    if len(train) > MAX_TRAIN_ROWS:
        # Past a few hundred thousand rows a bigger training set adds time, not accuracy.
        train, _ = train_test_split(
            train, train_size=MAX_TRAIN_ROWS, stratify=label[train], random_state=SEED
        )
    return train, test


def _estimator(algorithm: str) -> Any:
    if algorithm == "logistic_regression":
        return make_pipeline(
            SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(max_iter=500)
        )
    return HistGradientBoostingClassifier(max_iter=150, learning_rate=0.1, random_state=SEED)
