"""Image, video and audio checks: each file is decoded, not just looked at."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path
from xml.etree import ElementTree

import imageio_ffmpeg
from PIL import Image

from outputs.verification.report import VerificationReport


def check_images(root: Path, expectations: dict, report: VerificationReport) -> None:
    for name, size in (expectations.get("images") or {}).items():

        def decode(name=name, size=size):
            with Image.open(root / name) as im:
                im.verify()  # structure and checksums
            with Image.open(root / name) as im:
                im.load()  # and the pixels really decode
                if size and list(im.size) != list(size):
                    raise ValueError(f"decoded at {im.size[0]}×{im.size[1]}, expected {size[0]}×{size[1]}")
                return f"{im.format} {im.size[0]}×{im.size[1]}"

        report.attempt(f"{name} decodes", decode)
    for name in expectations.get("svgs") or []:

        def parse(name=name):
            tree = ElementTree.parse(root / name)  # noqa: S314 — Command wrote this SVG itself
            if not tree.getroot().tag.endswith("svg"):
                raise ValueError("the root element is not <svg>")
            return "well-formed SVG"

        report.attempt(f"{name} parses", parse)


def check_video(path: Path, expectations: dict, report: VerificationReport) -> None:
    def read_back():
        reader = imageio_ffmpeg.read_frames(str(path))
        meta = next(reader)
        reader.close()
        codec = str(meta.get("codec", ""))
        if expectations.get("codec") and expectations["codec"] not in codec:
            raise ValueError(f"codec is {codec or 'unknown'}, expected {expectations['codec']}")
        size = list(meta.get("size") or [])
        if expectations.get("size") and size != list(expectations["size"]):
            raise ValueError(f"frame size {size}, expected {expectations['size']}")
        return f"{codec}, {size[0]}×{size[1]}, {meta.get('fps')} fps"

    report.attempt("video stream reads back", read_back)

    def count():
        frames, secs = imageio_ffmpeg.count_frames_and_secs(str(path))
        want_frames = expectations.get("frames")
        want_secs = expectations.get("duration")
        if want_frames and abs(frames - want_frames) > 1:
            raise ValueError(f"{frames} frames decoded, expected {want_frames}")
        if want_secs and abs(secs - want_secs) > 0.25:
            raise ValueError(f"lasts {secs:.2f} s, expected {want_secs:.2f} s")
        if frames <= 0:
            raise ValueError("no frames decoded")
        return f"{frames} frames, {secs:.2f} s"

    report.attempt("video frames and duration", count)

    if expectations.get("audio"):

        def soundtrack():
            info = subprocess.run(
                [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, timeout=60
            ).stderr.decode(errors="replace")
            if f"Audio: {expectations['audio']}" not in info:
                raise ValueError(f"no {expectations['audio']} audio stream")
            secs = _decoded_seconds(path)
            want = expectations.get("duration")
            if want and abs(secs - want) > 0.3:
                raise ValueError(f"the soundtrack lasts {secs:.2f} s, expected {want:.2f} s")
            return f"{expectations['audio']} soundtrack, {secs:.2f} s"

        report.attempt("video soundtrack decodes", soundtrack)


def _decoded_seconds(path: Path) -> float:
    """Decode the whole file with ffmpeg to mono 8 kHz PCM and measure it: a real read-back."""
    proc = subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-v",
            "error",
            "-i",
            str(path),
            "-f",
            "s16le",
            "-ac",
            "1",
            "-ar",
            "8000",
            "-",
        ],
        capture_output=True,
        timeout=120,
    )
    if proc.returncode != 0 or proc.stderr.strip():
        raise ValueError(proc.stderr.decode(errors="replace").strip()[:200] or "ffmpeg could not decode it")
    return len(proc.stdout) / 2 / 8000


def check_audio(root: Path, expectations: dict, report: VerificationReport) -> None:
    want = expectations.get("duration")
    for name, fmt in (expectations.get("files") or {}).items():
        path = root / name

        def read_back(path=path, fmt=fmt):
            if fmt == "wav":
                with wave.open(str(path), "rb") as w:
                    secs = w.getnframes() / w.getframerate()
                    desc = f"WAV {w.getnchannels()} ch, {w.getframerate()} Hz, {secs:.2f} s"
                decoded = _decoded_seconds(path)
                if abs(decoded - secs) > 0.1:
                    raise ValueError(f"header says {secs:.2f} s but {decoded:.2f} s decode")
            else:
                secs = _decoded_seconds(path)
                desc = f"{fmt.upper()} {secs:.2f} s"
            if want and abs(secs - want) > 0.15:
                raise ValueError(f"lasts {secs:.2f} s, expected {want:.2f} s")
            return desc

        report.attempt(f"{name} decodes", read_back)
