"""Studies: the result tables made by ``esnas-study``; importing this registers every study
(each module of this package but ``base`` and ``common`` defines one or more)."""

import importlib
import pkgutil

from esnas.studies.base import STUDIES, StudyInfo, register_study

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in ("base", "common"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["STUDIES", "StudyInfo", "register_study"]
