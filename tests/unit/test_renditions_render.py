"""Renditions of awkward pictures: EXIF-rotated, CMYK, alpha, animated, 16-bit; sizes, crop,
no metadata; and the ThumbHash encoder against vectors of the reference (JavaScript) one."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image, ImageCms

from bitimage.renditions.render import Renditions, render
from bitimage.renditions.thumbhash import average_rgba, encode, encode_base64

MAX_PIXELS = 50_000_000
RED, BLUE = (220, 20, 20), (20, 20, 220)


def _render(data: bytes) -> Renditions:
    return render(io.BytesIO(data), MAX_PIXELS)


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "WEBP"
    return image


def _halves(
    width: int, height: int, first: tuple[int, int, int], second: tuple[int, int, int]
) -> Image.Image:
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:, : width // 2] = first
    pixels[:, width // 2 :] = second
    return Image.fromarray(pixels)


def _saved(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _close(pixel: object, colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    assert isinstance(pixel, tuple)
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


def test_an_exif_rotated_jpeg_gives_upright_renditions() -> None:
    # Stored 1000x500, left red, right blue; orientation 6: shown turned 90 degrees clockwise,
    # so upright it is 500x1000 with red on top.
    exif = Image.Exif()
    exif[0x0112] = 6
    made = _render(_saved(_halves(1000, 500, RED, BLUE), "JPEG", exif=exif, quality=95))
    thumbnail, preview = _open(made.thumbnail), _open(made.preview)
    assert thumbnail.size == made.thumbnail_size == (250, 500)
    assert preview.size == (500, 1000)  # never upscaled
    rgb = thumbnail.convert("RGB")
    assert _close(rgb.getpixel((125, 60)), RED)
    assert _close(rgb.getpixel((125, 440)), BLUE)


def test_a_cmyk_jpeg_becomes_srgb() -> None:
    cmyk = Image.new("CMYK", (600, 400), (0, 230, 230, 0))  # printed red
    made = _render(_saved(cmyk, "JPEG", quality=95))
    pixel = _open(made.thumbnail).convert("RGB").getpixel((100, 100))
    assert isinstance(pixel, tuple)
    assert pixel[0] > 200
    assert pixel[1] < 60
    assert pixel[2] < 60
    assert _open(made.preview).mode == "RGB"


def test_a_png_keeps_its_transparency_and_the_placeholder_says_so() -> None:
    pixels = np.zeros((300, 400, 4), np.uint8)
    pixels[:, :200] = (*RED, 255)  # the right half is fully transparent
    made = _render(_saved(Image.fromarray(pixels, "RGBA"), "PNG"))
    thumbnail = _open(made.thumbnail)
    assert thumbnail.mode == "RGBA"
    alpha = thumbnail.getchannel("A")
    assert alpha.getpixel((10, 10)) == 255
    assert alpha.getpixel((320, 10)) == 0
    hashed = base64.b64decode(made.placeholder)
    assert hashed[2] >> 7 == 1  # the header's alpha bit
    assert average_rgba(hashed)[3] < 0.75


def test_an_animated_gif_gives_its_first_frame_still() -> None:
    frames = [Image.new("RGB", (300, 300), colour).convert("P") for colour in (RED, BLUE, RED)]
    data = io.BytesIO()
    frames[0].save(data, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    made = _render(data.getvalue())
    thumbnail = _open(made.thumbnail)
    assert getattr(thumbnail, "n_frames", 1) == 1
    assert _close(thumbnail.convert("RGB").getpixel((100, 100)), RED)


def test_a_sixteen_bit_png_is_scaled_down_not_clipped() -> None:
    ramp = np.tile(np.linspace(0, 65535, 512).astype(np.uint16), (256, 1))
    image = Image.fromarray(ramp)
    assert image.mode == "I;16"
    made = _render(_saved(image, "PNG"))
    grey = np.asarray(_open(made.thumbnail).convert("L"), dtype=np.float64)
    assert grey[:, :10].mean() < 30
    assert grey[:, -10:].mean() > 225
    assert 100 < grey.mean() < 155


@pytest.mark.parametrize(
    ("size", "thumbnail", "preview"),
    [
        ((4000, 3000), (333, 250), (1440, 1080)),
        ((2000, 400), (625, 250), (1440, 288)),  # 1:5: cropped to 1:2.5
        ((400, 2000), (250, 625), (288, 1440)),
        ((3000, 300), (625, 250), (1440, 144)),  # 1:10: the thumbnail comes from the original
        ((120, 80), (120, 80), (120, 80)),  # small: never upscaled
    ],
)
def test_sizes_keep_the_ratio_up_to_one_to_two_and_a_half(
    size: tuple[int, int], thumbnail: tuple[int, int], preview: tuple[int, int]
) -> None:
    made = _render(_saved(_halves(*size, RED, BLUE), "JPEG"))
    assert _open(made.thumbnail).size == made.thumbnail_size == thumbnail
    assert _open(made.preview).size == made.preview_size == preview


def test_renditions_carry_no_metadata() -> None:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Bitcam", "One"
    image = _halves(800, 600, RED, BLUE)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = _saved(image, "JPEG", exif=exif, icc_profile=icc, xmp=b"<x:xmpmeta>here</x:xmpmeta>")
    made = _render(data)
    for webp in (made.thumbnail, made.preview):
        assert not {b"EXIF", b"XMP ", b"ICCP"} & {webp[i : i + 4] for i in range(12, len(webp) - 4)}
        assert b"Bitcam" not in webp
        assert dict(_open(webp).getexif()) == {}
    assert 15 <= len(base64.b64decode(made.placeholder)) <= 30


def _pattern(width: int, height: int, alpha: bool) -> Image.Image:
    y, x = np.mgrid[0:height, 0:width]
    channels = [(x * 37 + y * 11) % 256, (x * x + y * 7) % 256, (x * y) % 256]
    channels.append((x * 5 + y * 3) % 256 if alpha else np.full_like(x, 255))
    return Image.fromarray(np.dstack(channels).astype(np.uint8), "RGBA")


def test_thumbhash_matches_the_reference_encoder() -> None:
    # Computed by rgbaToThumbHash of evanw/thumbhash (js/thumbhash.js) on the same pixels.
    assert encode_base64(_pattern(40, 30, alpha=False)) == "nQgGHYQyRFQwZYhjiEmIhd+Offme"
    assert encode_base64(_pattern(30, 50, alpha=True)) == "XgiCCwIYI5YKR2nOj+pH8lBoUGqlhmY="


def test_thumbhash_holds_the_average_colour() -> None:
    r, g, b, a = average_rgba(encode(Image.new("RGB", (80, 60), (255, 0, 0))))
    assert r > 0.95
    assert g < 0.05
    assert b < 0.05
    assert a == 1.0
