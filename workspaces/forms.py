"""Forms for workspaces."""
