"""Signed statements: model, encoding, signing, verification, chains, checkpoints."""
