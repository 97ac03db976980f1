"""Builders for import fixtures: every test file is made here, from documented
formats, so no real export (with real secrets) is ever checked in."""
import base64
import hashlib
import io
import json
import os
from urllib.parse import quote

import pyotp
import pyotp.contrib
import zxingcpp
from PIL import Image, ImageDraw, ImageFilter

# ---- a tiny protobuf encoder (the reader under test must not grade itself) ----

def varint(n):
    n &= (1 << 64) - 1  # negative int64/int32 values are sign-extended to 10 bytes
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def key(number, wire):
    return varint(number << 3 | wire)


def f_varint(number, value):
    return key(number, 0) + varint(value)


def f_bytes(number, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return key(number, 2) + varint(len(data)) + data


def f_fixed32(number, data=b"\x01\x02\x03\x04"):
    return key(number, 5) + data


def f_fixed64(number, data=b"\x01\x02\x03\x04\x05\x06\x07\x08"):
    return key(number, 1) + data


# Google's MigrationPayload enums.
ALGO = {"SHA1": 1, "SHA256": 2, "SHA512": 3, "MD5": 4}
DIGITS = {6: 1, 8: 2}
TYPE = {"hotp": 1, "totp": 2}


def otp_parameters(secret, name="", issuer="", algorithm=1, digits=1, type_=2, counter=None,
                   extra=b""):
    """One OtpParameters message; enum values as Google writes them. Fields left
    at 0 are omitted, as proto3 does."""
    out = f_bytes(1, secret) + f_bytes(2, name)
    if issuer:
        out += f_bytes(3, issuer)
    for number, value in ((4, algorithm), (5, digits), (6, type_)):
        if value:
            out += f_varint(number, value)
    if counter is not None:
        out += f_varint(7, counter)
    return out + extra


def payload(otps, batch_size=1, batch_index=0, batch_id=123456789, version=1, extra=b""):
    out = b"".join(f_bytes(1, otp) for otp in otps)
    out += f_varint(2, version) + f_varint(3, batch_size) + f_varint(4, batch_index)
    return out + f_varint(5, batch_id) + extra


def migration_uri(data, style="percent"):
    """style: percent (as Google writes it), raw (unencoded +/=), nopad (no '='),
    spaces (a '+' decoded to ' ' by a form parser), urlsafe (-_ alphabet)."""
    text = base64.b64encode(data).decode()
    if style == "percent":
        text = quote(text, safe="")
    elif style == "nopad":
        text = quote(text.rstrip("="), safe="")
    elif style == "spaces":
        text = text.replace("+", " ")
    elif style == "urlsafe":
        text = text.replace("+", "-").replace("/", "_")
    return "otpauth-migration://offline?data=" + text


def b32(secret):
    return base64.b32encode(secret).decode().rstrip("=")


# ---- 2FAS ----

def twofas_service(secret_b32, name, account="", issuer=None, digits=6, period=30,
                   algorithm="SHA1", token_type="TOTP", counter=None, **extra):
    otp = {"link": "", "label": "", "account": account,
           "issuer": name if issuer is None else issuer, "digits": digits,
           "period": period, "algorithm": algorithm, "tokenType": token_type,
           "source": "Link"}
    if counter is not None:
        otp["counter"] = counter
    otp.update(extra)
    return {"name": name, "secret": secret_b32, "updatedAt": 1700000000000,
            "otp": otp, "order": {"position": 0}, "icon": {"selected": "Label"}}


def twofas_encrypt(plain, password, salt=None, iv=None):
    """data:salt:iv as 2FAS writes it: PBKDF2-HMAC-SHA256 x10000, AES-256-GCM."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
    salt = os.urandom(256) if salt is None else salt
    iv = os.urandom(12) if iv is None else iv
    key_ = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt,
                      iterations=10000).derive(password.encode("utf-8"))
    sealed = AESGCM(key_).encrypt(iv, plain, None)
    return ":".join(base64.b64encode(part).decode() for part in (sealed, salt, iv))


def twofas_backup(services, password=None):
    backup = {"services": services, "groups": [], "updatedAt": 1700000000000,
              "schemaVersion": 4, "appVersionCode": 5000012, "appVersionName": "5.3.0",
              "appOrigin": "android"}
    if password is not None:
        backup["services"] = []
        backup["servicesEncrypted"] = twofas_encrypt(json.dumps(services).encode(), password)
        backup["reference"] = twofas_encrypt(b"a constant 2FAS checks the password with",
                                             password)
    return json.dumps(backup)


# ---- andOTP ----

def andotp_entry(secret_b32, label, issuer="", digits=6, period=30, algorithm="SHA1",
                 type_="TOTP", counter=None):
    entry = {"secret": secret_b32, "issuer": issuer, "label": label, "digits": digits,
             "type": type_, "algorithm": algorithm, "thumbnail": "Default",
             "last_used": 1700000000000, "used_frequency": 0, "tags": []}
    if type_ == "HOTP":
        entry["counter"] = 0 if counter is None else counter
    else:
        entry["period"] = period
    return entry


# ---- Aegis (only to drive host_tools.formats.aegis through the importer) ----

def aegis_entry(secret_b32, name, issuer, type_="totp", algo="SHA1", digits=6, period=30,
                counter=None):
    info = {"secret": secret_b32, "algo": algo, "digits": digits}
    if type_ == "hotp":
        info["counter"] = counter or 0
    else:
        info["period"] = period
    return {"type": type_, "uuid": "01234567-89ab-cdef-0123-456789abcdef", "name": name,
            "issuer": issuer, "note": "", "favorite": False, "icon": None, "info": info,
            "groups": []}


def aegis_vault(entries, password=None):
    db = {"version": 3, "entries": entries, "groups": []}
    if password is None:
        return json.dumps({"version": 1, "header": {"slots": None, "params": None}, "db": db})
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    master = os.urandom(32)
    salt, slot_nonce, db_nonce = os.urandom(32), os.urandom(12), os.urandom(12)
    slot_key = hashlib.scrypt(password.encode(), salt=salt, n=32768, r=8, p=1,
                              maxmem=64 * 1024 * 1024, dklen=32)
    wrapped = AESGCM(slot_key).encrypt(slot_nonce, master, None)
    sealed = AESGCM(master).encrypt(db_nonce, json.dumps(db).encode(), None)
    slot = {"type": 1, "uuid": "fedcba98-7654-3210-fedc-ba9876543210",
            "key": wrapped[:-16].hex(),
            "key_params": {"nonce": slot_nonce.hex(), "tag": wrapped[-16:].hex()},
            "n": 32768, "r": 8, "p": 1, "salt": salt.hex(), "repaired": True,
            "is_backup": False}
    header = {"slots": [slot], "params": {"nonce": db_nonce.hex(), "tag": sealed[-16:].hex()}}
    return json.dumps({"version": 1, "header": header,
                       "db": base64.b64encode(sealed[:-16]).decode()})


# ---- QR images ----

def qr_image(text, scale=4):
    code = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode)
    return Image.fromarray(code.to_image(scale=scale)).convert("L")


def encoded(image, fmt="PNG", **options):
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


def side_by_side(*images, gap=40):
    width = sum(im.width for im in images) + gap * (len(images) + 1)
    height = max(im.height for im in images) + 2 * gap
    sheet = Image.new("L", (width, height), 255)
    x = gap
    for im in images:
        sheet.paste(im, (x, gap))
        x += im.width + gap
    return sheet


def photo_like(image):
    """A QR code as a phone sees a screen: scaled by an odd factor, tilted,
    on a grey, unevenly lit background, slightly soft, JPEG-compressed."""
    im = image.convert("RGBA")
    im = im.resize((int(im.width * 1.7), int(im.height * 1.7)), Image.BICUBIC)
    im = im.rotate(17, resample=Image.BICUBIC, expand=True, fillcolor=(0, 0, 0, 0))
    canvas = Image.new("RGB", (im.width + 160, im.height + 120), (150, 145, 140))
    shade = ImageDraw.Draw(canvas)
    for x in range(canvas.width):  # a light gradient from left to right
        v = 120 + 80 * x // canvas.width
        shade.line([(x, 0), (x, canvas.height)], fill=(v, v - 5, v - 10))
    canvas.paste(im, (90, 50), im)  # the alpha keeps the corners on the background
    canvas = canvas.filter(ImageFilter.GaussianBlur(1.2))
    return encoded(canvas, "JPEG", quality=70)


# ---- codes, the proof that a secret arrived intact ----

_DIGESTS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}
TIMES = (59, 1111111109, 1234567890, 2000000000)


def codes(secret, kind="totp", algorithm="SHA1", digits=6, period=30, counter=0):
    """pyotp's codes for a secret (bytes) at a few times or counters."""
    text = base64.b32encode(secret).decode()
    if kind == "steam":
        return [pyotp.contrib.Steam(text).at(t) for t in TIMES]
    if kind == "hotp":
        otp = pyotp.HOTP(text, digits=digits, digest=_DIGESTS[algorithm])
        return [otp.at(counter + i) for i in range(4)]
    otp = pyotp.TOTP(text, digits=digits, digest=_DIGESTS[algorithm], interval=period)
    return [otp.at(t) for t in TIMES]


def account_codes(account):
    return codes(account.secret, account.kind, account.algorithm, account.digits,
                 account.period, account.counter)
