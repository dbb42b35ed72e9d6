"""django-q2 entry points for tasks: thin wrappers that take ids and call a service."""
