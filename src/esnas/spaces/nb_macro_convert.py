"""``python -m esnas.spaces.nb_macro_convert --convert nas-bench-macro_cifar10.json``: rebuilds
the packaged NAS-Bench-Macro CSV from the benchmark's JSON.

Why a module of its own: ``python -m esnas.spaces.nb_macro`` would run that module a second
time as ``__main__`` and register the space twice.
"""

from esnas.spaces.nb_macro import main

if __name__ == "__main__":
    main()
