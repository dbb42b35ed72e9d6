"""Upload checks: an upload is accepted only when its name, size and first bytes agree."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile

# extension -> (MIME type, signature check). Text types must decode as UTF-8.
_TEXT = "text"


def _starts(*prefixes: bytes):
    return lambda head: any(head.startswith(p) for p in prefixes)


def _riff(kind: bytes):
    return lambda head: head[:4] == b"RIFF" and head[8:12] == kind


def _ftyp(head: bytes) -> bool:
    return head[4:8] == b"ftyp"


_ZIP = _starts(b"PK\x03\x04", b"PK\x05\x06")

ALLOWED_TYPES: dict[str, tuple[str, object]] = {
    ".png": ("image/png", _starts(b"\x89PNG\r\n\x1a\n")),
    ".jpg": ("image/jpeg", _starts(b"\xff\xd8\xff")),
    ".jpeg": ("image/jpeg", _starts(b"\xff\xd8\xff")),
    ".gif": ("image/gif", _starts(b"GIF87a", b"GIF89a")),
    ".webp": ("image/webp", _riff(b"WEBP")),
    ".pdf": ("application/pdf", _starts(b"%PDF-")),
    ".zip": ("application/zip", _ZIP),
    ".docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", _ZIP),
    ".xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", _ZIP),
    ".pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", _ZIP),
    ".mp3": ("audio/mpeg", _starts(b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")),
    ".wav": ("audio/wav", _riff(b"WAVE")),
    ".mp4": ("video/mp4", _ftyp),
    ".txt": ("text/plain", _TEXT),
    ".md": ("text/markdown", _TEXT),
    ".csv": ("text/csv", _TEXT),
    ".json": ("application/json", _TEXT),
    ".html": ("text/html", _TEXT),
    ".css": ("text/css", _TEXT),
    ".js": ("text/javascript", _TEXT),
    ".py": ("text/x-python", _TEXT),
    ".svg": ("image/svg+xml", _TEXT),
}


@dataclass(frozen=True)
class CheckedUpload:
    file: UploadedFile
    original_name: str
    content_type: str
    size: int
    sha256: str


def check_upload(upload: UploadedFile) -> CheckedUpload:
    """Return the upload's verified type and hash, or raise ValidationError saying why not."""
    name = PurePath(upload.name or "").name
    if not name or name.startswith(".") or "\x00" in name:
        raise ValidationError(f"“{upload.name}” is not a usable file name.")
    limit = settings.COMMAND_UPLOAD_MAX_BYTES
    if upload.size > limit:
        raise ValidationError(f"“{name}” is {upload.size / 1_048_576:.1f} MB; the limit is {limit / 1_048_576:.0f} MB.")
    if upload.size == 0:
        raise ValidationError(f"“{name}” is empty.")
    extension = PurePath(name).suffix.lower()
    if extension not in ALLOWED_TYPES:
        allowed = ", ".join(sorted(ALLOWED_TYPES))
        raise ValidationError(f"“{name}”: files of type “{extension or 'none'}” are not accepted (allowed: {allowed}).")
    content_type, signature = ALLOWED_TYPES[extension]
    digest = hashlib.sha256()
    head = b""
    for chunk in upload.chunks():
        if len(head) < 64:
            head += chunk[: 64 - len(head)]
        digest.update(chunk)
    upload.seek(0)
    if signature is _TEXT:
        sample = upload.read(64 * 1024)
        upload.seek(0)
        try:
            sample.decode("utf-8")
        except UnicodeDecodeError as exc:
            # A multi-byte character cut at the sample's end is fine; anything else is not text.
            if exc.start < len(sample) - 4:
                raise ValidationError(f"“{name}” does not look like a text file.") from None
        if b"\x00" in sample:
            raise ValidationError(f"“{name}” does not look like a text file.")
    elif not signature(head):
        raise ValidationError(f"“{name}” does not contain what its name says ({extension} file expected).")
    return CheckedUpload(upload, name, content_type, upload.size, digest.hexdigest())
