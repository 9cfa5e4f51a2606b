"""The typer app that every ``edge_ssl.cli.*`` module adds its commands to."""
import typer

app = typer.Typer(
    name="edge-ssl",
    help="On-device speech and vision: self-supervised pretraining -> distillation -> quantized "
         "ExecuTorch/ONNX artifacts -> live transcription.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _options(verbose: bool = typer.Option(False, "--verbose", "-v", help="Also show third-party warnings and INFO "
                                          "lines (torch, torchao, ONNX exporter, ExecuTorch), hidden by default.")
             ) -> None:
    from edge_ssl.logs import setup_logging

    setup_logging(verbose)
