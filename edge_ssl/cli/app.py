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
