"""Configuration without secrets: profiles, the profile store, station settings, where files go."""
