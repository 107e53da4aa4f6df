"""Search spaces: importing this package registers every space by name."""

from esnas.spaces.base import SPACES, Cost, GeneGroup, SearchSpace, create_space, register_space
from esnas.spaces.esformer import ESFormerGenome, ESFormerSpace
from esnas.spaces.nats_sss import NATSSizeGenome, NATSSizeSpace
from esnas.spaces.nb201 import NB201Genome, NB201GroundTruth, NB201Space, is_connected
from esnas.spaces.nb_macro import NBMacroGenome, NBMacroGroundTruth, NBMacroSpace

__all__ = [
    "SPACES",
    "Cost",
    "ESFormerGenome",
    "ESFormerSpace",
    "GeneGroup",
    "NATSSizeGenome",
    "NATSSizeSpace",
    "NB201Genome",
    "NB201GroundTruth",
    "NB201Space",
    "NBMacroGenome",
    "NBMacroGroundTruth",
    "NBMacroSpace",
    "SearchSpace",
    "create_space",
    "is_connected",
    "register_space",
]
