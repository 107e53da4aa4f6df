"""Model families built by the spaces (plain ``nn.Module``s; ESFormer is a timm family)."""

from esnas.models.esformer import ESFormer, create_esformer  # registers timm esformer_*
from esnas.models.nb201 import NATSSizeNetwork, NB201Network

__all__ = ["ESFormer", "NATSSizeNetwork", "NB201Network", "create_esformer"]
