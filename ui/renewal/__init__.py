"""Field work on one unit: re-enrollment and certificate expiry."""
