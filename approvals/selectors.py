"""Reads for approvals. Every selector takes the requesting user and returns only their objects."""
