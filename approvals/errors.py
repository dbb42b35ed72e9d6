"""The one domain error of approvals: a decision or memory change Command refuses, in plain words."""

from __future__ import annotations


class ApprovalRefused(Exception):
    """Raised by a service that will not do what was asked; `message` is shown to the operator as is."""

    def __init__(self, message: str, *, code: str = "refused") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
