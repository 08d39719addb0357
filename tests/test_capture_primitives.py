"""Pure building blocks of case capture: identity data, privacy, evidence store, photo checks."""

from __future__ import annotations

import io
import multiprocessing
import os
import stat
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

import pytest
from PIL import Image, ImageFilter

from bot.flows.capture import read_serial
from domain.platform.errors import DomainError, NotFound
from domain.platform.identity import (
    mask_mobile,
    mask_resident_id,
    normalise_serial,
    resident_id_check_digit,
    validate_customer_name,
    validate_mobile,
    validate_resident_id,
)
from domain.platform.images import (
    PhotoLimits,
    inspect_off_loop,
    inspect_photo,
    preview_without_exif,
)
from domain.platform.media import MediaCorrupted, MediaStore
from domain.platform.privacy import FieldCipher

TODAY = date(2026, 11, 22)
LIMITS = PhotoLimits()
SECRET = "a-test-secret-that-is-long-enough"


def resident_id(region: str = "110105", born: str = "19900307", sequence: str = "123") -> str:
    """A resident ID number with a correct GB 11643 check digit."""
    first17 = region + born + sequence
    return first17 + resident_id_check_digit(first17)


def wrong_check_digit(number: str) -> str:
    """The same number with a check character that cannot be right."""
    other = "0" if number[-1] != "0" else "1"
    return number[:-1] + other


def refusal(call, *args) -> str:  # type: ignore[no-untyped-def]
    """The msgid a call refuses with."""
    with pytest.raises(DomainError) as caught:
        call(*args)
    return caught.value.key


# --- resident ID (C1) ---------------------------------------------------------------


def test_known_real_format_id_number_is_accepted() -> None:
    # The GB 11643 standard's own example number.
    assert validate_resident_id("11010519491231002X", TODAY) == "11010519491231002X"


def test_generated_id_number_is_accepted_with_spaces_and_lower_case_x() -> None:
    number = next(
        resident_id(sequence=f"{n:03d}") for n in range(1000)
        if resident_id(sequence=f"{n:03d}").endswith("X")
    )
    typed = f"{number[:6]} {number[6:14]} {number[14:].lower()}"
    assert validate_resident_id(typed, TODAY) == number


def test_wrong_check_digit_is_refused() -> None:
    key = refusal(validate_resident_id, wrong_check_digit(resident_id()), TODAY)
    assert key == "The check digit of this ID number is wrong. Please check the number."


def test_seventeen_characters_are_refused_with_the_count() -> None:
    with pytest.raises(DomainError) as caught:
        validate_resident_id(resident_id()[:17], TODAY)
    assert caught.value.key == "The ID number must have 18 characters; you sent %(n)d."
    assert caught.value.params == {"n": 17}


def test_letters_in_the_digits_are_refused() -> None:
    number = resident_id()
    key = refusal(validate_resident_id, number[:3] + "A" + number[4:], TODAY)
    assert key == "The first 17 characters of the ID number must be digits."


def test_letter_other_than_x_at_the_end_is_refused() -> None:
    key = refusal(validate_resident_id, resident_id()[:17] + "Y", TODAY)
    assert key == "The last character of the ID number must be a digit or X."


def test_future_birth_date_is_refused_with_the_date() -> None:
    with pytest.raises(DomainError) as caught:
        validate_resident_id(resident_id(born="20261123"), TODAY)
    assert caught.value.key == "The birth date in this ID number (%(date)s) is in the future."
    assert caught.value.params == {"date": "2026-11-23"}


def test_birth_today_is_accepted() -> None:
    assert validate_resident_id(resident_id(born="20261122"), TODAY)


def test_february_30_is_refused() -> None:
    key = refusal(validate_resident_id, resident_id(born="19900230"), TODAY)
    assert key == "The birth date in this ID number (%(date)s) is not a real date."


