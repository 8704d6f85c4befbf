"""EXIF facts (taken-at time, camera, orientation, GPS) and a perceptual hash (dHash)."""

from __future__ import annotations

from typing import Any

from bitimage.analysis.ports import AnalysisResult, DecodedImage
from bitimage.dhash import dhash


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
