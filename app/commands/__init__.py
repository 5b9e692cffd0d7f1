"""The CLI's verbs, one module each; every module has ``register(subparsers)``."""
