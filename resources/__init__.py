"""Static files (icons, translations, desktop entry) loaded with importlib.resources."""
