"""What an artifact says about itself: the metadata every Runner exposes and every export writes.

The same keys live inside each artifact: as ExecuTorch ``constant_methods`` (one method per key, returning
an int, a string or, for ``tokens``/``mean``/``std``, a list) and as ONNX ``metadata_props`` (strings; lists
as JSON). ``task`` says what the graph is: ``speech-ctc`` (wave -> logits), ``speech-encoder`` (wave ->
features) or ``image-encoder`` (normalised image (1, C, S, S) -> feature (1, D); the sample fields are 0).
``export/README.md`` is the contract for app developers.
"""
from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any

from edge_ssl.errors import EdgeSSLError

FORMAT_VERSION = 1
OUTPUTS = ("logits", "features")
SPEECH_CTC, SPEECH_ENCODER, IMAGE_ENCODER = "speech-ctc", "speech-encoder", "image-encoder"
TASKS = (SPEECH_CTC, SPEECH_ENCODER, IMAGE_ENCODER)
LIST_KEYS = {"tokens": str, "mean": float, "std": float}  # list-valued keys and their element type


@dataclass(frozen=True)
class ArtifactMeta:
    model_name: str                 # e.g. "distilhubert-ctc" (from the model file name)
    model_version: str              # edge-ssl version + first 12 hex of the model file's sha256
    output: str                     # "logits" (CTC, (1, T, V)) or "features" (encoder, (1, T, C))
    output_dim: int                 # V (vocabulary size) or C (feature width)
    min_samples: int                # shortest input the artifact accepts (>= 2 frames of the conv stack); 0 for images
    max_samples: int                # longest input; memory is planned for it; 0 for images
    sample_rate: int = 16000        # Hz of the input waveform
    frame_stride: int = 320         # input samples per output frame (20 ms)
    receptive_field: int = 400      # where frame counting starts (num_frames): the samples one frame sees for the
    #                                 wav2vec 2.0 conv stack (400 = 25 ms); 160 for Whisper's centred frames
    normalize: str = "none"         # what the graph does to its input first: "none", or "utterance" (zero mean, unit
    #                                 variance over the input). Either way the caller passes raw [-1, 1] floats.
    tokens: tuple[str, ...] = ()    # CTC vocabulary in id order (blank first); empty for an encoder
    blank_id: int = 0               # CTC blank id
    precision: str = "fp32"         # "fp32", "int8-static", "int8-dynamic", "int8-weight"
    task: str = ""                  # one of TASKS; "" (older artifacts) = inferred from ``output``
    image_size: int = 0             # image-encoder: square input side S in pixels
    in_chans: int = 0               # image-encoder: input channels C
    mean: tuple[float, ...] = ()    # image-encoder: per-channel mean of the [0, 1] RGB input, subtracted ...
    std: tuple[float, ...] = ()     # ... then divided by std (the graph takes the normalised image)
    format_version: int = FORMAT_VERSION

    def __post_init__(self):
        if not self.task:  # speech artifacts written before ``task`` existed
            object.__setattr__(self, "task", SPEECH_CTC if self.output == "logits" else SPEECH_ENCODER)

    @property
    def is_image(self) -> bool:
        return self.task == IMAGE_ENCODER

    @property
    def embed_dim(self) -> int:
        return self.output_dim

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.in_chans, self.image_size, self.image_size)  # (C, S, S)

    @property
    def vocab_size(self) -> int:
        return len(self.tokens) if self.tokens else self.output_dim

    def num_frames(self, num_samples: int) -> int:
        """Output frames for ``num_samples`` input samples: exact for every speech front-end here (conv stack,
        log-mel, Whisper's log-mel with padded convs: ceil((S // 160) / 2)) within [min_samples, max_samples]."""
        return (num_samples - self.receptive_field) // self.frame_stride + 1

    # ---- serialisation into the two artifact formats ----

    def to_constant_methods(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k not in LIST_KEYS}
        out["vocab_size"] = self.vocab_size
        for k in LIST_KEYS:  # an empty list is not a valid constant method: leave the key out
            if getattr(self, k):
                out[k] = list(getattr(self, k))
        return out

    def to_strings(self) -> dict[str, str]:
        out = {k: (json.dumps(list(v)) if k in LIST_KEYS else str(v)) for k, v in asdict(self).items()}
        out["vocab_size"] = str(self.vocab_size)
        return out

    @classmethod
    def from_values(cls, values: dict[str, Any], source: str) -> "ArtifactMeta":
        """Build from constant-method values or metadata strings; names the artifact and key that is wrong."""
        kw: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in values and f.default is not MISSING:
                continue  # an optional key an older artifact may lack
            v = values.get(f.name)
            if v is None:
                raise EdgeSSLError(f"{source}: artifact metadata lacks {f.name!r}; was it written by edge-ssl export?")
            try:
                if f.name in LIST_KEYS:
                    v = tuple(LIST_KEYS[f.name](e) for e in (json.loads(v) if isinstance(v, str) else v))
                elif f.type in ("int", int):
                    v = int(v)
                else:
                    v = str(v)
            except (ValueError, TypeError) as e:
                raise EdgeSSLError(f"{source}: artifact metadata {f.name!r} is malformed ({v!r}: {e})") from None
            kw[f.name] = v
        meta = cls(**kw)
        meta.validate(source)
        return meta

    def validate(self, source: str) -> None:
        problems = []
        if self.output not in OUTPUTS:
            problems.append(f"output {self.output!r} is not one of {OUTPUTS}")
        if self.task not in TASKS:
            problems.append(f"task {self.task!r} is not one of {TASKS}")
        elif self.is_image:
            if self.output != "features" or min(self.image_size, self.in_chans, self.output_dim) <= 0:
                problems.append(f"bad image encoder: {self.output} x{self.output_dim} for images {self.image_shape}")
            if len(self.mean) != self.in_chans or len(self.std) != self.in_chans:
                problems.append(f"mean/std need {self.in_chans} values, got {len(self.mean)}/{len(self.std)}")
        elif not 0 < self.min_samples <= self.max_samples:
            problems.append(f"bad sample range [{self.min_samples}, {self.max_samples}]")
        if self.normalize not in ("none", "utterance"):
            problems.append(f"unknown normalize {self.normalize!r}")
        if self.output == "logits" and (len(self.tokens) != self.output_dim or not 0 <= self.blank_id < self.output_dim):
            problems.append(f"{len(self.tokens)} tokens for {self.output_dim} logits (blank {self.blank_id})")
        if self.format_version > FORMAT_VERSION:
            problems.append(f"format_version {self.format_version} is newer than this edge-ssl ({FORMAT_VERSION})")
        if problems:
            raise EdgeSSLError(f"{source}: bad artifact metadata: {'; '.join(problems)}")
