"""esnas.utils."""
