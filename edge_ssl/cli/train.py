"""Training commands: ``pretrain <method>``, ``distill``, ``finetune``. Each resolves a recipe config and
runs it; under ``torchrun --nproc_per_node N -m edge_ssl ...`` the same command trains with DDP."""
from __future__ import annotations

import importlib

import typer

from edge_ssl.cli.app import app

CONFIG_HELP = "Config file, or a name under edge_ssl/recipes/configs (e.g. hubert/tiny)."
OVERRIDES_HELP = "key=value overrides, e.g. train.max_steps=100 optim.lr=1e-4"

# method -> recipe module under edge_ssl.recipes (each defines Config and train(cfg, info))
PRETRAIN_RECIPES = {
    "wav2vec2": "pretrain_wav2vec2",
    "hubert": "pretrain_hubert",
    "data2vec": "pretrain_data2vec",
    "mae": "pretrain_mae",
    "simclr": "pretrain_simclr",
}


def run_named_recipe(module: str, config: str | None, overrides: list[str]) -> None:
    from edge_ssl.recipes.runner import run_recipe
    from edge_ssl.training.distributed import process_rank

    recipe = importlib.import_module(f"edge_ssl.recipes.{module}")
    out = run_recipe(recipe.Config, recipe.train, config, overrides or [])
    if process_rank() == 0:  # under torchrun, one line for the run, not one per rank
        typer.echo(f"done: {out}")


@app.command(context_settings={"help_option_names": ["-h", "--help"]})
def pretrain(
    method: str = typer.Argument(..., help=f"One of: {', '.join(PRETRAIN_RECIPES)}."),
    config: str = typer.Option(None, "--config", "-c", help=CONFIG_HELP),
    overrides: list[str] = typer.Argument(None, help=OVERRIDES_HELP),
) -> None:
    """Self-supervised pretraining of a teacher (wav2vec 2.0, HuBERT, data2vec) or a ViT (MAE, SimCLR)."""
    from edge_ssl.errors import EdgeSSLError

    if method not in PRETRAIN_RECIPES:
        raise EdgeSSLError(f"unknown pretraining method {method!r}; choose from {', '.join(PRETRAIN_RECIPES)}")
    run_named_recipe(PRETRAIN_RECIPES[method], config, overrides)
