"""QR code images, both ways: the import format (every QR code in a
screenshot or photo, each an otpauth:// or otpauth-migration:// URI) and the
export (one PNG per account, readable by the user alone).

Pillow and zxing-cpp are imported when an image is met, not before.
"""
import io
import os
import re
import unicodedata

from host_tools.errors import FormatError
from host_tools.formats import otpauth
from host_tools.formats.base import Format, Parsed
from host_tools.formats.migration import combine_batches
from host_tools.formats.text import NOT_A_URI, add_decoded

MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM",
         b"II*\x00", b"MM\x00*")


def is_image(data):
    return data.startswith(MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


def _open_image(data, source):
    from PIL import Image, ImageOps, UnidentifiedImageError
    try:
        image = Image.open(io.BytesIO(data))
        image.load()  # decode now, so a truncated file fails here
        image = ImageOps.exif_transpose(image)  # phone photos carry their rotation in EXIF
    except UnidentifiedImageError:
        raise FormatError("cannot read image %s (not an image format Pillow knows)"
                          % source) from None
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as e:
        raise FormatError("cannot read image %s (%s)" % (source, e)) from None
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        # Transparent pixels are often black underneath: put them on white paper.
        image = image.convert("RGBA")
        paper = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, image)
    return image.convert("L")


def _read_qr_codes(image):
    import zxingcpp
    codes = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    if not codes:
        # Photos with uneven light read better with a global threshold.
        codes = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode,
                                       binarizer=zxingcpp.Binarizer.GlobalHistogram)
    # Reading order (top to bottom, left to right), so results don't depend on the decoder.
    return sorted(codes, key=lambda c: (c.position.top_left.y, c.position.top_left.x))


def from_image(data, source="the image"):
    """Every QR code in a screenshot or photo (PNG, JPEG, GIF, BMP, TIFF, WebP)."""
    codes = _read_qr_codes(_open_image(data, source))
    if not codes:
        raise FormatError("no QR code found in %s" % source)
    parsed, batches, found = Parsed(), [], 0
    for number, code in enumerate(codes, 1):
        label = "QR code %d" % number
        context = "%s %s" % (source, label) if len(codes) > 1 else source
        if add_decoded(parsed, batches, code.text.strip(), label, context):
            found += 1
        else:
            parsed.rejected.append((label, NOT_A_URI))
    if not found:
        raise FormatError("%s has %d QR code%s but none holds an otpauth:// or "
                          "otpauth-migration:// URI" % (source, len(codes),
                                                         "" if len(codes) == 1 else "s"))
    return parsed.extend(combine_batches(batches))


# ---- export ----

def safe_file_name(account):
    """issuer_name as a file name any system takes: ASCII letters, digits, . _ -"""
    text = "%s_%s" % (account.issuer, account.name) if account.issuer else account.name
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-")
    return text[:80] or "account"


def write_qr(directory, account, used):
    import zxingcpp
    from PIL import Image
    base = safe_file_name(account)
    name, n = base + ".png", 2
    while name in used:
        name, n = "%s-%d.png" % (base, n), n + 1
    used.add(name)
    path = os.path.join(directory, name)
    code = zxingcpp.create_barcode(otpauth.to_uri(account), zxingcpp.BarcodeFormat.QRCode)
    image = Image.fromarray(code.to_image(scale=8))
    # The image holds the secret: created readable by the user alone.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        image.save(f, "PNG")
    os.chmod(path, 0o600)  # an existing file keeps its old mode through O_TRUNC
    return path


FORMAT = Format("image", lambda content: is_image(content.data),
                lambda content, password=None: from_image(content.data, content.source),
                aliases=("qr",), binary=True)
