"""The profile editor: form, validation, server check and the first-contact fingerprint dialog."""
