"""django-q2 entry points for approvals: thin wrappers that take ids and call a service."""
