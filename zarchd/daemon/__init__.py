"""The long-running process: daemon lifecycle, scheduler, watcher, sd_notify."""
