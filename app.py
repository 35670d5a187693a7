"""CDK entry point: build the AlexDatabase stack for the profile chosen with `-c profile=`."""

import sys

import aws_cdk as cdk

from alex_db.errors import MigrationError, SeedError
from stacks.config import ConfigError
from stacks.database_stack import build_database_stack

app = cdk.App()
try:
    build_database_stack(app)
except (ConfigError, MigrationError, SeedError) as exc:
    # A message naming the file/line, symbol/field or context key; a traceback would bury it.
    sys.exit(f"cdk synth failed: {exc}")
app.synth()
