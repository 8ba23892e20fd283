"""Live sources: dumpcap on an interface, a HEP collector, and the session that keeps calls as they grow."""
