"""The station window: what a technician watches all day, and the adapter to the batch lifecycle."""
