"""Dialogs about a batch after the fact: summary, history, report export, statistics."""
