"""The predictive score: point-in-time training set, model, registry (issue 11)."""
