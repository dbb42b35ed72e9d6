"""Writes for outputs (see STYLE.md: <entity>_<verb> functions, one transaction each)."""
