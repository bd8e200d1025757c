"""Engine adapters: the only place analytical engine drivers are imported."""
