"""Writes for approvals (see STYLE.md: <entity>_<verb> functions, one transaction each)."""
