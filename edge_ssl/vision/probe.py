"""Linear probe: a logistic-regression classifier on frozen features (standardised), scored on held-out ones."""
from __future__ import annotations

import numpy as np

from edge_ssl.threads import one_thread


def linear_probe(train_feats: np.ndarray, train_labels: np.ndarray, test_feats: np.ndarray,
                 test_labels: np.ndarray, c: float = 1.0, max_iter: int = 1000) -> float:
    """Fit on (N, D) train features, return the top-1 accuracy on (M, D) test features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if len(np.unique(train_labels)) < 2:
        raise ValueError("a linear probe needs at least two classes in the training labels")
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=max_iter))
    with one_thread():  # hundreds of small BLAS calls: a second thread waits more than it works
        clf.fit(np.asarray(train_feats, dtype=np.float64), np.asarray(train_labels))
    return float(clf.score(np.asarray(test_feats, dtype=np.float64), np.asarray(test_labels)))
