"""Writes for providers (see STYLE.md: <entity>_<verb> functions, one transaction each)."""
