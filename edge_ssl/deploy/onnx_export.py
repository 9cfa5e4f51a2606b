"""ONNX: export the wrapper with a dynamic sample axis and write the metadata as ``metadata_props``."""
from __future__ import annotations

import logging
from pathlib import Path

import torch

from edge_ssl.deploy.quantize import set_onnx_metadata
from edge_ssl.deploy.wrappers import ExportWrapper
from edge_ssl.io import atomic_path

log = logging.getLogger(__name__)

OPSET = 18


def export_onnx(wrapper: ExportWrapper, out: str | Path) -> None:
    """Write ``wrapper`` as an ONNX model (input ``wave`` (1, S), output (1, T, V)) atomically."""
    import onnx

    example = wrapper.example_inputs(wrapper.meta.min_samples * 4)
    program = torch.onnx.export(wrapper, example, dynamo=True, opset_version=OPSET, input_names=["wave"],
                                output_names=[wrapper.meta.output], dynamic_shapes=wrapper.dynamic_shapes(),
                                optimize=True, verbose=False)
    model = program.model_proto
    set_onnx_metadata(model, wrapper.meta.to_strings())
    with atomic_path(out) as tmp:
        onnx.save(model, str(tmp))
