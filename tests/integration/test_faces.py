"""The BlazeFace analyser on real photos: people get "face" and "person", other photos nothing."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pytest
from PIL import Image
from skimage import data

from bitimage.analysis import faces_build
from bitimage.analysis.faces import (
    FaceAnalyser,
    anchors,
    decode,
    model_resource,
    weighted_nms,
    windows,
)
from bitimage.analysis.ports import AnalysisResult, DecodedImage


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory) -> FaceAnalyser:
    """One detector for the module, converted and loaded with the network cut off."""

    def refuse(*args: object, **kwargs: object) -> NoReturn:
        raise AssertionError(f"network access attempted: {args!r}")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket, "getaddrinfo", refuse)
        return FaceAnalyser(tmp_path_factory.mktemp("models"))


def analyse(faces: FaceAnalyser, pixels: np.ndarray[Any, Any]) -> AnalysisResult:
    image = Image.fromarray(pixels).convert("RGB")
    return faces.analyse(DecodedImage(image, image.width, image.height))


def scores(result: AnalysisResult) -> dict[str, float]:
    return {label.name: label.confidence for label in result.labels}


def test_portrait_gets_face_and_person(faces: FaceAnalyser) -> None:
    result = analyse(faces, data.astronaut())
    found = scores(result)
    assert set(found) == {"face", "person"}
    assert found["face"] == found["person"] >= 0.85
    assert result.facts == {"faces": 1}
    ((box, _),) = faces.detect(Image.fromarray(data.astronaut()))
    # Her face: left of centre, in the upper third of the picture.
    assert 0.3 < box[0] < box[2] < 0.6
    assert 0.1 < box[1] < box[3] < 0.4


def test_greyscale_photo_of_a_man_gets_person(faces: FaceAnalyser) -> None:
    assert "person" in scores(analyse(faces, data.camera()))


@pytest.mark.parametrize("name", ["chelsea", "coffee", "rocket"])
def test_photos_without_people_get_nothing(faces: FaceAnalyser, name: str) -> None:
    result = analyse(faces, getattr(data, name)())
    assert result.labels == []
    assert result.facts == {"faces": 0}


def group(faces_across: int, side: int, crop: tuple[int, int, int, int]) -> DecodedImage:
    """The astronaut's head and shoulders `faces_across` times side by side, each side x side."""
    portrait = Image.fromarray(data.astronaut()).crop(crop).resize((side, side))
    picture = Image.new("RGB", (side * faces_across, side), "white")
    for i in range(faces_across):
        picture.paste(portrait, (i * side, 0))
    return DecodedImage(picture, picture.width, picture.height)


def test_two_faces_are_people(faces: FaceAnalyser) -> None:
    result = faces.analyse(group(2, 256, (100, 20, 330, 250)))
    assert result.facts == {"faces": 2}
    found = scores(result)
    assert {"face", "person", "people"} == set(found)
    assert found["people"] <= found["face"]


def test_small_faces_need_the_tiled_mode(faces: FaceAnalyser) -> None:
    # Three whole portraits across: each face is ~8 px of the 128 px input, too small.
    picture = group(3, 256, (0, 0, 512, 512))
    assert faces.analyse(picture).facts == {"faces": 0}
    tiled = FaceAnalyser(faces.model_file.parent, tiled=True)
    assert tiled.analyse(picture).facts == {"faces": 3}
    assert windows(300, 200) == [(0, 0, 300, 200)]  # too small to cut
    assert len(windows(1024, 768)) == 1 + 3 * 2


def test_lfw_crops_faces_and_non_faces(faces: FaceAnalyser) -> None:
    # scikit-image's lfw_subset: 100 face crops, then 100 crops of other things (25x25 grey).
    crops = data.lfw_subset()
    hits = [bool(faces.detect(Image.fromarray((c * 255).astype(np.uint8)))) for c in crops]
    assert sum(hits[:100]) >= 60
    assert sum(hits[100:]) <= 2


