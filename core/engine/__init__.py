"""The engine: every operation planned and run the same way on every provider.

``planner`` reads what a plan depends on (cloud, registry, state store) and ``strategies`` turn
it into a ``plan.Plan`` of typed ``steps``; ``executor`` runs a plan exactly, journaled step by
step, and undoes it on failure (``retry`` repeats the provider calls that are safe to repeat,
``gate`` holds the health gates, ``validation`` the evaluation-set gate, ``analysis`` and ``bake``
the analysis under load, reading ``promstats`` from the revisions' ``/metrics``, ``images`` moves
images); ``session`` is what an operation needs around it.
"""
