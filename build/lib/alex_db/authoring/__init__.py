"""Authoring layer (synth time and the CLI): read and split migrations with pglast, build and validate the manifest."""
