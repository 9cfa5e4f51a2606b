"""``edge-ssl listen``: live transcription from a microphone (or a file replayed as one), shown with rich."""
from __future__ import annotations

from pathlib import Path

import typer

from edge_ssl.asr.stream.endpoint import LIVE_COMMIT_SILENCE, LIVE_SPEECH_PAD
from edge_ssl.cli.app import app


class LiveDisplay:
    """Committed text is shown at once and only ever appended to; the partial of the speech in progress follows it.

    A final whose segment ``joins`` the previous one (speech resumed after a short pause) extends the same
    line; any other final starts a new line. On a terminal the open line and the partial (yellow) are a rich
    ``Live`` area, and a line is printed for good when the next one starts (or on exit). Otherwise (a pipe, a
    log) every final is printed as it comes, continuations prefixed with ``+``, and partials as ``..`` lines,
    so nothing relies on cursor movement.
    """

    def __init__(self, sample_rate: int, console=None):
        from rich.console import Console

        self.console = console or Console(highlight=False)
        self.sr = sample_rate
        self.live = None
        self.last_partial = ""
        self.line: list = []  # finals of the open line, in order

    def __enter__(self) -> "LiveDisplay":
        if self.console.is_terminal:
            from rich.live import Live
            from rich.text import Text

            self.live = Live(Text(""), console=self.console, auto_refresh=False, transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.live is not None:
            self._print_line()
            self.live.__exit__(*exc)

    @property
    def text(self) -> str:
        """The committed text of the open line."""
        return " ".join(f.text for f in self.line if f.text)

    def _line_text(self, finals: list, cont: bool = False):
        from rich.text import Text

        a, b = finals[0].segment.start / self.sr, finals[-1].segment.end / self.sr
        lat = finals[-1].latency
        return Text.assemble("+ " if cont else "", (f"[{a:7.2f} - {b:7.2f}] ", "cyan"),
                             " ".join(f.text for f in finals if f.text) or "…",
                             (f"  ({(lat.total - lat.display) * 1000:.0f} ms)", "dim"))

    def _print_line(self) -> None:
        from rich.text import Text

        if self.line:
            self.live.update(Text(""), refresh=True)  # clear the live area first, or printing redraws it
            self.console.print(self._line_text(self.line))
        self.line = []

    def _redraw(self) -> None:
        from rich.text import Text

        shown = self._line_text(self.line) if self.line else Text("")
        if self.last_partial:
            shown.append(("\n" if self.line else "") + "… " + self.last_partial, style="yellow")
        self.live.update(shown, refresh=True)

    def __call__(self, ev) -> None:
        from rich.text import Text

        from edge_ssl.asr.stream.session import Final

        if isinstance(ev, Final):
            self.last_partial = ""
            if self.live is None:
                self.console.print(self._line_text([ev], cont=ev.segment.joins and bool(self.line)))
                self.line = (self.line if ev.segment.joins else []) + [ev]
                return
            if not ev.segment.joins:
                self._print_line()
            self.line.append(ev)
            self._redraw()
        elif ev.text != self.last_partial:
            self.last_partial = ev.text
            if self.live is not None:
                self._redraw()
            else:
                self.console.print(Text(".. " + ev.text, style="yellow"))


@app.command(context_settings={"help_option_names": ["-h", "--help"]})
def listen(
    model: str = typer.Option(None, "--model", "-m", help="CTC model artifact: .safetensors, .onnx or .pte "
                              "(default: the bundled English int8 .pte)."),
    device: str = typer.Option(None, "--device", "-d", help="Input device index or name part (default: the system's)."),
    list_devices: bool = typer.Option(False, "--list-devices", help="List input devices and exit."),
    replay: str = typer.Option(None, "--replay", help="Replay this audio file as the microphone."),
    speed: float = typer.Option(1.0, help="--replay pace: 1 = real time, 4 = 4x, 0 = as fast as possible."),
    seconds: float = typer.Option(None, help="Stop after this many seconds of audio (default: until Ctrl-C)."),
    mode: str = typer.Option("redecode", help="redecode: re-run the model on the growing segment; "
                                              "chunked: encoder over chunks with left/right context."),
    vad: str = typer.Option("auto", help="auto (Silero if installed, else energy), silero or energy."),
    trailing_silence: float = typer.Option(0.5, help="Seconds of silence after speech that end a line of text."),
    commit_silence: float = typer.Option(LIVE_COMMIT_SILENCE, help="Seconds of sure pause after which the text "
                                         "so far is shown for good (appended to if speech resumes); 0: off, "
                                         "text is shown at the end of the line."),
    min_speech: float = typer.Option(0.25, help="Speech shorter than this (s) is ignored."),
    max_utterance: float = typer.Option(20.0, help="Utterances are cut at this length (s)."),
    partial_interval: float = typer.Option(0.2, help="Seconds of audio between partial results."),
    threads: int = typer.Option(None, help="Model threads (default: the runtime's)."),
    max_lag: float = typer.Option(1.0, help="Skip partials while processing lags capture by more than this (s); "
                                            "inf: never (e.g. for an unpaced virtual microphone)."),
) -> None:
    """Live transcription: partial text while you speak, the final text at each endpoint, latency on exit."""
    from edge_ssl.asr.stream.endpoint import live_endpoint
    from edge_ssl.asr.stream.session import StreamConfig, open_session, run_stream
    from edge_ssl.asr.stream.vad import VadConfig
    from edge_ssl.audio.sources import FileSource, MicSource, format_devices, list_input_devices, resolve_input_device
    from edge_ssl.errors import EdgeSSLError

    if list_devices:
        typer.echo("input devices (* = default):\n" + format_devices(list_input_devices()))
        return
    from edge_ssl.assets import model_or_bundled

    model = str(model_or_bundled(model))
    if not Path(model).exists():
        raise EdgeSSLError(f"no model at {model}: pass --model PATH (a CTC model .safetensors, or an exported "
                           ".onnx/.pte); `edge-ssl finetune -c ctc/tiny` trains one")
    if not replay:
        resolve_input_device(device)  # a bad --device fails before the model is loaded
    try:
        endpoint = live_endpoint(trailing_silence=trailing_silence, min_speech=min_speech, max_utterance=max_utterance,
                                 commit_silence=commit_silence or None,
                                 speech_pad=min(LIVE_SPEECH_PAD, commit_silence or trailing_silence))
        endpoint.validate()
        session = open_session(model, VadConfig(kind=vad), endpoint,
                               StreamConfig(mode=mode, partial_interval=partial_interval, max_lag=max_lag), threads)
    except ValueError as e:
        raise EdgeSSLError(str(e)) from None
    sr = session.sr
    source = FileSource(replay, sr, speed=speed) if replay else \
        MicSource(device, sr, max_seconds=seconds)
    display = LiveDisplay(sr)
    what = f"replaying {replay} at {speed:g}x" if replay else f"listening on {source.device['name']} " \
        f"({source.in_rate} Hz -> {sr} Hz)"
    display.console.print(f"[dim]{what}; {session.seg.vad.detector.name} VAD, {mode} decoding; Ctrl-C to stop[/dim]")
    try:
        with source, display:
            run_stream(source, session, display)
    except KeyboardInterrupt:
        display.console.print("[dim]stopped[/dim]")
    display.console.print(session.stats.format())
    display.console.print(f"input overflows: {source.overflows}; dropped input frames: {source.dropped}; "
                          f"partials skipped (behind real time): {session.partials_skipped}")
