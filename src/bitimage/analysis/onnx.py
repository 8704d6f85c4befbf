"""ONNX Runtime sessions as every analyser opens them: CPU only, quiet, bounded threads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnxruntime as ort  # type: ignore[import-untyped]  # (telemetry: see __init__.py)


def open_session(model_file: Path | str, threads: int) -> Any:
    """An InferenceSession on the CPU with `threads` intra-op threads that do not spin."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: no per-session info lines in the log
    # Idle worker threads would otherwise spin and burn CPU the web server needs.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
