"""django-q2 entry points for providers: thin wrappers that take ids and call a service."""
