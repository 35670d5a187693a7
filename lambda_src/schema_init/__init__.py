"""The schema-init custom resource's Lambda handler package."""
