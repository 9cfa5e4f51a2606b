"""Training modules, one file per method: each wraps the networks of ``edge_ssl.models`` with its
method's regime (masks, targets, teachers, frozen parts) and computes ``forward(batch) -> (loss, logs)``
for the shared training loop (``training/loop.py``) from the pure losses in ``edge_ssl.objectives``.
``masked`` holds what the masked-prediction methods (wav2vec 2.0, HuBERT, data2vec) share."""
