"""The synthetic retail world behind `stages.generate`."""
