"""Training side of musicedge: the generated corpus, dataset layouts, torch features, models and loops.

Run ``python -m training --help`` for the commands.
"""
