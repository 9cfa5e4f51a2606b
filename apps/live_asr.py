#!/usr/bin/env python3
"""Live speech recognition from a microphone, start to finish in one page (sherpa-onnx's mic examples' shape).

A recorder callback fills a queue; the main loop feeds the audio to the VAD + endpointer; while someone
speaks, the growing segment is re-decoded every ~200 ms (partial); after a short pause its text is committed
(final) and later speech is appended to the same line. The same library code as ``edge-ssl listen``,
without the options.

    python apps/live_asr.py --model runs/ctc_tiny/model.safetensors      # or an exported .onnx / .pte
    python apps/live_asr.py --model m.onnx --device 2                    # --list-devices shows the indices

No sound card? ``edge_ssl.audio.sources.make_virtual_microphone`` plays a file as one (docs/apps.md).
"""
import argparse
import sys

from edge_ssl.asr.stream.endpoint import live_endpoint
from edge_ssl.asr.stream.session import Final, open_session
from edge_ssl.audio.sources import MicSource, format_devices, list_input_devices
from edge_ssl.errors import EdgeSSLError


def main() -> None:
    ap = argparse.ArgumentParser(description="Live speech recognition from a microphone.")
    ap.add_argument("--model", help="CTC model: .safetensors, .onnx or .pte")
    ap.add_argument("--device", help="input device index or name (default: the system's)")
    ap.add_argument("--list-devices", action="store_true")
    ap.add_argument("--seconds", type=float, help="stop after this much audio (a virtual mic never ends)")
    args = ap.parse_args()

    if args.list_devices:
        print(format_devices(list_input_devices()))
        return
    if not args.model:
        sys.exit("error: pass --model (train one with `edge-ssl finetune`, export with `edge-ssl export`)")

    session = open_session(args.model, endpoint=live_endpoint())  # recognizer + Silero VAD + endpoint rules
    mic = MicSource(args.device, session.sr, max_seconds=args.seconds)  # callback -> queue -> model rate
    print(f"listening on {mic.device['name']} ({mic.in_rate} Hz); Ctrl-C to stop", file=sys.stderr)

    line = ""                                           # committed text of this line: only ever appended to
    with mic:
        try:
            for chunk in mic:                           # the main loop: never inside the audio callback
                for event in session.accept(chunk.samples, chunk.arrived):
                    if isinstance(event, Final):        # committed after a short pause
                        if not event.segment.joins and line:
                            print(f"\r\033[K{line}")  # speech resumed after a long pause: a new line
                            line = ""
                        line = f"{line} {event.text}".strip()
                        print(f"\r\033[K{line}", end="", flush=True)
                    else:                               # partial: drawn after the committed text
                        print(f"\r\033[K{line} \033[33m{event.text}\033[0m", end="", flush=True)
        except KeyboardInterrupt:
            pass
    for event in session.finish():                      # the utterance in progress at the end, if any
        if not event.segment.joins and line:
            print(f"\r\033[K{line}")
            line = ""
        line = f"{line} {event.text}".strip()
    print(f"\r\033[K{line}")
    print(session.stats.format(), file=sys.stderr)
    print(f"input overflows: {mic.overflows}, dropped frames: {mic.dropped}", file=sys.stderr)


if __name__ == "__main__":
    try:
        main()
    except EdgeSSLError as e:
        sys.exit(f"error: {e}")
