"""The collector: decode what the SDKs send, check it, and append it to the event log."""
