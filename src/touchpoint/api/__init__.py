"""The HTTP entry point: parse, call a service, shape the answer."""
