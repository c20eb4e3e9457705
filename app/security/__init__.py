"""Secrets and their protection: the OS keyring, which secrets a profile needs, redaction and
the station lock."""
