"""Offline training scripts: `python -m training.train_<family> --help`."""
