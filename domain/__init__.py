"""FieldOps domain: models, services and errors. Imports no edge framework."""
