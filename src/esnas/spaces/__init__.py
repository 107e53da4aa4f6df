"""Search spaces: importing this package registers every space by name."""

from esnas.spaces.base import SPACES, Cost, GeneGroup, SearchSpace, create_space, register_space
from esnas.spaces.esformer import ESFormerGenome, ESFormerSpace
from esnas.spaces.nats_sss import NATSSizeGenome, NATSSizeSpace
from esnas.spaces.nb201 import NB201Genome, NB201GroundTruth, NB201Space, is_connected
from esnas.spaces.nb_macro import NBMacroGenome, NBMacroGroundTruth, NBMacroSpace
from esnas.spaces.vitbench import (
    AutoFormerGenome,
    PiTGenome,
    ViTBenchAutoFormerSpace,
    ViTBenchGroundTruth,
    ViTBenchPiTSpace,
    ViTBenchSpace,
)

__all__ = [
    "SPACES",
    "AutoFormerGenome",
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
    "PiTGenome",
    "SearchSpace",
    "ViTBenchAutoFormerSpace",
    "ViTBenchGroundTruth",
    "ViTBenchPiTSpace",
    "ViTBenchSpace",
    "create_space",
    "is_connected",
    "register_space",
]
