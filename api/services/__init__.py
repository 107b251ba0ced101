"""What the JSON routes and the HTML pages share: the checks against the read model around
the typed workflow clients, so a page never calls a route handler and a rule lives once."""
