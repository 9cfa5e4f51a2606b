"""The replay set for end-of-speech latency: real and TTS sentences with natural pauses, at known boundaries.

Each sentence is one clip (a game line, or a TTS prompt with commas) trimmed to its speech by one rule for
all sources (``speech_bounds``), and clips are joined by silences of 1.0-1.6 s: longer than any endpoint
rule, so every sentence should come out as one line of text, and any cut inside a clip is a split at a
pause within the sentence.

- ``test`` (reported): the 21 held-out Queen clips of ``edge_ssl/data/real/slice.py`` (six characters no
  model of this toolkit trained on; extracted from the installed game package) + 16 prompts in two held-out
  TTS voices.
- ``dev`` (for tuning the endpoint rules): the first 30 Beneath a Steel Sky clips of 2 s or more from
  ``data/real/dev_sky.jsonl`` (the LM-tuning set: no model trained on them, no test holds them) + 16 other
  prompts in two training TTS voices.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

SR = 16000
FRAME = 160  # 10 ms

TTS_TEST = [
    "Well, if you ask me, the train will be late again.", "First, open the box, then take out the manual.",
    "I called twice, but nobody answered the phone.", "After lunch, we walked down to the river.",
    "Honestly, I have no idea where the keys went.", "When the rain stopped, the children ran outside.",
    "Yes, that is fine, but please bring your own chair.", "In the morning, the market is full of people.",
    "Turn left at the bakery, then keep going straight.", "My brother, who lives in Leeds, is visiting us.",
    "If it snows tonight, the school will be closed.", "Later that evening, the lights went out again.",
    "Oh, and don't forget to water the plants.", "She smiled, waved, and walked out of the room.",
    "To be fair, the second film was much better.", "So, what time should we meet tomorrow?",
]
TTS_DEV = [
    "Before we start, let me check the sound.", "The soup was cold, so I sent it back.",
    "Right, let's go over the plan one more time.", "On Sundays, my grandmother bakes fresh bread.",
    "If you have a minute, could you help me with this?", "Actually, the meeting moved to Thursday.",
    "We missed the bus, and then it started raining.", "By the way, your parcel arrived this morning.",
    "Take the stairs, the lift is broken again.", "Last summer, we drove all the way to the coast.",
    "Well, I suppose we could try once more.", "Put the milk in the fridge, please.",
    "Although it was late, the shop was still open.", "Sorry, I didn't catch your name.",
    "At the end of the road, there is a small park.", "Hold on, I think I left the oven on.",
]
VOICES = {"test": ("flite:rms", "espeak-ng:en-us+f4"),  # held-out TTS voices (edge_ssl.data.tts)
          "dev": ("flite:slt", "espeak-ng:en-us")}


@dataclass
class Sentence:
    text: str
    source: str  # "real:<speaker>" or "tts:<voice>"
    start: int   # first speech sample in the replay wave
    end: int     # one past the last speech sample: the true end of speech


def speech_bounds(wave: np.ndarray, floor_db: float = 35.0) -> tuple[int, int]:
    """wave (S,) -> (first, one-past-last) sample of the 10 ms frames within ``floor_db`` of the loudest one."""
    n = len(wave) // FRAME
    if n == 0:
        raise ValueError("clip shorter than one 10 ms frame")
    db = 10 * np.log10(np.mean(np.square(wave[:n * FRAME].reshape(n, FRAME), dtype=np.float64), axis=1) + 1e-12)
    loud = np.flatnonzero(db >= db.max() - floor_db)
    return int(loud[0]) * FRAME, (int(loud[-1]) + 1) * FRAME


def real_clips(which: str, cache: Path, dev_manifest: Path) -> list[tuple[np.ndarray, str, str]]:
    """(wave (S,) at 16 kHz, text, source) for the set's real clips."""
    from edge_ssl.audio.io import load_audio
    from edge_ssl.data.manifest import read_manifest

    if which == "test":
        from edge_ssl.data.real.slice import extract_heldout_slice

        utts = read_manifest(extract_heldout_slice(cache / "heldout_slice"))
    else:
        utts = [u for u in read_manifest(dev_manifest) if u.num_samples >= 2 * SR][:30]
    return [(load_audio(u.audio_path), u.text, f"real:{u.speaker}") for u in utts]


def tts_clips(which: str) -> list[tuple[np.ndarray, str, str]]:
    import soxr

    from edge_ssl.data.tts import Prompt, Voice, synthesize

    texts, out = TTS_TEST if which == "test" else TTS_DEV, []
    for k, voice in enumerate(VOICES[which]):
        mine = texts[k::len(VOICES[which])]
        for (wave, sr), text in zip(synthesize(Voice.parse(voice), [Prompt(t, 1.0, 0.0) for t in mine]), mine):
            out.append((soxr.resample(wave, sr, SR).astype(np.float32) if sr != SR else wave, text, f"tts:{voice}"))
    return out


def build_replay_set(which: str, cache: Path, dev_manifest: Path = Path("data/real/dev_sky.jsonl"),
                     ) -> tuple[np.ndarray, list[Sentence]]:
    """-> (wave (S,) float32 at 16 kHz, its sentences in order, with their true speech boundaries)."""
    if which not in ("dev", "test"):
        raise ValueError(f"replay set must be dev or test, got {which!r}")
    clips = real_clips(which, cache, dev_manifest) + tts_clips(which)
    parts, sentences, pos = [np.zeros(SR // 2, np.float32)], [], SR // 2
    for i, (wave, text, source) in enumerate(clips):
        a, b = speech_bounds(wave)
        gap = np.zeros(round((1.0 + 0.1 * (i % 7)) * SR), np.float32)
        sentences.append(Sentence(text, source, pos, pos + b - a))
        parts += [np.asarray(wave[a:b], np.float32), gap]
        pos += b - a + len(gap)
    return np.concatenate(parts), sentences
