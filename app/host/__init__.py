"""The station PC itself: is there a display, logging, bundled library versions, and program
files replaced by an upgrade while the station runs."""
