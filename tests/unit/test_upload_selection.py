"""Which files an upload considers: image extensions by default, globs, and why others are out."""

from __future__ import annotations

from pathlib import Path

from bitimage.client.selection import IMAGE_EXTENSIONS, select_files


def _tree(root: Path, names: list[str]) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x")


def _rel(root: Path, paths: list[str]) -> list[str]:
    return [Path(p).relative_to(root).as_posix() for p in paths]


def test_image_extensions_in_any_case_are_kept_and_the_rest_is_explained(tmp_path: Path) -> None:
    _tree(tmp_path, ["a.JPG", "b.heic", "c.Avif", "d.pdf", "README", ".e.jpg", "sub/f.png",
                     ".hidden/g.jpg"])  # fmt: skip
    flat = select_files([tmp_path], recursive=False)
    assert _rel(tmp_path, [str(p) for p in flat.files]) == ["a.JPG", "b.heic", "c.Avif"]
    reasons = {Path(i.path).relative_to(tmp_path).as_posix(): i.reason for i in flat.ignored}
    assert reasons == {
        ".hidden": "hidden folder",
        "sub": "a folder (not recursive)",
        ".e.jpg": "hidden file",
        "README": "not an image: a file without extension",
        "d.pdf": "not an image: a .pdf file",
    }
    deep = select_files([tmp_path], recursive=True)
    assert "sub/f.png" in _rel(tmp_path, [str(p) for p in deep.files])
    assert all("g.jpg" not in str(p) for p in deep.files)


def test_globs_replace_the_extensions_or_leave_files_out(tmp_path: Path) -> None:
    _tree(tmp_path, ["a.jpg", "raw/b.jpg", "raw/c.CR2", "d.PDF"])
    only_pdf = select_files([tmp_path], True, include=["*.pdf"])
    assert _rel(tmp_path, [str(p) for p in only_pdf.files]) == ["d.PDF"]
    assert {i.reason for i in only_pdf.ignored} == {"matches no include pattern"}
    everything = select_files([tmp_path], True, include=["*"], exclude=["raw/*"])
    assert _rel(tmp_path, [str(p) for p in everything.files]) == ["a.jpg", "d.PDF"]
    assert {i.reason for i in everything.ignored} == {"excluded by 'raw/*'"}


def test_a_file_named_outright_follows_the_same_rule(tmp_path: Path) -> None:
    _tree(tmp_path, ["notes.txt", "photo.webp"])
    chosen = select_files([tmp_path / "notes.txt", tmp_path / "photo.webp"], recursive=False)
    assert chosen.files == [tmp_path / "photo.webp"]
    assert [i.reason for i in chosen.ignored] == ["not an image: a .txt file"]
    assert {"jpg", "jpeg", "png", "gif", "webp", "bmp", "tif", "tiff", "heic", "heif",
            "avif"} == IMAGE_EXTENSIONS  # fmt: skip
