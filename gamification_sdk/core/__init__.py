"""Small helpers every layer uses: time, input checks, read-only tables."""
