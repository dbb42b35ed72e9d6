"""Audio generator: a short jingle synthesised in code (WAV, plus MP3 when ffmpeg has an MP3
encoder). Spoken audio needs a speech provider; without one the generator refuses plainly."""

from __future__ import annotations

import re
import subprocess
import wave
from functools import lru_cache
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from outputs.generators.base import (
    GeneratedOutput,
    GenerationRequest,
    GenerationUnavailable,
    describe_files,
    option_int,
)

RATE = 44100
SPEECH = re.compile(
    r"\b(voice|voiceover|voice-over|narrat\w*|spoken|speech|podcast|read (it )?aloud|text[- ]to[- ]speech)\b", re.I
)
# I–V–vi–IV in C major: the progression most listeners hear as "resolved and upbeat".
CHORDS = [(60, 64, 67), (55, 59, 62), (57, 60, 64), (53, 57, 60)]


@lru_cache(maxsize=1)
def mp3_encoder_available() -> bool:
    try:
        out = subprocess.run(
            [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=20
        ).stdout
    except (OSError, RuntimeError, subprocess.SubprocessError):
        return False
    return "libmp3lame" in out


def wants_speech(request: GenerationRequest) -> bool:
    d = request.deliverable
    return bool(SPEECH.search(" ".join([d.title, d.description, " ".join(d.details.values())])))


def _freq(midi: int) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def _bell(freq: float, seconds: float, *, decay: float) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    tone = (
        np.sin(2 * np.pi * freq * t) + 0.35 * np.sin(2 * np.pi * 2 * freq * t) + 0.12 * np.sin(2 * np.pi * 3 * freq * t)
    )
    attack = np.minimum(1.0, t / 0.01)
    return tone * attack * np.exp(-t * decay)


def synthesise(duration: float) -> np.ndarray:
    """Arpeggiated bells over soft pads and a bass line; returns stereo float samples in [-1, 1]."""
    total = int(RATE * duration)
    left = np.zeros(total)
    right = np.zeros(total)
    bar = duration / len(CHORDS)
    step = bar / 4
    for b, chord in enumerate(CHORDS):
        start = int(b * bar * RATE)
        pad = sum(_bell(_freq(n), bar, decay=0.9) for n in chord) * 0.12
        bass = _bell(_freq(chord[0] - 12), bar, decay=1.6) * 0.3
        end = min(total, start + len(pad))
        left[start:end] += (pad + bass)[: end - start]
        right[start:end] += (pad + bass)[: end - start]
        for k, note in enumerate([chord[0] + 12, chord[1] + 12, chord[2] + 12, chord[1] + 24]):
            s = start + int(k * step * RATE)
            bell = _bell(_freq(note), min(1.2, duration - s / RATE), decay=3.5) * 0.22
            e = min(total, s + len(bell))
            pan = 0.35 + 0.3 * (k % 2)  # alternate sides so the arpeggio moves
            left[s:e] += bell[: e - s] * (1 - pan)
            right[s:e] += bell[: e - s] * pan
    fade = int(RATE * 0.8)
    ramp = np.linspace(1, 0, fade)
    left[-fade:] *= ramp
    right[-fade:] *= ramp
    stereo = np.stack([left, right], axis=1)
    peak = np.max(np.abs(stereo)) or 1.0
    return stereo / peak * 0.89


def write_wav(path: Path, samples: np.ndarray) -> None:
    pcm = (samples * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())


def generate(request: GenerationRequest, dest: Path) -> GeneratedOutput:
    if wants_speech(request):
        raise GenerationUnavailable(
            "Spoken audio needs a model provider that offers speech, and none is connected. "
            "Command can synthesise a music sketch (a jingle) instead."
        )
    duration = option_int(request, "duration", 8, lo=2, hi=60)
    dest.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^a-z0-9]+", "-", request.title.lower()).strip("-")[:60] or "jingle"
    wav = dest / f"{stem}.wav"
    write_wav(wav, synthesise(float(duration)))
    paths = [wav]
    notes = []
    if mp3_encoder_available():
        mp3 = dest / f"{stem}.mp3"
        subprocess.run(
            [
                imageio_ffmpeg.get_ffmpeg_exe(),
                "-v",
                "error",
                "-y",
                "-i",
                str(wav),
                "-codec:a",
                "libmp3lame",
                "-b:a",
                "192k",
                str(mp3),
            ],
            check=True,
            timeout=120,
        )
        paths.append(mp3)
    else:
        notes.append("No MP3 encoder is available in this installation's ffmpeg; only WAV was made.")
    primary = wav
    if request.deliverable.format.lower() == "mp3" and len(paths) > 1:
        primary = paths[1]
    return GeneratedOutput(
        category="audio",
        deliverable_id=request.deliverable.id,
        title=request.title,
        root=str(dest),
        primary=primary.name,
        files=describe_files(dest, paths),
        metadata={
            "duration": float(duration),
            "sample_rate": RATE,
            "channels": 2,
            "kind": "synthesised jingle",
            "formats": [p.suffix.lstrip(".") for p in paths],
            "notes": notes,
        },
        expectations={"duration": float(duration), "files": {p.name: p.suffix.lstrip(".") for p in paths}},
        content_source="synthesised in code",
        source_prompt=request.source_prompt,
    )
