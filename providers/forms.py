"""Forms for providers."""
