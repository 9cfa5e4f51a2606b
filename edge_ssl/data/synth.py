"""The embedded offline corpus: labeled English speech rendered by every offline TTS voice on the machine.

Pipeline: WordNet example sentences -> a seeded plan (sentence, voice, rate, pitch, augmentation per
utterance) -> a process pool renders batches per voice -> 16 kHz mono 16-bit WAVs -> manifests.

Split by held-out voice, so the test set measures generalisation to unheard speakers:
  train.jsonl   train voices, train sentences
  valid.jsonl   train voices, held-out sentences
  test.jsonl    held-out voices (never in train), held-out sentences

Reproducible: every random choice of utterance ``i`` comes from ``default_rng([seed, i])`` and every tool
runs deterministically, so the same config gives the same manifests and the same audio bytes whatever the
number of workers. Complete-or-nothing: WAVs first, then the manifests, then ``corpus.json`` last (all
atomic); a re-run with the same config finds ``corpus.json`` and returns at once, and a killed build
resumes, keeping the WAVs already written.
"""
from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
import resource
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import soxr

from edge_ssl.asr.decode.tokenizer import normalize_text
from edge_ssl.audio import augment
from edge_ssl.audio.io import SAMPLE_RATE, AudioError, audio_info, save_wav
from edge_ssl.data.manifest import ManifestError, Utterance, read_manifest, write_manifest
from edge_ssl.data.sentences import WORDNET_DIR, wordnet_sentences
from edge_ssl.data.tts import CATALOGUE, DEFAULT_TEST_VOICES, Prompt, Voice, synthesize, unavailable_reason
from edge_ssl.errors import EdgeSSLError
from edge_ssl.atomic import atomic_write_text

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
FORMAT_VERSION = 2  # bump when the rendering changes, so older corpora are rebuilt, not reused


@dataclass
class SynthConfig:
    num_utterances: int = 3000  # all splits together: ~1.9 h of audio, 132 CPU s (~1.1 min on 2 cores)
    seed: int = 0               # decides sentences, voices, prosody and augmentation of every utterance
    voices: tuple[str, ...] = ()  # ENGINE:NAME ids; empty = every catalogue voice installed here
    test_voices: tuple[str, ...] = DEFAULT_TEST_VOICES  # held out: heard only in test
    valid_fraction: float = 0.05  # of utterances (and of sentences) for valid: train voices, new sentences
    test_fraction: float = 0.10   # of utterances (and of sentences) for test: new voices, new sentences
    max_sentences: int | None = None  # cap on the sentence pool (tiny corpora for tests)
    min_words: int = 3    # sentence length filter, in words
    max_words: int = 20
    rate_range: tuple[float, float] = (0.8, 1.25)  # speaking-rate factor, uniform
    pitch_cents: float = 250.0  # max pitch shift for voices without native pitch control (espeak: +-35 of 99)
    augment_prob: float = 0.4   # fraction of utterances given noise and/or reverb and/or telephone band
    snr_db: tuple[float, float] = (5.0, 25.0)  # additive noise SNR, uniform
    peak_db: tuple[float, float] = (-18.0, -1.0)  # output level (peak dBFS), uniform
    floor_snr_db: tuple[float, float] = (40.0, 60.0)  # faint white noise floor on every utterance
    sentences_dir: str = str(WORDNET_DIR)  # where the WordNet data.* files live

    def validate(self) -> None:
        if self.num_utterances < 3:
            raise EdgeSSLError(f"num_utterances must be at least 3 (one per split), got {self.num_utterances}")
        if not 0 < self.valid_fraction < 1 or not 0 < self.test_fraction < 1 \
                or self.valid_fraction + self.test_fraction >= 1:
            raise EdgeSSLError("valid_fraction and test_fraction must be in (0, 1) and sum to less than 1")
        if not self.test_voices:
            raise EdgeSSLError("test_voices is empty: the test split needs held-out voices")
        if not 0 < self.rate_range[0] <= self.rate_range[1]:
            raise EdgeSSLError(f"bad rate_range {self.rate_range}")


