"""esnas.metrics."""
