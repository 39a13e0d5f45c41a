"""Review of the round-three trust fixes: text that reaches a terminal or a file, option checks,
the report's costs and compare's output pair.

Issue #19 ("Trust, round three"), second review: each bug test failed on the code before the fix.
"""

import os
import subprocess
import sys
from pathlib import Path

ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}


def test_a_name_the_terminal_cannot_show_does_not_silence_stdout():
    """An ascii terminal and a file named café: the name is escaped and later lines still print."""
    code = (
        "import sys\n"
        "from pixscale.cli import _out, _err\n"
        "_out('view caf\\u00e9.png failed')\n"
        "print('after')\n"
        "_err('on stderr: caf\\u00e9 \\U0001f600')\n"
        "print('also on stderr', file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**ENV, "PYTHONIOENCODING": "ascii"},
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode("ascii").splitlines() == ["view caf\\xe9.png failed", "after"]
    assert done.stderr.decode("ascii").splitlines() == ["on stderr: caf\\xe9 \\U0001f600", "also on stderr"]
