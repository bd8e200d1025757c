"""One ID: every identifier of one person resolves to one dense integer uid."""
