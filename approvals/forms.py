"""Forms for approvals."""
