"""Pretraining losses, one file each, as plain functions with shape docs: ``wav2vec2`` (contrastive +
diversity + feature penalty), ``hubert`` (masked cluster prediction), ``data2vec`` (EMA-target regression)."""
