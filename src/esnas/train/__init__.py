"""esnas.train."""
