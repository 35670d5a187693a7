"""`python -m alex_db` is the `alex-db` command."""

import sys

from alex_db.cli import main

sys.exit(main())
