"""Image analysis: analysers, the service that stores their results, and its worker."""

import os

# Set before any analyser imports onnxruntime (1.29 and later look up a telemetry host
# otherwise): this package's modules all load after this line.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
