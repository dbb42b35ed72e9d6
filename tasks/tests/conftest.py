import pytest


@pytest.fixture(autouse=True)
def _engine_gate(request):
    """Engine tests exercise the engine, not the risk policy: they run with the default gate
    (every step proceeds) unless marked `approval_gate`, which keeps the real approvals gate."""
    from tasks.engine import approval

    installed = approval._gate
    if request.node.get_closest_marker("approval_gate") is None:
        approval.set_approval_gate(None)
    else:
        from approvals.services import approval_gate_for_engine

        approval.set_approval_gate(approval_gate_for_engine)
    yield
    approval.set_approval_gate(installed)
