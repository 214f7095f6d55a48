"""The telephony core is Django-free: its protocol modules import neither Django nor Channels."""

from __future__ import annotations

import subprocess
import sys

# Django glue (views, consumers) may join the package later; these modules must stay pure.
CORE = ("twilio_stream", "twilio_playback", "signatures", "calls_api", "sip", "testing")


def test_importing_the_telephony_core_loads_no_django() -> None:
    code = (
        "import sys, importlib\n"
        f"for name in {CORE!r}:\n"
        "    importlib.import_module('realtime_agents.telephony.' + name)\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in ('django', 'channels', 'daphne'))\n"
        "print('loaded:' + ','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "loaded:"
