"""esnas.train: Lightning training and evaluation of a model spec (a timm name or a genome).

Only depends on ``esnas.models`` (DESIGN.md); the entry points are ``esnas-train`` and
``esnas-eval`` (:func:`esnas.train.run.train_task`, :func:`esnas.train.evaluate.eval_task`).
"""
