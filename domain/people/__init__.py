"""People: orgs, staff and their roles, log-in and passwords, chat binding, first start."""
