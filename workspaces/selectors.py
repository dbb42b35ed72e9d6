"""Reads for workspaces. Every selector takes the requesting user and returns only their objects."""
