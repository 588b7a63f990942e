"""Automated experiments of the seed projects (``python -m training.experiments.<name>``)."""
