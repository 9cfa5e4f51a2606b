"""Quantization for each backend (the fast paths on this no-VNNI CPU are in shared/STACK.md pitfall 3):

- ``.pte``: PT2E with the XNNPACK quantizer, "static" (int8 activations calibrated on real audio) or
  "dynamic" (activations quantized per run). Only Linear and Conv are annotated: norms, softmax and GELU
  stay fp32 (int8 LayerNorm arithmetic costs accuracy and buys nothing); ``keep_frontend_fp32`` leaves the
  first conv block (the conv on the raw wave or log-mel, with its norm) in fp32: its output spans the input's
  dynamic range before any normalisation. The later front-end convs, ~99% of a wav2vec 2.0-style
  front-end's FLOPs, are int8: XNNPACK's int8 conv ran ~4x faster than fp32 here (ETDump, no VNNI).
- ``.onnx``: ONNX Runtime dynamic quantization of MatMul only, per-channel QInt8 weights with ``reduce_range=True``.
- eager: torchao configs, applied at load time (``edge_ssl.runtime.eager.apply_torchao``).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable

import torch

from edge_ssl.deploy.wrappers import ExportWrapper, export_checked
from edge_ssl.errors import EdgeSSLError

log = logging.getLogger(__name__)

PTE_SCHEMES = ("none", "static", "dynamic")
FRONTEND = "model.encoder.feature_extractor"  # module path of the conv front-end inside a SpeechWrapper
FIRST_CONV = FRONTEND + ".conv_layers.0"      # its first conv block: on the raw wave (or log-mel)
# The feature projection (512 -> C, ~2% of the DistilHuBERT-shape weights) stays fp32: its int8 output
# feeding an fp32 positional conv failed to lower ("Weight and Input should both be quantized", executorch
# 1.5.1); with the conv int8 as well it may lower, not yet checked.
# The log-mel front-end is fixed DSP over a 90 dB power range that int8 cannot hold.
ALWAYS_FP32 = ("model.encoder.feature_projection", "model.encoder.feature_extractor.logmel")


def _fp32_prefixes(keep_frontend_fp32: bool) -> tuple[str, ...]:
    return ALWAYS_FP32 + ((FIRST_CONV,) if keep_frontend_fp32 else ())


def _in_fp32_module(node: torch.fx.Node, prefixes: tuple[str, ...]) -> bool:
    paths = [str(path) for path, _ in node.meta.get("nn_module_stack", {}).values()]
    return any(p == prefix or p.startswith(prefix + ".") for p in paths for prefix in prefixes)


def _weighted_op_filter(keep_frontend_fp32: bool):
    weighted = {torch.ops.aten.linear.default, torch.ops.aten.conv1d.default, torch.ops.aten.conv2d.default}
    fp32 = _fp32_prefixes(keep_frontend_fp32)

    def keep(node: torch.fx.Node) -> bool:
        if node.op != "call_function":
            return True  # the annotator also asks about a pattern's weight/bias placeholders
        if node.target not in weighted:
            return False
        return not _in_fp32_module(node, fp32)

    return keep


def _pin_fp32(graph: torch.fx.GraphModule, keep_frontend_fp32: bool) -> int:
    """Mark every op of the fp32 modules as annotated with no quantization, so that no annotator touches it.
    The filter alone is not enough: the XNNPACK quantizer annotates every ``cat`` regardless of it (Whisper's
    reflection pad would quantize the raw wave to int8) and propagates int8 through views. Returns the count."""
    from torchao.quantization.pt2e.quantizer.quantizer import Q_ANNOTATION_KEY, QuantizationAnnotation

    fp32, n = _fp32_prefixes(keep_frontend_fp32), 0
    for node in graph.graph.nodes:
        if node.op == "call_function" and _in_fp32_module(node, fp32):
            node.meta[Q_ANNOTATION_KEY] = QuantizationAnnotation(_annotated=True)
            n += 1
    return n


def quantize_pt2e(wrapper: ExportWrapper, scheme: str, calibration: Iterable[torch.Tensor] = (),
                  keep_frontend_fp32: bool = True) -> torch.export.ExportedProgram:
    """Export ``wrapper``, quantize it with PT2E for XNNPACK, and re-export. ``calibration``: (1, S) waves."""
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer, get_symmetric_quantization_config)
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    if scheme not in ("static", "dynamic"):
        raise EdgeSSLError(f"unknown .pte quantization {scheme!r}; choose from {', '.join(PTE_SCHEMES)}")
    graph = export_checked(wrapper).module()
    quantizer = XNNPACKQuantizer()
    quantizer.set_global(get_symmetric_quantization_config(is_per_channel=True, is_dynamic=scheme == "dynamic"))
    quantizer.set_filter_function(_weighted_op_filter(keep_frontend_fp32))
    _pin_fp32(graph, keep_frontend_fp32)
    prepared = prepare_pt2e(graph, quantizer)
    if scheme == "static":
        n = 0
        with torch.no_grad():
            for wave in calibration:
                prepared(wave)
                n += 1
        if n == 0:
            raise EdgeSSLError("static quantization needs calibration audio (--calibration MANIFEST)")
        log.info("calibrated on %d utterances", n)
    converted = convert_pt2e(prepared)
    return export_checked(wrapper, converted)


def quantize_onnx(fp32_path: str | Path, out_path: str | Path, metadata: dict[str, str]) -> None:
    """ORT dynamic int8 on MatMul (QInt8 per output channel, reduce_range) of ``fp32_path`` -> ``out_path``
    (atomic). Per channel: on the bundled Whisper tiny.en CTC model it costs 0.21 CER points, per tensor 0.59."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from edge_ssl.atomic import atomic_path

    with atomic_path(out_path) as tmp:
        pre = tmp.with_name(tmp.name + ".pre.onnx")
        try:
            quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=True)
            quantize_dynamic(str(pre), str(tmp), op_types_to_quantize=["MatMul"], weight_type=QuantType.QInt8,
                             reduce_range=True, per_channel=True, nodes_to_exclude=_fp32_onnx_nodes(pre))
        finally:
            pre.unlink(missing_ok=True)
        model = onnx.load(str(tmp))
        set_onnx_metadata(model, metadata)
        onnx.save(model, str(tmp))


