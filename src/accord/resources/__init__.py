"""Resource mobilisation: stock ledger, needs and offers, allocation plans, early warning."""
