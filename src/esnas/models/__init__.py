"""Model families built by the spaces (plain ``nn.Module``s; ESFormer is a timm family)."""

from esnas.models.nb201 import NB201Network

__all__ = ["NB201Network"]
