"""The classifier's label data and its torch-free checkpoint loader (no model is loaded)."""

from __future__ import annotations

import collections
import os
import pickle
import sys
import types
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bitimage.analysis.classifier import imagenet_classes
from bitimage.analysis.onnx_build import load_state_dict

# Nodes too general to help anyone search, which the allow-list must never let through.
TOO_GENERAL = {"entity", "physical entity", "object", "whole", "artifact", "organism", "chordate"}


def test_every_class_has_a_plain_name_and_a_category() -> None:
    classes = imagenet_classes()
    assert len(classes) == 1000
    assert len({c.wnid for c in classes}) == 1000
    for c in classes:
        assert c.name, c
        assert c.name == c.name.strip().lower(), c
        assert not set(",()/") & set(c.name), c
        assert c.categories, c
        assert not TOO_GENERAL & set(c.categories), c
        assert c.name not in c.categories, c


def test_categories_of_familiar_classes() -> None:
    by_name = {c.name: set(c.categories) for c in imagenet_classes()}
    assert {"cat", "feline", "mammal", "animal", "pet"} <= by_name["tabby cat"]
    assert {"dog", "canine", "mammal", "animal", "pet"} <= by_name["golden retriever"]
    assert "pet" not in by_name["lynx"]
    assert "dog" not in by_name["grey wolf"]
    assert {"vegetable", "food"} <= by_name["broccoli"]
    assert {"coffee", "beverage", "drink"} <= by_name["espresso"]
    assert {"motor vehicle", "vehicle"} <= by_name["moped"]
    assert "container" not in by_name["sports car"]


def test_loader_refuses_anything_but_tensors(tmp_path: Path) -> None:
    evil = tmp_path / "evil.pth"
    evil.write_bytes(pickle.dumps(os.system))
    with pytest.raises(pickle.UnpicklingError, match=r"refusing posix\.system|refusing nt\.system"):
        load_state_dict(evil)


def test_loader_reads_the_zip_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A zip checkpoint written the way torch >= 1.6 does, with a non-contiguous tensor."""
    fake_torch, fake_utils = types.ModuleType("torch"), types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    def _rebuild_tensor_v2(*args: object) -> None:
        raise AssertionError("only pickled, never called")

    FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"
    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    fake_torch.FloatStorage = FloatStorage  # type: ignore[attr-defined]
    fake_utils._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch", fake_torch)
    monkeypatch.setitem(sys.modules, "torch._utils", fake_utils)

    base = np.arange(12, dtype=np.float32).reshape(3, 4)

    class Storage:
        pass

    class Tensor:
        def __init__(self, shape: tuple[int, ...], stride: tuple[int, ...]) -> None:
            self.shape, self.stride = shape, stride

        def __reduce__(self) -> tuple[Any, ...]:
            args: tuple[object, ...] = (
                storage,
                0,
                self.shape,
                self.stride,
                False,
                collections.OrderedDict(),
            )
            return _rebuild_tensor_v2, args

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj: object) -> object:
            if isinstance(obj, Storage):
                return ("storage", FloatStorage, "0", "cpu", base.size)
            return None

    storage = Storage()
    state = collections.OrderedDict(plain=Tensor((3, 4), (4, 1)), transposed=Tensor((4, 3), (1, 4)))
    path = tmp_path / "new.pth"
    with zipfile.ZipFile(path, "w") as archive:
        with archive.open("archive/data.pkl", "w") as pkl:
            Pickler(pkl, protocol=2).dump(state)
        archive.writestr("archive/data/0", base.tobytes())
    monkeypatch.delitem(sys.modules, "torch")

    loaded = load_state_dict(path)
    np.testing.assert_array_equal(loaded["plain"], base)
    np.testing.assert_array_equal(loaded["transposed"], base.T)
