"""Reads for providers. Every selector takes the requesting user and returns only their objects."""
