"""Training tasks: each module adds one ``python -m training`` command (``add_parser(subparsers)``).

* :mod:`training.tasks.classify`: genre / station classification and mood tagging (seeds 003, 004);
* :mod:`training.tasks.data`: the window datasets it trains on.
"""
