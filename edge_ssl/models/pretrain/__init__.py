"""Pretraining wrappers around a ``SpeechEncoder``: each ``forward(batch) -> (loss, logs)`` for the shared
training loop. ``common`` holds the front end they share (conv features, masking); one file per method."""
