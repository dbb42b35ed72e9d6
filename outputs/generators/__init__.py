"""Generators: one per output category behind one interface (``generate(request, dest)``).

Use ``outputs.services.output_generate``; this registry is how it finds the right generator.
"""

from __future__ import annotations

from outputs.generators import audio, document, image, pdf, presentation, spreadsheet, video, website
from outputs.generators.base import (
    BUILT_IN,
    GeneratedOutput,
    GenerationError,
    GenerationRequest,
    GenerationUnavailable,
    OutputFile,
)

REGISTRY = {
    "website": website.generate,
    "image": image.generate,
    "video": video.generate,
    "audio": audio.generate,
    "pdf": pdf.generate,
    "document": document.generate,
    "presentation": presentation.generate,
    "spreadsheet": spreadsheet.generate,
}

__all__ = [
    "BUILT_IN",
    "REGISTRY",
    "GeneratedOutput",
    "GenerationError",
    "GenerationRequest",
    "GenerationUnavailable",
    "OutputFile",
]