def test_birth_before_1900_is_refused() -> None:
    key = refusal(validate_resident_id, resident_id(born="18991231"), TODAY)
    assert key == "The birth date in this ID number (%(date)s) is before 1900."


def test_all_zero_region_is_refused() -> None:
    key = refusal(validate_resident_id, resident_id(region="000000"), TODAY)
    assert key == "The region code of this ID number (the first 6 digits) is invalid."


def test_id_number_is_masked_to_first_six_and_last_four() -> None:
    assert mask_resident_id("11010519491231002X") == "110105********002X"


# --- mobile (C4) and name ------------------------------------------------------------


@pytest.mark.parametrize(
    "typed", ["13812345678", "138 1234 5678", "138-1234-5678", "+86 138 1234 5678", "8613812345678",
              "+86-138-1234-5678", "0086 138 1234 5678", "0086-13812345678", "(+86)13812345678",
              "１３８１２３４５６７８", "＋８６　１３８－１２３４－５６７８", "138–1234–5678"]
)
def test_mainland_mobile_is_normalised(typed: str) -> None:
    assert validate_mobile(typed) == "13812345678"


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("1381234567", "The mobile number must have 11 digits; you sent %(n)d."),
        ("23812345678", "A mainland mobile number starts with 13 to 19."),
        ("12812345678", "A mainland mobile number starts with 13 to 19."),
        ("138abcd5678", "The mobile number may contain only digits."),
    ],
)
def test_bad_mobile_is_refused_precisely(typed: str, key: str) -> None:
    assert refusal(validate_mobile, typed) == key


def test_mobile_is_masked() -> None:
    assert mask_mobile("13812345678") == "138****5678"


def test_customer_name_is_checked() -> None:
    assert validate_customer_name("  张三 ") == "张三"
    assert refusal(validate_customer_name, "张") == (
        "The name must have %(min)d to %(max)d characters."
    )
    assert refusal(validate_customer_name, "张三3") == "The name must not contain digits."
    assert refusal(validate_customer_name, "张三３") == "The name must not contain digits."


@pytest.mark.parametrize(("typed", "kept"), [
    ("阿卜杜拉·买买提", "阿卜杜拉·买买提"),
    ("阿卜杜拉・买买提", "阿卜杜拉·买买提"),
    ("阿卜杜拉 • 买买提", "阿卜杜拉·买买提"),
    ("阿卜杜拉･买买提", "阿卜杜拉·买买提"),
    ("Zoë Müller", "Zoë Müller"),
    ("Анна Иванова", "Анна Иванова"),
    ("ＬＩ　Ｍｉｎｇ", "LI Ming"),
    ("สมชาย ใจดี", "สมชาย ใจดี"),
])
def test_names_of_any_script_and_the_middle_dot_are_accepted(typed: str, kept: str) -> None:
    assert validate_customer_name(typed) == kept


@pytest.mark.parametrize(("typed", "key"), [
    ("张三😀", "The name must not contain emoji or symbols."),
    ("张三★", "The name must not contain emoji or symbols."),
    ("张\u200b三", "The name contains an invisible character (such as a zero-width space); type "
                 "the name again without it."),
    ("张\u200d三", "The name contains an invisible character (such as a zero-width space); type "
                 "the name again without it."),
    ("张\ufeff三", "The name contains an invisible character (such as a zero-width space); type "
                 "the name again without it."),
    ("张\x07三", "The name contains a control character; type the name again."),
    ("·张三", "The middle dot (·) goes only between the parts of a name."),
    ("张三··李", "The middle dot (·) goes only between the parts of a name."),
    ("张三@", "The name may contain only letters, spaces and the middle dot (·); remove "
             "\u201c%(char)s\u201d."),
])
def test_names_with_emoji_invisible_or_control_characters_are_refused(typed: str,
                                                                      key: str) -> None:
    assert refusal(validate_customer_name, typed) == key


