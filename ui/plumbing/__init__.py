"""Shared plumbing of the window: worker threads, translations, resources, crash handler,
settings and printing."""
