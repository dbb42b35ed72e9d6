"""Writes for workspaces (see STYLE.md: <entity>_<verb> functions, one transaction each)."""
