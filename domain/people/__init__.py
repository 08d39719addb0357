"""People: orgs, staff and their roles, log-in and passwords, chat binding, first start.

Public modules: orgs, staff, auth, sessions, credentials, login_throttle, passwords, binding,
bootstrap.
"""
