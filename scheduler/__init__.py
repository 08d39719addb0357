"""APScheduler jobs: sweeps that read due work from the database, one process at a time."""
