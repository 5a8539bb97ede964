"""The test suite; a package so `tests.helpers` never resolves to a stray installed `tests`."""
