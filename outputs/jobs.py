"""django-q2 entry points for outputs: thin wrappers that take ids and call a service."""
