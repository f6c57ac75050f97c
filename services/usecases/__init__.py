"""The use cases every front end runs through (harlequin's query core): the CLI, the panels
and the deploy pipeline call these, so each rule is decided in one place."""
