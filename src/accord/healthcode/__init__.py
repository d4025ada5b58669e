"""Health codes: published status rules, signed QR credentials, trust lists, offline verification."""