def test_anchors_follow_mediapipe_layout() -> None:
    centres = anchors()
    assert centres.shape == (896, 2)
    # 16x16 cells with 2 anchors each, then 8x8 cells with 6 each, row by row.
    np.testing.assert_allclose(centres[0], [0.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(centres[1], centres[0])
    np.testing.assert_allclose(centres[2], [1.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(centres[512], [0.5 / 8, 0.5 / 8])
    np.testing.assert_allclose(centres[517], centres[512])
    np.testing.assert_allclose(centres[518], [1.5 / 8, 0.5 / 8])


def test_decode_and_weighted_nms() -> None:
    regressors = np.zeros((1, 896, 16), np.float32)
    logits = np.full((1, 896, 1), -200.0, np.float32)  # clipped, no overflow
    regressors[0, 0, 2:4] = 32.0  # a 32 px box on anchor 0, then two overlapping on 1 and 2
    regressors[0, 1, 2:4] = regressors[0, 2, 2:4] = 40.0
    logits[0, 0:3, 0] = [3.0, 2.0, 1.0]
    boxes, found = decode(regressors, logits, 0.5)
    assert len(boxes) == 3
    np.testing.assert_allclose(
        boxes[0], [1 / 32 - 0.125, 1 / 32 - 0.125, 1 / 32 + 0.125, 1 / 32 + 0.125]
    )
    kept = weighted_nms(boxes, found)
    assert [round(score, 3) for _, score in kept] == [0.953]  # one cluster: all three overlap
    far = boxes.copy()
    far[2] += 0.5
    assert len(weighted_nms(far, found)) == 2


def test_model_ships_in_the_package_and_is_cached(faces: FaceAnalyser, tmp_path: Path) -> None:
    source = model_resource()
    assert source.stat().st_size == 229_714
    licence = (source.parent / "face_detection_short_range.LICENSE").read_text()
    assert licence.lstrip().startswith("Apache License")
    again = FaceAnalyser(faces.model_file.parent)
    assert not again.built
    assert again.model == faces.model
    (tmp_path / faces.model_file.name).write_bytes(b"damaged")
    rebuilt = FaceAnalyser(tmp_path)
    assert rebuilt.built
    assert [p.name for p in tmp_path.iterdir()] == [faces.model_file.name]


def test_converter_refuses_an_unknown_operator() -> None:
    with pytest.raises(faces_build.UnsupportedModel):
        faces_build.build_model(_model_with_unknown_operator())


def _model_with_unknown_operator() -> bytes:
    """A one-operator .tflite (a SOFTMAX) built with the flatbuffers schema of `tflite`."""
    import flatbuffers  # type: ignore[import-untyped]
    import tflite  # type: ignore[import-untyped]

    builder = flatbuffers.Builder(256)
    tflite.OperatorCodeStart(builder)
    tflite.OperatorCodeAddDeprecatedBuiltinCode(builder, tflite.BuiltinOperator.SOFTMAX)
    tflite.OperatorCodeAddBuiltinCode(builder, tflite.BuiltinOperator.SOFTMAX)
    code = tflite.OperatorCodeEnd(builder)
    tflite.OperatorStartInputsVector(builder, 0)
    inputs = builder.EndVector()
    tflite.OperatorStartOutputsVector(builder, 0)
    outputs = builder.EndVector()
    tflite.OperatorStart(builder)
    tflite.OperatorAddInputs(builder, inputs)
    tflite.OperatorAddOutputs(builder, outputs)
    operator = tflite.OperatorEnd(builder)
    tflite.SubGraphStartOperatorsVector(builder, 1)
    builder.PrependUOffsetTRelative(operator)
    operators = builder.EndVector()
    tflite.SubGraphStart(builder)
    tflite.SubGraphAddOperators(builder, operators)
    subgraph = tflite.SubGraphEnd(builder)
    tflite.ModelStartOperatorCodesVector(builder, 1)
    builder.PrependUOffsetTRelative(code)
    codes = builder.EndVector()
    tflite.ModelStartSubgraphsVector(builder, 1)
    builder.PrependUOffsetTRelative(subgraph)
    subgraphs = builder.EndVector()
    tflite.ModelStart(builder)
    tflite.ModelAddOperatorCodes(builder, codes)
    tflite.ModelAddSubgraphs(builder, subgraphs)
    builder.Finish(tflite.ModelEnd(builder))
    return bytes(builder.Output())


def test_two_first_starts_at_once_share_one_model_file(tmp_path: Path) -> None:
    # Check-then-act: both see no cached file and convert; each writes a temp file and renames
    # it over the target, so both end with a whole model and no temp file is left.
    barrier = threading.Barrier(2)
    built: list[FaceAnalyser] = []
    original = faces_build.build_onnx

    def build_together(source: Path, target: Path) -> None:
        barrier.wait(timeout=30)  # both have checked and are converting now
        original(source, target)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(faces_build, "build_onnx", build_together)
        threads = [
            threading.Thread(target=lambda: built.append(FaceAnalyser(tmp_path))) for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert [analyser.built for analyser in built] == [True, True]
    assert [p.name for p in tmp_path.iterdir()] == [built[0].model_file.name]
    portrait = Image.fromarray(data.astronaut())
    assert all(len(analyser.detect(portrait)) == 1 for analyser in built)
