"""VAD segmentation: a stream (live) or a whole file (offline) -> utterance segments.

``Segmenter`` is the one place VAD windows meet the endpoint rules. The live session feeds it chunks as
they arrive; ``segment_wave`` feeds it a whole file. Both see the same 512-sample windows, so a file
replayed live is cut exactly where the offline segmenter cuts it.
"""
from __future__ import annotations

import numpy as np

from edge_ssl.asr.stream.endpoint import EndpointConfig, Endpointer, Segment
from edge_ssl.asr.stream.vad import VAD_SAMPLE_RATE, WINDOW, Detector, VadConfig, VadStream, open_detector
from edge_ssl.errors import EdgeSSLError


class Segmenter:
    def __init__(self, detector: Detector, vad_cfg: VadConfig | None = None,
                 endpoint_cfg: EndpointConfig | None = None, sample_rate: int = VAD_SAMPLE_RATE):
        if sample_rate != VAD_SAMPLE_RATE:
            raise EdgeSSLError(f"VAD segmentation runs at {VAD_SAMPLE_RATE} Hz; got audio at {sample_rate} Hz")
        vad_cfg = vad_cfg or VadConfig()
        vad_cfg.validate()
        self.sample_rate = sample_rate
        self.vad = VadStream(detector, vad_cfg)
        self.endpointer = Endpointer(endpoint_cfg or EndpointConfig(), sample_rate, WINDOW)
        self.total = 0  # samples accepted

    @property
    def open_start(self) -> int | None:
        return self.endpointer.open_start

    @property
    def speaking(self) -> bool:
        return self.vad.speaking

    def accept(self, samples: np.ndarray) -> list[Segment]:
        """samples (N,) float32 -> segments closed by them (final ones and dropped ``too_short`` ones)."""
        self.total += len(samples)
        decisions = self.vad.accept(samples)
        return [seg for speech, prob in zip(decisions, self.vad.last_probs)
                if (seg := self.endpointer.update(speech, prob))]

    def flush(self) -> list[Segment]:
        seg = self.endpointer.flush(self.total)
        return [seg] if seg else []


def segment_wave(wave: np.ndarray, detector: Detector | None = None, vad_cfg: VadConfig | None = None,
                 endpoint_cfg: EndpointConfig | None = None, sample_rate: int = VAD_SAMPLE_RATE,
                 block: int = 16000) -> list[Segment]:
    """wave (S,) float32 -> the final (kept) segments, in order."""
    vad_cfg = vad_cfg or VadConfig()
    seg = Segmenter(detector or open_detector(vad_cfg.kind), vad_cfg, endpoint_cfg, sample_rate)
    out = []
    for i in range(0, len(wave), block):
        out += seg.accept(wave[i:i + block])
    out += seg.flush()
    return [s for s in out if s.final]
