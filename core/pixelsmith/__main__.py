"""``python -m pixelsmith`` runs the CLI (also under ``torchrun -m pixelsmith``)."""

from .cli import main

raise SystemExit(main())
