"""Losses as pure functions with shape docs (tensors in -> scalar loss, plus detached logs); the training
modules that produce their inputs live in ``edge_ssl.models``. One file per method:
``wav2vec2`` (contrastive + diversity), ``hubert`` (masked cluster prediction), ``data2vec`` (EMA-target
regression), ``distill`` (DistilHuBERT layer prediction), ``ctc`` (fine-tuning), ``mae`` (masked patches);
``penalties`` holds the conv-feature penalty that wav2vec 2.0 and HuBERT share."""