@dataclass(frozen=True)
class Item:
    """One planned utterance: everything needed to render it, recorded in the manifest."""
    index: int
    id: str
    split: str
    voice: str
    prompt: str
    rate: float                 # speaking-rate factor
    pitch: float                # in [-1, 1]: native pitch offset, or pitch * pitch_cents via sox
    effects: tuple[str, ...] = ()  # augmentations applied: noise / reverb / telephone
    params: dict[str, Any] = field(default_factory=dict, hash=False)  # their settings


# --- the plan -----------------------------------------------------------------------------------------

def resolve_voices(cfg: SynthConfig) -> tuple[list[str], list[str]]:
    """(train voices, test voices) among those installed: train = ``voices`` minus ``test_voices``.

    A voice named in ``cfg.voices`` that is missing is an error; missing catalogue voices (the default)
    and missing test voices are reported and left out.
    """
    asked = list(cfg.voices) or list(CATALOGUE)
    wanted = list(dict.fromkeys([*asked, *cfg.test_voices]))
    missing = {v: r for v in wanted if (r := unavailable_reason(Voice.parse(v)))}
    if cfg.voices and any(v in missing for v in cfg.voices):
        raise EdgeSSLError("voices not available: " + "; ".join(f"{v}: {r}" for v, r in missing.items()))
    for v, r in missing.items():
        log.warning("voice %s left out: %s", v, r)
    test = [v for v in cfg.test_voices if v not in missing]
    train = [v for v in asked if v not in missing and v not in test]
    if not test:
        raise EdgeSSLError(f"none of the test voices {list(cfg.test_voices)} is available here")
    if not train:
        raise EdgeSSLError("no voice left for training after holding out the test voices")
    return train, test


def _split_sizes(total: int, cfg: SynthConfig) -> dict[str, int]:
    n_valid = max(1, round(total * cfg.valid_fraction))
    n_test = max(1, round(total * cfg.test_fraction))
    return {"train": total - n_valid - n_test, "valid": n_valid, "test": n_test}


def _draw(rng: np.random.Generator, cfg: SynthConfig) -> tuple[float, float, tuple[str, ...], dict[str, Any]]:
    rate = float(rng.uniform(*cfg.rate_range))
    pitch = float(rng.uniform(-1.0, 1.0))
    params: dict[str, Any] = {"peak_db": round(float(rng.uniform(*cfg.peak_db)), 2),
                              "floor_snr_db": round(float(rng.uniform(*cfg.floor_snr_db)), 1),
                              "noise_seed": int(rng.integers(2**31))}
    effects: list[str] = []
    if rng.random() < cfg.augment_prob:
        picked = rng.random(3) < (0.6, 0.4, 0.3)  # noise, reverb, telephone
        if not picked.any():
            picked[rng.integers(3)] = True
        if picked[1]:
            effects.append("reverb")
            params["reverb"] = [round(float(rng.uniform(20, 80)), 1), round(float(rng.uniform(30, 100)), 1)]
        if picked[2]:
            effects.append("telephone")
        if picked[0]:
            effects.append("noise")
            params["noise"] = str(rng.choice(augment.NOISE_KINDS))
            params["snr_db"] = round(float(rng.uniform(*cfg.snr_db)), 1)
    return round(rate, 3), round(pitch, 3), tuple(effects), params


