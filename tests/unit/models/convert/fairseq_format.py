"""Test-only: write a fairseq-format checkpoint from a transformers model.

fairseq will not install here, so the tests build its checkpoints from a random HF model by the inverse of
the fairseq -> HF mapping that transformers' ``convert_*_original_pytorch_checkpoint_to_pytorch.py``
scripts document, with the config as fairseq writes it: an omegaconf DictConfig (fairseq >= 0.10), a plain
dict (newer fairseq), or the older flat ``args`` Namespace.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import torch
from omegaconf import OmegaConf

HF_TO_FAIRSEQ = [
    (r"feature_extractor\.conv_layers\.(\d+)\.conv\.", r"feature_extractor.conv_layers.\1.0."),
    (r"feature_projection\.layer_norm\.", "layer_norm."),
    (r"feature_projection\.projection\.", "post_extract_proj."),
    (r"masked_spec_embed", "mask_emb"),
    (r"encoder\.pos_conv_embed\.conv\.parametrizations\.weight\.original0", "encoder.pos_conv.0.weight_g"),
    (r"encoder\.pos_conv_embed\.conv\.parametrizations\.weight\.original1", "encoder.pos_conv.0.weight_v"),
    (r"encoder\.pos_conv_embed\.conv\.bias", "encoder.pos_conv.0.bias"),
    (r"encoder\.pos_conv_embed\.layers\.(\d+)\.conv\.", r"encoder.pos_conv.\1.0."),
    (r"encoder\.layers\.(\d+)\.attention\.", r"encoder.layers.\1.self_attn."),
    (r"encoder\.layers\.(\d+)\.layer_norm\.", r"encoder.layers.\1.self_attn_layer_norm."),
    (r"encoder\.layers\.(\d+)\.feed_forward\.intermediate_dense\.", r"encoder.layers.\1.fc1."),
    (r"encoder\.layers\.(\d+)\.feed_forward\.output_dense\.", r"encoder.layers.\1.fc2."),
]
NAMES = {"wav2vec2": "wav2vec2", "hubert": "hubert", "data2vec-audio": "data2vec_audio"}


def fairseq_state(hf_model) -> dict[str, torch.Tensor]:
    """HF weights under fairseq names (a *ForCTC model: ``w2v_encoder.w2v_model.*`` + ``w2v_encoder.proj``)."""
    cfg = hf_model.config
    ctc = hasattr(hf_model, "lm_head")
    base = getattr(hf_model, hf_model.base_model_prefix) if ctc else hf_model
    layer_mode = cfg.model_type == "data2vec-audio" or cfg.feat_extract_norm == "layer"
    out = {}
    for name, value in base.state_dict().items():
        if m := re.fullmatch(r"feature_extractor\.conv_layers\.(\d+)\.layer_norm\.(weight|bias)", name):
            # fairseq: (conv, dropout, GroupNorm, GELU) or (conv, dropout, (T, LayerNorm, T), GELU)
            new = f"feature_extractor.conv_layers.{m[1]}.2.{'1.' if layer_mode else ''}{m[2]}"
        else:
            new = name
            for pattern, repl in HF_TO_FAIRSEQ:
                new = re.sub(pattern, repl, new)
        out[("w2v_encoder.w2v_model." if ctc else "") + new] = value.clone()
    if ctc:
        out["w2v_encoder.proj.weight"] = hf_model.lm_head.weight.detach().clone()
        out["w2v_encoder.proj.bias"] = hf_model.lm_head.bias.detach().clone()
    else:  # pretraining heads a real checkpoint carries
        out["quantizer.vars"] = torch.randn(1, 640, 128)
        out["project_q.weight"] = torch.randn(256, 256)
        out["final_proj.weight"] = torch.randn(256, cfg.hidden_size)
        out["label_embs_concat"] = torch.randn(504, 256)
    return out


def fairseq_model_cfg(hf_config) -> dict:
    """The fairseq model config fields for the same architecture."""
    c = hf_config
    convs = list(zip(c.conv_dim, c.conv_kernel, c.conv_stride))
    layer_mode = c.model_type == "data2vec-audio" or c.feat_extract_norm == "layer"
    m = dict(_name=NAMES[c.model_type], extractor_mode="layer_norm" if layer_mode else "default",
             conv_feature_layers=" + ".join(f"[{tuple(x)}]" for x in convs),
             conv_bias=c.conv_bias, encoder_layers=c.num_hidden_layers, encoder_embed_dim=c.hidden_size,
             encoder_ffn_embed_dim=c.intermediate_size, encoder_attention_heads=c.num_attention_heads,
             activation_fn="gelu", layer_norm_first=bool(getattr(c, "do_stable_layer_norm", False)),
             conv_pos_groups=c.num_conv_pos_embedding_groups, dropout=0.1, attention_dropout=0.1,
             activation_dropout=0.0, dropout_input=0.1, encoder_layerdrop=0.05, final_dim=256)
    if c.model_type == "data2vec-audio":  # fairseq: depth convs of kernel max(3, conv_pos // depth)
        depth = c.num_conv_pos_embeddings
        m.update(pos_conv_depth=depth, conv_pos=c.conv_pos_kernel_size * depth + depth - 1)
    else:
        m.update(conv_pos=c.num_conv_pos_embeddings, pos_conv_depth=1)
    return m


def write_checkpoint(hf_model, path: Path, form: str, legacy_zip: bool = False, task_state: dict | None = None,
                     normalize: bool = False):
    """form: 'dictconfig' | 'dict' | 'namespace'. A *ForCTC model is written as a CTC fine-tune. ``normalize``:
    the task's (the model was trained on per-utterance normalised audio)."""
    m = fairseq_model_cfg(hf_model.config)
    ctc = hasattr(hf_model, "lm_head")
    if form == "namespace":
        m["arch"] = m.pop("_name")
        args = argparse.Namespace(**m, task="audio_pretraining", lr=[0.0005], update_freq=[1], normalize=normalize)
        if ctc:
            args = argparse.Namespace(arch="wav2vec_ctc", w2v_path="/x/pretrained.pt", w2v_args=args,
                                      task="audio_finetuning", dropout=0.0, final_dropout=0.0, layerdrop=0.1,
                                      normalize=normalize)
        ckpt = {"args": args}
    else:
        model = m
        if ctc:
            model = {"_name": "wav2vec_ctc", "w2v_path": "/x/pretrained.pt", "final_dropout": 0.0,
                     "dropout": 0.0, "layerdrop": 0.1,
                     "w2v_args": {"common": {"fp16": True}, "model": m,
                                  "task": {"_name": "audio_pretraining", "normalize": normalize}}}
        cfg = {"_name": None, "common": {"fp16": True, "seed": 1}, "model": model,
               "task": {"_name": "audio_finetuning" if ctc else "audio_pretraining", "normalize": normalize},
               "checkpoint": {"save_dir": "checkpoints", "best_checkpoint_metric": "${criterion._name}"},
               "criterion": {"_name": "ctc" if ctc else "hubert"}}
        ckpt = {"args": None, "cfg": OmegaConf.create(cfg) if form == "dictconfig" else cfg}
    ckpt.update(model=fairseq_state(hf_model), optimizer_history=[{"criterion_name": "ctc", "num_updates": 10}],
                extra_state={"epoch": 3, "best": 1.5}, last_optimizer_state={"state": {0: {"step": torch.tensor(1.0)}}})
    if task_state is not None:
        ckpt["task_state"] = task_state
    torch.save(ckpt, path, _use_new_zipfile_serialization=not legacy_zip)
    return path
