"""django-q2 entry points for workspaces: thin wrappers that take ids and call a service."""
