"""Deploy layer (the init Lambda): plan, apply and seed from a manifest; standard library + boto3 only."""