def build_plan(cfg: SynthConfig, train_voices: Sequence[str], test_voices: Sequence[str],
               sentences: Sequence[str]) -> list[Item]:
    """Assign sentences, voices and randomness to every utterance; pure function of its arguments."""
    rng = np.random.default_rng(cfg.seed)
    pool = [sentences[i] for i in rng.permutation(len(sentences))]
    if cfg.max_sentences:
        pool = pool[:cfg.max_sentences]
    if len(pool) < 3:
        raise EdgeSSLError(f"need at least 3 sentences for the three splits, have {len(pool)}")
    k_valid = max(1, round(len(pool) * cfg.valid_fraction))
    k_test = max(1, round(len(pool) * cfg.test_fraction))
    split_sentences = {"test": pool[:k_test], "valid": pool[k_test:k_test + k_valid],
                       "train": pool[k_test + k_valid:]}
    split_voices = {"train": list(train_voices), "valid": list(train_voices), "test": list(test_voices)}
    items: list[Item] = []
    for split, n in _split_sizes(cfg.num_utterances, cfg).items():
        sents, voices = split_sentences[split], split_voices[split]
        voice_seq = rng.permutation(np.resize(np.arange(len(voices)), n))  # balanced over voices
        for j in range(n):
            index = len(items)
            voice = voices[int(voice_seq[j])]
            rate, pitch, effects, params = _draw(np.random.default_rng([cfg.seed, index]), cfg)
            uid = f"{split}-{index:06d}-{voice.replace(':', '-').replace('+', '-')}"
            items.append(Item(index, uid, split, voice, sents[j % len(sents)], rate, pitch, effects, params))
    return items


# --- rendering (runs in worker processes) -------------------------------------------------------------

def _finish_wave(wave: np.ndarray, sr: int, item: Item, cfg: SynthConfig) -> np.ndarray:
    voice = Voice.parse(item.voice)
    if sr != SAMPLE_RATE:
        wave = soxr.resample(wave, sr, SAMPLE_RATE, quality="HQ").astype(np.float32)  # (S,)
    effects: list[str] = []
    if not voice.native_rate:
        effects += augment.tempo_effect(item.rate)
    if not voice.native_pitch and abs(item.pitch) > 0.02:
        effects += augment.pitch_effect(item.pitch * cfg.pitch_cents)
    if "reverb" in item.effects:
        effects += augment.reverb_effect(*item.params["reverb"])
    if "telephone" in item.effects:
        effects += augment.telephone_effect()
    wave = augment.sox_effects(wave, SAMPLE_RATE, effects)
    rng = np.random.default_rng(item.params["noise_seed"])
    if "noise" in item.effects:
        wave = augment.add_noise(wave, item.params["snr_db"], item.params["noise"], rng)
    # a faint floor everywhere: TTS pauses are digital zeros, which no microphone records
    wave = augment.add_noise(wave, item.params["floor_snr_db"], "white", rng)
    return augment.set_peak(wave, item.params["peak_db"])


def _render_batch(args: tuple[Path, SynthConfig, list[Item]]) -> list[tuple[str, int | None, str | None]]:
    """Render items of one voice: [(id, num_samples or None, error or None)]."""
    out_dir, cfg, items = args
    voice = Voice.parse(items[0].voice)
    try:
        waves = synthesize(voice, [Prompt(it.prompt, it.rate, it.pitch) for it in items])
    except EdgeSSLError as e:
        return [(it.id, None, str(e)) for it in items]
    results = []
    for it, (wave, sr) in zip(items, waves):
        try:
            if len(wave) < sr // 10 or not np.abs(wave).max() > 0:
                raise EdgeSSLError(f"{voice.id} produced no audible speech for {it.prompt!r}")
            wave = _finish_wave(wave, sr, it, cfg)
            save_wav(out_dir / "audio" / f"{it.id}.wav", wave)
            results.append((it.id, len(wave), None))
        except EdgeSSLError as e:
            results.append((it.id, None, str(e)))
    return results


_SLOW_START = ("festival", "piper")  # engines whose start-up (interpreter, ONNX model) dominates a sentence


