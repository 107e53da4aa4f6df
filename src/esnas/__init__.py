"""esnas: training-free NAS with Entropic Score (topology) and LogSynflow (size)."""

__version__ = "0.1.0"

# Registers the timm model family (`timm.create_model("esformer_xs")` works after `import esnas`).
from esnas import models  # noqa: F401
