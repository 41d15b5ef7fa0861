"""Small utilities every layer uses: clock, errors, config, paths, fs helpers, progress, logging."""