def _fp32_onnx_nodes(path: Path) -> list[str]:
    """MatMuls (and Gemms, which ORT quantizes as MatMuls) that stay fp32, found by structure because the
    exporter folds module names away:
    - those feeding a Log (through Adds, or the floor Clip/Max of Whisper's log10(max(mel, 1e-10))): the
      log-mel filterbank, whose input power spans ~90 dB;
    - those on the raw input (reached from a graph input through slices and reshapes only): Whisper's
      reflection pad, a permutation of audio samples that int8 would round."""
    import onnx

    graph = onnx.load(str(path)).graph
    producer = {out: n for n in graph.node for out in n.output}
    inputs = {i.name for i in graph.input}
    keep = []
    for log_node in (n for n in graph.node if n.op_type == "Log"):
        node = producer.get(log_node.input[0])
        while node is not None and node.op_type in ("Add", "Clip", "Max"):
            node = next((producer[i] for i in node.input if i in producer), None)
        if node is not None and node.op_type in ("MatMul", "Gemm"):
            keep.append(node.name)

    def raw(name: str) -> bool:
        node = producer.get(name)
        if node is None:
            return name in inputs
        return node.op_type in ("Slice", "Reshape", "Squeeze", "Unsqueeze", "Transpose") and raw(node.input[0])

    keep += [n.name for n in graph.node if n.op_type in ("MatMul", "Gemm") and raw(n.input[0])]
    # ORT's dynamic quantizer first rewrites each Gemm into a MatMul named <gemm>_MatMul (+ Add), then excludes
    return keep + [f"{name}_MatMul" for name in keep]


def set_onnx_metadata(model, metadata: dict[str, str]) -> None:
    """Replace the model's ``metadata_props`` with ``metadata`` (all values strings)."""
    del model.metadata_props[:]
    for k, v in sorted(metadata.items()):
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