def _batches(items: Sequence[Item], done: set[str]) -> list[list[Item]]:
    """Per-voice batches; slow-starting engines get bigger batches and go first for load balance."""
    by_voice: dict[str, list[Item]] = {}
    for it in items:
        if it.id not in done:
            by_voice.setdefault(it.voice, []).append(it)
    batches = []
    for voice, its in by_voice.items():
        size = 40 if Voice.parse(voice).engine in _SLOW_START else 16
        batches += [its[i:i + size] for i in range(0, len(its), size)]
    return sorted(batches, key=lambda b: (Voice.parse(b[0].voice).engine not in _SLOW_START, b[0].index))


# --- the corpus ---------------------------------------------------------------------------------------

def _params(cfg: SynthConfig, train: Sequence[str], test: Sequence[str]) -> dict[str, Any]:
    return {"format": FORMAT_VERSION, "config": json.loads(json.dumps(asdict(cfg))),
            "train_voices": list(train), "test_voices": list(test)}


def _existing_corpus(out_dir: Path, params: dict[str, Any]) -> dict[str, Any] | None:
    """The stats of a complete corpus built with ``params`` in ``out_dir``, else None."""
    meta = out_dir / "corpus.json"
    if not meta.is_file():
        return None
    try:
        stats = json.loads(meta.read_text())
        if stats.get("params") != params:
            log.info("%s holds a corpus built with other parameters: rebuilding", out_dir)
            return None
        for split in SPLITS:
            for utt in read_manifest(out_dir / f"{split}.jsonl"):
                if not utt.audio_path.is_file():
                    raise ManifestError(f"{utt.audio_path} missing")
    except (json.JSONDecodeError, ManifestError) as e:
        log.warning("%s: incomplete corpus (%s): rebuilding", out_dir, e)
        return None
    return stats


def _to_utterance(item: Item, path: Path, num_samples: int) -> Utterance:
    engine, name = item.voice.split(":", 1)
    extra = {"engine": engine, "voice": name, "rate": item.rate, "pitch": item.pitch,
             "augment": list(item.effects), **{k: v for k, v in item.params.items() if k != "noise_seed"},
             "prompt": item.prompt}
    return Utterance(item.id, path, num_samples, normalize_text(item.prompt), item.voice, extra)


def build_synth_corpus(out_dir: str | Path, cfg: SynthConfig | None = None, jobs: int | None = None,
                       progress: bool = True) -> dict[str, Any]:
    """Build (or find) the corpus in ``out_dir``; returns the stats written to ``corpus.json``."""
    cfg = cfg or SynthConfig()
    cfg.validate()
    out_dir = Path(out_dir)
    train_voices, test_voices = resolve_voices(cfg)
    params = _params(cfg, train_voices, test_voices)
    if (stats := _existing_corpus(out_dir, params)) is not None:
        log.info("%s already holds this corpus (%.2f h, built with the same parameters): reusing it",
                 out_dir, stats["hours"])
        return stats

    t0, cpu0 = time.perf_counter(), _cpu_seconds()
    sentences = wordnet_sentences(cfg.sentences_dir, cfg.min_words, cfg.max_words)
    items = build_plan(cfg, train_voices, test_voices, sentences)
    (out_dir / "audio").mkdir(parents=True, exist_ok=True)
    for stale in ["corpus.json", *(f"{s}.jsonl" for s in SPLITS)]:
        (out_dir / stale).unlink(missing_ok=True)  # from here on the folder reads as incomplete

    # Resume: WAVs are written atomically, so one present from a killed build of the same plan is whole.
    building = out_dir / ".building.json"
    lengths: dict[str, int] = {}
    if building.is_file() and json.loads(building.read_text()) == params:
        for it in items:
            wav = out_dir / "audio" / f"{it.id}.wav"
            if wav.is_file():
                try:
                    lengths[it.id] = audio_info(wav)[0]
                except AudioError:
                    wav.unlink()
        log.info("resuming an interrupted build: %d of %d utterances already rendered", len(lengths), len(items))
    atomic_write_text(building, json.dumps(params))

    jobs = jobs or os.cpu_count() or 1
    batches = _batches(items, set(lengths))
    failures: list[tuple[str, str]] = []
    log.info("rendering %d utterances with %d voices (%d train, %d held out) on %d processes",
             sum(map(len, batches)), len(train_voices) + len(test_voices), len(train_voices), len(test_voices), jobs)
    from tqdm import tqdm
    # spawn: workers inherit no threads or locks from the caller (which may hold torch's thread pools)
    with mp.get_context("spawn").Pool(jobs) as pool, \
            tqdm(total=len(items), initial=len(lengths), unit="utt", disable=not progress, desc="synth") as bar:
        for results in pool.imap_unordered(_render_batch, [(out_dir, cfg, b) for b in batches]):
            for uid, n, err in results:
                if err is None:
                    lengths[uid] = n
                else:
                    failures.append((uid, err))
                    if len(failures) <= 10:
                        log.warning("utterance %s failed: %s", uid, err)
            bar.update(len(results))
        pool.close()
        pool.join()  # reaped workers add their CPU time (and their engines') to RUSAGE_CHILDREN
    if failures:
        log.warning("%d of %d utterances failed and were left out", len(failures), len(items))
    elapsed, cpu = time.perf_counter() - t0, _cpu_seconds() - cpu0
    return _write_corpus(out_dir, items, lengths, failures, params, elapsed, cpu, jobs)


