"""What approvals tells the rest of Command, without importing it.

`approval_decided` is sent after the deciding transaction commits (never from a view), once per
decision by the operator, by expiry, or by a remembered preference that denies. The execution engine
connects a receiver that resumes, skips or re-plans the run:

    @receiver(approval_decided)
    def _resume(sender, *, request_id, run_id, status, refine_text, **kwargs): ...

`status` is an ApprovalRequest.Status value; `refine_text` is the operator's instructions for
"refine" (empty otherwise).
"""

from __future__ import annotations

from django.dispatch import Signal

approval_decided = Signal()
