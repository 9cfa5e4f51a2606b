#!/usr/bin/env python3
"""Image-feature demo: embed a folder of images with a pretrained encoder and look at what it learned.

    python apps/image_features.py runs/mae_tiny/mae.safetensors                 # held-out digits
    python apps/image_features.py encoder.pte --images photos/ --query me.jpg   # your images, exported model

The model is a ``.safetensors`` file from ``edge-ssl pretrain mae`` (mae or encoder) or an artifact from
``edge-ssl export executorch|onnx`` (.pte / .onnx). Writes into --out:
  retrieval.png        each query and its nearest neighbours (green/red: same/different label)
  pca.png | tsne.png   2-D map of the features coloured by label
  reconstructions.png  original | masked | reconstruction (MAE files only)
  table.md / results.json   k-NN (k=20, T=0.07, DINO; on L2-normalised and on standardised features) and
                            linear-probe accuracy on held-out labeled images, beside the raw pixels
  retrieval.png and pca_pixels.png show the raw pixels' neighbours and map beside the model's
Same as ``edge-ssl embed``.
"""
from __future__ import annotations

import argparse
import logging
import sys

from edge_ssl.errors import EdgeSSLError
from edge_ssl.vision.embed import run_embed, score_table


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", help=".safetensors (mae/vit), .pte or .onnx")
    ap.add_argument("--images", help="image folder (sub-folders = labels), builtin:lfw or builtin:digits8x8; "
                                     "default: builtin held-out digits")
    ap.add_argument("--query", action="append", default=[], help="query image for the retrieval grid (repeatable)")
    ap.add_argument("--out", default="runs/image_features", help="output folder")
    ap.add_argument("-k", type=int, default=8, help="neighbours per query in the grid")
    ap.add_argument("--baseline", choices=["random"], help="also score the same encoder randomly initialised")
    ap.add_argument("--projection", choices=["pca", "tsne"], default="pca")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        res = run_embed(args.model, args.out, args.images, args.query, args.k, args.baseline, args.projection)
    except EdgeSSLError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for p in res["unreadable"]:
        print(f"skipped: {p}", file=sys.stderr)
    print(score_table(res["scores"]), end="")
    print(f"pictures and tables in {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
