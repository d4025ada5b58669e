"""Epidemic analytics around the pure numerics of :mod:`accord.epi`: files, services, CLI and API."""
