"""Forms for outputs."""
