"""Video generator: an H.264 MP4 (imageio-ffmpeg) — a brand intro, or a slideshow of the task's
image assets when the request supplies them."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image, ImageDraw

from outputs.generators.audio import synthesise, write_wav
from outputs.generators.base import GeneratedOutput, GenerationRequest, describe_files, option_int
from outputs.generators.brand import Brand, brand_from, font
from outputs.generators.copywriting import copy_for
from outputs.generators.image import _gradient, draw_mark


def _ease(t: float) -> float:
    t = max(0.0, min(1.0, t))
    return 1 - (1 - t) ** 3


def _intro_frame(base: Image.Image, brand: Brand, lines: list[str], t: float, total: float) -> Image.Image:
    """One frame of the intro: the mark grows in, the name follows, then each line of copy."""
    img = base.copy()
    w, h = img.size
    d = ImageDraw.Draw(img)
    p = _ease(t / 1.2)
    mark = int(h * 0.22 * (0.6 + 0.4 * p))
    cx = w // 2
    y_mark = int(h * 0.26)
    if p > 0:
        draw_mark(d, brand, (cx - mark // 2, y_mark - mark // 2, mark), on_dark=True)
    name_alpha = _ease((t - 0.8) / 1.0)
    if name_alpha > 0:
        layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
        ld = ImageDraw.Draw(layer)
        ld.text(
            (cx, int(h * 0.5)),
            brand.name,
            font=font(max(12, int(h * 0.1)), bold=True),
            fill=(255, 255, 255, int(255 * name_alpha)),
            anchor="mm",
        )
        for i, line in enumerate(lines):
            a = _ease((t - 2.2 - i * 1.6) / 0.8)
            if a > 0:
                ld.text(
                    (cx, int(h * (0.64 + 0.08 * i))),
                    line,
                    font=font(max(10, int(h * 0.045))),
                    fill=(255, 255, 255, int(230 * a)),
                    anchor="mm",
                )
        img = Image.alpha_composite(img.convert("RGBA"), layer).convert("RGB")
    fade = min(_ease(t / 0.4), _ease((total - t) / 0.6))
    if fade < 1:
        img = Image.blend(Image.new("RGB", img.size, brand.dark), img, fade)
    return img


def _fit(path: Path, size: tuple[int, int], background: str) -> Image.Image:
    with Image.open(path) as src:
        src = src.convert("RGB")
        src.thumbnail(size)
        canvas = Image.new("RGB", size, background)
        canvas.paste(src, ((size[0] - src.width) // 2, (size[1] - src.height) // 2))
        return canvas


def _add_soundtrack(silent: Path, path: Path, duration: float, dest: Path) -> bool:
    """Mux a synthesised jingle under the picture. Without an AAC-capable ffmpeg the video
    stays silent and says so in its metadata, rather than failing."""
    wav = dest / f".{path.stem}-soundtrack.wav"
    write_wav(wav, synthesise(max(2.0, duration)))
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    proc = subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-y",
            "-i",
            str(silent),
            "-i",
            str(wav),
            "-map",
            "0:v:0",
            "-map",
            "1:a:0",
            "-c:v",
            "copy",
            "-c:a",
            "aac",
            "-b:a",
            "160k",
            "-t",
            f"{duration:.3f}",
            "-movflags",
            "+faststart",
            str(path),
        ],
        capture_output=True,
        timeout=300,
    )
    wav.unlink(missing_ok=True)
    if proc.returncode == 0:
        silent.unlink(missing_ok=True)
        return True
    silent.replace(path)
    return False


def generate(request: GenerationRequest, dest: Path) -> GeneratedOutput:
    brand = brand_from(request)
    copy = copy_for(request, brand)
    # H.264 with yuv420p needs even sizes; multiples of 16 avoid ffmpeg rescaling.
    width = option_int(request, "width", 1280, lo=160, hi=1920) // 16 * 16
    height = option_int(request, "height", 720, lo=96, hi=1080) // 16 * 16
    duration = option_int(request, "duration", 10, lo=1, hi=60)
    fps = option_int(request, "fps", 24, lo=6, hi=30)
    dest.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^a-z0-9]+", "-", request.title.lower()).strip("-")[:60] or "video"
    path = dest / f"{stem}.mp4"
    n_frames = duration * fps
    images = [p for p in request.source_images if Path(p).exists()]
    kind = "slideshow" if images else "brand intro"
    if images:
        slides = [_fit(Path(p), (width, height), brand.dark) for p in images]
    else:
        base = _gradient((width, height), brand.dark, brand.primary).convert("RGB")
        lines = [copy.tagline, copy.cta][:2]

    silent = dest / f".{stem}-silent.mp4"
    writer = imageio_ffmpeg.write_frames(
        str(silent),
        (width, height),
        fps=fps,
        codec="libx264",
        pix_fmt_in="rgb24",
        pix_fmt_out="yuv420p",
        quality=7,
        macro_block_size=16,
        output_params=["-movflags", "+faststart"],
    )
    writer.send(None)
    try:
        for i in range(n_frames):
            t = i / fps
            if images:
                per = n_frames / len(slides)
                idx = min(len(slides) - 1, int(i // per))
                frame = slides[idx]
                into = (i - idx * per) / fps
                if idx > 0 and into < 0.5:  # crossfade from the previous slide
                    frame = Image.blend(slides[idx - 1], frame, into / 0.5)
            else:
                frame = _intro_frame(base, brand, lines, t, duration)
            writer.send(np.asarray(frame, dtype=np.uint8).tobytes())
    finally:
        writer.close()
    has_audio = _add_soundtrack(silent, path, float(duration), dest)
    return GeneratedOutput(
        category="video",
        deliverable_id=request.deliverable.id,
        title=request.title,
        root=str(dest),
        primary=path.name,
        files=describe_files(dest, [path]),
        metadata={
            "audio": "synthesised jingle (AAC)" if has_audio else "none",
            "duration": float(duration),
            "fps": fps,
            "frames": n_frames,
            "codec": "h264",
            "dimensions": {"width": width, "height": height},
            "kind": kind,
            "sources": [Path(p).name for p in images],
        },
        expectations={
            "frames": n_frames,
            "duration": float(duration),
            "codec": "h264",
            "size": [width, height],
            "audio": "aac" if has_audio else "",
        },
        content_source=request.content_source,
        source_prompt=request.source_prompt,
    )