def test_full_width_digits_are_read_as_digits_in_an_id_number_and_a_serial() -> None:
    assert validate_resident_id("１１０１０５１９４９１２３１００２ｘ", date(2026, 11, 23)) == (
        "11010519491231002X")
    assert normalise_serial(" ６２１７０００１ ") == "62170001"
    assert read_serial("卡号 ６２１７ ０００１") == "62170001"


# --- field cipher (C10) --------------------------------------------------------------


def test_cipher_round_trip_uses_a_fresh_nonce() -> None:
    cipher = FieldCipher(SECRET)
    first, second = cipher.encrypt("11010519491231002X"), cipher.encrypt("11010519491231002X")
    assert first != second
    assert "11010519491231002X" not in first
    assert cipher.decrypt(first) == cipher.decrypt(second) == "11010519491231002X"


def test_tampered_token_is_refused() -> None:
    cipher = FieldCipher(SECRET)
    token = cipher.encrypt("13812345678")
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    for bad in (flipped, token[:-4], "v9" + token[2:], "garbage"):
        with pytest.raises(DomainError):
            cipher.decrypt(bad)


def test_cipher_with_another_secret_cannot_read() -> None:
    token = FieldCipher(SECRET).encrypt("13812345678")
    with pytest.raises(DomainError):
        FieldCipher(SECRET + "-other").decrypt(token)


def test_lookup_hash_matches_equal_values_only_under_the_same_secret() -> None:
    cipher, other = FieldCipher(SECRET), FieldCipher(SECRET + "-other")
    assert cipher.lookup_hash("11010519491231002x") == cipher.lookup_hash("11010519491231002X")
    assert cipher.lookup_hash("13812345678") != cipher.lookup_hash("13812345679")
    assert cipher.lookup_hash("13812345678") != other.lookup_hash("13812345678")
    assert len(cipher.lookup_hash("13812345678")) == 64


def test_short_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        FieldCipher("short")


# --- media store (C9) ----------------------------------------------------------------


def stored_files(root: Path) -> list[Path]:
    """Every file in the store, temp files included."""
    return [path for path in root.rglob("*") if path.is_file()]


