"""EXIF facts (taken-at time, camera, orientation, GPS) and a perceptual hash (dHash)."""

from __future__ import annotations

from typing import Any

from PIL import Image

from bitimage.analysis.ports import AnalysisResult, DecodedImage

_HASH_SIDE = 8


def dhash(image: Image.Image) -> str:
    """The 64-bit difference hash as 16 hex digits: near-duplicates differ in few bits."""
    small = image.convert("L").resize((_HASH_SIDE + 1, _HASH_SIDE), Image.Resampling.LANCZOS)
    pixels = small.tobytes()
    bits = 0
    for row in range(_HASH_SIDE):
        start = row * (_HASH_SIDE + 1)
        for col in range(_HASH_SIDE):
            bits = (bits << 1) | (pixels[start + col] > pixels[start + col + 1])
    return f"{bits:016x}"


def _exif_facts(exif: dict[str, Any]) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    taken = exif.get("DateTimeOriginal") or exif.get("DateTime")
    if taken:
        facts["taken_at"] = str(taken)
    camera = " ".join(str(exif[k]) for k in ("Make", "Model") if exif.get(k))
    if camera:
        facts["camera"] = camera
    if "Orientation" in exif:
        facts["orientation"] = exif["Orientation"]
    if exif.get("GPSInfo"):
        facts["gps"] = exif["GPSInfo"]
    return facts


class MetadataAnalyser:
    """Reads what the file says about itself; the expanded view shows it to the owner only."""

    name = "metadata"
    model = "exif+dhash@1"

    def analyse(self, image: DecodedImage) -> AnalysisResult:
        """EXIF facts and the dHash; no labels."""
        return AnalysisResult(facts={"exif": _exif_facts(image.exif), "dhash": dhash(image.pixels)})
