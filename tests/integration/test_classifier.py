"""The EfficientNet-Lite0 classifier on real photos (label data and loader: unit tests)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from skimage import data

from bitimage.analysis import classifier, onnx_build
from bitimage.analysis.classifier import ClassifierAnalyser, imagenet_classes, select
from bitimage.analysis.ports import AnalysisResult, DecodedImage


@pytest.fixture(scope="module")
def analyser(tmp_path_factory: pytest.TempPathFactory) -> ClassifierAnalyser:
    """One model for the module: converting and loading it is the slow part."""
    return ClassifierAnalyser(tmp_path_factory.mktemp("models"))


def analyse(analyser: ClassifierAnalyser, pixels: np.ndarray[Any, Any]) -> AnalysisResult:
    image = Image.fromarray(pixels)
    return analyser.analyse(DecodedImage(image, image.width, image.height))


def names(result: AnalysisResult) -> set[str]:
    return {label.name for label in result.labels}


def test_cat(analyser: ClassifierAnalyser) -> None:
    result = analyse(analyser, data.chelsea())
    assert {"cat", "animal", "pet"} <= names(result)
    assert result.facts["classes"][0]["name"] in {"egyptian mau", "tabby cat", "tiger cat"}


def test_coffee(analyser: ClassifierAnalyser) -> None:
    found = names(analyse(analyser, data.coffee()))
    assert {"espresso", "coffee"} <= found
    assert found & {"beverage", "drink"}


def test_rocket_and_astronaut(analyser: ClassifierAnalyser) -> None:
    assert {"missile", "vehicle"} <= names(analyse(analyser, data.rocket()))
    assert "animal" not in names(analyse(analyser, data.astronaut()))


def test_abstract_pictures_get_no_animal_label(analyser: ClassifierAnalyser) -> None:
    noise = np.random.default_rng(7).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    ramp = np.linspace(0, 255, 400, dtype=np.float64)
    gradient = np.stack(
        [np.tile(ramp, (300, 1)), np.tile(ramp[::-1], (300, 1)), np.full((300, 400), 128.0)], -1
    ).astype(np.uint8)
    animals = {c.name for c in imagenet_classes() if "animal" in c.categories} | {"animal"}
    for pixels in (noise, gradient):
        result = analyse(analyser, pixels)
        assert not names(result) & animals
        assert result.facts["classes"][0]["name"] not in animals


def test_category_confidence_is_its_best_kept_class(analyser: ClassifierAnalyser) -> None:
    result = analyse(analyser, data.chelsea())
    scores = {label.name: label.confidence for label in result.labels}
    probabilities = analyser.classify_batch([Image.fromarray(data.chelsea())])[0]
    kept_names = {analyser.classes[i].name for i in select(probabilities)}
    kept = [c for c in result.facts["classes"] if c["name"] in kept_names]
    assert len(kept) >= 2  # Egyptian Mau and tiger cat: a close call between two cats
    by_name = {c.name: c for c in imagenet_classes()}
    for category in ("cat", "animal"):
        best = max(c["confidence"] for c in kept if category in by_name[c["name"]].categories)
        assert scores[category] == best
    assert all(0 <= label.confidence <= 1 for label in result.labels)
    # Classes first, best first; categories after them.
    assert [label.name for label in result.labels[: len(kept)]] == [c["name"] for c in kept]


def test_floor_mass_and_top_k(analyser: ClassifierAnalyser) -> None:
    loose = ClassifierAnalyser(analyser.model_file.parent, mass=1.0, floor=0.0, top_k=3)
    assert not loose.built  # the converted model was cached by the fixture
    assert loose.model == analyser.model == "efficientnet-lite0@0.1.0"
    result = analyse(loose, data.astronaut())
    assert len(result.facts["classes"]) == 3
    class_names = {c.name for c in imagenet_classes()}
    assert len([n for n in names(result) if n in class_names]) == 3


def test_everyday_words_of_real_photos(analyser: ClassifierAnalyser) -> None:
    # Below the old 0.3 threshold: a missile at 0.38 was kept, a palace at 0.37 too, but the
    # words people type were missing ("rocket", "building"); a moped is a motorcycle.
    assert {"missile", "rocket"} <= names(analyse(analyser, data.rocket()))
    assert {"motorcycle", "vehicle"} <= names(analyse(analyser, data.stereo_motorcycle()[0]))
    assert not names(analyse(analyser, data.coffee())) & {"face", "person", "people"}


def test_batch_matches_single_images(analyser: ClassifierAnalyser) -> None:
    images = [Image.fromarray(data.coffee()), Image.fromarray(data.chelsea()).convert("L")]
    batch = analyser.classify_batch(images)
    assert batch.shape == (2, 1000)
    np.testing.assert_allclose(batch.sum(axis=1), 1.0, atol=1e-5)
    for image, row in zip(images, batch, strict=True):
        np.testing.assert_allclose(analyser.classify_batch([image])[0], row, atol=1e-5)


def test_damaged_cache_file_is_rebuilt(analyser: ClassifierAnalyser, tmp_path: Path) -> None:
    (tmp_path / analyser.model_file.name).write_bytes(b"not an onnx file")
    rebuilt = ClassifierAnalyser(tmp_path)
    assert rebuilt.built
    assert rebuilt.model_file.stat().st_size > 10_000_000
    assert [p.name for p in tmp_path.iterdir()] == [analyser.model_file.name]  # no temp files


def test_no_torch_at_run_time(analyser: ClassifierAnalyser) -> None:
    assert analyser.classify_batch([Image.new("RGB", (64, 64))]).shape == (1, 1000)
    assert "torch" not in sys.modules
    assert classifier.INPUT_SIZE == onnx_build.INPUT_SIZE
    assert os.environ["ORT_DISABLE_TELEMETRY"] == "1"


def clear_sky_photo() -> np.ndarray[Any, Any]:
    """A smooth blue sky, lighter toward the horizon, over rough brown ground (as in a photo)."""
    rng = np.random.default_rng(3)
    pixels = rng.integers(40, 140, (480, 640, 3)).astype(np.float64) * (1.0, 0.8, 0.55)
    fade = np.linspace(0, 1, 300)[:, None, None]
    top, low = np.array([55.0, 115.0, 210.0]), np.array([160.0, 195.0, 240.0])
    pixels[:300] = top + (low - top) * fade + rng.normal(0, 1.5, (300, 640, 3))
    return np.clip(pixels, 0, 255).astype(np.uint8)


def test_a_clear_sky_photo_gets_sky(analyser: ClassifierAnalyser) -> None:
    result = analyse(analyser, clear_sky_photo())
    assert "sky" in names(result)
    assert all(0 <= label.confidence <= 1 for label in result.labels)
    assert len(names(result)) == len(result.labels)  # one label a word


def test_cat_and_coffee_get_no_scene_words(analyser: ClassifierAnalyser) -> None:
    scenes = {"sky", "sunset", "forest", "grass", "leaf", "landscape"}
    for pixels in (data.chelsea(), data.coffee()):
        assert not names(analyse(analyser, pixels)) & scenes


def test_the_embedding_output_leaves_the_probabilities_unchanged(
    analyser: ClassifierAnalyser,
) -> None:
    import onnx
    import onnxruntime  # type: ignore[import-untyped]

    model = onnx.load(str(analyser.model_file))
    # The graph as it was before the embedding output (revision 1): probabilities alone.
    del model.graph.output[1]
    kept = [n for n in model.graph.node if onnx_build.EMBEDDING_NAME not in n.output]
    del model.graph.node[:]
    model.graph.node.extend(kept)
    before = onnxruntime.InferenceSession(model.SerializeToString())
    images = [Image.fromarray(data.chelsea()), Image.fromarray(data.coffee())]
    tensor = np.stack([classifier.preprocess(image) for image in images])
    old = before.run(None, {onnx_build.INPUT_NAME: tensor})
    assert len(old) == 1
    probabilities, embeddings = analyser.infer_both(tensor)
    np.testing.assert_array_equal(probabilities, old[0])
    assert embeddings.shape == (2, onnx_build.EMBEDDING_SIZE)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)


def test_a_crop_of_a_photo_is_closer_than_another_photo(analyser: ClassifierAnalyser) -> None:
    cat = Image.fromarray(data.chelsea())
    crop = cat.crop((30, 20, cat.width - 40, cat.height - 10)).resize((300, 220))
    coffee, rocket = Image.fromarray(data.coffee()), Image.fromarray(data.rocket())
    cat_vec, crop_vec, coffee_vec, rocket_vec = analyser.embed_batch([cat, crop, coffee, rocket])
    near = float(cat_vec @ crop_vec)
    assert near > float(cat_vec @ coffee_vec) + 0.2
    assert near > float(cat_vec @ rocket_vec) + 0.2
    result = analyse(analyser, data.chelsea())
    assert result.embedding is not None
    np.testing.assert_allclose(result.embedding, cat_vec, atol=1e-5)
