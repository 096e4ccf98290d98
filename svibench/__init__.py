"""svibench."""
