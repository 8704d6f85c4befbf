"""BlazeFace (MediaPipe's short-range face detector) as an ONNX graph, built from its .tflite file.

The .tflite flatbuffer is read with the `tflite` package (a pure-Python schema reader); its few
operators (CONV_2D, DEPTHWISE_CONV_2D, ADD, RELU, PAD, MAX_POOL_2D, RESHAPE, CONCATENATION and
DEQUANTIZE of the float16 weights) are rewritten as ONNX nodes. TFLite lays tensors out NHWC, ONNX
convolutions NCHW: the graph runs NCHW throughout and transposes back to NHWC just before each
RESHAPE, so the outputs are in TFLite's order (regressors 1x896x16, classificators 1x896x1).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import tflite  # type: ignore[import-untyped]
from onnx import TensorProto, helper, numpy_helper

INPUT_SIDE = 128
INPUT_NAME = "image"  # N x 3 x 128 x 128, RGB in [-1, 1]
OPSET = 17
IR_VERSION = 8

_OPS = {
    value: name for name, value in vars(tflite.BuiltinOperator).items() if not name.startswith("_")
}
_FLOAT_TYPES = {tflite.TensorType.FLOAT32: np.float32, tflite.TensorType.FLOAT16: np.float16}


class UnsupportedModel(ValueError):
    """The .tflite file uses an operator or option this converter does not translate."""


def _name(index: int) -> str:
    return f"t{index}"


class _Converter:
    def __init__(self, model: Any) -> None:
        self.model = model
        self.graph = model.Subgraphs(0)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.constants: dict[int, np.ndarray[Any, Any]] = {}  # tensor index -> value

    def shape(self, index: int) -> list[int]:
        return [int(v) for v in self.graph.Tensors(index).ShapeAsNumpy()]

    def buffer(self, index: int) -> np.ndarray[Any, Any] | None:
        """The constant value of a tensor (None for activations), float16 read as such."""
        if index in self.constants:
            return self.constants[index]
        tensor = self.graph.Tensors(index)
        data = self.model.Buffers(tensor.Buffer()).DataAsNumpy()
        if isinstance(data, int) or data.size == 0:
            return None
        kind = tensor.Type()
        dtype = _FLOAT_TYPES.get(kind, np.int32 if kind == tflite.TensorType.INT32 else None)
        if dtype is None:
            raise UnsupportedModel(f"tensor type {kind}")
        value = np.frombuffer(data.tobytes(), dtype=dtype).reshape(self.shape(index))
        self.constants[index] = value
        return value

    def constant(self, name: str, value: np.ndarray[Any, Any]) -> str:
        self.inits.append(numpy_helper.from_array(value, name))
        return name

    def convert(self) -> onnx.ModelProto:
        for i in range(self.graph.OperatorsLength()):
            op = self.graph.Operators(i)
            code = self.model.OperatorCodes(op.OpcodeIndex())
            kind = _OPS.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "?")
            inputs = [int(v) for v in op.InputsAsNumpy()]
            results = [int(v) for v in op.OutputsAsNumpy()]
            handler = getattr(self, f"op_{kind.lower()}", None)
            if handler is None:
                raise UnsupportedModel(f"operator {kind}")
            handler(op, inputs, results[0])
        graph_inputs = [int(v) for v in self.graph.InputsAsNumpy()]
        graph_outputs = [int(v) for v in self.graph.OutputsAsNumpy()]
        self.nodes.insert(0, helper.make_node("Identity", [INPUT_NAME], [_name(graph_inputs[0])]))
        outputs: list[onnx.ValueInfoProto] = []
        for index in graph_outputs:
            label = self.graph.Tensors(index).Name().decode()
            self.nodes.append(helper.make_node("Identity", [_name(index)], [label]))
            shape: list[str | int | None] = ["batch", *self.shape(index)[1:]]
            outputs.append(helper.make_tensor_value_info(label, TensorProto.FLOAT, shape))
        image = helper.make_tensor_value_info(
            INPUT_NAME, TensorProto.FLOAT, ["batch", 3, INPUT_SIDE, INPUT_SIDE]
        )
        model = helper.make_model(
            helper.make_graph(self.nodes, "blazeface_short_range", [image], outputs, self.inits),
            opset_imports=[helper.make_opsetid("", OPSET)],
        )
        model.ir_version = IR_VERSION
        onnx.checker.check_model(model)
        return model

    def _activation(self, out: int, fused: int) -> None:
        if fused == tflite.ActivationFunctionType.NONE:
            return
        if fused != tflite.ActivationFunctionType.RELU:
            raise UnsupportedModel(f"fused activation {fused}")
        self.nodes.append(helper.make_node("Relu", [f"{_name(out)}.pre"], [_name(out)]))

    def _pads(self, options: Any, inputs: int, out: int, kernel: tuple[int, int]) -> list[int]:
        """TF's SAME padding (the extra pixel at the end), as ONNX pads; zero for VALID."""
        if options.Padding() == tflite.Padding.VALID:
            return [0, 0, 0, 0]
        _, in_h, in_w, _ = self.shape(inputs)
        _, out_h, out_w, _ = self.shape(out)
        strides = (options.StrideH(), options.StrideW())
        totals = [
            max((o - 1) * s + k - i, 0)
            for o, s, k, i in zip((out_h, out_w), strides, kernel, (in_h, in_w), strict=True)
        ]
        return [
            totals[0] // 2,
            totals[1] // 2,
            totals[0] - totals[0] // 2,
            totals[1] - totals[1] // 2,
        ]

    def _conv(self, op: Any, inputs: list[int], out: int, depthwise: bool) -> None:
        options = tflite.DepthwiseConv2DOptions() if depthwise else tflite.Conv2DOptions()
        table = op.BuiltinOptions()
        options.Init(table.Bytes, table.Pos)
        weights = self.buffer(inputs[1])
        if weights is None:
            raise UnsupportedModel("convolution weights are not constant")
        weights = weights.astype(np.float32)
        if depthwise:  # [1, kh, kw, channels] -> [channels, 1, kh, kw]
            onnx_weights = weights.transpose(3, 0, 1, 2)
            group = onnx_weights.shape[0]
        else:  # [out, kh, kw, in] -> [out, in, kh, kw]
            onnx_weights = weights.transpose(0, 3, 1, 2)
            group = 1
        bias = self.buffer(inputs[2]) if len(inputs) > 2 and inputs[2] >= 0 else None
        args = [_name(inputs[0]), self.constant(f"{_name(out)}.w", onnx_weights)]
        if bias is not None:
            args.append(self.constant(f"{_name(out)}.b", bias.astype(np.float32)))
        kernel = (int(onnx_weights.shape[2]), int(onnx_weights.shape[3]))
        fused = options.FusedActivationFunction()
        target = f"{_name(out)}.pre" if fused else _name(out)
        self.nodes.append(
            helper.make_node(
                "Conv",
                args,
                [target],
                kernel_shape=list(kernel),
                strides=[options.StrideH(), options.StrideW()],
                dilations=[options.DilationHFactor(), options.DilationWFactor()],
                pads=self._pads(options, inputs[0], out, kernel),
                group=group,
            )
        )
        self._activation(out, fused)

    def op_dequantize(self, op: Any, inputs: list[int], out: int) -> None:
        value = self.buffer(inputs[0])
        if value is None:
            raise UnsupportedModel("DEQUANTIZE of an activation")
        self.constants[out] = value.astype(np.float32)

    def op_conv_2d(self, op: Any, inputs: list[int], out: int) -> None:
        self._conv(op, inputs, out, depthwise=False)

    def op_depthwise_conv_2d(self, op: Any, inputs: list[int], out: int) -> None:
        self._conv(op, inputs, out, depthwise=True)

    def op_relu(self, op: Any, inputs: list[int], out: int) -> None:
        self.nodes.append(helper.make_node("Relu", [_name(inputs[0])], [_name(out)]))

    def op_add(self, op: Any, inputs: list[int], out: int) -> None:
        options = tflite.AddOptions()
        table = op.BuiltinOptions()
        fused = 0
        if table is not None:
            options.Init(table.Bytes, table.Pos)
            fused = options.FusedActivationFunction()
        target = f"{_name(out)}.pre" if fused else _name(out)
        args = [_name(i) for i in inputs]
        self.nodes.append(helper.make_node("Add", args, [target]))
        self._activation(out, fused)

    def op_pad(self, op: Any, inputs: list[int], out: int) -> None:
        paddings = self.buffer(inputs[1])
        if paddings is None:
            raise UnsupportedModel("PAD with computed paddings")
        nchw = paddings[[0, 3, 1, 2]].astype(np.int64)  # rows are NHWC axes: [before, after]
        pads = self.constant(f"{_name(out)}.pads", np.concatenate([nchw[:, 0], nchw[:, 1]]))
        self.nodes.append(helper.make_node("Pad", [_name(inputs[0]), pads], [_name(out)]))

    def op_max_pool_2d(self, op: Any, inputs: list[int], out: int) -> None:
        options = tflite.Pool2DOptions()
        table = op.BuiltinOptions()
        options.Init(table.Bytes, table.Pos)
        kernel = (options.FilterHeight(), options.FilterWidth())
        self.nodes.append(
            helper.make_node(
                "MaxPool",
                [_name(inputs[0])],
                [_name(out)],
                kernel_shape=list(kernel),
                strides=[options.StrideH(), options.StrideW()],
                pads=self._pads(options, inputs[0], out, kernel),
            )
        )

    def op_reshape(self, op: Any, inputs: list[int], out: int) -> None:
        source = _name(inputs[0])
        if len(self.shape(inputs[0])) == 4:  # back to TFLite's NHWC order before flattening
            self.nodes.append(
                helper.make_node("Transpose", [source], [f"{source}.nhwc"], perm=[0, 2, 3, 1])
            )
            source = f"{source}.nhwc"
        # The batch axis stays free (-1): windows of one picture run in one call (faces.py).
        target = np.array([-1, *self.shape(out)[1:]], np.int64)
        shape = self.constant(f"{_name(out)}.shape", target)
        self.nodes.append(helper.make_node("Reshape", [source, shape], [_name(out)]))

    def op_concatenation(self, op: Any, inputs: list[int], out: int) -> None:
        options = tflite.ConcatenationOptions()
        table = op.BuiltinOptions()
        options.Init(table.Bytes, table.Pos)
        if len(self.shape(out)) == 4:
            raise UnsupportedModel("CONCATENATION of NHWC tensors")
        args = [_name(i) for i in inputs]
        self.nodes.append(helper.make_node("Concat", args, [_name(out)], axis=options.Axis()))


def build_model(data: bytes) -> onnx.ModelProto:
    """The ONNX model of a BlazeFace .tflite file's bytes."""
    return _Converter(tflite.Model.GetRootAsModel(data, 0)).convert()


def build_onnx(source: Path, target: Path) -> None:
    """Convert the .tflite file at `source` to `target`, atomically (a temp file, then rename)."""
    model = build_model(source.read_bytes())
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".tmp", delete=False) as partial:
        partial.write(model.SerializeToString())
    Path(partial.name).replace(target)