def _cpu_seconds() -> float:
    """CPU time of this process and its reaped children: a build cost that a busy machine does not inflate."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _write_corpus(out_dir: Path, items: Sequence[Item], lengths: dict[str, int], failures: list,
                  params: dict[str, Any], elapsed: float, cpu: float, jobs: int) -> dict[str, Any]:
    splits: dict[str, dict[str, Any]] = {}
    for split in SPLITS:
        utts = [_to_utterance(it, out_dir / "audio" / f"{it.id}.wav", lengths[it.id])
                for it in items if it.split == split and it.id in lengths]
        if not utts:
            raise EdgeSSLError(f"{out_dir}: the {split} split came out empty (every utterance failed; "
                               f"first error: {failures[0][1] if failures else 'none'})")
        write_manifest(utts, out_dir / f"{split}.jsonl")
        splits[split] = {
            "utterances": len(utts),
            "hours": round(sum(u.num_samples for u in utts) / SAMPLE_RATE / 3600, 4),
            "voices": sorted({u.speaker for u in utts}),
            "sentences": len({u.extra["prompt"] for u in utts}),
            "augmented": sum(bool(u.extra["augment"]) for u in utts),
        }
    hours = sum(s["hours"] for s in splits.values())
    stats = {
        "params": params,
        "hours": round(hours, 4),
        "splits": splits,
        "failed": [{"id": uid, "error": err} for uid, err in failures],
        "build": {"seconds": round(elapsed, 1), "jobs": jobs, "cpu_seconds": round(cpu, 1),
                  "hours_per_minute": round(hours / (elapsed / 60), 3) if elapsed > 0 else None,
                  # what 2 otherwise idle cores would do: the machine-independent figure
                  "hours_per_minute_2_cores": round(hours / (cpu / 2 / 60), 3) if cpu > 0 else None},
    }
    atomic_write_text(out_dir / "corpus.json", json.dumps(stats, indent=1) + "\n")  # last: marks it complete
    (out_dir / ".building.json").unlink(missing_ok=True)
    keep = {f"{it.id}.wav" for it in items}
    for wav in (out_dir / "audio").glob("*.wav"):
        if wav.name not in keep:
            wav.unlink()  # left from an earlier corpus with other parameters
    log.info("%.2f h of audio in %.1f min = %.2f h/min (%d utterances: %s); %.0f CPU s = %.2f h/min on 2 idle "
             "cores", hours, elapsed / 60, stats["build"]["hours_per_minute"] or 0,
             sum(s["utterances"] for s in splits.values()),
             ", ".join(f"{k} {v['utterances']}" for k, v in splits.items()), cpu,
             stats["build"]["hours_per_minute_2_cores"] or 0)
    return stats
