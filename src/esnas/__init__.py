"""esnas: training-free NAS with Entropic Score (topology) and LogSynflow (size)."""

__version__ = "0.1.0"