def test_same_bytes_twice_make_one_read_only_file(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    digest = store.put(b"photo bytes")
    assert store.put(b"photo bytes") == digest
    [path] = stored_files(tmp_path)
    assert path == tmp_path / digest[:2] / digest[2:4] / digest
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert store.read(digest) == b"photo bytes"


def test_corrupted_file_raises_the_alarm(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    digest = store.put(b"original evidence")
    [path] = stored_files(tmp_path)
    os.chmod(path, 0o644)
    path.write_bytes(b"altered evidence")
    with pytest.raises(MediaCorrupted):
        store.read(digest)
    with pytest.raises(MediaCorrupted):
        store.put(b"original evidence")
    assert path.read_bytes() == b"altered evidence"


@pytest.mark.parametrize(
    "name", ["../etc/passwd", "../" * 3 + "a" * 55, "A" * 64, "g" * 64, "a" * 63, "/" + "a" * 63]
)
def test_names_that_are_not_sha256_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(DomainError) as caught:
        MediaStore(tmp_path).read(name)
    assert caught.value.key == "This is not a valid photo or file reference."


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        MediaStore(tmp_path).read("0" * 64)


async def test_async_wrappers_store_and_read(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    digest = await store.aput(b"async bytes")
    assert await store.aread(digest) == b"async bytes"


# --- photos (C7) ---------------------------------------------------------------------


def encoded(image: Image.Image, image_format: str = "JPEG", **params: object) -> bytes:
    """Image bytes as a phone would send them."""
    out = io.BytesIO()
    image.save(out, format=image_format, **params)
    return out.getvalue()


def photo(width: int = 1200, height: int = 900) -> Image.Image:
    """A sharp, evenly lit photo-like image: noise on a mid-grey checkerboard."""
    board = Image.new("L", (width, height), 90)
    for x in range(0, width, 60):
        for y in range(0, height, 60):
            if (x // 60 + y // 60) % 2:
                board.paste(190, (x, y, x + 60, y + 60))
    noise = Image.effect_noise((width, height), 40)
    return Image.blend(board, noise, 0.3).convert("RGB")


def test_sharp_photo_is_accepted() -> None:
    info = inspect_photo(encoded(photo()), LIMITS)
    assert (info.width, info.height, info.format) == (1200, 900, "JPEG")
    assert info.sharpness >= LIMITS.min_sharpness
    assert info.brightness >= LIMITS.min_brightness


def test_portrait_and_png_photos_are_accepted() -> None:
    assert inspect_photo(encoded(photo(900, 1200), "PNG"), LIMITS).format == "PNG"


def test_small_photo_is_refused_with_both_sizes() -> None:
    with pytest.raises(DomainError) as caught:
        inspect_photo(encoded(photo(200, 200)), LIMITS)
    assert caught.value.params == {"width": 200, "height": 200, "min_width": 800, "min_height": 600}


async def test_photos_checked_in_a_worker_process_keep_the_refusals_reasons() -> None:
    """The check off the event loop (issue 14): in a process pool, a refusal comes back with
    its parameters and a photo is measured."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=spawn) as pool:
        with pytest.raises(DomainError) as caught:
            await inspect_off_loop(encoded(photo(200, 200)), LIMITS, pool)
        info = await inspect_off_loop(encoded(photo()), LIMITS, pool)
    assert caught.value.params == {"width": 200, "height": 200, "min_width": 800, "min_height": 600}
    assert (info.width, info.height, info.format) == (1200, 900, "JPEG")


def test_blurred_photo_is_refused() -> None:
    blurred = photo().filter(ImageFilter.GaussianBlur(20))
    key = refusal(inspect_photo, encoded(blurred), LIMITS)
    assert key == "The photo is blurred. Please hold still and retake it."


def test_dark_photo_is_refused() -> None:
    dark = photo().point(lambda value: value // 16)
    key = refusal(inspect_photo, encoded(dark), LIMITS)
    assert key == "The photo is too dark. Please retake it in better light."


def test_pdf_named_jpg_is_refused() -> None:
    pdf = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    key = refusal(inspect_photo, pdf, LIMITS)
    assert key == "This file is not a photo we can read. Please send a JPEG, PNG or WEBP photo."


def test_truncated_jpeg_is_refused() -> None:
    data = encoded(photo())
    assert refusal(inspect_photo, data[: len(data) // 2], LIMITS).startswith("This file is not")


def test_other_image_formats_are_refused() -> None:
    assert refusal(inspect_photo, encoded(photo(), "BMP"), LIMITS).startswith("This file is not")


def test_thirty_megabytes_are_refused_with_the_limit() -> None:
    with pytest.raises(DomainError) as caught:
        inspect_photo(b"\xff\xd8" + b"\0" * (30 * 1024 * 1024), LIMITS)
    assert caught.value.key == "The photo is too large: at most %(limit)d MB is allowed."
    assert caught.value.params == {"limit": 20}


def test_too_many_pixels_are_refused_before_decoding() -> None:
    limits = PhotoLimits(max_pixels=1_000_000)
    key = refusal(inspect_photo, encoded(photo()), limits)
    assert key == "The photo has too many pixels to be processed safely."


def test_preview_is_downscaled_upright_and_without_exif() -> None:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    original = encoded(photo(2400, 1800), exif=exif.tobytes())
    preview = preview_without_exif(original, max_side=1000)
    with Image.open(io.BytesIO(preview)) as shown:
        assert shown.format == "JPEG"
        assert shown.size == (750, 1000)
        assert not shown.getexif()
        assert "exif" not in shown.info
    assert Image.open(io.BytesIO(original)).getexif()[0x010F] == "PhoneMaker"
