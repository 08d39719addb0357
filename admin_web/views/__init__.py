"""Views, one module per area: parse the request, call one domain service, render."""
