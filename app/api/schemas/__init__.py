"""Request and response bodies, one family per resource (Create / Update / Read).

The bodies check types only; every rule about values lives in
:mod:`app.services.validation`, shared with import and the CLI.
"""
