"""The `touchpoint` command line: parse, call a service, print the answer."""
