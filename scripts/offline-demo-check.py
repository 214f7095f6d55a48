"""Ask the demo a spoken question over its WebSocket, with no API key and no network; check the answer.

Against a running demo (`make run`, or `manage.py runserver`):
    .venv/bin/python scripts/offline-demo-check.py --url ws://127.0.0.1:8000/ws/realtime/demo/

Or let the script start one the README's way (migrate, load the demo, runserver with an empty
OPENAI_API_KEY) on a scratch SQLite file and a free port, and stop it afterwards:
    .venv/bin/python scripts/offline-demo-check.py --serve

It waits for the greeting, streams an espeak-ng question as 24 kHz PCM16 in real time (20 ms
binary frames, Origin set as a browser would), and exits 0 when the question was transcribed,
a tool ran and answer audio came back. Needs espeak-ng and sox (the offline tests' speech).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.engine.offline.espeak import silence, speak  # noqa: E402

FRAME_MS = 20


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_demo(port: int, database: Path) -> subprocess.Popen[bytes]:
    """Migrate, load the demo rows and start runserver on `port`, with no API key."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "OPENAI_API_KEY": ""}
    python = sys.executable
    for command in (["manage.py", "migrate", "--noinput"], ["manage.py", "realtime_agents_demo"]):
        subprocess.run([python, *command], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    server = subprocess.Popen([python, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"], cwd=ROOT,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise RuntimeError(f"the demo server did not listen on port {port} within 60 s")


async def ask(url: str, origin: str, question: str, voice: str, timeout: float) -> dict[str, Any]:
    """Speak `question` into the socket after the greeting; return what came back."""
    import websockets

    outcome: dict[str, Any] = {"heard": "", "answer": "", "tools": [], "audio_bytes": 0, "errors": []}
    pcm = speak(question, voice=voice) + silence(1.0)
    step = 24 * 2 * FRAME_MS
    async with asyncio.timeout(timeout), websockets.connect(url, origin=origin, max_size=None) as socket_:
        assistant_turns = 0
        sender: asyncio.Task[None] | None = None

        async def send_question() -> None:
            start = time.monotonic()
            for index, offset in enumerate(range(0, len(pcm), step)):
                await asyncio.sleep(max(0.0, start + index * FRAME_MS / 1000 - time.monotonic()))
                await socket_.send(pcm[offset:offset + step])

        try:
            async for message in socket_:
                if isinstance(message, bytes):
                    outcome["audio_bytes"] += len(message) if outcome["heard"] else 0
                    continue
                frame = json.loads(message)
                kind = frame.get("type")
                if kind == "error":
                    outcome["errors"].append(frame)
                elif kind == "tool.ended":
                    outcome["tools"].append((frame.get("name"), frame.get("status")))
                elif kind == "transcript.done" and frame.get("role") == "user":
                    outcome["heard"] = frame.get("text", "")
                elif kind == "transcript.done" and frame.get("role") == "assistant":
                    assistant_turns += 1
                    if sender is None:  # the greeting is over: ask now
                        sender = asyncio.create_task(send_question(), name="offline-demo-check-send")
                    elif outcome["heard"]:
                        outcome["answer"] = frame.get("text", "")
                        break
            await socket_.send(json.dumps({"type": "end"}))
        finally:
            if sender is not None:
                sender.cancel()
                await asyncio.gather(sender, return_exceptions=True)
    return outcome


def main(argv: list[str] | None = None) -> int:
    """Command line entry point: 0 when the spoken question got a spoken answer from a tool."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="the demo channel's WebSocket URL (default: the --serve server's)")
    parser.add_argument("--serve", action="store_true", help="start the demo on a scratch database first")
    parser.add_argument("--question", default="What is the weather in Paris?")
    parser.add_argument("--voice", default="en-us", help="espeak-ng voice")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds for the whole exchange")
    args = parser.parse_args(argv)
    if not args.serve and not args.url:
        parser.error("give --url, or --serve to start a demo server")
    with tempfile.TemporaryDirectory(prefix="offline-demo-") as scratch:
        server = None
        url = args.url
        if args.serve:
            port = free_port()
            server = start_demo(port, Path(scratch) / "demo.sqlite3")
            url = url or f"ws://127.0.0.1:{port}/ws/realtime/demo/"
        host = url.split("//", 1)[1].split("/", 1)[0]
        try:
            outcome = asyncio.run(ask(url, f"http://{host}", args.question, args.voice, args.timeout))
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=30)
    print(json.dumps(outcome, indent=2))
    ok = bool(outcome["heard"]) and bool(outcome["tools"]) and outcome["audio_bytes"] > 0 and not outcome["errors"]
    print("OK: the demo answered the spoken question" if ok else "FAILED: see above")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
