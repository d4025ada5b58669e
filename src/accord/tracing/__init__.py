"""Case and contact tracing: persons, cases, contacts, follow-up tasks, transmission chains."""
