"""`python -m alex_db` is the `alex-db` command."""

import sys

from alex_db.devtools.cli import main

sys.exit(main())
