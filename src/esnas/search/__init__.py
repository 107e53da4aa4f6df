"""Training-free search: an evolution core, strategies on top, and a resumable recipe.

Importing this package registers every strategy (``cyclic``, ``combined``, ``freerea``,
``rea``, ``random``) in :data:`STRATEGIES`.
"""

from esnas.search.baselines import FreeREA, RandomSearch, RegularizedEvolution
from esnas.search.checkpoint import CorruptCheckpointError
from esnas.search.constraints import Constraints, InfeasibleError
from esnas.search.cyclic import CyclicSearch
from esnas.search.engine import Engine
from esnas.search.fitness import COMBINERS, fitness
from esnas.search.recipe import SearchRecipe, run_search
from esnas.search.records import Individual
from esnas.search.strategy import STRATEGIES, Strategy

__all__ = [
    "COMBINERS",
    "STRATEGIES",
    "Constraints",
    "CorruptCheckpointError",
    "CyclicSearch",
    "Engine",
    "FreeREA",
    "Individual",
    "InfeasibleError",
    "RandomSearch",
    "RegularizedEvolution",
    "SearchRecipe",
    "Strategy",
    "fitness",
    "run_search",
]
