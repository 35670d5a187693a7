"""CDK entry point: build the AlexDatabase stack for the profile chosen with `-c profile=`."""

import aws_cdk as cdk

from stacks.database_stack import build_database_stack

app = cdk.App()
build_database_stack(app)
app.synth()
