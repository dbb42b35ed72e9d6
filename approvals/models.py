"""approvals models: see the issue that builds this app."""
