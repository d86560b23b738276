"""``python -m workbook``: the memhotplug-workbook command line."""
from workbook.cli import main

raise SystemExit(main())
