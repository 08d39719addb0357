"""Photo checks before a photo becomes evidence, and EXIF-free previews (C7, C9, C10)."""

from __future__ import annotations

import asyncio
import io
from concurrent.futures import Executor
from dataclasses import dataclass

from PIL import Image, ImageFilter, ImageOps, ImageStat

from domain.platform.errors import N_, DomainError

MIB = 1024 * 1024
BASE_FORMATS = ("JPEG", "PNG", "WEBP")
# Sharpness and brightness are measured on a grey copy whose long side is this many
# pixels, so the thresholds mean the same for a 2 MP and a 48 MP photo.
ANALYSIS_SIDE = 640
_LAPLACIAN = ImageFilter.Kernel((3, 3), (0, 1, 0, 1, -4, 1, 0, 1, 0), scale=1, offset=128)


@dataclass(frozen=True)
class PhotoLimits:
    """Configurable photo limits (C7).

    max_bytes: 20 MiB, the issue's default upload limit.
    min_width / min_height: 800×600, checked either way round so portrait photos pass.
    max_pixels: 60 MP, above any phone's default mode; larger images are refused
        before decoding (decompression bombs).
    min_sharpness: variance of a 3×3 Laplacian on the grey analysis copy; printed
        text in focus gives several hundred, a visibly blurred photo single digits.
    min_brightness: mean luminance 0–255 of the analysis copy; under 40 the card
        cannot be read.
    """

    max_bytes: int = 20 * MIB
    min_width: int = 800
    min_height: int = 600
    max_pixels: int = 60_000_000
    min_sharpness: float = 20.0
    min_brightness: float = 40.0


@dataclass(frozen=True)
class PhotoInfo:
    """What the checks measured on an accepted photo (C7)."""

    width: int
    height: int
    format: str
    sharpness: float
    brightness: float


def accepted_formats() -> tuple[str, ...]:
    """JPEG, PNG and WEBP, plus HEIF when a HEIF plugin is installed (C7)."""
    Image.init()
    return BASE_FORMATS + (("HEIF",) if "HEIF" in Image.OPEN else ())


def inspect_photo(data: bytes, limits: PhotoLimits) -> PhotoInfo:
    """Refuse photos that are too big, not images, too small, too dark or blurred (C7)."""
    if len(data) > limits.max_bytes:
        raise DomainError(
            N_("The photo is too large: at most %(limit)d MB is allowed."),
            limit=limits.max_bytes // MIB,
        )
    _verify(data)
    with _open(data) as image:
        width, height = image.size
        _check_dimensions(width, height, limits)
        image_format = image.format or ""
        grey = _analysis_copy(image)
    brightness = ImageStat.Stat(grey).mean[0]
    if brightness < limits.min_brightness:
        raise DomainError(N_("The photo is too dark. Please retake it in better light."))
    sharpness = _edge_variance(grey)
    if sharpness < limits.min_sharpness:
        raise DomainError(N_("The photo is blurred. Please hold still and retake it."))
    return PhotoInfo(width, height, image_format, round(sharpness, 1), round(brightness, 1))


async def inspect_off_loop(data: bytes, limits: PhotoLimits,
                           executor: Executor | None = None) -> PhotoInfo:
    """`inspect_photo` off the event loop, so the bot keeps answering while a photo is
    checked (C7, issue 14): in `executor` (the process pool the composition root owns), or
    in a thread when there is none (tests, CLI)."""
    return await asyncio.get_running_loop().run_in_executor(executor, inspect_photo, data,
                                                            limits)


def preview_without_exif(data: bytes, max_side: int = 1600) -> bytes:
    """Downscaled, upright JPEG copy without EXIF; the original is never changed (C9, C10)."""
    with _open(data) as image:
        try:
            upright = ImageOps.exif_transpose(image).convert("RGB")
        except (OSError, ValueError, EOFError):
            raise _not_an_image() from None
    upright.thumbnail((max_side, max_side))
    clean = Image.new("RGB", upright.size)
    clean.paste(upright)
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=85)
    return out.getvalue()


def _not_an_image() -> DomainError:
    """The refusal for bytes that do not decode as an accepted photo format (C7)."""
    return DomainError(
        N_("This file is not a photo we can read. Please send a JPEG, PNG or WEBP photo.")
    )


def _open(data: bytes) -> Image.Image:
    """Open bytes as an accepted format, refusing anything else and decompression bombs (C7)."""
    try:
        return Image.open(io.BytesIO(data), formats=accepted_formats())
    except Image.DecompressionBombError:
        raise _too_many_pixels() from None
    except OSError:
        raise _not_an_image() from None


def _verify(data: bytes) -> None:
    """Check the file's structure before any pixel is decoded (C7)."""
    with _open(data) as image:
        try:
            image.verify()
        except (OSError, SyntaxError, ValueError, EOFError):
            raise _not_an_image() from None


def _too_many_pixels() -> DomainError:
    """The refusal for images with more pixels than the limit (C7)."""
    return DomainError(N_("The photo has too many pixels to be processed safely."))


def _check_dimensions(width: int, height: int, limits: PhotoLimits) -> None:
    """Refuse photos below the minimum size (either orientation) or above the pixel cap (C7)."""
    if width * height > limits.max_pixels:
        raise _too_many_pixels()
    long_side, short_side = max(width, height), min(width, height)
    if long_side < max(limits.min_width, limits.min_height) or short_side < min(
        limits.min_width, limits.min_height
    ):
        raise DomainError(
            N_("The photo is too small: %(width)d×%(height)d pixels; "
               "at least %(min_width)d×%(min_height)d are needed."),
            width=width,
            height=height,
            min_width=limits.min_width,
            min_height=limits.min_height,
        )


def _edge_variance(grey: Image.Image) -> float:
    """Variance of the Laplacian, without the 1-pixel border Pillow leaves unfiltered (C7)."""
    width, height = grey.size
    edges = grey.filter(_LAPLACIAN).crop((1, 1, width - 1, height - 1))
    return ImageStat.Stat(edges).var[0]


def _analysis_copy(image: Image.Image) -> Image.Image:
    """Decode a grey copy with a long side of ANALYSIS_SIDE pixels (C7)."""
    try:
        image.draft("L", (ANALYSIS_SIDE, ANALYSIS_SIDE))
        grey = image.convert("L")
    except (OSError, ValueError, EOFError):
        raise _not_an_image() from None
    grey.thumbnail((ANALYSIS_SIDE, ANALYSIS_SIDE))
    return grey
