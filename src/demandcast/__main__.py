"""``python -m demandcast ...``: the same as the ``demandcast`` command."""

from demandcast.commands import main

raise SystemExit(main())
