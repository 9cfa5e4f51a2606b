"""``listen``'s display: committed text is only ever appended to; a final that does not join starts a new line."""
import io
import re

import pytest
from rich.console import Console

from edge_ssl.asr.stream.endpoint import Segment
from edge_ssl.asr.stream.session import Final, Latency, Partial
from edge_ssl.cli.apps import LiveDisplay

SR = 16000


def final(text, start, end, joins):
    return Final(text, Segment(start * SR, end * SR, end * SR, end * SR, "silence", joins), Latency(0.1, 0.0, 0.01))


EVENTS = [Partial("goo", 0), final("good morning", 0, 1, False), Partial("every", SR), final("everyone", 1, 2, True),
          Partial("se", 3 * SR), final("see you", 3, 4, False)]


@pytest.fixture
def display(request):
    out = io.StringIO()
    return LiveDisplay(SR, Console(file=out, force_terminal=request.param, width=200, highlight=False)), out


@pytest.mark.parametrize("display", [True], indirect=True)
def test_terminal_line_grows_by_appending_only(display):
    d, out = display
    with d:
        shown = []
        for ev in EVENTS:
            before = d.text
            d(ev)
            if isinstance(ev, Final) and ev.segment.joins:
                assert d.text.startswith(before) and d.text != before  # appended, nothing rewritten
            shown.append(d.text)
    assert shown == ["", "good morning", "good morning", "good morning everyone", "good morning everyone",
                     "see you"]
    plain = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", out.getvalue())  # without the terminal's control codes
    lines = re.findall(r"\[\s*([\d.]+) -\s*([\d.]+)\] ([a-z ]+)  \(\d+ ms\)\n", plain)
    # every drawing of a line (live area redraws, then the line printed for good) extends the one before
    for (a0, _, t0), (a1, _, t1) in zip(lines, lines[1:]):
        assert a1 != a0 or t1.startswith(t0), (t0, t1)
    assert [t for _, _, t in lines][-1] == "see you" and ("0.00", "2.00", "good morning everyone") in lines


@pytest.mark.parametrize("display", [False], indirect=True)
def test_pipe_prints_each_final_at_once_continuations_marked(display):
    d, out = display
    with d:
        for ev in EVENTS:
            d(ev)
    assert out.getvalue().splitlines() == [
        ".. goo", "[   0.00 -    1.00] good morning  (110 ms)", ".. every", "+ [   1.00 -    2.00] everyone  (110 ms)",
        ".. se", "[   3.00 -    4.00] see you  (110 ms)"]
