"""Federation: instance identity, signed data packages, push and pull, the global hub and pool."""
