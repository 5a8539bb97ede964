"""Pipeline stages: each module has a pure ``run(...)`` and a thin ``main()``."""
