"""The admin site: aiohttp + Jinja2, server-rendered (DESIGN.md §3)."""
