"""The synthetic retail world behind :mod:`demandcast.data.generate`: catalogue, calendar, demand."""
