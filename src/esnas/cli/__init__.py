"""Command-line entry points: thin ``@hydra.main`` wrappers over importable task functions."""
