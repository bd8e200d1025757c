"""Channel providers: one module per kind of gateway, each with its own config model. Vendor clients live here
and nowhere else; the dispatcher sees only the small interface in `base`."""
