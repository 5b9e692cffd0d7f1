"""Cygnet's application: the intent database, its REST API and the command line.

The API layer (:mod:`app.api`, :mod:`app.main`) is the only part that imports
FastAPI or pydantic; models, services, secrets and validation stay light so the
datapath commands start quickly inside a slow emulated VM.
"""
