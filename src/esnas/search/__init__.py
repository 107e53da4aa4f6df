"""esnas.search."""
