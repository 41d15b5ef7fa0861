"""Off-site copies through rclone: a layer beside backups/ (imports core, db, backups only)."""
