"""Who may do what: users, roles, passwords, browser sessions and API tokens.

Nothing here imports the web stack; the console (:mod:`app.web`), the REST API
(:mod:`app.api.deps`) and the CLI (:mod:`app.commands.users`) all call it.
"""
