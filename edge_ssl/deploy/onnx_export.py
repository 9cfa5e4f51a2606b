"""ONNX: export the wrapper (speech: dynamic sample axis; images: static) and write the metadata as
``metadata_props``."""
from __future__ import annotations

import logging
from pathlib import Path

import torch

from edge_ssl.deploy.quantize import set_onnx_metadata
from edge_ssl.deploy.wrappers import ExportWrapper
from edge_ssl.atomic import atomic_path

log = logging.getLogger(__name__)

OPSET = 18


def export_onnx(wrapper: ExportWrapper, out: str | Path) -> None:
    """Write ``wrapper`` as an ONNX model atomically: input ``wave`` (1, S) -> (1, T, V), or ``images``
    (1, C, S, S) -> (1, D)."""
    import onnx

    example = wrapper.onnx_example_inputs()
    program = torch.onnx.export(wrapper, example, dynamo=True, opset_version=OPSET, input_names=[wrapper.input_name],
                                output_names=[wrapper.meta.output], dynamic_shapes=wrapper.dynamic_shapes(),
                                optimize=True, verbose=False)
    model = program.model_proto
    set_onnx_metadata(model, wrapper.meta.to_strings())
    with atomic_path(out) as tmp:
        onnx.save(model, str(tmp))
